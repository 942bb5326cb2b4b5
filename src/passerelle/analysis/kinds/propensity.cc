// coxph --propensity: a treatment comparison weighted by propensity scores. The score model is a
// logistic regression of the treatment on the covariates (a GLM across sites: the sums of the
// sites' X'WX); each site turns the fitted score of its own records into weights (ATE 1/ps and
// 1/(1 - ps), ATT 1 and ps/(1 - ps), stabilized by the treated share), and the Cox model weighted
// by them is fitted as any weighted Cox model, with a robust variance. The balance table comes
// from per-arm sums of the covariates and of the weights.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "passerelle/analysis/frames.h"
#include "passerelle/analysis/glm.h"
#include "passerelle/analysis/kind_support.h"
#include "passerelle/analysis/kinds/kinds.h"
#include "passerelle/formula/eval.h"

namespace passerelle::analysis {
namespace {

// Per arm (0: the treatment's first level, 1: its second) the records, the weights' sum and
// sum of squares, and per covariate the sums of x, x^2 and w x.
struct BalanceSums {
  double n[2] = {0, 0}, w[2] = {0, 0}, w2[2] = {0, 0};
  std::vector<double> x[2], x2[2], wx[2];

  void Resize(size_t p) {
    for (int a = 0; a < 2; ++a) x[a].assign(p, 0.0), x2[a].assign(p, 0.0), wx[a].assign(p, 0.0);
  }
  void Add(const BalanceSums& o) {
    if (x[0].empty()) Resize(o.x[0].size());
    for (int a = 0; a < 2; ++a) {
      n[a] += o.n[a];
      w[a] += o.w[a];
      w2[a] += o.w2[a];
      for (size_t j = 0; j < x[a].size(); ++j) {
        x[a][j] += o.x[a][j];
        x2[a][j] += o.x2[a][j];
        wx[a][j] += o.wx[a][j];
      }
    }
  }
};

// The score model's task at a site: coxph's step with the score formula as the model, its rows
// complete for the outcome model's variables too.
json ScoreTask(const json& task) {
  json t = task;
  t["formula"] = task.value("propensity", "");
  t["family"] = "binomial";
  std::vector<std::string> names;
  if (auto f = formula::ParseFormula(task.value("formula", "")); f.ok()) names = FormulaNames(*f);
  t["complete_in"] = names;
  return t;
}

// The score model's rows and design (its first column the intercept), with the levels it was
// fitted with and its rows complete for `outcome`'s variables too.
Result<formula::ModelFrame> ScoreFrame(const std::string& score, const std::string& outcome,
                                       const std::string& subset, const json& levels,
                                       const data::Table& table) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(score));
  ASSIGN_OR_RETURN(formula::Formula o, formula::ParseFormula(outcome));
  formula::FrameOptions options;
  options.drop_unused_levels = levels.is_null();
  if (!levels.is_null()) {
    options.levels = levels.get<std::map<std::string, std::vector<std::string>>>();
  }
  options.complete_in = FormulaNames(o);
  ASSIGN_OR_RETURN(
      formula::ModelFrame m,
      formula::BuildModelFrame(f, table, formula::ModelKind::kRegression, subset, options));
  if (!m.intercept) return InvalidArgument("propensity: the score model needs its intercept");
  for (double y : m.y) {
    if (y != 0 && y != 1) {
      return InvalidArgument(
          "propensity: the treatment must have two values (0/1, a condition or two levels)");
    }
  }
  return m;
}

// Each frame row's weight at the score model's coefficients.
std::vector<double> WeightsOf(const formula::ModelFrame& m, const std::vector<double>& coef,
                              const std::string& estimand, double share) {
  std::vector<double> w(m.n);
  for (size_t i = 0; i < m.n; ++i) {
    double eta = 0;
    for (size_t j = 0; j < m.p(); ++j) eta += m.X(i, j) * coef[j];
    const double ps = 1 / (1 + std::exp(-eta));
    const bool treated = m.y[i] == 1;
    if (estimand == "att") {
      w[i] = treated ? 1 : ps / (1 - ps);
    } else {
      w[i] = treated ? 1 / ps : 1 / (1 - ps);
      if (share > 0) w[i] *= treated ? share : 1 - share;
    }
  }
  return w;
}

BalanceSums SumBalance(const std::vector<double>& x, const std::vector<double>& y, size_t n,
                       const std::vector<double>& w) {
  const size_t p = n ? x.size() / n : 0;
  BalanceSums b;
  b.Resize(p - 1);  // the covariates: every column but the intercept
  for (size_t i = 0; i < n; ++i) {
    const int a = y[i] == 1 ? 1 : 0;
    b.n[a] += 1;
    b.w[a] += w[i];
    b.w2[a] += w[i] * w[i];
    for (size_t j = 1; j < p; ++j) {
      const double v = x[j * n + i];
      b.x[a][j - 1] += v;
      b.x2[a][j - 1] += v * v;
      b.wx[a][j - 1] += w[i] * v;
    }
  }
  return b;
}

json BalanceJson(const BalanceSums& b) {
  json j;
  for (int a = 0; a < 2; ++a) {
    j["arms"].push_back({{"n", b.n[a]},
                         {"w", b.w[a]},
                         {"w2", b.w2[a]},
                         {"x", b.x[a]},
                         {"x2", b.x2[a]},
                         {"wx", b.wx[a]}});
  }
  return j;
}

BalanceSums ReadBalance(const json& j, size_t covariates) {
  BalanceSums b;
  for (int a = 0; a < 2; ++a) {
    const json& arm = j.at("arms").at(a);
    b.n[a] = SiteCount(arm.at("n"));
    b.w[a] = arm.at("w").get<double>();
    b.w2[a] = arm.at("w2").get<double>();
    b.x[a] = arm.at("x").get<std::vector<double>>();
    b.x2[a] = arm.at("x2").get<std::vector<double>>();
    b.wx[a] = arm.at("wx").get<std::vector<double>>();
    if (b.x[a].size() != covariates || b.x2[a].size() != covariates ||
        b.wx[a].size() != covariates) {
      throw MalformedAnswer("balance sums of the wrong size");
    }
  }
  return b;
}

// The output from the score model and the summed balance sums.
PropensityOutput Finish(const AnalysisRequest& request, GlmResult model, size_t omitted,
                        std::vector<std::string> arms, const BalanceSums& b) {
  PropensityOutput out;
  out.formula = request.propensity;
  out.estimand = request.estimand.empty() ? "ate" : request.estimand;
  out.stabilized = request.stabilized;
  out.covariates.assign(model.coef_names.begin() + 1, model.coef_names.end());
  out.model = std::move(model);
  out.n_omitted_na = omitted;
  out.arms = std::move(arms);
  for (int a = 0; a < 2; ++a) {
    out.n.push_back(b.n[a]);
    out.ess.push_back(b.w[a] * b.w[a] / b.w2[a]);
  }
  for (size_t j = 0; j < out.covariates.size(); ++j) {
    double mean[2], var[2], weighted[2];
    for (int a = 0; a < 2; ++a) {
      mean[a] = b.x[a][j] / b.n[a];
      var[a] = (b.x2[a][j] - b.n[a] * mean[a] * mean[a]) / (b.n[a] - 1);
      weighted[a] = b.wx[a][j] / b.w[a];
    }
    const double sd = std::sqrt((var[0] + var[1]) / 2);
    out.smd_before.push_back((mean[1] - mean[0]) / sd);
    out.smd_after.push_back((weighted[1] - weighted[0]) / sd);
  }
  return out;
}

Status CheckRequestOptions(const AnalysisRequest& r) {
  if (!r.weights.empty()) {
    return InvalidArgument("weights: give case weights or a propensity score, not both");
  }
  if (r.stabilized && r.estimand == "att") {
    return InvalidArgument("stabilized: weights are stabilized for the ate estimand only");
  }
  return Status::Ok();
}

// The treatment's two levels as R names them: a factor's levels, else 0 and 1 (FALSE, TRUE).
std::vector<std::string> ArmsOf(const std::string& score, const data::Table& table) {
  auto f = formula::ParseFormula(score);
  if (f.ok() && f->lhs.kind == formula::Expr::Kind::kName) {
    const data::Column* column = table.Find(f->lhs.text);
    if (column && column->variable.levels.size() == 2) return column->variable.levels;
  }
  return {"0", "1"};
}

// At a site: the score model's rows and design kept for the balance step.
Status BuildScoreModel(const json& task, const formula::Formula& f,
                       const formula::FrameOptions& options, const data::Table& table,
                       SiteModel* model) {
  RETURN_IF_ERROR(BuildGlmModel(task, f, options, table, model));
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   formula::BuildModelFrame(f, table, formula::ModelKind::kRegression,
                                            task.value("subset", ""), options));
  // The balance table's per-arm sums (and sums of squares) of a covariate of two or three
  // values count the records of each value in each arm (n, Σx and Σx² solve for them): counts
  // the site's audit weighs with everything else it released.
  for (size_t j = 0; j < m.p(); ++j) {
    if (m.coef_names[j] == "(Intercept)") continue;
    std::set<double> values;
    for (size_t i = 0; i < m.n && values.size() <= 3; ++i) values.insert(m.X(i, j));
    if (values.size() < 2 || values.size() > 3) continue;
    for (double arm : {0.0, 1.0}) {
      for (double value : values) {
        std::vector<size_t> rows;
        for (size_t i = 0; i < m.n; ++i) {
          if (m.X(i, j) == value && m.y[i] == arm) rows.push_back(m.rows[i]);
        }
        model->counts.push_back(privacy::Cohort::FromRows(rows, table.rows));
      }
    }
  }
  model->x = std::move(m.x);
  model->y = std::move(m.y);
  model->arms = ArmsOf(f.source, table);
  return Status::Ok();
}

Result<std::string> ScoreStep(const json& task, const SiteModel* model,
                              const privacy::Policy& policy) {
  if (task.value("step", "") != "balance") return GlmStep(task, model, policy);
  RETURN_IF_ERROR(CheckModel(*model, policy));
  const std::vector<double> coef = task.value("coef", std::vector<double>());
  if (coef.size() != model->coef_names.size()) {
    return InvalidArgument("task: coef has the wrong length");
  }
  // The weights of the frame's rows, as the Cox step will compute them.
  const size_t n = model->y.size();
  formula::ModelFrame m;
  m.n = n;
  m.x = model->x;
  m.y = model->y;
  m.coef_names = model->coef_names;
  const BalanceSums b =
      SumBalance(model->x, model->y, n, WeightsOf(m, coef, task.value("estimand", "ate"), 0));
  // Each arm's records are a count the site's rules release or not.
  json j = BalanceJson(b);
  j["labels"] = model->arms;
  for (int a = 0; a < 2; ++a) {
    if (ReleasableCount(b.n[a], policy).is_null()) {
      return PermissionDenied("rule min_cell_count: site " + policy.site +
                              " has an arm of the treatment with too few records to release");
    }
  }
  return j.dump();
}

}  // namespace

std::vector<std::string> FormulaNames(const formula::Formula& f) {
  std::vector<std::string> names;
  auto collect = [&](const formula::Expr& e) { formula::CollectNames(e, &names); };
  for (const formula::Expr& e : f.surv) collect(e);
  if (f.response == formula::Formula::Response::kExpr) collect(f.lhs);
  for (const formula::Term& t : f.terms) {
    for (const formula::Expr& v : t.variables) collect(v);
  }
  for (const auto* list : {&f.strata, &f.clusters, &f.offsets}) {
    for (const formula::Expr& e : *list) collect(e);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Result<std::vector<double>> PropensityWeights(const json& task, const data::Table& table) {
  const json& score = task.at("score");
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   ScoreFrame(task.value("propensity", ""), task.value("formula", ""),
                              task.value("subset", ""), score.value("levels", json()), table));
  const std::vector<double> coef = score.at("coef").get<std::vector<double>>();
  if (coef.size() != m.p()) return InvalidArgument("task: the score's coefficients do not fit");
  const std::vector<double> w =
      WeightsOf(m, coef, task.value("estimand", "ate"), score.value("share", 0.0));
  std::vector<double> out(table.rows, std::numeric_limits<double>::quiet_NaN());
  for (size_t k = 0; k < m.n; ++k) out[m.rows[k]] = w[k];
  return out;
}

Result<LocalRelease> PropensityStep(const json& task, const data::Table& table,
                                    const privacy::Policy& policy, LocalStepCache* cache) {
  return RunModelStep(ScoreTask(task), table, policy, cache, BuildScoreModel, ScoreStep);
}

Result<PropensityOutput> LocalPropensity(const AnalysisRequest& request, const data::Table& table,
                                         std::vector<double>* weights) {
  RETURN_IF_ERROR(CheckRequestOptions(request));
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   ScoreFrame(request.propensity, request.formula, request.subset, json(), table));
  const stats::GlmKernel kernel(GlmRowsFrom(m), stats::Family::kBinomial);
  LocalGlmSite site(&kernel), null_site(&kernel, NullColumns(true));
  ASSIGN_OR_RETURN(GlmResult model,
                   FitGlm({&site}, {&null_site}, m.coef_names, stats::Family::kBinomial, true));
  const BalanceSums b = SumBalance(m.x, m.y, m.n, WeightsOf(m, model.coef, request.estimand, 0));
  const double share = request.stabilized ? b.n[1] / (b.n[0] + b.n[1]) : 0;
  const std::vector<double> w = WeightsOf(m, model.coef, request.estimand, share);
  weights->assign(table.rows, std::numeric_limits<double>::quiet_NaN());
  for (size_t k = 0; k < m.n; ++k) (*weights)[m.rows[k]] = w[k];
  return Finish(request, std::move(model), m.n_omitted_na, ArmsOf(request.propensity, table), b);
}

Result<PropensityOutput> FederatedPropensity(const AnalysisRequest& request,
                                             const std::vector<SiteLink>& sites, json* first) {
  RETURN_IF_ERROR(CheckRequestOptions(request));
  json task = *first;
  task["part"] = "score";
  ASSIGN_OR_RETURN(const std::string levels, AgreedLevels(task, sites, "used_levels"));
  if (!levels.empty()) task["levels"] = json::parse(levels);
  ASSIGN_OR_RETURN(const GlmSites connected, ConnectGlmSites(sites, task));
  double omitted = 0;
  for (const auto& site : connected.model) omitted += site->omitted();
  ASSIGN_OR_RETURN(GlmResult model, connected.Fit(stats::Family::kBinomial));
  task["step"] = "balance";
  task["coef"] = model.coef;
  task["estimand"] = request.estimand.empty() ? "ate" : request.estimand;
  ASSIGN_OR_RETURN(std::vector<json> answers, AskAll(sites, task));
  BalanceSums total;
  std::vector<std::string> arms;
  const size_t covariates = model.coef_names.size() - 1;
  for (size_t s = 0; s < sites.size(); ++s) {
    auto read = [&]() -> Status {
      total.Add(ReadBalance(answers[s], covariates));
      arms = answers[s].at("labels").get<std::vector<std::string>>();
      if (arms.size() != 2) throw MalformedAnswer("a treatment has two arms");
      return Status::Ok();
    };
    RETURN_IF_ERROR(Reading(sites[s].name, read));
  }
  json score = {{"coef", model.coef}, {"levels", task.value("levels", json())}};
  if (request.stabilized) score["share"] = total.n[1] / (total.n[0] + total.n[1]);
  (*first)["score"] = score;
  return Finish(request, std::move(model), omitted == omitted ? static_cast<size_t>(omitted) : 0,
                std::move(arms), total);
}

}  // namespace passerelle::analysis
