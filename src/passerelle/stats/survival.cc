#include "passerelle/stats/survival.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "passerelle/stats/distributions.h"

namespace passerelle::stats {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// print.survfit's rule: the first time the curve is below 0.5 (within sqrt(eps)); when it
// sits exactly at 0.5, the midpoint to the next time it drops.
double FirstBelowHalf(const std::vector<double>& y, const std::vector<double>& x) {
  const double tolerance = std::sqrt(std::numeric_limits<double>::epsilon());
  std::vector<double> ky, kx;
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isnan(y[i]) && y[i] < 0.5 + tolerance) {
      ky.push_back(y[i]);
      kx.push_back(x[i]);
    }
  }
  if (ky.empty()) return kNaN;
  if (std::fabs(ky[0] - 0.5) < tolerance) {
    for (size_t i = 1; i < ky.size(); ++i) {
      if (ky[i] < ky[0]) return (kx[0] + kx[i]) / 2;
    }
  }
  return kx[0];
}

}  // namespace

TimeCounts CountByTime(std::span<const double> time, std::span<const double> status,
                       std::span<const int32_t> groups, int32_t group) {
  std::vector<size_t> rows;
  for (size_t i = 0; i < time.size(); ++i) {
    if (group < 0 || groups[i] == group) rows.push_back(i);
  }
  std::sort(rows.begin(), rows.end(), [&](size_t a, size_t b) { return time[a] < time[b]; });
  TimeCounts c;
  c.n = static_cast<double>(rows.size());
  for (size_t i : rows) {
    if (c.time.empty() || c.time.back() != time[i]) {
      c.time.push_back(time[i]);
      c.n_event.push_back(0);
      c.n_censor.push_back(0);
    }
    (status[i] != 0 ? c.n_event : c.n_censor).back() += 1;
  }
  return c;
}

TimeCounts AddCounts(const TimeCounts& a, const TimeCounts& b) {
  TimeCounts out;
  out.n = a.n + b.n;
  size_t i = 0, j = 0;
  while (i < a.time.size() || j < b.time.size()) {
    const bool take_a = j >= b.time.size() || (i < a.time.size() && a.time[i] <= b.time[j]);
    const bool take_b = i >= a.time.size() || (j < b.time.size() && b.time[j] <= a.time[i]);
    const double t = take_a ? a.time[i] : b.time[j];
    double events = 0, censored = 0;
    if (take_a) events += a.n_event[i], censored += a.n_censor[i], ++i;
    if (take_b) events += b.n_event[j], censored += b.n_censor[j], ++j;
    out.time.push_back(t);
    out.n_event.push_back(events);
    out.n_censor.push_back(censored);
  }
  return out;
}

KaplanMeier ComputeKaplanMeier(const TimeCounts& c, double conf_level) {
  KaplanMeier km;
  km.n = c.n;
  const double z = NormalQuantile(1 - (1 - conf_level) / 2);
  double at_risk = c.n, surv = 1, greenwood = 0, cumhaz = 0, chaz_var = 0;
  for (size_t k = 0; k < c.time.size(); ++k) {
    const double d = c.n_event[k], n = at_risk;
    km.events += d;
    if (d > 0) {
      surv *= (n - d) / n;
      greenwood = n > d ? greenwood + d / (n * (n - d)) : std::numeric_limits<double>::infinity();
      cumhaz += d / n;
      chaz_var += d / (n * n);
    }
    const double se = std::sqrt(greenwood);
    km.time.push_back(c.time[k]);
    km.n_risk.push_back(n);
    km.n_event.push_back(d);
    km.n_censor.push_back(c.n_censor[k]);
    km.surv.push_back(surv);
    km.std_err.push_back(se);
    km.std_err_surv.push_back(std::isinf(se) ? kNaN : surv * se);
    if (surv > 0 && std::isfinite(se)) {
      km.lower.push_back(std::exp(std::log(surv) - z * se));
      km.upper.push_back(std::min(1.0, std::exp(std::log(surv) + z * se)));
    } else {
      km.lower.push_back(kNaN);
      km.upper.push_back(kNaN);
    }
    km.cumhaz.push_back(cumhaz);
    km.std_chaz.push_back(std::sqrt(chaz_var));
    at_risk -= d + c.n_censor[k];
  }
  km.median = FirstBelowHalf(km.surv, km.time);
  km.median_lower = FirstBelowHalf(km.lower, km.time);
  km.median_upper = FirstBelowHalf(km.upper, km.time);
  return km;
}

LogrankAggregate LogrankStratum(std::span<const double> time, std::span<const double> status,
                                std::span<const int32_t> group, size_t groups, double rho) {
  LogrankAggregate a;
  a.groups = groups;
  a.n.assign(groups, 0.0);
  a.obs.assign(groups, 0.0);
  a.exp.assign(groups, 0.0);
  a.var.assign(groups * groups, 0.0);
  std::vector<size_t> rows(time.size());
  std::iota(rows.begin(), rows.end(), 0);
  std::sort(rows.begin(), rows.end(), [&](size_t x, size_t y) { return time[x] < time[y]; });
  std::vector<double> at_risk(groups, 0.0), deaths(groups, 0.0);
  for (size_t i : rows) {
    at_risk[group[i]] += 1;
    a.n[group[i]] += 1;
  }
  double n_total = static_cast<double>(rows.size());
  double km = 1;
  for (size_t k = 0; k < rows.size();) {
    const double t = time[rows[k]];
    std::fill(deaths.begin(), deaths.end(), 0.0);
    size_t j = k;
    double d = 0, leaving = 0;
    std::vector<double> leaving_by_group(groups, 0.0);
    for (; j < rows.size() && time[rows[j]] == t; ++j) {
      const size_t i = rows[j];
      if (status[i] != 0) {
        deaths[group[i]] += 1;
        d += 1;
      }
      leaving_by_group[group[i]] += 1;
      leaving += 1;
    }
    if (d > 0) {
      const double w = rho == 0 ? 1.0 : std::pow(km, rho);
      const double n = n_total;
      for (size_t g = 0; g < groups; ++g) {
        a.obs[g] += w * deaths[g];
        a.exp[g] += w * d * at_risk[g] / n;
      }
      if (n > 1) {
        const double common = w * w * d * (n - d) / (n * (n - 1));
        for (size_t g = 0; g < groups; ++g) {
          for (size_t h = 0; h < groups; ++h) {
            a.var[g * groups + h] += common * at_risk[g] * ((g == h ? n : 0) - at_risk[h]) / n;
          }
        }
      }
      km *= (n - d) / n;
    }
    for (size_t g = 0; g < groups; ++g) at_risk[g] -= leaving_by_group[g];
    n_total -= leaving;
    k = j;
  }
  return a;
}

}  // namespace passerelle::stats
