// The differencing ledger under thousands of past releases: how long a node's check takes for
// a cohort it has released before (every round of a fit), for a new one, and to read the ledger
// back after a restart. Prints "key value" lines for bench/run.
//   ledger_bench DIR [ROWS] [RELEASES]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "passerelle/store/cohort_ledger.h"

namespace {

using passerelle::privacy::Cohort;
using Clock = std::chrono::steady_clock;

double Millis(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

// The median of `runs` timings of `f`, in milliseconds.
template <typename F>
double Median(int runs, F f) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    f();
    ms.push_back(Millis(start));
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

int Fail(const std::string& what, const passerelle::Status& s) {
  std::fprintf(stderr, "ledger_bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: ledger_bench DIR [ROWS] [RELEASES]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const size_t rows = argc > 2 ? std::stoul(argv[2]) : 100000;
  const size_t releases = argc > 3 ? std::stoul(argv[3]) : 5000;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const passerelle::privacy::Policy policy = passerelle::privacy::DefaultPolicy("lyon");
  std::mt19937_64 random(1);
  std::vector<size_t> all(rows);
  std::iota(all.begin(), all.end(), 0);

  // Releases a study would make: subsets of every size, and a family of cohorts that are all of
  // one size and differ only in a few records at the end of the table (the hardest case: each
  // comparison runs to the last word).
  std::vector<Cohort> past;
  for (size_t i = 0; i < releases / 2; ++i) {
    std::shuffle(all.begin(), all.end(), random);
    const size_t size = rows / 4 + random() % (rows / 2);
    past.push_back(Cohort::FromRows(std::span(all).first(size), rows));
  }
  std::vector<size_t> base(rows - 2 * policy.min_cohort_difference * (releases / 2 + 1));
  std::iota(base.begin(), base.end(), 0);
  for (size_t i = past.size(); past.size() < releases; ++i) {
    std::vector<size_t> members = base;
    const size_t block = base.size() + policy.min_cohort_difference * (i - releases / 2);
    for (int j = 0; j < policy.min_cohort_difference; ++j) members.push_back(block + j);
    past.push_back(Cohort::FromRows(members, rows));
  }
  auto ledger = passerelle::store::CohortLedger::Open(dir);
  if (!ledger.ok()) return Fail("open", ledger.status());
  const auto start = Clock::now();
  for (size_t i = 0; i < past.size(); ++i) {
    if (auto s = (*ledger)->Record("gu_cohort", 1, std::span(&past[i], 1), {}, i); !s.ok()) {
      return Fail("record", s);
    }
  }
  const double record_all = Millis(start);

  // Every round of a fit after the first: a cohort already released.
  const Cohort& known = past[releases / 3];
  const double check_known = Median(101, [&] {
    if (!(*ledger)->Check("gu_cohort", std::span(&known, 1), {}, policy).ok()) std::abort();
  });
  // A new cohort of the hardest family's size.
  std::vector<size_t> fresh_rows = base;
  for (int j = 0; j < policy.min_cohort_difference; ++j) fresh_rows.push_back(rows - 1 - j);
  const Cohort fresh = Cohort::FromRows(fresh_rows, rows);
  const double check_new = Median(21, [&] {
    if (!(*ledger)->Check("gu_cohort", std::span(&fresh, 1), {}, policy).ok()) std::abort();
  });
  // A released cohort of that family with a record missing: refused.
  std::vector<size_t> near_rows = base;
  const size_t last_block =
      base.size() + policy.min_cohort_difference * (releases - 1 - releases / 2);
  for (int j = 1; j < policy.min_cohort_difference; ++j) near_rows.push_back(last_block + j);
  const Cohort near = Cohort::FromRows(near_rows, rows);
  const double check_refused = Median(21, [&] {
    if ((*ledger)->Check("gu_cohort", std::span(&near, 1), {}, policy).ok()) std::abort();
  });
  // A restarted node reads the ledger back at its first check.
  ledger->reset();
  const double reload = Median(3, [&] {
    auto reopened = passerelle::store::CohortLedger::Open(dir);
    if (!reopened.ok() || !(*reopened)->Check("gu_cohort", std::span(&known, 1), {}, policy).ok()) {
      std::abort();
    }
  });
  std::printf("rows %zu\nreleases %zu\nrecord_all_ms %.1f\ncheck_known_ms %.3f\n", rows, releases,
              record_all, check_known);
  std::printf("check_new_ms %.3f\ncheck_refused_ms %.3f\nreload_ms %.1f\n", check_new,
              check_refused, reload);
  return 0;
}
