// The release ledger (differencing and the count audit) under thousands of past releases of
// studies over one dataset: how long a node's check takes for a release it has made before
// (every round of a fit), for a new one, for a tracker it refuses, and to read the ledger back
// after a restart. Prints "key value" lines for bench/run.
//   ledger_bench DIR [ROWS] [RELEASES]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <random>
#include <set>
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
  // A cohort's records with what studies select them by: organ (6), sex, age band (8), stage
  // (4), whether a lab value is present.
  struct Record {
    int organ, sex, age, stage, complete;
  };
  std::vector<Record> records(rows);
  for (Record& r : records) {
    r = {static_cast<int>(random() % 6), static_cast<int>(random() % 2),
         static_cast<int>(random() % 8), static_cast<int>(random() % 4),
         random() % 10 != 0 ? 1 : 0};
  }
  auto field = [](const Record& r, int f) {
    const int v[] = {r.organ, r.sex, r.age, r.stage, r.complete};
    return v[f];
  };
  constexpr int kLevels[] = {6, 2, 8, 4, 2};
  // A release a study makes: the population of a subset (one attribute at one value, or all
  // records, with or without the complete cases) and a table of it by another attribute, whose
  // cells are counts. Suppressed cells (1 to k-1) are not released.
  struct Release {
    std::vector<Cohort> populations, counts;
  };
  auto make_release = [&](int by, int value, int complete, int table, int sex = -1) {
    std::vector<size_t> population;
    std::vector<std::vector<size_t>> cells(static_cast<size_t>(kLevels[table]));
    for (size_t i = 0; i < rows; ++i) {
      if (by >= 0 && field(records[i], by) != value) continue;
      if (sex >= 0 && records[i].sex != sex) continue;
      if (complete && !records[i].complete) continue;
      population.push_back(i);
      cells[static_cast<size_t>(field(records[i], table))].push_back(i);
    }
    Release r;
    r.populations.push_back(Cohort::FromRows(population, rows));
    for (const auto& cell : cells) {
      if (cell.size() >= static_cast<size_t>(policy.min_cell_count)) {
        r.counts.push_back(Cohort::FromRows(cell, rows));
      }
    }
    return r;
  };
  auto random_release = [&] {
    const int by = static_cast<int>(random() % 6) - 1;  // -1: all records
    const int value = by < 0 ? 0 : static_cast<int>(random() % kLevels[by]);
    return make_release(by, value, static_cast<int>(random() % 2), static_cast<int>(random() % 5));
  };
  std::vector<Release> past;
  for (size_t i = 0; i < releases; ++i) past.push_back(random_release());

  auto ledger = passerelle::store::CohortLedger::Open(dir);
  if (!ledger.ok()) return Fail("open", ledger.status());
  size_t refused_past = 0;
  const auto start = Clock::now();
  for (size_t i = 0; i < past.size(); ++i) {
    const Release& r = past[i];
    if (!(*ledger)->Check("gu_cohort", r.populations, r.counts, policy).ok()) {
      ++refused_past;  // a node would refuse it: it does not enter the ledger
      continue;
    }
    if (auto s = (*ledger)->Record("gu_cohort", 1, r.populations, r.counts, i); !s.ok()) {
      return Fail("record", s);
    }
  }
  const double record_all = Millis(start);

  // Every round of a fit after the first: a release already in the ledger.
  const Release& known = past[releases / 3];
  const double check_known = Median(
      101, [&] { (void)(*ledger)->Check("gu_cohort", known.populations, known.counts, policy); });
  // A new study's release: a population and table not asked for before (the women of one age
  // band with complete cases, by stage).
  const Release fresh = make_release(2, 3, 1, 3, /*sex=*/0);
  const double check_new = Median(
      21, [&] { (void)(*ledger)->Check("gu_cohort", fresh.populations, fresh.counts, policy); });
  // A tracker: C, three patients (two outside T, one in it), T the women of organ 0, released
  // by no one; |C| = |C u T| + |C u not T| - |all|, and "all" is in the ledger: refused.
  std::vector<size_t> in_t, rest;
  for (size_t i = 0; i < rows; ++i) {
    (records[i].organ == 0 && records[i].sex == 0 ? in_t : rest).push_back(i);
  }
  std::vector<size_t> few_or_organ0 = in_t, few_or_rest = rest;
  few_or_organ0.insert(few_or_organ0.end(), {rest[0], rest[1]});
  few_or_rest.push_back(in_t[0]);
  const std::vector<Cohort> tracker = {Cohort::FromRows(few_or_organ0, rows),
                                       Cohort::FromRows(few_or_rest, rows)};
  const double check_refused = Median(21, [&] {
    if ((*ledger)->Check("gu_cohort", tracker, {}, policy).ok()) std::abort();
  });
  // A restarted node reads the ledger back at its first check.
  ledger->reset();
  const double reload = Median(3, [&] {
    auto reopened = passerelle::store::CohortLedger::Open(dir);
    if (!reopened.ok()) std::abort();
    (void)(*reopened)->Check("gu_cohort", known.populations, known.counts, policy);
  });
  std::set<std::string> distinct;
  for (const Release& r : past) {
    for (const auto* part : {&r.populations, &r.counts}) {
      for (const Cohort& c : *part) distinct.insert(c.digest);
    }
  }
  std::printf("refused_past %zu\ndistinct_sets %zu\n", refused_past, distinct.size());
  std::printf("rows %zu\nreleases %zu\nrecord_all_ms %.1f\ncheck_known_ms %.3f\n", rows, releases,
              record_all, check_known);
  std::printf("check_new_ms %.3f\ncheck_refused_ms %.3f\nreload_ms %.1f\n", check_new,
              check_refused, reload);
  return 0;
}
