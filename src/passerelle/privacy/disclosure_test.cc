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
  const std::vector<double> at_risk = {40, 22, 9, 5, 4, 1};
  EXPECT_EQ(ReleasableRows(at_risk, p), 4u);  // stops where one patient could be singled out
}

}  // namespace
}  // namespace passerelle::privacy
