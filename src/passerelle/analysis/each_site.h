// Asking every site at once. A site's answer takes a round trip to it (and its computing): asked
// one after the other, a round takes the sum of the sites' times; asked at once, the slowest
// site's. The answers come back in site order, so whatever is combined from them is combined
// in one fixed order — the same sums, bit for bit, however the sites' timings fall.
#ifndef PASSERELLE_ANALYSIS_EACH_SITE_H_
#define PASSERELLE_ANALYSIS_EACH_SITE_H_

#include <cstddef>
#include <exception>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "passerelle/base/status.h"

namespace passerelle::analysis {

// `ask(i)` for every site i in [0, n), each on its own thread (inline when there is one): its
// results in site order, or the failure of the first site in that order that failed. Every
// site is asked, whichever fails. `ask` returns a Result<T>.
template <typename T, typename Ask>
Result<std::vector<T>> EachSite(size_t n, Ask ask) {
  std::vector<std::optional<Result<T>>> results(n);
  std::vector<std::exception_ptr> thrown(n);
  auto run = [&](size_t i) {
    try {
      results[i].emplace(ask(i));
    } catch (...) {
      thrown[i] = std::current_exception();  // rethrown below, on the caller's thread
    }
  };
  if (n == 1) {
    run(0);
  } else {
    std::vector<std::thread> threads;
    threads.reserve(n);
    for (size_t i = 0; i < n; ++i) threads.emplace_back(run, i);
    for (std::thread& t : threads) t.join();
  }
  std::vector<T> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (thrown[i]) std::rethrow_exception(thrown[i]);
    if (!results[i]->ok()) return results[i]->status();
    out.push_back(std::move(**results[i]));
  }
  return out;
}

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_EACH_SITE_H_
