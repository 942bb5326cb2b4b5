#include "passerelle/privacy/differencing.h"

#include <gtest/gtest.h>

#include <numeric>
#include <random>

namespace passerelle::privacy {
namespace {

std::vector<size_t> Range(size_t from, size_t to) {
  std::vector<size_t> rows(to - from);
  std::iota(rows.begin(), rows.end(), from);
  return rows;
}

TEST(Differencing, CohortsAreBitSetsWithSizeAndDigest) {
  const Cohort a = Cohort::FromRows(Range(0, 100), 130);
  EXPECT_EQ(a.size, 100u);
  EXPECT_EQ(a.bits.size(), 2u);  // trailing empty words dropped: the digest is the set's
  EXPECT_EQ(Cohort::FromRows(Range(0, 100), 100000).digest, a.digest);
  EXPECT_EQ(Cohort::FromBits(a.bits).digest, a.digest);
  std::vector<size_t> reversed = Range(0, 100);
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(Cohort::FromRows(reversed, 130).digest, a.digest);
  EXPECT_NE(Cohort::FromRows(Range(1, 101), 130).digest, a.digest);
  EXPECT_EQ(CohortDifference(a, Cohort::FromRows(Range(1, 101), 130), 1000), 2u);
  EXPECT_EQ(CohortDifference(a, a, 1000), 0u);
  // Renumbered: row r becomes record index[r].
  std::vector<uint32_t> index(130);
  for (uint32_t r = 0; r < 130; ++r) index[r] = 129 - r;
  const Cohort renumbered = a.Renumbered(index);
  EXPECT_EQ(renumbered.size, 100u);
  EXPECT_EQ(renumbered.digest, Cohort::FromRows(Range(30, 130), 130).digest);
}

TEST(Differencing, ACohortOneToFourRecordsAwayFromAReleasedOneIsRefused) {
  const Policy policy = DefaultPolicy("lyon");
  DifferencingIndex index;
  index.Add(Cohort::FromRows(Range(0, 100), 200));
  // The same cohort again (every round of a fit): allowed.
  EXPECT_TRUE(index.Check(std::vector{Cohort::FromRows(Range(0, 100), 200)}, policy).ok());
  // One record less, one more, two swapped: each describes a few patients.
  for (const auto& rows : {Range(1, 100), Range(0, 101), Range(2, 102)}) {
    const Status s = index.Check(std::vector{Cohort::FromRows(rows, 200)}, policy);
    EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
    EXPECT_NE(s.message().find("rule min_cohort_difference"), std::string::npos);
  }
  // Five records apart: allowed.
  EXPECT_TRUE(index.Check(std::vector{Cohort::FromRows(Range(0, 105), 200)}, policy).ok());
  EXPECT_TRUE(index.Check(std::vector{Cohort::FromRows(Range(5, 100), 200)}, policy).ok());
  // Two cohorts of one release close to each other.
  const std::vector release = {Cohort::FromRows(Range(100, 150), 200),
                               Cohort::FromRows(Range(100, 152), 200)};
  EXPECT_FALSE(index.Check(release, policy).ok());
  // A stricter site refuses wider differences.
  Policy strict = policy;
  strict.min_cohort_difference = 10;
  EXPECT_FALSE(index.Check(std::vector{Cohort::FromRows(Range(0, 107), 200)}, strict).ok());
}

// Thousands of earlier releases of every size around the new one: the check compares only the
// cohorts within min_cohort_difference in size, and stops counting at the limit.
TEST(Differencing, ThousandsOfReleasesStayCorrect) {
  const Policy policy = DefaultPolicy("wuhan");
  constexpr size_t kRows = 20000;
  std::mt19937_64 random(7);
  DifferencingIndex index;
  std::vector<size_t> all = Range(0, kRows);
  for (int i = 0; i < 3000; ++i) {
    std::shuffle(all.begin(), all.end(), random);
    const size_t size = 5000 + random() % 2000;
    index.Add(Cohort::FromRows(std::span(all).first(size), kRows));
  }
  EXPECT_EQ(index.size(), 3000u);
  std::shuffle(all.begin(), all.end(), random);
  const Cohort fresh = Cohort::FromRows(std::span(all).first(6000), kRows);
  EXPECT_TRUE(index.Check(std::vector{fresh}, policy).ok());
  index.Add(fresh);
  // The same cohort with 3 records removed.
  EXPECT_FALSE(
      index.Check(std::vector{Cohort::FromRows(std::span(all).first(5997), kRows)}, policy).ok());
}

}  // namespace
}  // namespace passerelle::privacy
