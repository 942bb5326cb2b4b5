#include "passerelle/privacy/disclosure.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <set>
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

// The rules the analyses apply to what they release, each on figures the site measured; each
// refusal names its rule, never the number it protects.
TEST(Disclosure, ReleaseRulesJudgeFiguresAndNameTheirRule) {
  const Policy p = DefaultPolicy("wuhan");  // k = 5, a 30-day grid
  EXPECT_TRUE(CheckLabel({"organ", "", false, 0}, p).ok());
  EXPECT_TRUE(CheckLabel({"grade", "", false, 12}, p).ok());
  const Status rare = CheckLabel({"grade", "", false, 3}, p);
  EXPECT_NE(rare.message().find("rule min_cell_count"), std::string::npos);
  EXPECT_EQ(rare.message().find('3'), std::string::npos);
  EXPECT_NE(CheckLabel({"dx_date", "dx_date", true, 0}, p).message().find("rule never_released"),
            std::string::npos);
  EXPECT_TRUE(CheckModelColumns(0, p).ok());
  EXPECT_TRUE(CheckModelColumns(9, p).ok());
  EXPECT_NE(CheckModelColumns(2, p).message().find("rule min_cell_count"), std::string::npos);
  EXPECT_TRUE(CheckTimeGrid(30, p).ok());
  EXPECT_NE(CheckTimeGrid(1, p).message().find("rule min_time_bin_days"), std::string::npos);
  EXPECT_FALSE(WithholdCurve(20, 0, {}, p));
  EXPECT_FALSE(WithholdCurve(20, 6, std::vector<double>{6, 0}, p));
  EXPECT_TRUE(WithholdCurve(4, 0, {}, p));
  EXPECT_TRUE(WithholdCurve(20, 2, {}, p));
  EXPECT_TRUE(WithholdCurve(20, 9, std::vector<double>{7, 2}, p));
  EXPECT_TRUE(CheckLogrankGroup(0, 0, p).ok());
  EXPECT_TRUE(CheckLogrankGroup(20, 5, p).ok());
  EXPECT_NE(CheckLogrankGroup(20, 4, p).message().find("rule min_cell_count"), std::string::npos);
  EXPECT_TRUE(ReleasesMoments(40, std::vector<double>{}, p));
  EXPECT_FALSE(ReleasesMoments(4, std::vector<double>{}, p));
  EXPECT_TRUE(ReleasesMoments(40, std::vector<double>{20, 20}, p));
  EXPECT_FALSE(ReleasesMoments(40, std::vector<double>{38, 2}, p));  // a 0/1 number: counts
  EXPECT_TRUE(ReleasesMoments(40, std::vector<double>{10, 10, 10, 10}, p));
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

// Every value a hidden cell can take given the released cells, the row and column totals and
// the table's total with `missing` (what an attacker may know), by enumeration row by row.
std::vector<std::set<int>> Feasible(const std::vector<double>& released, size_t cols,
                                    const std::vector<double>& truth, double missing_released,
                                    double missing_truth) {
  const size_t rows = truth.size() / cols;
  std::vector<int> row_total(rows, 0), col_total(cols, 0);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      row_total[r] += static_cast<int>(truth[r * cols + c]);
      col_total[c] += static_cast<int>(truth[r * cols + c]);
    }
  }
  int total = static_cast<int>(missing_truth);
  for (double t : truth) total += static_cast<int>(t);
  std::vector<std::set<int>> seen(truth.size());
  std::vector<int> value(truth.size(), 0);
  std::function<void(size_t, std::vector<int>)> fill = [&](size_t cell, std::vector<int> col_sum) {
    if (cell == truth.size()) {
      int sum = 0;
      for (size_t c = 0; c < cols; ++c) {
        if (col_sum[c] != col_total[c]) return;
        sum += col_sum[c];
      }
      const int missing = total - sum;
      if (missing < 0 || (missing_released == missing_released && missing != missing_released)) {
        return;
      }
      for (size_t i = 0; i < truth.size(); ++i) seen[i].insert(value[i]);
      return;
    }
    const size_t r = cell / cols, c = cell % cols;
    int row_so_far = 0;
    for (size_t j = r * cols; j < cell; ++j) row_so_far += value[j];
    const bool last_in_row = c + 1 == cols;
    const int low = released[cell] == released[cell] ? static_cast<int>(released[cell]) : 0;
    const int high = released[cell] == released[cell] ? low : row_total[r] - row_so_far;
    for (int v = low; v <= high; ++v) {
      if (last_in_row && row_so_far + v != row_total[r]) continue;
      if (col_sum[c] + v > col_total[c]) break;
      value[cell] = v;
      std::vector<int> next = col_sum;
      next[c] += v;
      fill(cell + 1, next);
    }
  };
  fill(0, std::vector<int>(cols, 0));
  return seen;
}

TEST(Disclosure, ComplementarySuppressionLeavesNoSmallCellRebuildable) {
  const Policy p = DefaultPolicy("wuhan");
  // One-way table and its missing count: a single small cell gets a partner.
  std::vector<double> one = {40, 3, 25, 0};
  double missing = 12;
  EXPECT_EQ(SuppressTable(one, 1, &missing, p), 2u);
  EXPECT_TRUE(std::isnan(one[1]) && std::isnan(missing));  // 12 is the smallest non-zero left
  EXPECT_EQ(one[0], 40);
  EXPECT_EQ(one[3], 0);
  // A small missing count alone also gets a partner among the cells.
  std::vector<double> cells = {40, 30, 25};
  double few_missing = 2;
  EXPECT_EQ(SuppressTable(cells, 1, &few_missing, p), 2u);
  EXPECT_TRUE(std::isnan(cells[2]));
  // Two-way tables: every row and column with 0 or at least 2 hidden cells, and no primary cell
  // determined by the totals.
  const std::vector<std::vector<double>> tables = {
      {3, 20, 12, 9, 15, 7, 6, 8, 10},  // a small corner
      {20, 1, 9, 0, 8, 11, 7, 2, 10},   // two small cells, a zero
      {0, 0, 4, 9, 12, 6},              // a row with one non-zero cell (2 x 3)
      {2, 6, 7, 1},                     // 2 x 2
  };
  const std::vector<size_t> widths = {3, 3, 3, 2};
  for (size_t t = 0; t < tables.size(); ++t) {
    std::vector<double> released = tables[t];
    double miss = 0;
    SuppressTable(released, widths[t], &miss, p);
    const std::vector<std::set<int>> seen = Feasible(released, widths[t], tables[t], miss, 0);
    for (size_t i = 0; i < released.size(); ++i) {
      const double truth = tables[t][i];
      if (truth > 0 && truth < p.min_cell_count) {
        EXPECT_TRUE(std::isnan(released[i])) << "table " << t << " cell " << i;
        EXPECT_GE(seen[i].size(), 2u) << "table " << t << " cell " << i << " is rebuildable";
      }
    }
  }
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
