#include "passerelle/report/results_text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <tuple>

#include "passerelle/base/text.h"
#include "passerelle/report/text_table.h"
#include "passerelle/stats/distributions.h"

namespace passerelle::report {
namespace {

std::string Fixed(double x, int digits) {
  if (!std::isfinite(x)) return "NA";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

// p-values as R's format.pval: small ones as "<2e-16", others with 3 significant digits.
std::string PValue(double p) {
  if (!std::isfinite(p)) return "NA";
  if (p < 2e-16) return "<2e-16";
  return FormatNumber(p, 3);
}

// A released count; NaN is a count a site suppressed (1 to k-1).
std::string Count(double n) { return n == n ? FormatNumber(n) : "*"; }

constexpr char kWithheld[] =
    "*: withheld by a site: a count of 1 to k-1 (k = 5 by default), or a count withheld with it\n"
    "   so that totals cannot rebuild it\n";

std::string Stars(double p) {
  if (!std::isfinite(p)) return "";
  return p < 0.001 ? "***" : p < 0.01 ? "**" : p < 0.05 ? "*" : p < 0.1 ? "." : "";
}

std::string Test(const char* name, const analysis::ChiSquareTest& t) {
  return std::string(name) + " = " + Fixed(t.statistic, 2) + " on " + FormatNumber(t.df) +
         " df, p = " + PValue(t.p) + "\n";
}

std::string Notes(const analysis::AnalysisOutput& output) {
  std::string out;
  for (const std::string& note : output.notes) out += "  (" + note + ")\n";
  return out;
}

std::string Coxph(const analysis::AnalysisOutput& output, const analysis::CoxphOutput& cox) {
  const analysis::CoxphResult& r = cox.fit;
  const double z = stats::NormalQuantile(0.975);
  const bool robust = !r.robust_se.empty();
  const bool fine_gray = output.request.function == "finegray";
  std::string out =
      (fine_gray ? "Fine–Gray subdistribution hazards of '" + output.request.cause + "': "
                 : "Cox proportional hazards: ") +
      output.request.formula + "  (ties = " + cox.ties + ")\n";
  out += "  n = " + std::to_string(r.n) + ", number of events = " + FormatNumber(r.nevent) + "\n";
  out += Notes(output) + "\n";
  std::vector<std::string> header = {"", "coef", "HR = exp(coef)", "se(coef)"};
  if (robust) header.push_back("robust se");
  for (const char* h : {"z", "Pr(>|z|)", "", "HR lower .95", "HR upper .95"}) header.push_back(h);
  TextTable table(header);
  for (size_t j = 0; j < r.coef_names.size(); ++j) {
    const double se = robust ? r.robust_se[j] : r.se[j];
    std::vector<std::string> row = {r.coef_names[j], FormatNumber(r.coef[j], 4),
                                    FormatNumber(std::exp(r.coef[j]), 4), FormatNumber(r.se[j], 4)};
    if (robust) row.push_back(FormatNumber(r.robust_se[j], 4));
    row.push_back(Fixed(r.z[j], 2));
    row.push_back(PValue(r.p[j]));
    row.push_back(Stars(r.p[j]));
    row.push_back(FormatNumber(std::exp(r.coef[j] - z * se), 4));
    row.push_back(FormatNumber(std::exp(r.coef[j] + z * se), 4));
    table.AddRow(std::move(row));
  }
  out += table.Render() + "---\nSignif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1\n\n";
  if (r.has_concordance) {
    out += "Concordance = " + Fixed(r.concordance, 3) + "  (se = " + Fixed(r.concordance_se, 3) +
           ")\n";
  }
  out += Test("Likelihood ratio test", r.lr_test);
  out += Test(robust ? "Wald test (robust)   " : "Wald test            ", r.wald_test);
  out += Test("Score (logrank) test ", r.score_test);
  if (robust) out += Test("Robust score test    ", r.robust_score_test);
  out += "Log-likelihood: " + Fixed(r.loglik, 4) + " (null " + Fixed(r.loglik_init, 4) + ")\n";
  if (cox.propensity) {
    const analysis::PropensityOutput& ps = *cox.propensity;
    out += "\nWeighted by propensity scores (" + ps.estimand +
           (ps.stabilized ? ", stabilized" : "") + ") from " + ps.formula + "\n";
    TextTable arms({"arm", "records", "effective sample size"});
    for (size_t a = 0; a < ps.arms.size(); ++a) {
      arms.AddRow({ps.formula.substr(0, ps.formula.find('~')) + "= " + ps.arms[a],
                   FormatNumber(ps.n[a]), Fixed(ps.ess[a], 1)});
    }
    out += arms.Render();
    TextTable balance({"covariate", "SMD before", "SMD after"});
    for (size_t j = 0; j < ps.covariates.size(); ++j) {
      balance.AddRow({ps.covariates[j], Fixed(ps.smd_before[j], 3), Fixed(ps.smd_after[j], 3)});
    }
    out += "Balance (standardized mean differences, over the unweighted pooled SD):\n" +
           balance.Render();
  }
  return out;
}

// Curves with more event times than this are summarised at landmarks instead.
constexpr size_t kMaxEventRows = 30;

// R's summary(fit, times = c(1, 2, 3, 5, 10) years): at each landmark within follow-up, the
// number at risk, the events since the previous landmark, and the survival with its CI.
std::string Landmarks(const analysis::SurvfitOutput& km) {
  const double kYear = 365.25;
  std::string out =
      "\nAt 1, 2, 3, 5 and 10 years (" + FormatNumber(kYear) + " days), as summary(fit, times):\n";
  for (size_t s = 0; s < km.curves.size(); ++s) {
    const stats::KaplanMeier& c = km.curves[s];
    out += "\n" + km.strata[s] + "\n";
    TextTable table(
        {"time", "n.risk", "n.event", "survival", "std.err", "lower 95% CI", "upper 95% CI"});
    double previous = 0;
    for (double years : {1.0, 2.0, 3.0, 5.0, 10.0}) {
      const double t = years * kYear;
      if (c.time.empty() || t > c.time.back()) break;
      size_t next = 0;  // first row at or after t
      while (next < c.time.size() && c.time[next] < t) ++next;
      double events = 0;
      for (size_t k = 0; k < c.time.size() && c.time[k] <= t; ++k) {
        if (c.time[k] > previous) events += c.n_event[k];
      }
      const bool at = c.time[next] == t;
      const size_t k = at ? next : next - 1;  // last row at or before t (next > 0 here)
      const bool before_first = !at && next == 0;
      table.AddRow({FormatNumber(t), FormatNumber(c.n_risk[next]), FormatNumber(events),
                    Fixed(before_first ? 1.0 : c.surv[k], 4),
                    Fixed(before_first ? 0.0 : c.std_err_surv[k], 4),
                    Fixed(before_first ? 1.0 : c.lower[k], 4),
                    Fixed(before_first ? 1.0 : c.upper[k], 4)});
      previous = t;
    }
    out += table.Render();
  }
  return out;
}

// Competing events: per stratum, each cause's cumulative incidence (R's pstate) with its
// standard error and 95% limits, at each event time or, when there are many, at 1, 2, 3, 5 and
// 10 years.
std::string Incidence(const analysis::AnalysisOutput& output, const analysis::SurvfitOutput& km) {
  std::string out = "Cumulative incidence (Aalen-Johansen): " + output.request.formula +
                    "  (conf.type = " + km.conf_type + ")\n" + Notes(output) + "\n";
  auto events_at = [](const stats::CumulativeIncidence& ci, size_t k) {
    double d = 0;
    for (const auto& events : ci.n_event) d += events[k];
    return d;
  };
  std::vector<std::string> header = {"", "n"};
  for (size_t c = 1; c < km.states.size(); ++c) header.push_back(km.states[c]);
  TextTable summary(header);
  size_t longest = 0;
  for (size_t s = 0; s < km.incidence.size(); ++s) {
    const stats::CumulativeIncidence& ci = km.incidence[s];
    std::vector<std::string> row = {km.strata[s], FormatNumber(ci.n)};
    for (const auto& events : ci.n_event) {
      double total = 0;
      for (double d : events) total += d;
      row.push_back(FormatNumber(total));
    }
    size_t rows = 0;
    for (size_t k = 0; k < ci.time.size(); ++k) rows += events_at(ci, k) > 0;
    longest = std::max(longest, rows);
    summary.AddRow(std::move(row));
  }
  out += "Events of each cause:\n" + summary.Render();
  const bool landmarks = longest > kMaxEventRows;
  if (landmarks) out += "\nAt 1, 2, 3, 5 and 10 years (365.25 days), as summary(fit, times):\n";
  for (size_t s = 0; s < km.incidence.size(); ++s) {
    const stats::CumulativeIncidence& ci = km.incidence[s];
    // A time, the last row at or before it (the estimate) and the first at or after it (the
    // number at risk), as summary.survfit.
    std::vector<std::tuple<double, size_t, size_t>> shown;
    if (landmarks) {
      for (double years : {1.0, 2.0, 3.0, 5.0, 10.0}) {
        const double t = years * 365.25;
        if (ci.time.empty() || t > ci.time.back() || t < ci.time.front()) continue;
        size_t next = 0;
        while (ci.time[next] < t) ++next;
        shown.push_back({t, ci.time[next] == t ? next : next - 1, next});
      }
    } else {
      for (size_t k = 0; k < ci.time.size(); ++k) {
        if (events_at(ci, k) > 0) shown.push_back({ci.time[k], k, k});
      }
    }
    std::vector<std::string> columns = {"time", "n.risk"};
    for (size_t c = 1; c < km.states.size(); ++c) {
      columns.insert(columns.end(), {km.states[c], "std.err", "95% CI"});
    }
    TextTable table(columns);
    for (const auto& [t, k, next] : shown) {
      std::vector<std::string> row = {FormatNumber(t), FormatNumber(ci.n_risk[next])};
      for (size_t c = 1; c < km.states.size(); ++c) {
        row.insert(row.end(),
                   {Fixed(ci.pstate[c][k], 4), Fixed(ci.std_err[c][k], 4),
                    "(" + Fixed(ci.lower[c][k], 4) + ", " + Fixed(ci.upper[c][k], 4) + ")"});
      }
      table.AddRow(std::move(row));
    }
    out += "\n" + km.strata[s] + "\n" + table.Render();
  }
  return out;
}

std::string Survfit(const analysis::AnalysisOutput& output, const analysis::SurvfitOutput& km) {
  if (!km.states.empty()) return Incidence(output, km);
  std::string out = "Kaplan-Meier estimate: " + output.request.formula +
                    "  (conf.type = " + km.conf_type + ")\n" + Notes(output) + "\n";
  TextTable summary({"", "n", "events", "median", "0.95 LCL", "0.95 UCL"});
  for (size_t s = 0; s < km.curves.size(); ++s) {
    const stats::KaplanMeier& c = km.curves[s];
    // A curve a site's release cuts counts its events to the cut, not to the end.
    const bool cut = s < km.shown_to.size() && std::isfinite(km.shown_to[s]);
    summary.AddRow({km.strata[s], FormatNumber(c.n),
                    FormatNumber(c.events) + (cut ? " to day " + FormatNumber(km.shown_to[s]) : ""),
                    FormatNumber(c.median), FormatNumber(c.median_lower),
                    FormatNumber(c.median_upper)});
  }
  out += summary.Render();
  size_t longest = 0;
  for (const stats::KaplanMeier& c : km.curves) {
    size_t events = 0;
    for (double d : c.n_event) events += d > 0;
    longest = std::max(longest, events);
  }
  if (longest > kMaxEventRows) return out + Landmarks(km);
  for (size_t s = 0; s < km.curves.size(); ++s) {
    const stats::KaplanMeier& c = km.curves[s];
    out += "\n" + km.strata[s] + "\n";
    TextTable table(
        {"time", "n.risk", "n.event", "survival", "std.err", "lower 95% CI", "upper 95% CI"});
    for (size_t k = 0; k < c.time.size(); ++k) {
      if (c.n_event[k] == 0) continue;  // summary.survfit shows event times
      table.AddRow({FormatNumber(c.time[k]), FormatNumber(c.n_risk[k]), FormatNumber(c.n_event[k]),
                    Fixed(c.surv[k], 4), Fixed(c.std_err_surv[k], 4), Fixed(c.lower[k], 4),
                    Fixed(c.upper[k], 4)});
    }
    out += table.Render();
  }
  return out;
}

std::string Survdiff(const analysis::AnalysisOutput& output, const analysis::SurvdiffOutput& t) {
  std::string out =
      std::string(t.rho == 0 ? "Log-rank test" : "G-rho test (rho = " + FormatNumber(t.rho) + ")") +
      ": " + output.request.formula + "\n" + Notes(output) + "\n";
  TextTable table({"", "N", "Observed", "Expected", "(O-E)^2/E", "(O-E)^2/V"});
  const size_t k = t.groups.size();
  for (size_t g = 0; g < k; ++g) {
    const double d = t.obs[g] - t.exp[g];
    table.AddRow({t.groups[g], FormatNumber(t.n[g]), FormatNumber(t.obs[g], 5),
                  FormatNumber(t.exp[g], 5), FormatNumber(d * d / t.exp[g], 3),
                  FormatNumber(d * d / t.var[g * k + g], 3)});
  }
  out += table.Render();
  out += "\n Chisq = " + FormatNumber(t.chisq, 5) + " on " + FormatNumber(t.df) +
         " degrees of freedom, p = " + PValue(t.p) + "\n";
  if (!t.strata.empty()) out += " (stratified by " + Join(t.strata, ", ") + ")\n";
  return out;
}

std::string Glm(const analysis::AnalysisOutput& output, const analysis::GlmOutput& glm) {
  const analysis::GlmResult& r = glm.fit;
  std::string out = "Generalized linear model: " + output.request.formula +
                    "  (family = " + r.family + ", link = " + r.link +
                    ")\n  n = " + std::to_string(r.n) + "\n" + Notes(output) + "\n";
  const bool ratio = r.family != "gaussian";
  const std::string effect = r.family == "binomial" ? "OR" : "RR";
  const double zq = stats::NormalQuantile(0.975);
  std::vector<std::string> header = {"",
                                     "Estimate",
                                     "Std. Error",
                                     r.t_statistics ? "t value" : "z value",
                                     r.t_statistics ? "Pr(>|t|)" : "Pr(>|z|)",
                                     ""};
  if (ratio) {
    for (const std::string& h :
         {effect + " = exp(coef)", effect + " lower .95", effect + " upper .95"}) {
      header.push_back(h);
    }
  }
  TextTable table(header);
  for (size_t j = 0; j < r.coef_names.size(); ++j) {
    std::vector<std::string> row = {r.coef_names[j],          FormatNumber(r.coef[j], 4),
                                    FormatNumber(r.se[j], 4), Fixed(r.z[j], 3),
                                    PValue(r.p[j]),           Stars(r.p[j])};
    if (ratio) {
      row.push_back(FormatNumber(std::exp(r.coef[j]), 4));
      row.push_back(FormatNumber(std::exp(r.coef[j] - zq * r.se[j]), 4));
      row.push_back(FormatNumber(std::exp(r.coef[j] + zq * r.se[j]), 4));
    }
    table.AddRow(std::move(row));
  }
  out += table.Render() + "---\n";
  if (r.family == "gaussian") {
    out += "(Dispersion parameter for gaussian family taken to be " + FormatNumber(r.dispersion) +
           ")\n";
  }
  out += "    Null deviance: " + FormatNumber(r.null_deviance, 6) + "  on " +
         FormatNumber(r.df_null) + "  degrees of freedom\n";
  out += "Residual deviance: " + FormatNumber(r.deviance, 6) + "  on " +
         FormatNumber(r.df_residual) + "  degrees of freedom\n";
  out += "AIC: " + FormatNumber(r.aic, 6) +
         "\n\nNumber of Fisher Scoring iterations: " + std::to_string(r.iter) + "\n";
  return out;
}

std::string Table(const analysis::AnalysisOutput& output, const analysis::TableOutput& t) {
  std::string out =
      "Table of " + t.rows + (t.cols.empty() ? "" : " by " + t.cols) + "\n" + Notes(output) + "\n";
  const size_t nc = t.cols.empty() ? 1 : t.col_levels.size();
  std::vector<std::string> header = {t.rows};
  if (t.cols.empty()) {
    header.push_back("n");
  } else {
    for (const std::string& l : t.col_levels) header.push_back(l);
  }
  header.push_back("total");
  header.push_back("%");
  TextTable table(header);
  double total = 0;
  for (double c : t.counts) total += c;
  std::vector<double> col_total(nc, 0.0);
  for (size_t r = 0; r < t.row_levels.size(); ++r) {
    std::vector<std::string> row = {t.row_levels[r]};
    double row_total = 0;
    for (size_t c = 0; c < nc; ++c) row_total += t.counts[r * nc + c];
    for (size_t c = 0; c < nc && !t.cols.empty(); ++c) {
      const double n = t.counts[r * nc + c];
      col_total[c] += n;
      row.push_back(n == n ? Count(n) + " (" + Fixed(row_total ? 100 * n / row_total : 0, 1) + "%)"
                           : Count(n));
    }
    if (t.cols.empty()) row.push_back(Count(row_total));
    row.push_back(Count(row_total));
    row.push_back(row_total == row_total && total == total
                      ? Fixed(total ? 100 * row_total / total : 0, 1)
                      : "*");
    table.AddRow(std::move(row));
  }
  out += table.Render();
  if (std::isnan(total)) out += kWithheld;
  if (!t.cols.empty()) {
    if (std::isnan(total)) {
      out += "\nNo chi-square test: a site suppressed cells\n";
    } else if (t.chisq.valid) {
      out +=
          "\nPearson's chi-square" +
          std::string(t.chisq.continuity_correction ? " with Yates' continuity correction" : "") +
          ": X-squared = " + FormatNumber(t.chisq.statistic, 5) +
          ", df = " + FormatNumber(t.chisq.df) + ", p = " + PValue(t.chisq.p) + "\n";
    } else {
      out += "\nChi-square test not defined (a row or column total is zero)\n";
    }
  }
  return out;
}

std::string Describe(const analysis::AnalysisOutput& output, const analysis::DescribeOutput& d) {
  const std::vector<std::vector<std::string>> cells = DescribeCells(d);
  TextTable table(cells.front());
  for (size_t r = 1; r < cells.size(); ++r) table.AddRow(cells[r]);
  return "Descriptive table\n" + Notes(output) + "\n" + table.Render() + kWithheld;
}

}  // namespace

std::vector<std::vector<std::string>> DescribeCells(const analysis::DescribeOutput& d) {
  // As papers print a Table 1: mean (SD) and median [IQR] of numbers, n (%) of each level
  // someone has, missing values as their own row, and the standardized mean difference between
  // the sites.
  std::vector<std::vector<std::string>> cells;
  cells.push_back({"variable"});
  cells[0].insert(cells[0].end(), d.columns.begin(), d.columns.end());
  const bool smd = d.columns.size() > 2;  // two sites or more, and "all"
  if (smd) cells[0].push_back("SMD");
  std::vector<std::string> records = {"records"};
  for (double r : d.rows) records.push_back(Count(r));
  if (smd) records.push_back("");
  cells.push_back(std::move(records));
  const size_t nc = d.columns.size();
  for (const analysis::DescribedVariable& v : d.variables) {
    std::vector<std::string> row = {v.name + (v.mean.empty() ? "" : ", mean (SD)")};
    for (size_t c = 0; c < nc; ++c) {
      if (v.mean.empty()) {
        row.push_back(v.levels.empty() ? Count(v.n[c]) : "");
      } else {
        row.push_back(Fixed(v.mean[c], 1) + " (" + Fixed(v.sd[c], 1) + ")");
      }
    }
    if (smd) row.push_back(v.smd == v.smd ? Fixed(v.smd, 3) : "");
    cells.push_back(std::move(row));
    if (!v.median.empty()) {
      std::vector<std::string> median = {"  median [IQR]"};
      for (size_t c = 0; c < nc; ++c) {
        median.push_back(Fixed(v.median[c], 1) + " [" + Fixed(v.q1[c], 1) + ", " +
                         Fixed(v.q3[c], 1) + "]");
      }
      if (smd) median.push_back("");
      cells.push_back(std::move(median));
    }
    for (size_t l = 0; l < v.levels.size(); ++l) {
      if (v.counts[l * nc + nc - 1] == 0) continue;  // a level no one has
      std::vector<std::string> level = {"  " + v.levels[l]};
      for (size_t c = 0; c < nc; ++c) {
        const double n = v.counts[l * nc + c];
        level.push_back(n == n && v.n[c] > 0 ? Count(n) + " (" + Fixed(100 * n / v.n[c], 1) + "%)"
                                             : Count(n));
      }
      if (smd) level.push_back("");
      cells.push_back(std::move(level));
    }
    bool any_missing = false;
    for (double m : v.missing) any_missing |= m != 0;
    if (any_missing) {
      std::vector<std::string> missing = {"  missing"};
      for (size_t c = 0; c < nc; ++c) {
        const double m = v.missing[c], rows = d.rows[c];
        missing.push_back(m == m && rows > 0 ? Count(m) + " (" + Fixed(100 * m / rows, 1) + "%)"
                                             : Count(m));
      }
      if (smd) missing.push_back("");
      cells.push_back(std::move(missing));
    }
  }
  return cells;
}

std::string Concordance(const analysis::AnalysisOutput& output,
                        const analysis::ConcordanceOutput& c) {
  std::string out = "Concordance: " + output.request.formula +
                    (output.request.reverse ? "  (reverse: a larger value, a shorter time)" : "") +
                    "\n" + Notes(output) + "\n";
  out += "n = " + FormatNumber(c.n) + "\nConcordance = " + Fixed(c.concordance, 4) +
         " se = " + Fixed(c.concordance_se, 4) + "\n";
  // Pairs of patients run to 10^9 and more: every digit, never 1.2e+09.
  auto pairs = [](double x) { return FormatNumber(x, 17); };
  TextTable table({"concordant", "discordant", "tied.x", "tied.y", "tied.xy"});
  table.AddRow({pairs(c.concordant), pairs(c.discordant), pairs(c.tied_x), pairs(c.tied_y),
                pairs(c.tied_xy)});
  return out + table.Render();
}

// As R prints cox.zph: chisq, df and p for each term and GLOBAL.
std::string CoxZph(const analysis::AnalysisOutput& output, const analysis::CoxZphOutput& z) {
  std::string out = "Proportional hazards test (cox.zph, transform " + z.transform +
                    "): " + output.request.formula + "\n" + Notes(output) + "\n";
  TextTable table({"", "chisq", "df", "p"});
  for (size_t i = 0; i < z.rownames.size(); ++i) {
    table.AddRow({z.rownames[i], FormatNumber(z.chisq[i], 4), FormatNumber(z.df[i]),
                  FormatNumber(z.p[i], 3)});
  }
  return out + table.Render();
}

// A calibration table: per group, records, events by t, mean predicted and observed risk.
std::string Calibration(const analysis::AnalysisOutput& output,
                        const analysis::CalibrationOutput& c) {
  std::string out = "Calibration at time " + FormatNumber(c.time) + " (baseline survival " +
                    FormatNumber(c.baseline) + "): " + output.request.formula + "\n" +
                    Notes(output) + "\n";
  const bool sites = !c.groups.empty() && !c.groups[0].site.empty();
  std::vector<std::string> header = {"group",          "records",       "events by t",
                                     "predicted risk", "observed risk", "95% CI"};
  if (sites) header.insert(header.begin(), "site");
  TextTable table(header);
  for (const analysis::CalibrationGroup& g : c.groups) {
    std::vector<std::string> row = {
        std::to_string(g.group), Count(g.n),
        Count(g.events),         Fixed(g.predicted, 3),
        Fixed(g.observed, 3),    Fixed(g.lower, 3) + " to " + Fixed(g.upper, 3)};
    if (sites) row.insert(row.begin(), g.site);
    table.AddRow(std::move(row));
  }
  const bool withheld = std::any_of(c.groups.begin(), c.groups.end(),
                                    [](const auto& g) { return g.observed != g.observed; });
  return out + table.Render() + (withheld ? kWithheld : "");
}

std::string ResultsText(const analysis::AnalysisOutput& output) {
  return std::visit(
      [&](const auto& result) -> std::string {
        using T = std::decay_t<decltype(result)>;
        if constexpr (std::is_same_v<T, analysis::CoxphOutput>) return Coxph(output, result);
        if constexpr (std::is_same_v<T, analysis::SurvfitOutput>) return Survfit(output, result);
        if constexpr (std::is_same_v<T, analysis::SurvdiffOutput>) return Survdiff(output, result);
        if constexpr (std::is_same_v<T, analysis::GlmOutput>) return Glm(output, result);
        if constexpr (std::is_same_v<T, analysis::TableOutput>) return Table(output, result);
        if constexpr (std::is_same_v<T, analysis::DescribeOutput>) return Describe(output, result);
        if constexpr (std::is_same_v<T, analysis::ConcordanceOutput>) {
          return Concordance(output, result);
        }
        if constexpr (std::is_same_v<T, analysis::CoxZphOutput>) return CoxZph(output, result);
        if constexpr (std::is_same_v<T, analysis::CalibrationOutput>) {
          return Calibration(output, result);
        }
      },
      output.result);
}

}  // namespace passerelle::report
