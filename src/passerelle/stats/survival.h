// Kaplan–Meier curves and the G-rho family of log-rank tests, written as aggregates that add
// up across sites: a curve is computed from per-time counts (events, censorings), a test from
// per-stratum observed, expected and variance sums (docs/methods/survfit.md, survdiff.md).
#ifndef PASSERELLE_STATS_SURVIVAL_H_
#define PASSERELLE_STATS_SURVIVAL_H_

#include <cstdint>
#include <span>
#include <vector>

namespace passerelle::stats {

// Counts at each distinct time, ascending: the local step of a Kaplan–Meier curve, or of the
// cumulative incidence of competing events.
struct TimeCounts {
  double n = 0;  // subjects
  std::vector<double> time, n_event, n_censor;
  // Competing events: the events of each cause at each time ([cause][time]; n_event is their
  // sum). Empty for a single kind of event.
  std::vector<std::vector<double>> n_cause;
};

// Counts of the rows whose group is `group` (all rows when group < 0). `status`: 0 censored,
// otherwise an event; with `causes` > 0, the event's cause 1..causes (n_cause is filled).
TimeCounts CountByTime(std::span<const double> time, std::span<const double> status,
                       std::span<const int32_t> groups, int32_t group, size_t causes = 0);
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

// Competing events (each an absorbing state): the Aalen–Johansen estimate of the probability of
// each state over time, as R's survfit(Surv(time, event) ~ 1) with `event` a factor whose first
// level is censoring. State 0 is "no event yet" (R's "(s0)", the Kaplan–Meier curve of any
// event), state c the cumulative incidence of cause c. Standard errors are R's infinitesimal
// jackknife, computed from the counts alone (each subject's influence depends only on its own
// time and status), so they too add up across sites (docs/methods/survfit.md); log-transformed
// confidence limits, upper capped at 1, none where the probability is 0.
struct CumulativeIncidence {
  double n = 0;
  std::vector<double> time, n_risk, n_censor;
  std::vector<std::vector<double>> n_event;                        // [cause - 1][time]
  std::vector<std::vector<double>> pstate, std_err, lower, upper;  // [state][time]
};

// With no cause (n_cause empty) it is the Kaplan–Meier curve with jackknife errors.
CumulativeIncidence ComputeCumulativeIncidence(const TimeCounts& counts, double conf_level);

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
