// survfit: R's Kaplan-Meier curves, or with a factor event the Aalen-Johansen cumulative
// incidence of competing events. Each site answers its numbers at risk, events (of each cause)
// and censored records per group on the time grid ceil(t / bin_days) * bin_days; the hub's
// estimate from their sums is the pooled one on that grid (time_counts.cc).
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

// The sites' counts (`per_site`, named by `sites`) pooled into each group's curve, shown to the
// last time every site releases; a group a site withholds has no curve. `out` holds the request
// and its notes so far.
Result<AnalysisOutput> CombineSurvfit(AnalysisOutput out, const std::vector<std::string>& sites,
                                      const std::vector<std::vector<Cell>>& per_site,
                                      const std::vector<std::string>& event_levels) {
  SurvfitOutput km;
  km.SetStates(event_levels);
  for (const std::string& group : MergeLevels(CellLabels(per_site, &Cell::group))) {
    std::vector<const Cell*> cells;
    std::string withheld_by;
    for (size_t s = 0; s < sites.size(); ++s) {
      for (const Cell& c : per_site[s]) {
        if (c.group != group) continue;
        if (c.withheld) withheld_by = sites[s];
        cells.push_back(&c);
      }
    }
    if (!withheld_by.empty()) {
      out.notes.push_back(group + ": no curve; site " + withheld_by +
                          " withholds it (rule min_cell_count: fewer than k patients or events)");
      continue;
    }
    const double end = CommonEnd(cells);
    stats::TimeCounts pooled;
    for (const Cell* c : cells) {
      pooled = AddCounts(pooled, c->counts);
    }
    while (!pooled.time.empty() && pooled.time.back() > end) {
      pooled.time.pop_back();
      pooled.n_event.pop_back();
      pooled.n_censor.pop_back();
      for (auto& d : pooled.n_cause) d.pop_back();
    }
    if (end < std::numeric_limits<double>::infinity()) {
      out.notes.push_back(group + ": shown to day " + Day(end) +
                          "; after it a site has fewer than k patients at risk (rule "
                          "min_cell_count)");
    }
    km.strata.push_back(group);
    km.shown_to.push_back(end);
    km.Add(pooled);
  }
  if (km.strata.empty()) {
    return PermissionDenied("no group has a curve every site releases (rule min_cell_count)");
  }
  out.result = std::move(km);
  return out;
}

Status CheckGroups(const AnalysisRequest& request, const formula::Formula& f) {
  if (request.conf_type != "log") {
    return InvalidArgument("conf.type '" + request.conf_type + "' is not available (log)");
  }
  if (!f.strata.empty()) {
    return InvalidArgument(
        "survfit: put the grouping variables on the right-hand side; "
        "strata() belongs to coxph and survdiff");
  }
  return Status::Ok();
}

Result<AnalysisOutput> FederatedSurvfit(const AnalysisRequest& request,
                                        const std::vector<SiteLink>& sites) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(request.formula));
  RETURN_IF_ERROR(CheckGroups(request, f));
  AnalysisOutput out;
  out.request = request;
  out.request.bin_days = BinDaysOf(request);
  std::vector<double> omitted;
  std::vector<std::string> event_levels;
  ASSIGN_OR_RETURN(auto per_site,
                   AskCounts(out.request, out.request.bin_days, sites, &omitted, &event_levels));
  NoteOmitted(omitted, &out);
  std::vector<std::string> names;
  for (const SiteLink& site : sites) names.push_back(site.name);
  return CombineSurvfit(std::move(out), names, per_site, event_levels);
}

// Local mode: one table's counts, on its own times (or the request's grid), combined as the
// hub combines the sites'.
Result<AnalysisOutput> RunSurvfit(const AnalysisRequest& request, const data::Table& table) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(request.formula));
  RETURN_IF_ERROR(CheckGroups(request, f));
  AnalysisOutput out;
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   StartFrame(request, f, table, formula::ModelKind::kGroups, &out));
  const size_t causes = m.event_levels.empty() ? 0 : m.event_levels.size() - 1;
  std::vector<Cell> cells;
  for (size_t g = 0; g < m.group_labels.size(); ++g) {
    Cell c;
    c.group = m.group_labels[g];
    c.counts = stats::CountByTime(m.time, m.status, m.group, static_cast<int32_t>(g), causes);
    if (c.counts.n > 0) cells.push_back(std::move(c));
  }
  return CombineSurvfit(std::move(out), {"local"}, {cells}, m.event_levels);
}

Result<LocalRelease> SiteStep(const json& task, const data::Table& table,
                              const privacy::Policy& policy, LocalStepCache*) {
  const std::string step = task.value("step", "");
  if (step == "counts") return RunCountsStep(task, table, policy, /*competing=*/true);
  return InvalidArgument("task: analysis 'survfit' has no step '" + step + "'");
}

json FirstStep(const AnalysisRequest& r) {
  return {{"analysis", "survfit"},
          {"subset", r.subset},
          {"formula", r.formula},
          {"step", "counts"},
          {"bin_days", BinDaysOf(r)}};
}

std::string Method(const nlohmann::ordered_json& request, const nlohmann::ordered_json& results) {
  const std::string grid = std::to_string(request.value("bin_days", 30));
  if (results.is_object() && results.contains("states")) {
    return "Aalen–Johansen cumulative incidence of competing events " + TextOf(request, "formula") +
           " on a grid of " + grid +
           " days (each time rounded up to the grid), from the sites' numbers at risk and events "
           "of each cause; infinitesimal-jackknife standard errors and log-transformed 95% "
           "confidence intervals, as R's survfit with a factor event. Shown to the last time "
           "every site releases.";
  }
  return "Kaplan–Meier estimate " + TextOf(request, "formula") + " on a grid of " + grid +
         " days (each time rounded up to the grid), from the sites' numbers at risk and events; "
         "log-transformed 95% confidence intervals (Greenwood). Shown to the last time every "
         "site releases.";
}

}  // namespace

AnalysisKind SurvfitKind() {
  return {
      .name = "survfit",
      .summary = "Kaplan-Meier curves, or cumulative incidence of competing events (R's survfit)",
      .options = {FormulaOption("Surv(time, event) ~ groups (~ 1: one curve)"),
                  SubsetOption(),
                  {.name = "conf_type",
                   .field = &AnalysisRequest::conf_type,
                   .help = "Confidence interval type",
                   .choices = {"log"},
                   .always_written = true},
                  BinDaysOption()},
      .run_federated = FederatedSurvfit,
      .site_step = SiteStep,
      .run_local = RunSurvfit,
      .first_step = FirstStep,
      .signature = FormulaSignature,
      .review = [](const AnalysisRequest& r, const data::Table& table,
                   privacy::ReviewFigures* f) { return ReviewCurves(r, table, f, false); },
      .method = Method};
}

}  // namespace passerelle::analysis
