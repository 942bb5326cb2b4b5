// Kaplan–Meier curves and the G-rho family of log-rank tests, written as aggregates that add
// up across sites: a curve is computed from per-time counts (events, censorings), a test from
// per-stratum observed, expected and variance sums (docs/methods/survfit.md, survdiff.md).
#ifndef PASSERELLE_STATS_SURVIVAL_H_
#define PASSERELLE_STATS_SURVIVAL_H_

#include <cstdint>
#include <span>
#include <vector>

namespace passerelle::stats {

// Counts at each distinct time, ascending: the local step of a Kaplan–Meier curve.
struct TimeCounts {
  double n = 0;  // subjects
  std::vector<double> time, n_event, n_censor;
};

// Counts of the rows whose group is `group` (all rows when group < 0).
TimeCounts CountByTime(std::span<const double> time, std::span<const double> status,
                       std::span<const int32_t> groups, int32_t group);
// The sum of two sites' counts (times merged).
TimeCounts AddCounts(const TimeCounts& a, const TimeCounts& b);

struct KaplanMeier {
  double n = 0, events = 0;
  std::vector<double> time, n_risk, n_event, n_censor, surv, std_err, std_err_surv, lower, upper,
      cumhaz, std_chaz;
  double median = 0, median_lower = 0, median_upper = 0;  // NaN when not reached
};

// R's survfit(): product-limit estimate, Greenwood standard error of -log S, log-transformed
// confidence limits (upper capped at 1), Nelson–Aalen cumulative hazard with variance
// sum d/n^2, and the median with its confidence limits as print.survfit reports them.
KaplanMeier ComputeKaplanMeier(const TimeCounts& counts, double conf_level);

// One stratum's contribution to a k-group G-rho test (R's survdiff).
struct LogrankAggregate {
  size_t groups = 0;
  std::vector<double> n, obs, exp, var;  // var: groups x groups, row-major
};

// REQUIRES: group codes in [0, groups). Weight S(t-)^rho, S the stratum's pooled KM.
LogrankAggregate LogrankStratum(std::span<const double> time, std::span<const double> status,
                                std::span<const int32_t> group, size_t groups, double rho);

}  // namespace passerelle::stats

#endif  // PASSERELLE_STATS_SURVIVAL_H_
