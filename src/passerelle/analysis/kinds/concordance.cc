// concordance: R's concordance(Surv(time, status) ~ EXPR) — how often, of two comparable
// patients, the one with the larger value lives longer (with reverse, dies sooner), and its
// infinitesimal-jackknife standard error. For a model fit at one site and validated at
// another, EXPR is its linear predictor written out. Across sites only with + strata(site):
// pairs are then compared within a site, and each site's counts and jackknife sums add up to
// the pooled result exactly; a pair of patients of two sites is compared by no one.
#include <cmath>
#include <nlohmann/json.hpp>

#include "passerelle/analysis/frames.h"
#include "passerelle/analysis/kind_support.h"
#include "passerelle/analysis/kinds/kinds.h"

namespace passerelle::analysis {
namespace {

// A concordance's frame has one column: the predictor.
Status OnePredictor() {
  return InvalidArgument(
      "concordance takes one predictor: Surv(time, status) ~ EXPR (+ strata(...)); write a "
      "model's linear predictor as one expression");
}

// R's concordance of a predictor: a larger value with a longer time is concordant, so the
// kernel's risk (higher: earlier event) is the predictor with its sign turned, unless reverse.
stats::ConcordanceAggregate Pairs(const stats::CoxKernel& kernel, bool reverse) {
  const double sign = reverse ? 1.0 : -1.0;
  return kernel.Concordance(std::span<const double>(&sign, 1));
}

ConcordanceOutput Finish(const stats::ConcordanceAggregate& c, double n) {
  ConcordanceOutput out;
  out.n = n;
  out.concordant = c.concordant;
  out.discordant = c.discordant;
  out.tied_x = c.tied_risk;
  out.tied_y = c.tied_time;
  out.tied_xy = c.tied_both;
  FinishConcordance(c, &out.concordance, &out.concordance_se);
  return out;
}

// At a site: a Cox model's machinery (its rules on the cohort, the events and a 0/1
// predictor) over the one predictor, then the pairs.
Status BuildPredictor(const json& task, const formula::Formula& f,
                      const formula::FrameOptions& options, const data::Table& table,
                      SiteModel* model) {
  RETURN_IF_ERROR(BuildCoxSiteModel(task, f, options, table, model));
  return model->p == 1 ? Status::Ok() : OnePredictor();
}

Result<std::string> PairsStep(const json& task, const SiteModel* model,
                              const privacy::Policy& policy) {
  RETURN_IF_ERROR(CheckModel(*model, policy));
  if (task.value("step", "") != "pairs") {
    return InvalidArgument("task: analysis 'concordance' has no step '" + task.value("step", "") +
                           "'");
  }
  json pairs = ConcordanceJson(Pairs(*model->cox, task.value("reverse", false)), policy);
  pairs["n"] = model->n;
  return pairs.dump();
}

Result<LocalRelease> SiteStep(const json& task, const data::Table& table,
                              const privacy::Policy& policy, LocalStepCache* cache) {
  return RunModelStep(task, table, policy, cache, BuildPredictor, PairsStep);
}

Result<AnalysisOutput> RunConcordance(const AnalysisRequest& request, const data::Table& table) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(request.formula));
  AnalysisOutput out;
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   StartFrame(request, f, table, formula::ModelKind::kCox, &out));
  if (m.p() != 1) return OnePredictor();
  const double n = static_cast<double>(m.n);
  const stats::CoxKernel kernel(CoxRowsFrom(std::move(m)));
  out.result = Finish(Pairs(kernel, request.reverse), n);
  return out;
}

json FirstStep(const AnalysisRequest& r) {
  return {{"analysis", "concordance"},
          {"subset", r.subset},
          {"formula", r.formula},
          {"step", "pairs"},
          {"reverse", r.reverse}};
}

json Signature(const json& step) {
  json sig = FormulaSignature(step);
  sig["reverse"] = step.value("reverse", false);
  return sig;
}

Result<AnalysisOutput> FederatedConcordance(const AnalysisRequest& request,
                                            const std::vector<SiteLink>& sites) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(request.formula));
  if (sites.size() > 1 && !HasSiteStrata(f)) {
    return InvalidArgument(
        "concordance across sites compares patients of different sites, which no site can: "
        "add + strata(site) to compare pairs within each site");
  }
  ASSIGN_OR_RETURN(std::vector<json> answers, AskAll(sites, FirstStep(request)));
  stats::ConcordanceAggregate sum;
  double n = 0;
  for (size_t s = 0; s < sites.size(); ++s) {
    RETURN_IF_ERROR(Reading(sites[s].name, [&] {
      n += SiteCount(answers[s].at("n"));
      sum.Add(ReadConcordance(answers[s]));
      return Status::Ok();
    }));
  }
  AnalysisOutput out;
  out.request = request;
  if (std::isnan(sum.tied_time)) {
    out.notes.push_back(
        "tied.y, tied.xy: a site withholds its pairs of events on one day (1 to k-1 of them); "
        "the concordance does not use them");
  }
  out.result = Finish(sum, n);
  return out;
}

std::string Method(const nlohmann::ordered_json& request, const nlohmann::ordered_json&) {
  return "Concordance of " + TextOf(request, "formula") +
         " (R's concordance), from each site's counts of concordant, discordant and tied pairs "
         "within the site and its infinitesimal-jackknife sums; equals the pooled value with "
         "strata(site).";
}

}  // namespace

AnalysisKind ConcordanceKind() {
  return {.name = "concordance",
          .summary = "Concordance (C-index) of a predictor with survival (R's concordance)",
          .options = {FormulaOption("Surv(time, event) ~ predictor (+ strata(site) across sites)"),
                      SubsetOption(),
                      {.name = "reverse",
                       .field = &AnalysisRequest::reverse,
                       .help = "A larger value goes with a shorter time (a risk score)"}},
          .plot = false,
          .run_federated = FederatedConcordance,
          .site_step = SiteStep,
          .run_local = RunConcordance,
          .first_step = FirstStep,
          .signature = Signature,
          .review = ReviewCoxModel,
          .method = Method};
}

}  // namespace passerelle::analysis
