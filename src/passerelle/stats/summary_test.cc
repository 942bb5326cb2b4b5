#include "passerelle/stats/summary.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace passerelle::stats {
namespace {

TEST(Summary, MatchesR) {
  // Deviations from the mean 63 are 11, 5, -7, -6, -3: sum of squares 240, sd = sqrt(240 / 4).
  const std::vector<double> x = {74, 68, 56, 57, 60, NAN};
  const NumericSummary s = Summarize(x);
  EXPECT_EQ(s.n, 5u);
  EXPECT_EQ(s.missing, 1u);
  EXPECT_DOUBLE_EQ(s.mean, 63);
  EXPECT_DOUBLE_EQ(s.sd, std::sqrt(60.0));
}

TEST(Summary, LargeOffsetKeepsPrecision) {
  const std::vector<double> x = {1e9 + 1, 1e9 + 2, 1e9 + 3};
  EXPECT_DOUBLE_EQ(Summarize(x).sd, 1.0);
}

TEST(Summary, EmptyAndSingle) {
  EXPECT_TRUE(std::isnan(Summarize(std::vector<double>{}).mean));
  EXPECT_TRUE(std::isnan(Summarize(std::vector<double>{NAN, NAN}).mean));
  EXPECT_TRUE(std::isnan(Summarize(std::vector<double>{3}).sd));
}

}  // namespace
}  // namespace passerelle::stats
