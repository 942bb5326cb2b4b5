#include "passerelle/privacy/disclosure.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace passerelle::privacy {
namespace {

TEST(Disclosure, SmallCohortsAreRefusedWithoutSayingTheirSize) {
  const Policy p = DefaultPolicy("wuhan");
  EXPECT_TRUE(CheckCohortSize(10, p).ok());
  const Status refused = CheckCohortSize(7, p);
  EXPECT_EQ(refused.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(refused.message().find("rule min_cohort_size"), std::string::npos);
  EXPECT_EQ(refused.message().find('7'), std::string::npos);  // the protected number
}

TEST(Disclosure, SaturatedModelsAndTooFewEventsAreRefused) {
  const Policy p = DefaultPolicy("lyon");
  EXPECT_TRUE(CheckModelSize(3, 100, 20, p).ok());
  EXPECT_NE(CheckModelSize(40, 100, 20, p).message().find("max_parameters_per_record"),
            std::string::npos);
  const Status few = CheckModelSize(3, 100, 3, p);
  EXPECT_NE(few.message().find("rule min_events"), std::string::npos);
  EXPECT_EQ(few.message().find('3'), std::string::npos);
}

TEST(Disclosure, CountsOneToFourAreSuppressed) {
  Policy p = DefaultPolicy("wuhan");
  std::vector<double> counts = {0, 1, 4, 5, 120};
  EXPECT_EQ(SuppressSmallCounts(counts, p), 2u);
  EXPECT_EQ(counts[0], 0);
  EXPECT_TRUE(std::isnan(counts[1]) && std::isnan(counts[2]));
  EXPECT_EQ(counts[3], 5);
  p.min_cell_count = 10;  // a site may tighten
  std::vector<double> tighter = {5, 9, 10};
  EXPECT_EQ(SuppressSmallCounts(tighter, p), 2u);
}

TEST(Disclosure, TimeGridAndKaplanMeierTail) {
  EXPECT_EQ(BinTime(1, 30), 30);
  EXPECT_EQ(BinTime(30, 30), 30);
  EXPECT_EQ(BinTime(31, 30), 60);
  EXPECT_EQ(BinTime(0, 30), 0);
  const Policy p = DefaultPolicy("lyon");
  // At risk 40, 22, 9, 5, 4, 1: after the third row 5 remain, after the fourth only 4.
  const std::vector<double> leaving = {18, 13, 4, 1, 3, 1};
  EXPECT_EQ(ReleasableRows(40, leaving, p), 3u);
  // A curve that ends with everyone gone is released whole.
  const std::vector<double> all = {10, 5, 6};
  EXPECT_EQ(ReleasableRows(21, all, p), 3u);
  // Nothing when the first row already leaves fewer than k behind.
  const std::vector<double> first = {3};
  EXPECT_EQ(ReleasableRows(6, first, p), 0u);
}

}  // namespace
}  // namespace passerelle::privacy
