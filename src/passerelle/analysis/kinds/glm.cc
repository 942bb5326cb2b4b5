// glm: R's generalized linear models (binomial, poisson, gaussian). Each site answers, round by
// round, X'WX, X'Wz and its deviance at the hub's coefficients; the hub's IRLS on their sums is
// the pooled fit, the null model's deviance likewise. Local mode fits the same driver on one
// table.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <set>

#include "passerelle/analysis/describe.h"
#include "passerelle/analysis/frames.h"
#include "passerelle/analysis/kind_support.h"
#include "passerelle/analysis/kinds/kinds.h"
#include "passerelle/formula/eval.h"
#include "passerelle/formula/model.h"
#include "passerelle/privacy/disclosure.h"
#include "passerelle/stats/contingency.h"
#include "passerelle/stats/survival.h"

namespace passerelle::analysis {

Result<std::unique_ptr<RemoteGlmSite>> RemoteGlmSite::Connect(Transport transport, json task,
                                                              bool null_model) {
  std::unique_ptr<RemoteGlmSite> site(new RemoteGlmSite());
  site->transport_ = std::move(transport);
  task["null"] = null_model;
  site->task_ = task.dump();
  site->null_model_ = null_model;
  RETURN_IF_ERROR(Decode<bool>(site->Send("design", {}), [&](const json& j) -> Result<bool> {
                    site->n_ = SiteCount(j.at("n"));
                    site->coef_names_ = j.at("coef_names").get<std::vector<std::string>>();
                    site->intercept_ = j.at("intercept").get<bool>();
                    site->omitted_ = j.contains("omitted") ? SiteCountOrNaN(j.at("omitted")) : 0;
                    site->p_ = null_model ? (site->intercept_ ? 1 : 0) : site->coef_names_.size();
                    if (j.contains("start")) {
                      ASSIGN_OR_RETURN(site->start_, site->ReadAggregate(j.at("start")));
                    }
                    return true;
                  }).status());
  return site;
}

Result<json> RemoteGlmSite::Send(const std::string& step, std::span<const double> beta) {
  json task = json::parse(task_);
  task["step"] = step;
  task["beta"] = std::vector<double>(beta.begin(), beta.end());
  if (step == "design") task["with_start"] = true;  // the first IRLS step comes with it
  return transport_(task);
}

Result<stats::GlmAggregate> RemoteGlmSite::Ask(const std::string& step,
                                               std::span<const double> beta) {
  return Decode<stats::GlmAggregate>(Send(step, beta),
                                     [&](const json& j) { return ReadAggregate(j); });
}

Result<stats::GlmAggregate> RemoteGlmSite::ReadAggregate(const json& j) const {
  stats::GlmAggregate a;
  a.n = SiteCount(j.at("n"));
  a.xtwx = j.at("xtwx").get<std::vector<double>>();
  a.xtwz = j.at("xtwz").get<std::vector<double>>();
  a.deviance = j.at("deviance").get<double>();
  // null: not finite (a Gaussian site's at start)
  a.loglik = j.at("loglik").is_null() ? std::numeric_limits<double>::quiet_NaN()
                                      : j.at("loglik").get<double>();
  a.extreme_fits = SiteCount(j.at("extreme_fits"));
  a.sum_log_w = j.value("sum_log_w", 0.0);
  a.fractional_successes = j.value("fractional_successes", false) ? 1 : 0;
  a.sum_w = j.value("sum_w", 0.0);
  a.sum_wy = j.value("sum_wy", 0.0);
  a.offset = j.value("offset", false);
  RETURN_IF_ERROR(CheckSizes(a.xtwz.size(), a.xtwx.size(), p_));
  return a;
}

Result<stats::GlmAggregate> RemoteGlmSite::Evaluate(std::span<const double> beta) {
  return Ask("evaluate", beta);
}

Result<stats::GlmAggregate> RemoteGlmSite::EvaluateAtStart() {
  if (start_) {  // answered with the design
    stats::GlmAggregate a = std::move(*start_);
    start_.reset();
    return a;
  }
  return Ask("start", {});
}

// The model's frame is taken slice by slice (formula::PlanFrameSlices): its figures added up,
// and its rows read again from the table's slices at each step, so a node holds a slice's
// design; a table of one slice keeps its rows in the kernel.
Status BuildGlmModel(const json& task, const formula::Formula& f,
                     const formula::FrameOptions& options, const data::Table& table,
                     SiteModel* model) {
  const std::string subset = task.value("subset", "");
  ASSIGN_OR_RETURN(formula::FrameSlices plan, formula::PlanFrameSlices(f, table, subset, options));
  ASSIGN_OR_RETURN(stats::Family family, ParseFamily(task.value("family", "")));
  FrameFigures figures(/*cross_products=*/true, table.rows);
  // Both outcomes of a two-valued response count, whatever the family: a model of a rare
  // outcome would single its patients out, and an intercept-only Poisson or Gaussian model of a
  // 0/1 variable gives its count.
  std::map<double, double> outcomes;
  std::vector<size_t> slice_rows;
  size_t n = 0, p = 0;
  bool offset = false;
  std::optional<stats::GlmRows> held;  // a table of one slice
  for (size_t s = 0; s < plan.count; ++s) {
    ASSIGN_OR_RETURN(
        formula::ModelFrame m,
        formula::BuildFrameSlice(f, table, formula::ModelKind::kRegression, subset, plan, s));
    RETURN_IF_ERROR(stats::CheckGlmResponse(family, m.y));  // here, not in a pass of its own
    for (double y : m.y) {
      model->events += y;
      // Counted up to four values: more and the response is not counts in disguise.
      if (outcomes.size() <= 3 || outcomes.count(y)) outcomes[y] += 1;
    }
    figures.Add(m);
    slice_rows.push_back(m.n);
    n += m.n;
    if (m.n > 0) p = m.p(), offset = !m.offset.empty();
    if (plan.count == 1) held = GlmRowsFrom(std::move(m));
  }
  if (n == 0) return formula::NoRowsLeft(f);
  if (family == stats::Family::kBinomial) {
    model->events = std::min(model->events, static_cast<double>(n) - model->events);
  } else if (outcomes.size() >= 2 && outcomes.size() <= 3) {
    // Two or three values: n, the sum and the sum of squares (the deviance) solve for their
    // counts, so the rarest must be held by at least min_events records.
    model->events = static_cast<double>(n);
    for (const auto& [value, count] : outcomes) model->events = std::min(model->events, count);
  } else {
    model->events = static_cast<double>(n);
  }
  RETURN_IF_ERROR(figures.Finish(table, model));
  if (held) {
    model->glm = std::make_unique<stats::GlmKernel>(std::move(*held), family);
  } else {
    model->glm = std::make_unique<stats::GlmKernel>(
        std::make_unique<SlicedGlmRows>(table, f, subset, std::move(plan), std::move(slice_rows), p,
                                        offset),
        family);
  }
  return Status::Ok();
}

namespace {

json GlmAggregateJson(const stats::GlmAggregate& a) {
  json j = {{"n", a.n},           {"xtwx", a.xtwx},
            {"xtwz", a.xtwz},     {"deviance", a.deviance},
            {"loglik", a.loglik}, {"extreme_fits", a.extreme_fits}};
  if (a.sum_log_w != 0) j["sum_log_w"] = a.sum_log_w;  // with prior weights
  if (a.fractional_successes > 0) j["fractional_successes"] = true;
  return j;
}

}  // namespace

Result<std::string> GlmStep(const json& task, const SiteModel* model,
                            const privacy::Policy& policy) {
  RETURN_IF_ERROR(CheckModel(*model, policy));
  const std::string step = task.value("step", "");
  if (step == "levels") return LevelsAnswer(*model);
  const bool null_model = task.value("null", false);
  const stats::GlmKernel& kernel = *model->glm;
  const size_t p = null_model ? NullColumns(model->intercept) : model->p;
  const auto start = [&]() -> Result<json> {
    ASSIGN_OR_RETURN(const stats::GlmAggregate a, kernel.EvaluateAtStart(p));
    json j = GlmAggregateJson(a);
    // The null model's start gives the weighted mean of the response, at which the null
    // deviance is taken (without an offset): the intercept alone would reach it by iterating.
    if (null_model) {
      j["sum_w"] = a.sum_w;
      j["sum_wy"] = a.sum_wy;
      j["offset"] = a.offset;
    }
    return j;
  };
  if (step == "design") {
    json design = {{"n", model->n},
                   {"coef_names", model->coef_names},
                   {"intercept", model->intercept},
                   {"omitted", ReleasableCount(model->omitted, policy)}};
    // With the first IRLS step, which the fit asks next (a null model's only when it has an
    // intercept: without one it is never iterated): one round trip fewer.
    if (task.value("with_start", false) && (!null_model || model->intercept)) {
      ASSIGN_OR_RETURN(design["start"], start());
    }
    return design.dump();
  }
  if (step == "start") {
    ASSIGN_OR_RETURN(const json j, start());
    return j.dump();
  }
  if (step == "evaluate") {
    const std::vector<double> beta = task.value("beta", std::vector<double>());
    if (beta.size() != p) return InvalidArgument("task: beta has the wrong length");
    ASSIGN_OR_RETURN(const stats::GlmAggregate a, kernel.Evaluate(beta));
    return GlmAggregateJson(a).dump();
  }
  return InvalidArgument("task: unknown step '" + step + "'");
}

namespace {

json FirstStep(const AnalysisRequest& r);

Result<AnalysisOutput> RunGlm(const AnalysisRequest& request, const data::Table& table) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(request.formula));
  ASSIGN_OR_RETURN(stats::Family family, ParseFamily(request.family));
  AnalysisOutput out;
  formula::FrameOptions options;
  options.drop_unused_levels = true;  // as R's glm
  options.weights = request.weights;
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   StartFrame(request, f, table, formula::ModelKind::kRegression, &out, options));
  GlmOutput glm;
  glm.n_omitted_na = m.n_omitted_na;
  const std::vector<std::string> names = m.coef_names;
  const bool intercept = m.intercept;
  const stats::GlmKernel kernel(GlmRowsFrom(std::move(m)), family);
  LocalGlmSite site(&kernel), null_site(&kernel, NullColumns(intercept));
  ASSIGN_OR_RETURN(glm.fit, FitGlm({&site}, {&null_site}, names, family, intercept));
  for (const std::string& w : glm.fit.warnings) out.notes.push_back("warning: " + w);
  out.result = std::move(glm);
  return out;
}

}  // namespace

Result<GlmSites> ConnectGlmSites(const std::vector<SiteLink>& sites, const json& task) {
  using Pair = std::pair<std::unique_ptr<RemoteGlmSite>, std::unique_ptr<RemoteGlmSite>>;
  auto connect = [&](size_t s) -> Result<Pair> {
    ASSIGN_OR_RETURN(auto model, RemoteGlmSite::Connect(Named(sites[s]), task, false));
    ASSIGN_OR_RETURN(auto null_model, RemoteGlmSite::Connect(Named(sites[s]), task, true));
    return Pair{std::move(model), std::move(null_model)};
  };
  ASSIGN_OR_RETURN(std::vector<Pair> pairs, EachSite<Pair>(sites.size(), connect));
  for (size_t s = 1; s < sites.size(); ++s) {
    RETURN_IF_ERROR(SameDesign(sites[0].name, *pairs[0].first, sites[s].name, *pairs[s].first));
  }
  GlmSites out;
  for (size_t s = 0; s < sites.size(); ++s) {
    out.model.push_back(std::move(pairs[s].first));
    out.null_model.push_back(std::move(pairs[s].second));
  }
  return out;
}

Result<GlmResult> GlmSites::Fit(stats::Family family) const {
  std::vector<GlmSite*> full, null;
  for (const auto& site : model) full.push_back(site.get());
  for (const auto& site : null_model) null.push_back(site.get());
  return FitGlm(full, null, model[0]->coef_names(), family, model[0]->intercept());
}

namespace {

Result<AnalysisOutput> FederatedGlm(const AnalysisRequest& request,
                                    const std::vector<SiteLink>& sites) {
  ASSIGN_OR_RETURN(stats::Family family, ParseFamily(request.family));
  ASSIGN_OR_RETURN(const std::string levels,
                   AgreedLevels(FirstStep(request), sites, "used_levels"));
  json task = FirstStep(request);
  if (!levels.empty()) task["levels"] = json::parse(levels);
  ASSIGN_OR_RETURN(const GlmSites connected, ConnectGlmSites(sites, task));
  AnalysisOutput out;
  out.request = request;
  GlmOutput glm;
  std::vector<double> omitted;
  for (const auto& site : connected.model) omitted.push_back(site->omitted());
  NoteOmitted(omitted, &out);
  for (double o : omitted) glm.n_omitted_na += o == o ? static_cast<size_t>(o) : 0;
  ASSIGN_OR_RETURN(glm.fit, connected.Fit(family));
  for (const std::string& w : glm.fit.warnings) out.notes.push_back("warning: " + w);
  out.result = std::move(glm);
  return out;
}

Result<LocalRelease> SiteStep(const json& task, const data::Table& table,
                              const privacy::Policy& policy, LocalStepCache* cache) {
  return RunModelStep(task, table, policy, cache, BuildGlmModel, GlmStep);
}

json FirstStep(const AnalysisRequest& r) {
  json step = {{"analysis", "glm"}, {"subset", r.subset}, {"formula", r.formula},
               {"step", "design"},  {"ties", r.ties},     {"family", r.family}};
  if (!r.weights.empty()) step["weights"] = r.weights;
  return step;
}

json Signature(const json& step) {
  json sig = FormulaSignature(step);
  sig["family"] = step.value("family", "");
  sig["weights"] = step.value("weights", "");
  return sig;
}

std::string Method(const nlohmann::ordered_json& request, const nlohmann::ordered_json&) {
  return "Generalized linear model " + TextOf(request, "formula") + ", family " +
         TextOf(request, "family") +
         ", fitted by iteratively reweighted least squares on the sum of the sites' X'WX and "
         "X'Wz; the estimate equals the pooled fit.";
}

}  // namespace

AnalysisKind GlmKind() {
  return {.name = "glm",
          .summary = "Generalized linear model: binomial, poisson, gaussian (R's glm)",
          .options = {FormulaOption("response ~ covariates"),
                      SubsetOption(),
                      {.name = "family",
                       .field = &AnalysisRequest::family,
                       .help = "Error distribution",
                       .required = true,
                       .choices = {"binomial", "poisson", "gaussian"}},
                      WeightsOption()},
          .run_federated = FederatedGlm,
          .site_step = SiteStep,
          .run_local = RunGlm,
          .first_step = FirstStep,
          .signature = Signature,
          .review =
              [](const AnalysisRequest& r, const data::Table& table, privacy::ReviewFigures* f) {
                return ReviewModel(r, table, formula::ModelKind::kRegression, f);
              },
          .method = Method};
}

}  // namespace passerelle::analysis
