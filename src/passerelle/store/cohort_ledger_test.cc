#include "passerelle/store/cohort_ledger.h"

#include <gtest/gtest.h>

#include <numeric>

#include "passerelle/base/test_dir.h"

namespace passerelle::store {
namespace {

privacy::Cohort FirstRows(size_t n) {
  std::vector<size_t> rows(n);
  std::iota(rows.begin(), rows.end(), 0);
  return privacy::Cohort::FromRows(rows, 500);
}

TEST(CohortLedger, RemembersReleasedCohortsPerDatasetVersionAcrossRestarts) {
  const std::string dir = testing::FreshTestDir("ledger");
  const privacy::Policy policy = privacy::DefaultPolicy("lyon");
  {
    auto ledger = CohortLedger::Open(dir);
    ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
    ASSERT_TRUE((*ledger)->Check("gu", 1, std::vector{FirstRows(200)}, policy).ok());
    ASSERT_TRUE((*ledger)->Record("gu", 1, std::vector{FirstRows(200)}, 7).ok());
    // Recording the same cohort again (the next round of a fit) keeps one entry.
    ASSERT_TRUE((*ledger)->Record("gu", 1, std::vector{FirstRows(200)}, 8).ok());
    EXPECT_EQ(*(*ledger)->Count("gu", 1), 1u);
  }
  auto ledger = CohortLedger::Open(dir);
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ(*(*ledger)->Count("gu", 1), 1u);
  const Status refused = (*ledger)->Check("gu", 1, std::vector{FirstRows(199)}, policy);
  EXPECT_EQ(refused.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(refused.message().find("rule min_cohort_difference"), std::string::npos);
  EXPECT_TRUE((*ledger)->Check("gu", 1, std::vector{FirstRows(200)}, policy).ok());
  // Another dataset, or a new version of this one, starts its own ledger.
  EXPECT_TRUE((*ledger)->Check("gu", 2, std::vector{FirstRows(199)}, policy).ok());
  EXPECT_TRUE((*ledger)->Check("other", 1, std::vector{FirstRows(199)}, policy).ok());
}

}  // namespace
}  // namespace passerelle::store
