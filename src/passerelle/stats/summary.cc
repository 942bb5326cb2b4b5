#include "passerelle/stats/summary.h"

#include <cmath>
#include <limits>

namespace passerelle::stats {

NumericSummary Summarize(std::span<const double> values) {
  NumericSummary s;
  for (double x : values) {
    if (std::isnan(x)) {
      ++s.missing;
    } else {
      ++s.n;
      s.sum += x;
    }
  }
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  s.mean = s.n ? s.sum / static_cast<double>(s.n) : kNaN;
  for (double x : values) {
    if (!std::isnan(x)) s.sum_squares += (x - s.mean) * (x - s.mean);
  }
  s.sd = s.n >= 2 ? std::sqrt(s.sum_squares / static_cast<double>(s.n - 1)) : kNaN;
  return s;
}

}  // namespace passerelle::stats
