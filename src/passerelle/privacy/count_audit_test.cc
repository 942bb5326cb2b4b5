// Tests of the count audit: the attacks it exists for (a tracker, nested cohorts, a table and its
// margins), what it must still allow, failing closed, Add() then Check() against one Check(), a
// brute force over the rationals on thousands of small random families, and the time of a Check
// on a site's realistic history.
#include "passerelle/privacy/count_audit.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <numeric>
#include <random>

namespace passerelle::privacy {
namespace {

std::vector<size_t> Range(size_t from, size_t to) {
  std::vector<size_t> rows(to - from);
  std::iota(rows.begin(), rows.end(), from);
  return rows;
}

Cohort Set(const std::vector<size_t>& rows, size_t table_rows) {
  return Cohort::FromRows(rows, table_rows);
}

std::vector<size_t> Join(std::vector<size_t> a, const std::vector<size_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

bool Refused(const Status& s) {
  return s.code() == StatusCode::kPermissionDenied &&
         s.message().rfind("rule count_audit: ", 0) == 0;
}

TEST(CountAuditTest, ATrackerIsRefused) {
  const Policy policy = DefaultPolicy("lyon");
  constexpr size_t kN = 1000;
  const std::vector<size_t> c = {10, 20, 600};  // 2 records in T = 0..499, 1 outside
  const Cohort c_or_t = Set(Join(Range(0, 500), {600}), kN);
  const Cohort c_or_not_t = Set(Join(Range(500, kN), {10, 20}), kN);
  const Cohort all = Set(Range(0, kN), kN);
  CountAudit audit;
  EXPECT_TRUE(audit.Check(std::vector{c_or_t, c_or_not_t}, policy).ok());
  audit.Add(std::vector{c_or_t, c_or_not_t});
  const Status s = audit.Check(std::vector{all}, policy);
  EXPECT_TRUE(Refused(s)) << s.ToString();
  // Never says how many records (3) or which.
  EXPECT_EQ(s.message().find('3'), std::string::npos);
  EXPECT_NE(s.message().find("lyon"), std::string::npos);
  // Each pair of the three is fine: it is the third that closes the tracker.
  EXPECT_TRUE(CountAudit().Check(std::vector{c_or_t, all}, policy).ok());
  EXPECT_TRUE(CountAudit().Check(std::vector{c_or_not_t, all}, policy).ok());
  // All at once is refused too, and Check() left the audit as it was.
  EXPECT_TRUE(Refused(CountAudit().Check(std::vector{c_or_t, c_or_not_t, all}, policy)));
  EXPECT_EQ(audit.known_sets(), 2u);
  EXPECT_EQ(audit.atoms(), 3u);  // T \ C, C, not-T \ C
}

TEST(CountAuditTest, DifferencesOfNestedCohortsBelowKAreRefused) {
  const Policy policy = DefaultPolicy("lyon");  // k = 5
  CountAudit audit;
  audit.Add(std::vector{Set(Range(0, 50), 100)});
  EXPECT_TRUE(Refused(audit.Check(std::vector{Set(Range(0, 53), 100)}, policy)));
  EXPECT_TRUE(Refused(audit.Check(std::vector{Set(Range(0, 46), 100)}, policy)));
  EXPECT_TRUE(audit.Check(std::vector{Set(Range(0, 57), 100)}, policy).ok());
  EXPECT_TRUE(audit.Check(std::vector{Set(Range(0, 55), 100)}, policy).ok());
  // A stricter site refuses the 7.
  Policy strict = policy;
  strict.min_cell_count = 8;
  EXPECT_TRUE(Refused(audit.Check(std::vector{Set(Range(0, 57), 100)}, strict)));
  // A set of 1 to k - 1 records is refused outright, even alone.
  EXPECT_TRUE(Refused(CountAudit().Check(std::vector{Set(Range(0, 4), 100)}, policy)));
  EXPECT_TRUE(CountAudit().Check(std::vector{Set(Range(0, 5), 100)}, policy).ok());
}

TEST(CountAuditTest, ASmallCellIsRefusedOnceTheOtherCellsJoinTheMargins) {
  const Policy policy = DefaultPolicy("lyon");
  constexpr size_t kN = 100;
  const auto c11 = Range(0, 2), c12 = Range(2, 40), c21 = Range(40, 70), c22 = Range(70, 100);
  const std::vector margins = {Set(Join(c11, c12), kN), Set(Join(c21, c22), kN),
                               Set(Join(c11, c21), kN), Set(Join(c12, c22), kN),
                               Set(Range(0, kN), kN)};
  CountAudit audit;
  EXPECT_TRUE(audit.Check(margins, policy).ok());  // margins do not determine the cells
  audit.Add(margins);
  EXPECT_TRUE(Refused(audit.Check(std::vector{Set(c12, kN), Set(c21, kN), Set(c22, kN)}, policy)));
  // With the margins, any one large cell already gives the others away.
  EXPECT_TRUE(Refused(audit.Check(std::vector{Set(c22, kN)}, policy)));
}

TEST(CountAuditTest, TwoSuppressedCellsWhoseSumReachesKMayBeDifferencedTogether) {
  Policy policy = DefaultPolicy("lyon");
  constexpr size_t kN = 165;
  // Row 1: a (2), b (3), c (20), d (20); row 2: 30 in each column.
  const auto a = Range(0, 2), b = Range(2, 5), c = Range(5, 25), d = Range(25, 45);
  const auto a2 = Range(45, 75), b2 = Range(75, 105), c2 = Range(105, 135), d2 = Range(135, 165);
  CountAudit audit;
  audit.Add(std::vector{Set(Join(a, a2), kN), Set(Join(b, b2), kN), Set(Join(c, c2), kN),
                        Set(Join(d, d2), kN)});  // column totals: a and b are distinct atoms
  const std::vector row = {Set(Join(Join(a, b), Join(c, d)), kN), Set(c, kN), Set(d, kN)};
  EXPECT_TRUE(audit.Check(row, policy).ok());  // reveals |a| + |b| = 5 only
  policy.min_cell_count = 6;
  EXPECT_TRUE(Refused(audit.Check(row, policy)));  // 5 < 6
  policy.min_cell_count = 5;
  // Releasing b's column partner as well gives b away.
  std::vector more = row;
  more.push_back(Set(b2, kN));
  EXPECT_TRUE(Refused(audit.Check(more, policy)));
}

TEST(CountAuditTest, UnrelatedLargeSetsAndRepeatsAreFine) {
  const Policy policy = DefaultPolicy("lyon");
  constexpr size_t kN = 1000;
  std::vector<Cohort> sets;
  for (size_t i = 0; i < 10; ++i) sets.push_back(Set(Range(100 * i, 100 * i + 100), kN));
  for (size_t i = 0; i < 9; ++i) sets.push_back(Set(Range(100 * i + 50, 100 * i + 150), kN));
  sets.push_back(Set(Range(0, kN), kN));
  CountAudit audit;
  EXPECT_TRUE(audit.Check(sets, policy).ok());
  audit.Add(sets);
  audit.Add(sets);
  EXPECT_EQ(audit.known_sets(), sets.size());
  EXPECT_EQ(audit.atoms(), 20u);
  // The same sets again, twice in one release: nothing new.
  std::vector<Cohort> again = sets;
  again.insert(again.end(), sets.begin(), sets.end());
  EXPECT_TRUE(audit.Check(again, policy).ok());
  EXPECT_TRUE(CountAudit().Check(again, policy).ok());
}

TEST(CountAuditTest, FailsClosedPastMaxAtoms) {
  const Policy policy = DefaultPolicy("lyon");
  constexpr size_t kN = 100000;
  // Set j: the records whose index has bit j. 13 sets make 2^13 - 1 atoms of about 12 records.
  std::vector<Cohort> sets;
  for (size_t j = 0; j < 14; ++j) {
    std::vector<size_t> rows;
    for (size_t r = 0; r < kN; ++r) {
      if ((r >> j) & 1) rows.push_back(r);
    }
    sets.push_back(Set(rows, kN));
  }
  CountAudit audit;
  const std::vector first(sets.begin(), sets.begin() + 13);
  EXPECT_TRUE(audit.Check(first, policy).ok());
  audit.Add(first);
  EXPECT_EQ(audit.atoms(), 8191u);
  const Status s = audit.Check(std::vector{sets[13]}, policy);
  EXPECT_TRUE(Refused(s));
  EXPECT_NE(s.message().find("too many distinct populations"), std::string::npos);
  // Once the released sets themselves pass the limit, nothing new is verified.
  audit.Add(std::vector{sets[13]});
  EXPECT_GT(audit.atoms(), CountAudit::kMaxAtoms);
  EXPECT_TRUE(Refused(audit.Check(std::vector{Set(Range(0, 5000), kN)}, policy)));
}

TEST(CountAuditTest, FailsClosedWithTooManyRelatedReleases) {
  const Policy policy = DefaultPolicy("lyon");
  constexpr size_t kN = 1000;
  // Each group: S = 40 records, T = S + 3 + 3, U = 3 + 4 from T's end on. Small atoms of 3, 3
  // and 4 records; |T| - |S| = 6 and |U| = 7 involve only them (2 dimensions of V', no 0/1
  // combination of fewer than 5 records).
  auto group = [](size_t base) {
    return std::vector{Set(Range(base, base + 40), kN), Set(Range(base, base + 46), kN),
                       Set(Range(base + 43, base + 50), kN)};
  };
  CountAudit audit;
  for (size_t i = 0; i < 8; ++i) audit.Add(group(50 * i));
  EXPECT_TRUE(audit.Check({}, policy).ok());  // 16 dimensions: searched
  const Status s = audit.Check(group(400), policy);
  EXPECT_TRUE(Refused(s));  // 18: not searched
  EXPECT_NE(s.message().find("too many related releases to verify"), std::string::npos);
}

// Random families over `n` records: unions of one or two intervals whose ends lie a few records
// from multiples of 20, so that differences of a few records are frequent.
std::vector<Cohort> RandomFamily(std::mt19937_64& random, size_t n, size_t sets) {
  auto end = [&] { return std::min(n, 20 * (random() % (n / 20 + 1)) + random() % 4); };
  std::vector<Cohort> family;
  for (size_t i = 0; i < sets; ++i) {
    std::vector<bool> in(n);
    for (size_t pieces = 1 + random() % 2; pieces > 0; --pieces) {
      size_t from = end(), to = end();
      if (from > to) std::swap(from, to);
      for (size_t r = from; r < to; ++r) in[r] = true;
    }
    std::vector<size_t> rows;
    for (size_t r = 0; r < n; ++r) {
      if (in[r]) rows.push_back(r);
    }
    family.push_back(Set(rows, n + 64 * (random() % 2)));  // bit vectors of different lengths
  }
  return family;
}

TEST(CountAuditTest, AddThenCheckDecidesAsOneCheck) {
  Policy policy = DefaultPolicy("lyon");
  std::mt19937_64 random(11);
  int refused = 0, allowed = 0;
  for (int trial = 0; trial < 300; ++trial) {
    policy.min_cell_count = 2 + static_cast<int>(random() % 5);
    std::vector<Cohort> family = RandomFamily(random, 120, 3 + random() % 8);
    for (Cohort& c : family) {  // no set of 1 to k - 1 records (refused outright either way)
      if (c.size > 0 && c.size < static_cast<size_t>(policy.min_cell_count)) {
        c = Set(Range(0, 60), 120);
      }
    }
    const size_t known = random() % family.size();
    CountAudit step;
    for (size_t i = 0; i < known;) {  // Add()ed in chunks, as releases leave
      const size_t chunk = std::min(known - i, size_t{1} + random() % 3);
      step.Add(std::span(family).subspan(i, chunk));
      i += chunk;
    }
    const Status one = CountAudit().Check(family, policy);
    EXPECT_EQ(step.Check(std::span(family).subspan(known), policy).ok(), one.ok()) << trial;
    (one.ok() ? allowed : refused) += 1;
    step.Add(std::span(family).subspan(known));
    CountAudit all;
    all.Add(family);
    EXPECT_EQ(step.atoms(), all.atoms());
    EXPECT_EQ(step.Check({}, policy).ok(), one.ok());
  }
  EXPECT_GT(refused, 30);
  EXPECT_GT(allowed, 30);
}

// Brute force over the rationals: atoms from membership signatures, rows over atoms, and every
// 0/1 vector of small atoms with a total of 1 to k - 1 tested for membership in the row space by
// fraction-free integer elimination.
class RowSpace {
 public:
  explicit RowSpace(std::vector<std::vector<int64_t>> rows) {
    const size_t cols = rows.empty() ? 0 : rows[0].size();
    for (size_t c = 0; c < cols; ++c) {
      auto it = std::find_if(rows.begin(), rows.end(), [c](const auto& r) { return r[c] != 0; });
      if (it == rows.end()) continue;
      std::vector<int64_t> pivot = *it;
      rows.erase(it);
      for (auto& r : rows) Eliminate(r, pivot, c);
      basis_.push_back(std::move(pivot));
      pivots_.push_back(c);
    }
  }
  bool Contains(std::vector<int64_t> v) const {
    for (size_t i = 0; i < basis_.size(); ++i) Eliminate(v, basis_[i], pivots_[i]);
    return std::all_of(v.begin(), v.end(), [](int64_t x) { return x == 0; });
  }

 private:
  // v := v * p[c] - p * v[c], then divided by the gcd of its entries.
  static void Eliminate(std::vector<int64_t>& v, const std::vector<int64_t>& p, size_t c) {
    if (v[c] == 0) return;
    const int64_t f = v[c], g = p[c];
    int64_t d = 0;
    for (size_t j = 0; j < v.size(); ++j) {
      v[j] = v[j] * g - p[j] * f;
      d = std::gcd(d, v[j]);
    }
    if (d > 1) {
      for (int64_t& x : v) x /= d;
    }
  }
  std::vector<std::vector<int64_t>> basis_;  // echelon: basis_[i] is 0 before pivots_[i]
  std::vector<size_t> pivots_;
};

bool BruteForceDiscloses(const std::vector<std::vector<size_t>>& sets, size_t n, int64_t k) {
  std::map<uint32_t, int64_t> atom_size;  // membership signature -> records
  for (size_t r = 0; r < n; ++r) {
    uint32_t signature = 0;
    for (size_t j = 0; j < sets.size(); ++j) {
      if (std::find(sets[j].begin(), sets[j].end(), r) != sets[j].end()) signature |= 1u << j;
    }
    if (signature != 0) ++atom_size[signature];
  }
  std::vector<uint32_t> signatures;
  std::vector<int64_t> sizes;
  for (const auto& [signature, size] : atom_size) {
    signatures.push_back(signature);
    sizes.push_back(size);
  }
  std::vector<std::vector<int64_t>> rows;
  for (size_t j = 0; j < sets.size(); ++j) {
    rows.emplace_back();
    for (uint32_t signature : signatures) rows.back().push_back((signature >> j) & 1);
  }
  const RowSpace space(rows);
  for (uint32_t mask = 1; mask < (1u << sizes.size()); ++mask) {
    int64_t total = 0;
    std::vector<int64_t> v(sizes.size());
    for (size_t a = 0; a < sizes.size(); ++a) {
      v[a] = (mask >> a) & 1;
      total += v[a] * sizes[a];
    }
    if (total < k && space.Contains(v)) return true;
  }
  return false;
}

TEST(CountAuditTest, RefusesExactlyWhenBruteForceFindsASmallCount) {
  Policy policy = DefaultPolicy("lyon");
  std::mt19937_64 random(5);
  int refused = 0, allowed = 0;
  for (int seed = 0; seed < 4000; ++seed) {
    policy.min_cell_count = seed % 2 == 0 ? 5 : 2 + seed / 2 % 5;
    // 4 to 12 blocks of records: single records, or (every other seed) 1 to 8 records each, so
    // that atoms of k records or more are common too.
    std::vector<std::vector<size_t>> blocks(4 + random() % 9);
    size_t n = 0;
    for (auto& block : blocks) {
      for (size_t size = seed % 4 < 2 ? 1 : 1 + random() % 8; size > 0; --size) {
        block.push_back(n++);
      }
    }
    std::vector<std::vector<size_t>> sets(4 + random() % 3);
    std::vector<Cohort> cohorts;
    for (auto& s : sets) {
      // Each block in with chance density / 8, or (every other seed) an interval of blocks.
      const uint64_t density = 2 + random() % 5;
      size_t from = random() % (blocks.size() + 1), to = random() % (blocks.size() + 1);
      if (from > to) std::swap(from, to);
      for (size_t b = 0; b < blocks.size(); ++b) {
        if (seed % 2 == 0 ? random() % 8 < density : from <= b && b < to) {
          s.insert(s.end(), blocks[b].begin(), blocks[b].end());
        }
      }
      cohorts.push_back(Set(s, n + 64 * (random() % 3)));
    }
    const size_t known = random() % cohorts.size();
    CountAudit audit;
    audit.Add(std::span(cohorts).first(known));
    const bool expected = BruteForceDiscloses(sets, n, policy.min_cell_count);
    const Status s = audit.Check(std::span(cohorts).subspan(known), policy);
    EXPECT_EQ(!s.ok(), expected) << "seed " << seed << ": " << s.ToString();
    if (!s.ok()) {
      EXPECT_TRUE(Refused(s));
    }
    (expected ? refused : allowed) += 1;
  }
  EXPECT_GT(refused, 1000);
  EXPECT_GT(allowed, 500);
}

// A site's history on 100,000 records: describe, table and model releases over organ, sex, age
// band, stage and the complete cases of three nested models (about 40 predicates and their
// intersections), each Add()ed once it passed the audit, as a node would. Prints the time of a
// Check of a new model's cohorts; the time is not asserted.
TEST(CountAuditTest, CheckTimeOnARealisticHistory) {
  const Policy policy = DefaultPolicy("lyon");
  constexpr size_t kN = 100000;
  std::mt19937_64 random(3);
  struct Record {
    int organ, sex, age, stage, complete;  // complete: 0 to 3 nested models fit
  };
  std::vector<Record> records(kN);
  for (Record& r : records) {
    const uint64_t u = random() % 1000;  // organ 7 is rare: about 2 records per cell
    r.organ = u < 995 ? static_cast<int>(u % 7) : 7;
    r.sex = static_cast<int>(random() % 2);
    r.age = static_cast<int>(random() % 6);
    r.stage = static_cast<int>(random() % 4);
    const uint64_t v = random() % 100;
    r.complete = v < 5 ? 0 : v < 12 ? 1 : v < 20 ? 2 : 3;
  }
  auto where = [&](auto predicate) {
    std::vector<size_t> rows;
    for (size_t i = 0; i < kN; ++i) {
      if (predicate(records[i])) rows.push_back(i);
    }
    return Set(rows, kN);
  };
  std::vector<Cohort> history = {where([](const Record&) { return true; })};
  for (int o = 0; o < 8; ++o) {
    history.push_back(where([o](const Record& r) { return r.organ == o; }));
    for (int s = 0; s < 2; ++s) {
      history.push_back(where([=](const Record& r) { return r.organ == o && r.sex == s; }));
    }
    for (int a = 0; a < 6; ++a) {
      history.push_back(where([=](const Record& r) { return r.organ == o && r.age == a; }));
    }
    for (int t = 0; t < 4; ++t) {
      history.push_back(where([=](const Record& r) { return r.organ == o && r.stage == t; }));
    }
    for (int m = 1; m <= 3; ++m) {
      history.push_back(where([=](const Record& r) { return r.organ == o && r.complete >= m; }));
      for (int s = 0; s < 2; ++s) {
        history.push_back(
            where([=](const Record& r) { return r.organ == o && r.complete >= m && r.sex == s; }));
      }
      history.push_back(
          where([=](const Record& r) { return r.organ == o && r.complete >= m && r.stage < 2; }));
      for (int a = 0; a < 6; ++a) {
        history.push_back(
            where([=](const Record& r) { return r.organ == o && r.complete >= m && r.age == a; }));
      }
    }
  }
  for (int s = 0; s < 2; ++s) {
    for (int a = 0; a < 6; ++a) {
      history.push_back(where([=](const Record& r) { return r.sex == s && r.age == a; }));
    }
  }
  CountAudit audit;
  size_t passed = 0;
  for (const Cohort& c : history) {
    if (!audit.Check(std::vector{c}, policy).ok()) continue;
    audit.Add(std::vector{c});
    ++passed;
  }
  EXPECT_GT(passed, history.size() * 9 / 10);
  // A new model: organ 2's complete cases of model 3 by age band, and its whole cohort.
  std::vector<Cohort> release = {
      where([](const Record& r) { return r.organ == 2 && r.complete >= 3 && r.stage >= 2; })};
  for (int a = 0; a < 6; ++a) {
    release.push_back(
        where([=](const Record& r) { return r.organ == 2 && r.complete >= 3 && r.age == a; }));
  }
  const auto start = std::chrono::steady_clock::now();
  const Status s = audit.Check(release, policy);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "count_audit: %zu records, %zu known sets (%zu of %zu passed), %zu atoms: Check of "
      "%zu new sets took %.2f ms (%s)\n",
      kN, audit.known_sets(), passed, history.size(), audit.atoms(), release.size(), ms,
      s.ok() ? "ok" : s.message().c_str());
}

}  // namespace
}  // namespace passerelle::privacy
