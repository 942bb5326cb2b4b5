// calibration: external validation of a survival model at a time t. The model's linear
// predictor is written in the formula (its coefficients from the site that fitted it), with its
// baseline survival S0(t); each record's predicted risk is 1 - S0(t)^exp(lp). The records are
// cut into groups of the predictor (R's cut at its quantiles: tenths by default), and each
// group's mean predicted risk is set against the Kaplan–Meier risk observed by t. Across sites
// each site groups its own records and releases, per group of at least k records, the mean
// prediction and the Kaplan–Meier estimate on its time grid; a group with 1 to k-1 events by t
// keeps its observed risk home. Groups are never pooled across sites (a site's tenths are its
// own).
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "passerelle/analysis/kind_support.h"
#include "passerelle/analysis/kinds/kinds.h"

namespace passerelle::analysis {
namespace {

Status CheckOptions(const AnalysisRequest& r) {
  if (!(r.at_time > 0)) return InvalidArgument("time: the time of the prediction, above 0");
  if (!(r.baseline > 0 && r.baseline < 1)) {
    return InvalidArgument("baseline: the model's baseline survival at the time, in (0, 1)");
  }
  const double groups = r.groups == 0 ? 10 : r.groups;
  if (groups < 2 || groups > 100 || groups != std::floor(groups)) {
    return InvalidArgument("groups: a whole number from 2 to 100");
  }
  return Status::Ok();
}

// R's quantile (type 7) of sorted values.
double Quantile(const std::vector<double>& sorted, double q) {
  const double h = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

// Each row's group of the predictor, 0-based: R's cut(lp, unique(quantile(lp, 0:G / G)),
// include.lowest = TRUE); the number of groups is that of the distinct breaks less one.
std::vector<int> GroupsOf(const std::vector<double>& lp, int groups, int* count) {
  std::vector<double> sorted = lp;
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> breaks;
  for (int g = 0; g <= groups; ++g) {
    const double b = Quantile(sorted, static_cast<double>(g) / groups);
    if (breaks.empty() || b != breaks.back()) breaks.push_back(b);
  }
  *count = std::max(1, static_cast<int>(breaks.size()) - 1);
  std::vector<int> out(lp.size());
  for (size_t i = 0; i < lp.size(); ++i) {
    // The interval (b[g], b[g + 1]], the first closed on the left.
    const size_t upper = static_cast<size_t>(
        std::lower_bound(breaks.begin() + 1, breaks.end(), lp[i]) - breaks.begin());
    out[i] = std::min(static_cast<int>(upper) - 1, *count - 1);
    out[i] = std::max(out[i], 0);
  }
  return out;
}

// The groups of a frame (one column: the predictor), times on the grid `bin` (0: exact).
Result<std::vector<CalibrationGroup>> Calibrate(const formula::ModelFrame& m,
                                                const AnalysisRequest& r, double bin) {
  if (m.p() != 1) {
    return InvalidArgument(
        "calibration takes one predictor: Surv(time, status) ~ LINEAR_PREDICTOR, the model's "
        "coefficients written out");
  }
  if (!m.strata.empty() || !m.start.empty()) {
    return InvalidArgument("calibration takes Surv(time, status) ~ predictor, no strata");
  }
  std::vector<double> lp(m.x.begin(), m.x.end()), time = m.time;
  if (bin > 0) {
    for (double& t : time) t = privacy::BinTime(t, bin);
  }
  int count = 0;
  const std::vector<int> group =
      GroupsOf(lp, static_cast<int>(r.groups == 0 ? 10 : r.groups), &count);
  std::vector<CalibrationGroup> out(static_cast<size_t>(count));
  std::vector<int32_t> codes(group.begin(), group.end());
  for (int g = 0; g < count; ++g) {
    CalibrationGroup& c = out[static_cast<size_t>(g)];
    c.group = g + 1;
    double predicted = 0;
    for (size_t i = 0; i < lp.size(); ++i) {
      if (group[i] != g) continue;
      c.n += 1;
      predicted += 1 - std::pow(r.baseline, std::exp(lp[i]));
      c.events += m.status[i] != 0 && time[i] <= r.at_time;
    }
    c.predicted = predicted / c.n;
    const stats::KaplanMeier km =
        stats::ComputeKaplanMeier(stats::CountByTime(time, m.status, codes, g), 0.95);
    // S(t): the estimate at the last time at or before t (1 before the first).
    double surv = 1, lower = 1, upper = 1;
    for (size_t k = 0; k < km.time.size() && km.time[k] <= r.at_time; ++k) {
      surv = km.surv[k];
      lower = km.lower[k];
      upper = km.upper[k];
    }
    c.observed = 1 - surv;
    c.lower = 1 - upper;
    c.upper = 1 - lower;
  }
  return out;
}

Result<AnalysisOutput> RunCalibration(const AnalysisRequest& request, const data::Table& table) {
  RETURN_IF_ERROR(CheckOptions(request));
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(request.formula));
  AnalysisOutput out;
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   StartFrame(request, f, table, formula::ModelKind::kCox, &out));
  CalibrationOutput c;
  c.time = request.at_time;
  c.baseline = request.baseline;
  ASSIGN_OR_RETURN(c.groups, Calibrate(m, request, 0));
  out.result = std::move(c);
  return out;
}

json FirstStep(const AnalysisRequest& r) {
  return {{"analysis", "calibration"},
          {"subset", r.subset},
          {"formula", r.formula},
          {"step", "groups"},
          {"time", r.at_time},
          {"baseline", r.baseline},
          {"groups", r.groups == 0 ? 10 : r.groups},
          {"bin_days", BinDaysOf(r)}};
}

Result<LocalRelease> SiteStep(const json& task, const data::Table& table,
                              const privacy::Policy& policy, LocalStepCache*) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(task.value("formula", "")));
  const std::string subset = task.value("subset", "");
  RETURN_IF_ERROR(CheckSurvival(f, subset, table, policy));
  RETURN_IF_ERROR(CheckTerms(f, policy));
  const double bin = task.value("bin_days", kDefaultBinDays);
  RETURN_IF_ERROR(privacy::CheckTimeGrid(bin, policy));
  AnalysisRequest r;
  r.at_time = task.value("time", 0.0);
  r.baseline = task.value("baseline", 0.0);
  r.groups = task.value("groups", 10.0);
  RETURN_IF_ERROR(CheckOptions(r));
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   formula::BuildModelFrame(f, table, formula::ModelKind::kCox, subset));
  RETURN_IF_ERROR(privacy::CheckCohortSize(static_cast<double>(m.n), policy));
  ASSIGN_OR_RETURN(std::vector<CalibrationGroup> groups, Calibrate(m, r, bin));
  // The records of each group, and its events by t: populations and counts for the ledger.
  int count = 0;
  const std::vector<int> group =
      GroupsOf(std::vector<double>(m.x.begin(), m.x.end()), static_cast<int>(r.groups), &count);
  LocalRelease release;
  json answer = json::array();
  for (const CalibrationGroup& c : groups) {
    std::vector<size_t> rows, events;
    for (size_t i = 0; i < m.n; ++i) {
      if (group[i] != c.group - 1) continue;
      rows.push_back(m.rows[i]);
      if (m.status[i] != 0 && privacy::BinTime(m.time[i], bin) <= r.at_time) {
        events.push_back(m.rows[i]);
      }
    }
    const bool shown = !ReleasableCount(c.n, policy).is_null();
    const bool observed = shown && !ReleasableCount(c.events, policy).is_null();
    if (shown) release.cohorts.push_back(privacy::Cohort::FromRows(rows, table.rows));
    if (observed) release.counts.push_back(privacy::Cohort::FromRows(events, table.rows));
    answer.push_back({{"group", c.group},
                      {"n", ReleasableCount(c.n, policy)},
                      {"events", observed ? json(c.events) : json()},
                      {"predicted", shown ? json(c.predicted) : json()},
                      {"observed", observed ? json(c.observed) : json()},
                      {"lower", observed ? json(c.lower) : json()},
                      {"upper", observed ? json(c.upper) : json()}});
  }
  release.aggregate = json{{"groups", answer}}.dump();
  return release;
}

Result<AnalysisOutput> FederatedCalibration(const AnalysisRequest& request,
                                            const std::vector<SiteLink>& sites) {
  RETURN_IF_ERROR(CheckOptions(request));
  ASSIGN_OR_RETURN(std::vector<json> answers, AskAll(sites, FirstStep(request)));
  CalibrationOutput c;
  c.time = request.at_time;
  c.baseline = request.baseline;
  for (size_t s = 0; s < sites.size(); ++s) {
    auto read = [&]() -> Status {
      for (const json& g : answers[s].at("groups")) {
        CalibrationGroup row;
        row.site = sites[s].name;
        row.group = g.at("group").get<int>();
        row.n = SiteCountOrNaN(g.at("n"));
        row.events = SiteCountOrNaN(g.at("events"));
        row.predicted = NumberOrNaN(g.at("predicted"));
        row.observed = NumberOrNaN(g.at("observed"));
        row.lower = NumberOrNaN(g.at("lower"));
        row.upper = NumberOrNaN(g.at("upper"));
        c.groups.push_back(row);
      }
      return Status::Ok();
    };
    RETURN_IF_ERROR(Reading(sites[s].name, read));
  }
  AnalysisOutput out;
  out.request = request;
  out.notes.push_back("each site groups its own records by the predictor; times on the " +
                      Day(BinDaysOf(request)) + "-day grid");
  out.result = std::move(c);
  return out;
}

json Signature(const json& step) {
  json sig = FormulaSignature(step);
  for (const char* key : {"time", "baseline", "groups", "bin_days"}) {
    sig[key] = step.value(key, 0.0);
  }
  return sig;
}

std::string Method(const nlohmann::ordered_json& request, const nlohmann::ordered_json&) {
  return "Calibration at time " + (request.contains("time") ? request["time"].dump() : "") +
         " of the linear predictor " + TextOf(request, "formula") +
         ": per group of the predictor, the mean predicted risk 1 - S0(t)^exp(lp) against the "
         "Kaplan–Meier risk observed by t (each site its own groups).";
}

}  // namespace

AnalysisKind CalibrationKind() {
  return {.name = "calibration",
          .summary = "Calibration at a time of a model's linear predictor (external validation)",
          .options = {FormulaOption("Surv(time, event) ~ the model's linear predictor written out"),
                      SubsetOption(),
                      {.name = "time",
                       .field = &AnalysisRequest::at_time,
                       .help = "The time of the prediction (days)",
                       .required = true},
                      {.name = "baseline",
                       .field = &AnalysisRequest::baseline,
                       .help = "The model's baseline survival S0 at that time, in (0, 1)",
                       .required = true},
                      {.name = "groups",
                       .field = &AnalysisRequest::groups,
                       .help = "Groups of the predictor (default 10: its tenths)",
                       .always_written = true,
                       .written_default = 10},
                      BinDaysOption()},
          .run_federated = FederatedCalibration,
          .site_step = SiteStep,
          .run_local = RunCalibration,
          .first_step = FirstStep,
          .signature = Signature,
          .review = ReviewCoxModel,
          .method = Method};
}

}  // namespace passerelle::analysis
