#include "passerelle/stats/contingency.h"

#include <cmath>

#include "passerelle/stats/distributions.h"

namespace passerelle::stats {

ChiSquareResult PearsonChiSquare(std::span<const double> counts, size_t rows, size_t cols,
                                 bool correct) {
  ChiSquareResult r;
  std::vector<double> row_sum(rows, 0.0), col_sum(cols, 0.0);
  double total = 0;
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < cols; ++j) {
      row_sum[i] += counts[i * cols + j];
      col_sum[j] += counts[i * cols + j];
      total += counts[i * cols + j];
    }
  }
  if (rows < 2 || cols < 2 || total == 0) return r;
  for (double s : row_sum)
    if (s == 0) return r;
  for (double s : col_sum)
    if (s == 0) return r;
  r.valid = true;
  r.continuity_correction = correct && rows == 2 && cols == 2;
  // R: YATES = min(0.5, abs(x - E)) for 2 x 2 tables.
  double yates = 0;
  if (r.continuity_correction) {
    yates = 0.5;
    for (size_t i = 0; i < 2; ++i) {
      for (size_t j = 0; j < 2; ++j) {
        const double e = row_sum[i] * col_sum[j] / total;
        yates = std::fmin(yates, std::fabs(counts[i * cols + j] - e));
      }
    }
  }
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < cols; ++j) {
      const double e = row_sum[i] * col_sum[j] / total;
      const double d = std::fabs(counts[i * cols + j] - e) - yates;
      r.statistic += d * d / e;
    }
  }
  r.df = static_cast<double>((rows - 1) * (cols - 1));
  r.p = ChiSquareUpper(r.statistic, r.df);
  return r;
}

}  // namespace passerelle::stats
