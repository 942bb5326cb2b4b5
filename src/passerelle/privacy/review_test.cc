#include "passerelle/privacy/review.h"

#include <gtest/gtest.h>

#include <numeric>

namespace passerelle::privacy {
namespace {

std::vector<std::string> Rules(const std::vector<ReviewFlag>& flags) {
  std::vector<std::string> rules;
  for (const ReviewFlag& f : flags) rules.push_back(f.rule);
  return rules;
}

TEST(Review, AnAnalysisWithNothingToFlagPasses) {
  ReviewFigures f;
  f.analysis = "os_cox";
  f.minorities = {{"age_dx", 2900}, {"organkidney", 600}};
  f.max_leverage = 0.01;
  f.labels = {{"organ", 0}};
  EXPECT_TRUE(ReviewAnalysis(f, DefaultPolicy("lyon")).empty());
  f.bin_days = 30;  // the site's grid
  EXPECT_TRUE(ReviewAnalysis(f, DefaultPolicy("lyon")).empty());
}

TEST(Review, EachWayToSingleOutAPatientIsFlaggedInWords) {
  const Policy policy = DefaultPolicy("lyon");
  ReviewFigures f;
  f.analysis = "a";
  f.identifiers_or_dates = {"patient_id"};
  f.time_expressions = {"os_days * 30"};
  f.response_transform = "log(psa_dx)";
  f.bin_days = 1;
  f.minorities = {{"I(psa_dx * (age_dx == 73))", 1}, {"age_dx", 500}};
  f.max_leverage = 0.99;
  f.labels = {{"factor(age_dx)", 2}};
  const auto flags = ReviewAnalysis(f, policy);
  EXPECT_EQ(Rules(flags), (std::vector<std::string>{
                              "identifier_or_date", "time_arithmetic", "response_transform",
                              "time_grid", "sparse_term", "leverage", "individual_values"}));
  for (const ReviewFlag& flag : flags) {
    EXPECT_EQ(flag.analysis, "a");
    EXPECT_FALSE(flag.flag.empty());
  }
  EXPECT_NE(flags[4].flag.find("I(psa_dx * (age_dx == 73))"), std::string::npos);
  // k records exactly: no longer a few.
  f = ReviewFigures();
  f.minorities = {{"x", 5}};
  EXPECT_TRUE(ReviewAnalysis(f, policy).empty());
}

Cohort Range(size_t from, size_t to) {
  std::vector<size_t> rows(to - from);
  std::iota(rows.begin(), rows.end(), from);
  return Cohort::FromRows(rows, to);
}

TEST(Review, PopulationsAFewRecordsApartAreFlagged) {
  const Policy policy = DefaultPolicy("lyon");
  DifferencingIndex released;
  released.Add(Range(0, 200));
  const std::vector<ReviewedRelease> releases = {{"all", {Range(0, 300)}, {}},
                                                 {"almost_all", {Range(0, 297)}, {}},
                                                 {"far", {Range(0, 100)}, {}},
                                                 {"near_released", {Range(0, 202)}, {}}};
  const auto flags = ReviewOverlaps(releases, released, policy);
  ASSERT_EQ(flags.size(), 2u);
  EXPECT_EQ(flags[0].analysis, "almost_all");
  EXPECT_NE(flags[0].flag.find("'all'"), std::string::npos);
  EXPECT_EQ(flags[1].analysis, "near_released");
  EXPECT_NE(flags[1].flag.find("already released"), std::string::npos);
}

TEST(Review, ReleasesWhoseCountsCombineIntoASmallOneAreFlagged) {
  const Policy policy = DefaultPolicy("lyon");
  // A curve by group withholds a third group with 3 deaths; a later curve of everyone states
  // all deaths: their difference is the withheld group's.
  std::vector<size_t> deaths;
  for (size_t r = 0; r < 40; ++r) deaths.push_back(r);
  for (size_t r = 100; r < 150; ++r) deaths.push_back(r);
  for (size_t r = 200; r < 203; ++r) deaths.push_back(r);
  const std::vector<ReviewedRelease> releases = {
      {"by_group", {Range(0, 100), Range(100, 200)}, {Range(0, 40), Range(100, 150)}},
      {"everyone", {Range(0, 300)}, {Cohort::FromRows(deaths, 300)}},
      {"unrelated", {Range(0, 300)}, {Range(0, 150)}}};
  const auto flags = ReviewReleases(releases, ReleasedSets(), policy);
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].analysis, "everyone");
  EXPECT_EQ(flags[0].rule, "combined_counts");
  // Without the curve by group, everyone's deaths tell nothing small.
  EXPECT_TRUE(ReviewReleases(std::vector<ReviewedRelease>(releases.begin() + 1, releases.end()),
                             ReleasedSets(), policy)
                  .empty());
}

}  // namespace
}  // namespace passerelle::privacy
