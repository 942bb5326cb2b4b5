// survdiff: R's log-rank and G-rho tests. With + strata(site) each site answers its own
// strata's observed, expected and variance on its exact times (the test is exact); without, the
// sites' counts on the time grid are pooled and the test computed on them (time_counts.cc).
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

// survdiff with site strata: each stratum's observed, expected and variance on the real times.
// Refused when a group of a stratum has 1 to k-1 patients or events.
Result<LocalRelease> RunLogrankStep(const json& task, const data::Table& table,
                                    const privacy::Policy& policy) {
  ASSIGN_OR_RETURN(formula::ModelFrame m, GroupsFrame(task, table, policy, /*competing=*/false));
  const size_t strata = m.strata_labels.empty() ? 1 : m.strata_labels.size();
  const size_t k = m.group_labels.size();
  json out = json::array();
  LocalRelease release;
  release.cohorts.push_back(privacy::Cohort::FromRows(m.rows, table.rows));
  for (size_t s = 0; s < strata; ++s) {
    const StratumRows r = RowsOfStratum(m, s);
    for (size_t g = 0; g < k; ++g) {
      privacy::Cohort group = GroupCohort(r, g, table.rows);
      if (group.size == 0) continue;
      release.cohorts.push_back(std::move(group));
      AddEventCounts(r, g, 0, table.rows, &release);
    }
    const stats::LogrankAggregate a =
        stats::LogrankStratum(r.time, r.status, r.group, k, task.value("rho", 0.0));
    for (size_t g = 0; g < k; ++g) {
      RETURN_IF_ERROR(privacy::CheckLogrankGroup(a.n[g], a.obs[g], policy));
    }
    out.push_back({{"stratum", m.strata_labels.empty() ? "" : m.strata_labels[s]},
                   {"n", a.n},
                   {"obs", a.obs},
                   {"exp", a.exp},
                   {"var", a.var}});
  }
  release.aggregate =
      json{{"groups", m.group_labels},
           {"strata", out},
           {"omitted", ReleasableCount(static_cast<double>(m.n_omitted_na), policy)}}
          .dump();
  return release;
}

Result<AnalysisOutput> RunSurvdiff(const AnalysisRequest& request, const data::Table& table) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(request.formula));
  AnalysisOutput out;
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   StartFrame(request, f, table, formula::ModelKind::kGroups, &out));
  const size_t k = m.group_labels.size();
  if (k < 2) return InvalidArgument("survdiff needs at least two groups");
  if (!m.event_levels.empty()) {
    return InvalidArgument("survdiff compares one kind of event: give it as 0/1 or a condition");
  }
  const size_t strata = m.strata_labels.empty() ? 1 : m.strata_labels.size();
  std::vector<stats::LogrankAggregate> per_stratum;
  for (size_t s = 0; s < strata; ++s) {  // each stratum as a site computes it
    const StratumRows r = RowsOfStratum(m, s);
    per_stratum.push_back(stats::LogrankStratum(r.time, r.status, r.group, k, request.rho));
  }
  out.result = SurvdiffFromStrata(request.rho, m.group_labels, m.strata_labels, per_stratum);
  return out;
}

// survdiff with strata(site): each site's per-stratum sums, groups mapped to the merged order.
Result<AnalysisOutput> ExactSurvdiff(const AnalysisRequest& request,
                                     const std::vector<SiteLink>& sites) {
  const json task = {{"analysis", "survdiff"},
                     {"step", "logrank"},
                     {"formula", request.formula},
                     {"subset", request.subset},
                     {"rho", request.rho}};
  ASSIGN_OR_RETURN(std::vector<json> answers, AskAll(sites, task));
  std::vector<std::vector<std::string>> site_groups(sites.size());
  std::vector<double> omitted;
  for (size_t s = 0; s < sites.size(); ++s) {
    RETURN_IF_ERROR(Reading(sites[s].name, [&] {
      site_groups[s] = answers[s].at("groups").get<std::vector<std::string>>();
      omitted.push_back(SiteCountOrNaN(answers[s].at("omitted")));
      return Status::Ok();
    }));
  }
  const std::vector<std::string> groups = MergeLevels(site_groups);
  const size_t k = groups.size();
  if (k < 2) return InvalidArgument("survdiff needs at least two groups");
  std::vector<std::string> strata;
  std::vector<stats::LogrankAggregate> per_stratum;
  for (size_t s = 0; s < sites.size(); ++s) {
    std::vector<size_t> to;
    for (const std::string& g : site_groups[s]) {
      to.push_back(std::find(groups.begin(), groups.end(), g) - groups.begin());
    }
    const size_t kl = to.size();
    RETURN_IF_ERROR(Reading(sites[s].name, [&]() -> Status {
      for (const json& j : answers[s].at("strata")) {
        stats::LogrankAggregate a;
        a.groups = k;
        a.n.assign(k, 0.0);
        a.obs.assign(k, 0.0);
        a.exp.assign(k, 0.0);
        a.var.assign(k * k, 0.0);
        const auto n = SiteCounts(j.at("n"));
        const auto obs = SiteCounts(j.at("obs"));
        const auto exp = j.at("exp").get<std::vector<double>>();
        const auto var = j.at("var").get<std::vector<double>>();
        if (n.size() != kl || obs.size() != kl || exp.size() != kl || var.size() != kl * kl) {
          return Unavailable("site " + sites[s].name + ": answered sums of the wrong size");
        }
        for (size_t g = 0; g < kl; ++g) {
          a.n[to[g]] = n[g];
          a.obs[to[g]] = obs[g];
          a.exp[to[g]] = exp[g];
          for (size_t h = 0; h < kl; ++h) a.var[to[g] * k + to[h]] = var[g * kl + h];
        }
        strata.push_back(j.at("stratum").get<std::string>());
        per_stratum.push_back(std::move(a));
      }
      return Status::Ok();
    }));
  }
  AnalysisOutput out;
  out.request = request;
  NoteOmitted(omitted, &out);
  out.result = SurvdiffFromStrata(request.rho, groups, strata, per_stratum);
  return out;
}

// survdiff without site strata: the pooled risk sets on the time grid, rebuilt from the sites'
// counts up to the last time every site releases (later subjects count as censored after it).
Result<AnalysisOutput> GridSurvdiff(const AnalysisRequest& request,
                                    const std::vector<SiteLink>& sites) {
  AnalysisOutput out;
  out.request = request;
  out.request.bin_days = request.bin_days > 0 ? request.bin_days : kDefaultBinDays;
  const double bin = out.request.bin_days;
  std::vector<double> omitted;
  std::vector<std::string> event_levels;  // the nodes refuse competing events for survdiff
  ASSIGN_OR_RETURN(auto per_site, AskCounts(out.request, bin, sites, &omitted, &event_levels));
  NoteOmitted(omitted, &out);
  std::vector<const Cell*> cells;
  for (size_t s = 0; s < sites.size(); ++s) {
    for (const Cell& c : per_site[s]) {
      if (c.withheld) {
        return PermissionDenied("site " + sites[s].name + ": rule min_cell_count: it withholds " +
                                c.group + " (fewer than k patients or events)");
      }
      cells.push_back(&c);
    }
  }
  const std::vector<std::string> groups = MergeLevels(CellLabels(per_site, &Cell::group));
  std::vector<std::string> strata = MergeLevels(CellLabels(per_site, &Cell::stratum));
  if (groups.size() < 2) return InvalidArgument("survdiff needs at least two groups");
  const double end = CommonEnd(cells);
  std::vector<stats::LogrankAggregate> per_stratum;
  for (const std::string& stratum : strata) {
    std::vector<double> time, status;
    std::vector<int32_t> group;
    for (const Cell* c : cells) {
      if (c->stratum != stratum) continue;
      const int32_t g =
          static_cast<int32_t>(std::find(groups.begin(), groups.end(), c->group) - groups.begin());
      double remaining = c->counts.n;
      auto add = [&](double t, double st, double count) {
        time.insert(time.end(), static_cast<size_t>(count), t);
        status.insert(status.end(), static_cast<size_t>(count), st);
        group.insert(group.end(), static_cast<size_t>(count), g);
        remaining -= count;
      };
      for (size_t j = 0; j < c->counts.time.size() && c->counts.time[j] <= end; ++j) {
        add(c->counts.time[j], 1, c->counts.n_event[j]);
        add(c->counts.time[j], 0, c->counts.n_censor[j]);
      }
      if (remaining > 0) add(end + bin, 0, remaining);
    }
    per_stratum.push_back(stats::LogrankStratum(time, status, group, groups.size(), request.rho));
  }
  if (end < std::numeric_limits<double>::infinity()) {
    out.notes.push_back("log-rank test over days 0 to " + Day(end) +
                        "; after it a site has fewer than k patients at risk (rule "
                        "min_cell_count)");
  }
  if (strata.size() == 1 && strata[0].empty()) strata.clear();
  out.result = SurvdiffFromStrata(request.rho, groups, strata, per_stratum);
  return out;
}

Result<LocalRelease> SiteStep(const json& task, const data::Table& table,
                              const privacy::Policy& policy, LocalStepCache*) {
  const std::string step = task.value("step", "");
  if (step == "counts") return RunCountsStep(task, table, policy, /*competing=*/false);
  if (step == "logrank") return RunLogrankStep(task, table, policy);
  return InvalidArgument("task: analysis 'survdiff' has no step '" + step + "'");
}

Result<AnalysisOutput> Federated(const AnalysisRequest& request,
                                 const std::vector<SiteLink>& sites) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(request.formula));
  return HasSiteStrata(f) ? ExactSurvdiff(request, sites) : GridSurvdiff(request, sites);
}

// The exact log-rank step with site strata, else counts on the grid (so no one can ask the
// exact times of a test approved on the grid).
json FirstStep(const AnalysisRequest& r) {
  const Result<formula::Formula> f = formula::ParseFormula(r.formula);
  if (f.ok() && HasSiteStrata(*f)) {
    return {{"analysis", "survdiff"},
            {"subset", r.subset},
            {"formula", r.formula},
            {"step", "logrank"},
            {"rho", r.rho}};
  }
  return {{"analysis", "survdiff"},
          {"subset", r.subset},
          {"formula", r.formula},
          {"step", "counts"},
          {"bin_days", BinDaysOf(r)}};
}

std::string Method(const nlohmann::ordered_json& request, const nlohmann::ordered_json&) {
  return "Log-rank test " + TextOf(request, "formula") +
         " (G-rho, rho = " + nlohmann::ordered_json(request.value("rho", 0.0)).dump() +
         "), from the sites' observed and expected events and variances.";
}

}  // namespace

AnalysisKind SurvdiffKind() {
  return {
      .name = "survdiff",
      .summary = "Log-rank and G-rho tests (R's survdiff)",
      .options = {FormulaOption("Surv(time, event) ~ groups (+ strata(site): exact across sites)"),
                  SubsetOption(),
                  {.name = "rho",
                   .field = &AnalysisRequest::rho,
                   .help = "0: log-rank, 1: Peto-Peto",
                   .always_written = true,
                   .negative_allowed = true},
                  BinDaysOption()},
      .plot = false,
      .run_federated = Federated,
      .site_step = SiteStep,
      .run_local = RunSurvdiff,
      .first_step = FirstStep,
      .signature = FormulaSignature,
      .review = [](const AnalysisRequest& r, const data::Table& table,
                   privacy::ReviewFigures* f) { return ReviewCurves(r, table, f, true); },
      .method = Method};
}

}  // namespace passerelle::analysis
