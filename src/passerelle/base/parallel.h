// Splits work over rows into a fixed number of contiguous parts run on their own threads. The
// split depends only on n, never on the machine, so results do not depend on the core count.
#ifndef PASSERELLE_BASE_PARALLEL_H_
#define PASSERELLE_BASE_PARALLEL_H_

#include <cstddef>
#include <thread>
#include <vector>

namespace passerelle {

// Below this many rows the work stays on the calling thread.
inline constexpr size_t kParallelMinRows = 200000;
inline constexpr size_t kParallelParts = 2;

// Calls body(part, begin, end) for the parts of [0, n), concurrently when n is large. Returns
// the number of parts used (1 or kParallelParts); part results are combined by the caller in
// part order.
template <typename Body>
size_t ParallelParts(size_t n, Body body) {
  if (n < kParallelMinRows) {
    body(size_t{0}, size_t{0}, n);
    return 1;
  }
  std::vector<std::thread> threads;
  const size_t chunk = (n + kParallelParts - 1) / kParallelParts;
  for (size_t part = 1; part < kParallelParts; ++part) {
    const size_t begin = part * chunk, end = std::min(n, begin + chunk);
    threads.emplace_back([&body, part, begin, end] { body(part, begin, end); });
  }
  body(size_t{0}, size_t{0}, std::min(n, chunk));
  for (std::thread& t : threads) t.join();
  return kParallelParts;
}

}  // namespace passerelle

#endif  // PASSERELLE_BASE_PARALLEL_H_
