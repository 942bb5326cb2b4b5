// Contingency tables: counts of one or two categorical variables and Pearson's chi-square test
// of independence (with Yates' continuity correction for 2 x 2 tables, as R's chisq.test).
#ifndef PASSERELLE_STATS_CONTINGENCY_H_
#define PASSERELLE_STATS_CONTINGENCY_H_

#include <cstdint>
#include <span>
#include <vector>

namespace passerelle::stats {

struct ChiSquareResult {
  double statistic = 0, df = 0, p = 1;
  bool continuity_correction = false;
  bool valid = false;  // false when a margin is zero (R returns NaN)
};

// counts: rows x cols, row-major.
ChiSquareResult PearsonChiSquare(std::span<const double> counts, size_t rows, size_t cols,
                                 bool correct);

}  // namespace passerelle::stats

#endif  // PASSERELLE_STATS_CONTINGENCY_H_
