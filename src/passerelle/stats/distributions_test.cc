// Tail probabilities and quantiles against R 4.2.2 (values printed with %.17g).
#include "passerelle/stats/distributions.h"

#include <gtest/gtest.h>

#include <cmath>

namespace passerelle::stats {
namespace {

void ExpectRelative(double actual, double expected, double tolerance) {
  EXPECT_NEAR(actual, expected, std::fabs(expected) * tolerance) << "expected " << expected;
}

TEST(Distributions, NormalMatchesR) {
  ExpectRelative(NormalCdf(-1.3), 0.096800484585610344, 1e-14);  // pnorm(-1.3)
  ExpectRelative(NormalTwoSided(3.1555880018732405), 0.0016017493844699983, 1e-13);
  ExpectRelative(NormalQuantile(0.975), 1.9599639845400536, 1e-15);  // qnorm(0.975)
  ExpectRelative(NormalQuantile(1e-10), -6.3613409024040557, 1e-15);
  ExpectRelative(NormalQuantile(0.3), -0.52440051270804067, 1e-15);
}

TEST(Distributions, ChiSquareMatchesR) {
  ExpectRelative(ChiSquareUpper(25.2607243014221, 3), 1.3618765523896182e-05, 1e-12);
  ExpectRelative(ChiSquareUpper(0.00822734320235077, 1), 0.92772723334007379, 1e-13);
  ExpectRelative(ChiSquareUpper(250, 3), 6.543750030967993e-54, 1e-11);
  ExpectRelative(ChiSquareUpper(1500, 200), 1.0036428290614339e-197, 1e-10);
  EXPECT_EQ(ChiSquareUpper(0, 2), 1.0);
}

TEST(Distributions, StudentTMatchesR) {
  ExpectRelative(StudentTTwoSided(-2.1, 7), 0.073871196212922596, 1e-12);  // 2 * pt(-2.1, 7)
  ExpectRelative(StudentTTwoSided(0.3, 150), 0.76459249438835897, 1e-12);
}

}  // namespace
}  // namespace passerelle::stats
