#include "passerelle/stats/survival.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>

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
                       std::span<const int32_t> groups, int32_t group, size_t causes) {
  std::vector<size_t> rows;
  for (size_t i = 0; i < time.size(); ++i) {
    if (group < 0 || groups[i] == group) rows.push_back(i);
  }
  std::sort(rows.begin(), rows.end(), [&](size_t a, size_t b) { return time[a] < time[b]; });
  TimeCounts c;
  c.n = static_cast<double>(rows.size());
  c.n_cause.resize(causes);
  for (size_t i : rows) {
    if (c.time.empty() || c.time.back() != time[i]) {
      c.time.push_back(time[i]);
      c.n_event.push_back(0);
      c.n_censor.push_back(0);
      for (auto& d : c.n_cause) d.push_back(0);
    }
    (status[i] != 0 ? c.n_event : c.n_censor).back() += 1;
    if (causes > 0 && status[i] != 0) c.n_cause[static_cast<size_t>(status[i]) - 1].back() += 1;
  }
  return c;
}

TimeCounts AddCounts(const TimeCounts& a, const TimeCounts& b) {
  TimeCounts out;
  out.n = a.n + b.n;
  out.n_cause.resize(std::max(a.n_cause.size(), b.n_cause.size()));
  size_t i = 0, j = 0;
  while (i < a.time.size() || j < b.time.size()) {
    const bool take_a = j >= b.time.size() || (i < a.time.size() && a.time[i] <= b.time[j]);
    const bool take_b = i >= a.time.size() || (j < b.time.size() && b.time[j] <= a.time[i]);
    out.time.push_back(take_a ? a.time[i] : b.time[j]);
    out.n_event.push_back(0);
    out.n_censor.push_back(0);
    for (auto& d : out.n_cause) d.push_back(0);
    for (const auto& [take, c, at] : {std::tuple{take_a, &a, &i}, std::tuple{take_b, &b, &j}}) {
      if (!take) continue;
      out.n_event.back() += c->n_event[*at];
      out.n_censor.back() += c->n_censor[*at];
      for (size_t k = 0; k < c->n_cause.size(); ++k) out.n_cause[k].back() += c->n_cause[k][*at];
      ++*at;
    }
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

CumulativeIncidence ComputeCumulativeIncidence(const TimeCounts& c, double conf_level) {
  const size_t causes = c.n_cause.size(), states = causes + 1;
  const double z = NormalQuantile(1 - (1 - conf_level) / 2);
  CumulativeIncidence ci;
  ci.n = c.n;
  ci.n_event.assign(causes, {});
  for (auto* v : {&ci.pstate, &ci.std_err, &ci.lower, &ci.upper}) v->assign(states, {});
  // p: the state probabilities just before the time. Each subject's influence on p at a later
  // time, propagated by the transition matrices: W for a subject still at risk, and the sum of
  // squares S (states x states) over the subjects who left (an event or censored) so far.
  std::vector<double> p(states, 0.0), w(states, 0.0), s(states * states, 0.0), u(states);
  p[0] = 1;
  // v H, where H moves the fraction h[k] of "no event yet" to cause k (h[0]: stays).
  auto times_h = [&](std::vector<double>& v, const std::vector<double>& h) {
    for (size_t k = 1; k < states; ++k) v[k] += v[0] * h[k];
    v[0] *= h[0];
  };
  double at_risk = c.n;
  std::vector<double> h(states);
  for (size_t j = 0; j < c.time.size(); ++j) {
    const double n = at_risk, d = c.n_event[j];
    h[0] = 1 - d / n;
    for (size_t k = 1; k < states; ++k) h[k] = c.n_cause[k - 1][j] / n;
    // S <- H' S H.
    std::vector<double> t(states * states);
    for (size_t a = 0; a < states; ++a) {
      std::vector<double> row(s.begin() + a * states, s.begin() + (a + 1) * states);
      times_h(row, h);
      std::copy(row.begin(), row.end(), t.begin() + a * states);
    }
    for (size_t b = 0; b < states; ++b) {
      std::vector<double> col(states);
      for (size_t a = 0; a < states; ++a) col[a] = t[a * states + b];
      times_h(col, h);
      for (size_t a = 0; a < states; ++a) s[a * states + b] = col[a];
    }
    times_h(w, h);
    // The derivative of p H with respect to the weight of a subject at risk now: leaving with
    // `cause` (0: no event here, still at risk or censored).
    auto influence = [&](size_t cause) {
      u[0] = w[0] + p[0] * ((cause == 0 ? 1 : 0) - h[0]) / n;
      for (size_t k = 1; k < states; ++k) u[k] = w[k] + p[0] * ((cause == k ? 1 : 0) - h[k]) / n;
    };
    for (size_t cause = 0; cause < states; ++cause) {
      const double leaving = cause == 0 ? c.n_censor[j] : c.n_cause[cause - 1][j];
      if (leaving == 0) continue;
      influence(cause);
      for (size_t a = 0; a < states; ++a) {
        for (size_t b = 0; b < states; ++b) s[a * states + b] += leaving * u[a] * u[b];
      }
    }
    influence(0);
    w = u;
    times_h(p, h);
    at_risk -= d + c.n_censor[j];
    ci.time.push_back(c.time[j]);
    ci.n_risk.push_back(n);
    ci.n_censor.push_back(c.n_censor[j]);
    for (size_t k = 0; k < causes; ++k) ci.n_event[k].push_back(c.n_cause[k][j]);
    for (size_t k = 0; k < states; ++k) {
      const double se = std::sqrt(std::max(0.0, s[k * states + k] + at_risk * w[k] * w[k]));
      ci.pstate[k].push_back(p[k]);
      ci.std_err[k].push_back(se);
      const bool defined = p[k] > 0 && std::isfinite(se);
      ci.lower[k].push_back(defined ? std::exp(std::log(p[k]) - z * se / p[k]) : kNaN);
      ci.upper[k].push_back(defined ? std::min(1.0, std::exp(std::log(p[k]) + z * se / p[k]))
                                    : kNaN);
    }
  }
  return ci;
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
