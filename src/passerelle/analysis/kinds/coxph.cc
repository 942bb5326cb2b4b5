// coxph: R's Cox proportional hazards model. Each site keeps its records and answers, round by
// round, its log-likelihood, score and information at the hub's coefficients; the hub's
// Newton-Raphson on their sums is the pooled fit, stratified by site (each site its own baseline
// hazard). Local mode fits the same driver on one table.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
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

namespace {

// A site's evaluation as the hub reads it, for `p` coefficients.
Result<stats::CoxAggregate> ReadCoxAggregate(const json& j, size_t p) {
  stats::CoxAggregate a;
  a.loglik = j.at("loglik").get<double>();
  a.score = j.at("score").get<std::vector<double>>();
  a.information = j.at("information").get<std::vector<double>>();
  RETURN_IF_ERROR(CheckSizes(a.score.size(), a.information.size(), p));
  return a;
}

json CoxAggregateJson(const stats::CoxAggregate& a) {
  return {{"loglik", a.loglik}, {"score", a.score}, {"information", a.information}};
}

}  // namespace

Result<std::unique_ptr<RemoteCoxSite>> RemoteCoxSite::Connect(Transport transport, json task,
                                                              const json* early) {
  std::unique_ptr<RemoteCoxSite> site(new RemoteCoxSite());
  site->transport_ = std::move(transport);
  site->task_ = task.dump();
  const Result<json> design = early ? Result<json>(early->at("design")) : site->Ask("design", {});
  RETURN_IF_ERROR(Decode<bool>(design, [&](const json& j) {
                    site->n_ = SiteCount(j.at("n"));
                    site->events_ = SiteCount(j.at("events"));
                    site->coef_names_ = j.at("coef_names").get<std::vector<std::string>>();
                    site->sums_.clear();
                    for (const json& sum : j.at("sums")) {
                      site->sums_.push_back(sum.is_null() ? std::numeric_limits<double>::quiet_NaN()
                                                          : sum.get<double>());
                    }
                    site->omitted_ = j.contains("omitted") ? SiteCountOrNaN(j.at("omitted")) : 0;
                    site->total_ = j.contains("total") ? j.at("total").get<double>() : site->n_;
                    site->whole_weights_ = j.value("whole_weights", true);
                    return true;
                  }).status());
  if (site->sums_.size() != site->coef_names_.size()) {
    return Unavailable("site answered aggregates of the wrong size");
  }
  if (early) {
    ASSIGN_OR_RETURN(site->at_zero_, Decode<stats::CoxAggregate>(
                                         Result<json>(early->at("at_zero")), [&](const json& j) {
                                           return ReadCoxAggregate(j, site->coef_names_.size());
                                         }));
  }
  return site;
}

Result<json> RemoteCoxSite::Ask(const std::string& step, std::span<const double> beta) {
  json task = json::parse(task_);
  task["step"] = step;
  task["beta"] = std::vector<double>(beta.begin(), beta.end());
  return transport_(task);
}

Result<stats::CoxAggregate> RemoteCoxSite::Evaluate(std::span<const double> beta, stats::Ties) {
  if (at_zero_ && std::all_of(beta.begin(), beta.end(), [](double b) { return b == 0; })) {
    stats::CoxAggregate a = std::move(*at_zero_);  // the fit's first evaluation, answered early
    at_zero_.reset();
    return a;
  }
  return Decode<stats::CoxAggregate>(
      Ask("evaluate", beta), [&](const json& j) { return ReadCoxAggregate(j, beta.size()); });
}

Result<std::vector<double>> RemoteCoxSite::ClusterMeat(std::span<const double> beta, stats::Ties) {
  return Decode<std::vector<double>>(
      Ask("meat", beta), [&](const json& j) -> Result<std::vector<double>> {
        std::vector<double> meat = j.at("meat").get<std::vector<double>>();
        RETURN_IF_ERROR(CheckSizes(beta.size(), meat.size(), beta.size()));
        return meat;
      });
}

Result<stats::ConcordanceAggregate> RemoteCoxSite::Concordance(std::span<const double> beta) {
  return Decode<stats::ConcordanceAggregate>(Ask("pairs", beta), ReadConcordance);
}

// R's choice of variance: robust when asked, or by default with cluster() or case weights that
// are not whole numbers; robust = false ignores cluster() with R's warning.
Result<bool> RobustVariance(const AnalysisRequest& r, const formula::Formula& f, bool whole_weights,
                            AnalysisOutput* out) {
  if (!r.propensity.empty() && r.robust != "false") return true;  // weights estimated: robust
  const bool cluster = !f.clusters.empty();
  if (r.robust == "false") {
    if (cluster)
      out->notes.push_back("warning: cluster specified with robust=FALSE, cluster ignored");
    return false;
  }
  if (r.robust == "true") {
    if (!cluster && f.surv.size() == 3) {
      return InvalidArgument(
          "robust: Surv(start, stop, event) needs cluster() for a robust variance");
    }
    return true;
  }
  return cluster || !whole_weights;
}

Result<std::string> CoxStep(const json& task, const SiteModel* model,
                            const privacy::Policy& policy) {
  // The site's rules apply to its own contribution, whatever the hub asks.
  RETURN_IF_ERROR(CheckModel(*model, policy));
  ASSIGN_OR_RETURN(stats::Ties ties, ParseTies(task.value("ties", "efron")));
  const std::string step = task.value("step", "");
  const stats::CoxKernel& kernel = *model->cox;
  // Weighted column sums give R's means (0 for a 0/1 column, which R does not centre: no count
  // of patients leaves with them).
  const auto design = [&] {
    json d = {{"n", static_cast<double>(kernel.n())},  // rows fitted
              {"events", model->events},
              {"coef_names", model->coef_names},
              {"sums", model->mean_sums},
              {"total", model->mean_total},
              {"omitted", ReleasableCount(model->omitted, policy)}};
    if (!model->whole_weights) d["whole_weights"] = false;
    return d;
  };
  if (step == "levels") {
    if (!task.value("with_design", false)) return LevelsAnswer(*model);
    // With the levels, the design and the evaluation at zero (the fit's first) as this site's
    // own levels make them: when they are the levels every site agrees on, as a dictionary's
    // declared levels are, the hub needs no other round trip before the second evaluation.
    json answer = json::parse(LevelsAnswer(*model));
    answer["design"] = design();
    ASSIGN_OR_RETURN(const stats::CoxAggregate at_zero,
                     kernel.Evaluate(std::vector<double>(model->coef_names.size(), 0.0), ties));
    answer["at_zero"] = CoxAggregateJson(at_zero);
    return answer.dump();
  }
  if (step == "design") return design().dump();
  std::vector<double> beta = task.value("beta", std::vector<double>());
  if (beta.size() != model->coef_names.size()) {
    return InvalidArgument("task: beta has the wrong length");
  }
  if (step == "evaluate") {
    ASSIGN_OR_RETURN(stats::CoxAggregate a, kernel.Evaluate(beta, ties));
    return CoxAggregateJson(a).dump();
  }
  if (step == "meat") return json{{"meat", kernel.ClusterMeat(beta, ties)}}.dump();
  if (step == "pairs") {  // the concordance of the linear predictor
    return ConcordanceJson(kernel.Concordance(beta), policy).dump();
  }
  return InvalidArgument("task: unknown step '" + step + "'");
}

namespace {

json FirstStep(const AnalysisRequest& r);

Result<AnalysisOutput> RunCoxph(const AnalysisRequest& request, const data::Table& table) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(request.formula));
  ASSIGN_OR_RETURN(stats::Ties ties, ParseTies(request.ties));
  AnalysisOutput out;
  formula::FrameOptions frame_options;
  frame_options.weights = request.weights;
  std::optional<PropensityOutput> propensity;
  if (!request.propensity.empty()) {
    ASSIGN_OR_RETURN(propensity, LocalPropensity(request, table, &frame_options.weight_values));
  }
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   StartFrame(request, f, table, formula::ModelKind::kCox, &out, frame_options));
  CoxphOutput cox;
  cox.n_omitted_na = m.n_omitted_na;
  cox.ties = request.ties;
  cox.propensity = std::move(propensity);
  // (R's means, weighted by the case weights.)
  CoxphOptions options;
  options.ties = ties;
  bool whole_weights = true;
  for (double w : m.weights) whole_weights = whole_weights && w == std::floor(w);
  ASSIGN_OR_RETURN(options.robust, RobustVariance(request, f, whole_weights, &out));
  const std::vector<std::string> names = m.coef_names;
  stats::CoxRows rows = CoxRowsFrom(std::move(m));
  double total = 0;
  for (double sum : WeightedColumnSums(rows, &total)) cox.means.push_back(sum / total);
  const stats::CoxKernel kernel(std::move(rows));
  LocalCoxSite site(&kernel);
  ASSIGN_OR_RETURN(cox.fit, FitCoxph({&site}, names, options));
  for (const std::string& w : cox.fit.warnings) out.notes.push_back("warning: " + w);
  out.result = std::move(cox);
  return out;
}

}  // namespace

Result<AnalysisOutput> FederatedCox(const AnalysisRequest& request,
                                    const std::vector<SiteLink>& sites, json first, json* task) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(request.formula));
  CoxphOptions options;
  ASSIGN_OR_RETURN(options.ties, ParseTies(request.ties));
  // The levels, and with them each site's design and first evaluation on its own levels: used
  // when every site's levels are the agreed ones (one round trip instead of three).
  json levels_step = first;
  levels_step["with_design"] = true;
  std::vector<json> answers;
  ASSIGN_OR_RETURN(const std::string levels, AgreedLevels(levels_step, sites, "levels", &answers));
  if (!levels.empty()) first["levels"] = json::parse(levels);
  if (task) *task = first;
  bool early = true;
  for (const json& answer : answers) {
    early = early && answer.contains("design") && answer.contains("at_zero") &&
            answer.at("levels") == first.value("levels", json::object());
  }
  std::vector<std::unique_ptr<RemoteCoxSite>> remote;
  std::vector<CoxSite*> ptrs;
  bool whole_weights = true;
  ASSIGN_OR_RETURN(remote, EachSite<std::unique_ptr<RemoteCoxSite>>(sites.size(), [&](size_t s) {
                     return RemoteCoxSite::Connect(Named(sites[s]), first,
                                                   early ? &answers[s] : nullptr);
                   }));
  for (size_t s = 0; s < sites.size(); ++s) {
    whole_weights = whole_weights && remote[s]->whole_weights();
    RETURN_IF_ERROR(SameDesign(sites[0].name, *remote[0], sites[s].name, *remote[s]));
    ptrs.push_back(remote[s].get());
  }
  AnalysisOutput out;
  out.request = request;
  ASSIGN_OR_RETURN(options.robust, RobustVariance(request, f, whole_weights, &out));
  CoxphOutput cox;
  cox.ties = request.ties;
  const std::vector<std::string> names = remote[0]->coef_names();
  double total = 0;
  std::vector<double> sums(names.size(), 0.0), omitted;
  for (const auto& site : remote) {
    total += site->total();
    for (size_t j = 0; j < names.size(); ++j) sums[j] += site->sums()[j];
    omitted.push_back(site->omitted());
  }
  for (double s : sums) cox.means.push_back(s / total);  // NaN where a site withheld a count
  NoteOmitted(omitted, &out);
  for (double o : omitted) cox.n_omitted_na += o == o ? static_cast<size_t>(o) : 0;
  if (!HasSiteStrata(f)) {
    out.notes.push_back(
        "stratified by site: each site has its own baseline hazard, as with + strata(site)");
  }
  ASSIGN_OR_RETURN(cox.fit, FitCoxph(ptrs, names, options));
  for (const std::string& w : cox.fit.warnings) out.notes.push_back("warning: " + w);
  out.result = std::move(cox);
  return out;
}

namespace {

Result<AnalysisOutput> FederatedCoxph(const AnalysisRequest& request,
                                      const std::vector<SiteLink>& sites) {
  json first = FirstStep(request);
  if (request.propensity.empty()) return FederatedCox(request, sites, first);
  ASSIGN_OR_RETURN(PropensityOutput propensity, FederatedPropensity(request, sites, &first));
  ASSIGN_OR_RETURN(AnalysisOutput out, FederatedCox(request, sites, first));
  std::get<CoxphOutput>(out.result).propensity = std::move(propensity);
  return out;
}

Result<LocalRelease> SiteStep(const json& task, const data::Table& table,
                              const privacy::Policy& policy, LocalStepCache* cache) {
  if (task.contains("part")) return PropensityStep(task, table, policy, cache);
  return RunModelStep(task, table, policy, cache, BuildCoxSiteModel, CoxStep);
}

json FirstStep(const AnalysisRequest& r) {
  json step = {{"analysis", "coxph"},
               {"subset", r.subset},
               {"formula", r.formula},
               {"step", "design"},
               {"ties", r.ties}};
  if (!r.weights.empty()) step["weights"] = r.weights;
  if (!r.propensity.empty()) {
    step["propensity"] = r.propensity;
    step["estimand"] = r.estimand.empty() ? "ate" : r.estimand;
    step["stabilized"] = r.stabilized;
  }
  return step;
}

json Signature(const json& step) {
  json sig = FormulaSignature(step);
  sig["ties"] = step.value("ties", "efron");
  sig["weights"] = step.value("weights", "");
  sig["propensity"] = step.value("propensity", "");
  sig["estimand"] = step.value("estimand", "");
  sig["stabilized"] = step.value("stabilized", false);
  return sig;
}

std::string Method(const nlohmann::ordered_json& request, const nlohmann::ordered_json&) {
  return "Cox proportional hazards model " + TextOf(request, "formula") +
         " (ties: " + TextOf(request, "ties") +
         "), fitted by Newton–Raphson on the sum of the sites' log-likelihoods, scores and "
         "information matrices; with strata(site) each site is its own stratum. The estimate "
         "equals the pooled fit.";
}

}  // namespace

AnalysisKind CoxphKind() {
  return {.name = "coxph",
          .summary = "Cox proportional hazards model (R's coxph)",
          .options = {FormulaOption("Surv(time, event) ~ covariates"),
                      SubsetOption(),
                      TiesOption({"efron", "breslow", "exact"}),
                      WeightsOption(),
                      {.name = "robust",
                       .field = &AnalysisRequest::robust,
                       .help = "Robust (sandwich) variance: true or false (default: with "
                               "cluster() or weights that are not whole numbers)",
                       .choices = {"true", "false"}},
                      {.name = "propensity",
                       .field = &AnalysisRequest::propensity,
                       .help = "Weight by propensity scores from this model of a two-level "
                               "treatment, e.g. 'trt ~ age + stage' (robust variance)"},
                      {.name = "estimand",
                       .field = &AnalysisRequest::estimand,
                       .help = "The propensity weights' estimand: ate (default) or att",
                       .choices = {"ate", "att"}},
                      {.name = "stabilized",
                       .field = &AnalysisRequest::stabilized,
                       .help = "Stabilize the ate weights by the treated share"}},
          .run_federated = FederatedCoxph,
          .site_step = SiteStep,
          .run_local = RunCoxph,
          .first_step = FirstStep,
          .signature = Signature,
          .review = ReviewCoxModel,
          .method = Method};
}

}  // namespace passerelle::analysis
