// Descriptive kernels: counts, mean and standard deviation of a column, missing values skipped.
#ifndef PASSERELLE_STATS_SUMMARY_H_
#define PASSERELLE_STATS_SUMMARY_H_

#include <cstddef>
#include <span>

namespace passerelle::stats {

struct NumericSummary {
  size_t n = 0;        // non-missing values
  size_t missing = 0;  // NaN values
  double sum = 0;
  double sum_squares = 0;  // of deviations from the mean
  double mean = 0;         // NaN when n == 0
  double sd = 0;           // sample SD (n - 1 denominator, as R's sd); NaN when n < 2
};

// Two passes (mean, then squared deviations) so that large offsets keep their precision.
NumericSummary Summarize(std::span<const double> values);

}  // namespace passerelle::stats

#endif  // PASSERELLE_STATS_SUMMARY_H_
