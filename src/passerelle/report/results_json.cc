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
  return j;
}

}  // namespace

std::string ResultsJson(const analysis::AnalysisOutput& output, int indent) {
  ordered_json j = std::visit(
      [](const auto& result) -> ordered_json {
        using T = std::decay_t<decltype(result)>;
        if constexpr (std::is_same_v<T, analysis::CoxphOutput>) return CoxphJson(result);
        return ordered_json();
      },
      output.result);
  return j.dump(indent);
}

}  // namespace passerelle::report
