// Against R 4.2.2: chisq.test(matrix(c(12, 5, 7, 19), 2)) and chisq.test(matrix(c(12, 5, 7, 19,
// 4, 9), 2)), printed with %.17g.
#include "passerelle/stats/contingency.h"

#include <gtest/gtest.h>

#include <vector>

namespace passerelle::stats {
namespace {

TEST(Contingency, YatesForTwoByTwoAsR) {
  // R fills matrices by column: rows (12, 7) and (5, 19).
  const std::vector<double> counts = {12, 7, 5, 19};
  const ChiSquareResult r = PearsonChiSquare(counts, 2, 2, true);
  EXPECT_TRUE(r.continuity_correction);
  EXPECT_NEAR(r.statistic, 6.2749402139398294, 1e-12);
  EXPECT_NEAR(r.p, 0.012245725251445794, 1e-12);
}

TEST(Contingency, PearsonForLargerTables) {
  const std::vector<double> counts = {12, 7, 4, 5, 19, 9};
  const ChiSquareResult r = PearsonChiSquare(counts, 2, 3, true);
  EXPECT_FALSE(r.continuity_correction);
  EXPECT_EQ(r.df, 2);
  EXPECT_NEAR(r.statistic, 8.8400670088649633, 1e-12);
  EXPECT_NEAR(r.p, 0.012033829091355142, 1e-12);
  EXPECT_FALSE(PearsonChiSquare(std::vector<double>{1, 0, 2, 0}, 2, 2, true).valid);
}

}  // namespace
}  // namespace passerelle::stats
