#include "passerelle/report/results_json.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace passerelle::report {
namespace {

using nlohmann::ordered_json;

ordered_json Number(double x) { return std::isfinite(x) ? ordered_json(x) : ordered_json(); }

ordered_json Numbers(const std::vector<double>& v) {
  ordered_json out = ordered_json::array();
  for (double x : v) out.push_back(Number(x));
  return out;
}

ordered_json Matrix(const std::vector<double>& m, size_t p) {
  ordered_json out = ordered_json::array();
  for (size_t i = 0; i < p; ++i) {
    ordered_json row = ordered_json::array();
    for (size_t j = 0; j < p; ++j) row.push_back(Number(m[i * p + j]));
    out.push_back(std::move(row));
  }
  return out;
}

ordered_json Test(const analysis::ChiSquareTest& t) {
  return {{"statistic", Number(t.statistic)}, {"df", t.df}, {"p", Number(t.p)}};
}

ordered_json GlmJson(const analysis::GlmOutput& out);

ordered_json CoxphJson(const analysis::CoxphOutput& out) {
  const analysis::CoxphResult& r = out.fit;
  const size_t p = r.coef_names.size();
  std::vector<double> exp_coef;
  for (double b : r.coef) exp_coef.push_back(std::exp(b));
  ordered_json j = {{"n", r.n},
                    {"nevent", r.nevent},
                    {"n_omitted_na", out.n_omitted_na},
                    {"ties", out.ties},
                    {"coef_names", r.coef_names},
                    {"coef", Numbers(r.coef)},
                    {"exp_coef", Numbers(exp_coef)},
                    {"se", Numbers(r.se)},
                    {"var", Matrix(r.var, p)}};
  const bool robust = !r.robust_se.empty();
  if (robust) {
    j["robust_se"] = Numbers(r.robust_se);
    j["robust_var"] = Matrix(r.robust_var, p);
  }
  j["z"] = Numbers(r.z);
  j["p"] = Numbers(r.p);
  j["z_uses"] = robust ? "robust_se" : "se";
  j["loglik_init"] = Number(r.loglik_init);
  j["loglik"] = Number(r.loglik);
  j["lr_test"] = Test(r.lr_test);
  j["wald_test"] = Test(r.wald_test);
  if (robust) {
    j["wald_test"]["uses"] = "robust_var";
    j["wald_test_model_based"] = Test(r.wald_test_model_based);
  }
  j["score_test"] = Test(r.score_test);
  if (robust) j["robust_score_test"] = Test(r.robust_score_test);
  j["iter"] = r.iter;
  j["converged"] = r.converged;
  j["concordance"] = r.has_concordance ? Number(r.concordance) : ordered_json();
  j["concordance_se"] = r.has_concordance ? Number(r.concordance_se) : ordered_json();
  j["means"] = Numbers(out.means);
  j["warnings"] = r.warnings;
  if (out.propensity) {
    const analysis::PropensityOutput& ps = *out.propensity;
    analysis::GlmOutput model;
    model.fit = ps.model;
    model.n_omitted_na = ps.n_omitted_na;
    j["propensity"] = {{"formula", ps.formula},
                       {"estimand", ps.estimand},
                       {"stabilized", ps.stabilized},
                       {"model", GlmJson(model)},
                       {"arms", ps.arms},
                       {"n", ps.n},
                       {"ess", Numbers(ps.ess)},
                       {"balance",
                        {{"covariates", ps.covariates},
                         {"smd_before", Numbers(ps.smd_before)},
                         {"smd_after", Numbers(ps.smd_after)}}}};
  }
  return j;
}

ordered_json SurvfitJson(const analysis::SurvfitOutput& out) {
  ordered_json strata = ordered_json::array();
  for (size_t s = 0; s < out.curves.size(); ++s) {
    const stats::KaplanMeier& km = out.curves[s];
    strata.push_back({{"stratum", out.strata[s]},
                      {"stratum_trimmed", out.strata[s]},
                      {"n", km.n},
                      {"events", km.events},
                      {"median", Number(km.median)},
                      {"median_lower", Number(km.median_lower)},
                      {"median_upper", Number(km.median_upper)},
                      {"table",
                       {{"time", Numbers(km.time)},
                        {"n.risk", Numbers(km.n_risk)},
                        {"n.event", Numbers(km.n_event)},
                        {"n.censor", Numbers(km.n_censor)},
                        {"surv", Numbers(km.surv)},
                        {"std.err", Numbers(km.std_err)},
                        {"std.err.surv", Numbers(km.std_err_surv)},
                        {"lower", Numbers(km.lower)},
                        {"upper", Numbers(km.upper)},
                        {"cumhaz", Numbers(km.cumhaz)},
                        {"std.chaz", Numbers(km.std_chaz)}}}});
    // A curve cut by a site's release: its events are counted to this day.
    if (s < out.shown_to.size() && std::isfinite(out.shown_to[s])) {
      strata.back()["events_to_day"] = out.shown_to[s];
    }
  }
  // Competing events: each state's probability ([state][time]), as R's pstate columns.
  for (size_t s = 0; s < out.incidence.size(); ++s) {
    const stats::CumulativeIncidence& ci = out.incidence[s];
    auto states = [](const std::vector<std::vector<double>>& m) {
      ordered_json j = ordered_json::array();
      for (const auto& v : m) j.push_back(Numbers(v));
      return j;
    };
    strata.push_back({{"stratum", out.strata[s]},
                      {"n", ci.n},
                      {"table",
                       {{"time", Numbers(ci.time)},
                        {"n.risk", Numbers(ci.n_risk)},
                        {"n.censor", Numbers(ci.n_censor)},
                        {"n.event", states(ci.n_event)},
                        {"pstate", states(ci.pstate)},
                        {"std.err", states(ci.std_err)},
                        {"lower", states(ci.lower)},
                        {"upper", states(ci.upper)}}}});
  }
  ordered_json j = {{"conf_type", out.conf_type}, {"conf_int", out.conf_int}};
  if (!out.states.empty()) j["states"] = out.states;
  j["strata"] = strata;
  return j;
}

ordered_json SurvdiffJson(const analysis::SurvdiffOutput& out) {
  const size_t k = out.groups.size();
  ordered_json j = {{"groups", out.groups}, {"n", Numbers(out.n)}};
  if (!out.strata.empty()) {
    const size_t s = out.strata.size();
    ordered_json obs = ordered_json::array(), exp = ordered_json::array();
    for (size_t g = 0; g < k; ++g) {
      obs.push_back(Numbers(std::vector<double>(out.obs_by_stratum.begin() + g * s,
                                                out.obs_by_stratum.begin() + (g + 1) * s)));
      exp.push_back(Numbers(std::vector<double>(out.exp_by_stratum.begin() + g * s,
                                                out.exp_by_stratum.begin() + (g + 1) * s)));
    }
    j["strata"] = out.strata;
    j["obs_by_stratum"] = obs;
    j["exp_by_stratum"] = exp;
  }
  j["obs"] = Numbers(out.obs);
  j["exp"] = Numbers(out.exp);
  j["var"] = Matrix(out.var, k);
  j["chisq"] = Number(out.chisq);
  j["df"] = out.df;
  j["p"] = Number(out.p);
  j["rho"] = out.rho;
  return j;
}

ordered_json GlmJson(const analysis::GlmOutput& out) {
  const analysis::GlmResult& r = out.fit;
  return {{"family", r.family},
          {"link", r.link},
          {"n", r.n},
          {"n_omitted_na", out.n_omitted_na},
          {"coef_names", r.coef_names},
          {"coef", Numbers(r.coef)},
          {"se", Numbers(r.se)},
          {r.t_statistics ? "t" : "z", Numbers(r.z)},
          {"p", Numbers(r.p)},
          {"var", Matrix(r.var, r.coef_names.size())},
          {"deviance", Number(r.deviance)},
          {"null_deviance", Number(r.null_deviance)},
          {"df_residual", r.df_residual},
          {"df_null", r.df_null},
          {"aic", Number(r.aic)},
          {"loglik", Number(r.loglik)},
          {"dispersion", Number(r.dispersion)},
          {"iter", r.iter},
          {"converged", r.converged},
          {"warnings", r.warnings}};
}

ordered_json TableJson(const analysis::TableOutput& t) {
  const size_t nc = t.cols.empty() ? 1 : t.col_levels.size();
  ordered_json counts = ordered_json::array();
  for (size_t r = 0; r < t.row_levels.size(); ++r) {
    counts.push_back(
        Numbers(std::vector<double>(t.counts.begin() + r * nc, t.counts.begin() + (r + 1) * nc)));
  }
  ordered_json j = {{"rows", t.rows}, {"row_levels", t.row_levels}};
  if (!t.cols.empty()) {
    j["cols"] = t.cols;
    j["col_levels"] = t.col_levels;
  }
  j["counts"] = t.cols.empty() ? Numbers(t.counts) : counts;
  j["n_missing"] = t.n_missing;
  if (!t.cols.empty()) {
    j["chisq"] = t.chisq.valid
                     ? ordered_json{{"statistic", Number(t.chisq.statistic)},
                                    {"df", t.chisq.df},
                                    {"p", Number(t.chisq.p)},
                                    {"continuity_correction", t.chisq.continuity_correction}}
                     : ordered_json();
  }
  return j;
}

ordered_json DescribeJson(const analysis::DescribeOutput& d) {
  const size_t nc = d.columns.size();
  ordered_json variables = ordered_json::array();
  for (const analysis::DescribedVariable& v : d.variables) {
    ordered_json j = {
        {"name", v.name}, {"type", v.type}, {"n", Numbers(v.n)}, {"missing", Numbers(v.missing)}};
    if (!v.mean.empty()) {
      j["mean"] = Numbers(v.mean);
      j["sd"] = Numbers(v.sd);
    }
    if (!v.median.empty()) {
      j["q1"] = Numbers(v.q1);
      j["median"] = Numbers(v.median);
      j["q3"] = Numbers(v.q3);
    }
    if (!v.levels.empty()) {
      j["levels"] = v.levels;
      ordered_json counts = ordered_json::array();
      for (size_t l = 0; l < v.levels.size(); ++l) {
        counts.push_back(Numbers(
            std::vector<double>(v.counts.begin() + l * nc, v.counts.begin() + (l + 1) * nc)));
      }
      j["counts"] = std::move(counts);
    }
    j["smd"] = Number(v.smd);
    variables.push_back(std::move(j));
  }
  return {{"columns", d.columns}, {"rows", Numbers(d.rows)}, {"variables", variables}};
}

}  // namespace

// R's concordance object: concordance, the square root of its var, count, n.
ordered_json ConcordanceJson(const analysis::ConcordanceOutput& c) {
  return {{"concordance", Number(c.concordance)},
          {"concordance_se", Number(c.concordance_se)},
          {"count",
           {{"concordant", c.concordant},
            {"discordant", c.discordant},
            {"tied.x", c.tied_x},
            {"tied.y", Number(c.tied_y)},
            {"tied.xy", Number(c.tied_xy)}}},
          {"n", c.n}};
}

// R's cox.zph table, by rows.
ordered_json CoxZphJson(const analysis::CoxZphOutput& z) {
  return {{"transform", z.transform},
          {"rownames", z.rownames},
          {"chisq", Numbers(z.chisq)},
          {"df", z.df},
          {"p", Numbers(z.p)}};
}

// A calibration table, a row per group (and site).
ordered_json CalibrationJson(const analysis::CalibrationOutput& c) {
  ordered_json groups = ordered_json::array();
  for (const analysis::CalibrationGroup& g : c.groups) {
    ordered_json row;
    if (!g.site.empty()) row["site"] = g.site;
    row["group"] = g.group;
    row["n"] = Number(g.n);
    row["events"] = Number(g.events);
    row["predicted"] = Number(g.predicted);
    row["observed"] = Number(g.observed);
    row["lower"] = Number(g.lower);
    row["upper"] = Number(g.upper);
    groups.push_back(std::move(row));
  }
  return {{"time", c.time}, {"baseline", c.baseline}, {"groups", groups}};
}

ordered_json ResultsJsonValue(const analysis::AnalysisOutput& output) {
  return std::visit(
      [](const auto& result) -> ordered_json {
        using T = std::decay_t<decltype(result)>;
        if constexpr (std::is_same_v<T, analysis::CoxphOutput>) return CoxphJson(result);
        if constexpr (std::is_same_v<T, analysis::SurvfitOutput>) return SurvfitJson(result);
        if constexpr (std::is_same_v<T, analysis::SurvdiffOutput>) return SurvdiffJson(result);
        if constexpr (std::is_same_v<T, analysis::GlmOutput>) return GlmJson(result);
        if constexpr (std::is_same_v<T, analysis::TableOutput>) return TableJson(result);
        if constexpr (std::is_same_v<T, analysis::DescribeOutput>) return DescribeJson(result);
        if constexpr (std::is_same_v<T, analysis::ConcordanceOutput>)
          return ConcordanceJson(result);
        if constexpr (std::is_same_v<T, analysis::CoxZphOutput>) return CoxZphJson(result);
        if constexpr (std::is_same_v<T, analysis::CalibrationOutput>) {
          return CalibrationJson(result);
        }
      },
      output.result);
}

std::string ResultsJson(const analysis::AnalysisOutput& output, int indent) {
  return ResultsJsonValue(output).dump(indent);
}

}  // namespace passerelle::report
