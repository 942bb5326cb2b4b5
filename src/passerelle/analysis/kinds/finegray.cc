// finegray: the Fine–Gray model of a competing risk, as R's finegray() then coxph(). Each
// record with a competing event stays in the risk set past its event, on rows weighted by the
// censoring distribution G (a Kaplan–Meier of censoring, within each stratum); the Cox model of
// those rows, with the weights, is the subdistribution hazards model. Across sites only with
// + strata(site): each site's G is then its own, as in R's pooled fit with strata(site), and
// the site's expanded rows never leave it — the Cox driver sums their risk sets as for coxph.
#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "passerelle/analysis/frames.h"
#include "passerelle/analysis/kind_support.h"
#include "passerelle/analysis/kinds/kinds.h"

namespace passerelle::analysis {
namespace {

// A Fine–Gray model's rows: the records' model frame (for the site's rules), and its expansion.
struct FineGrayRows {
  formula::ModelFrame frame;  // the records with every variable of the model
  stats::CoxRows rows;        // the expanded (start, stop] rows with their weights
  double events = 0;          // events of the cause
  size_t omitted = 0;         // expanded rows of records with a missing covariate (R's coxph)
};

// The censoring distribution of one stratum, as R's finegray: a Kaplan–Meier of censoring in
// which events (of any cause) at a time leave the risk set before the censorings at that time.
// `cut` holds the censoring times then the stratum's last time, `prob` the probability of the
// interval ending at each cut (1, G(c1), G(c2), ...), `keep` whether an event of the cause falls
// in that interval (R's finegray.c).
struct Censoring {
  std::vector<double> cut, prob;
  std::vector<bool> keep;
};

Censoring CensoringOf(const std::vector<double>& time, const std::vector<double>& status,
                      const std::vector<size_t>& rows, double cause) {
  std::vector<size_t> order = rows;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return time[a] < time[b]; });
  Censoring c;
  c.prob.push_back(1);
  double g = 1, last = 0;
  std::vector<double> event_times;
  for (size_t k = 0; k < order.size();) {
    const double t = time[order[k]];
    size_t j = k;
    double censored = 0, events = 0;
    for (; j < order.size() && time[order[j]] == t; ++j) {
      if (status[order[j]] == 0) {
        censored += 1;
      } else {
        events += 1;
        if (status[order[j]] == cause) event_times.push_back(t);
      }
    }
    if (censored > 0) {
      const double at_risk = static_cast<double>(order.size() - k) - events;
      g *= 1 - censored / at_risk;
      c.cut.push_back(t);
      c.prob.push_back(g);
    }
    last = t;
    k = j;
  }
  c.cut.push_back(last);  // the stratum's last time closes the last interval
  c.keep.assign(c.cut.size(), false);
  for (double t : event_times) {
    // The interval (cut[j - 1], cut[j]] holding t.
    const size_t j =
        static_cast<size_t>(std::lower_bound(c.cut.begin(), c.cut.end(), t) - c.cut.begin());
    if (j < c.keep.size()) c.keep[j] = true;
  }
  return c;
}

Result<FineGrayRows> ExpandFineGray(const AnalysisRequest& request, const formula::Formula& f,
                                    const data::Table& table, formula::FrameOptions options) {
  options.competing_events = true;
  // The records whose time, event and strata are known estimate G, whatever their covariates
  // (R's finegray passes missing values on; coxph drops their rows afterwards).
  formula::Formula survival = f;
  survival.terms.clear();
  ASSIGN_OR_RETURN(
      formula::ModelFrame all,
      formula::BuildModelFrame(survival, table, formula::ModelKind::kCox, request.subset, options));
  if (all.event_levels.empty()) {
    return InvalidArgument(
        "finegray: the event must be a factor whose first level is censoring and whose other "
        "levels are the competing events");
  }
  const auto level = std::find(all.event_levels.begin() + 1, all.event_levels.end(), request.cause);
  if (level == all.event_levels.end()) {
    return InvalidArgument("cause: '" + request.cause + "' is not an event level (" +
                           Join({all.event_levels.begin() + 1, all.event_levels.end()}, ", ") +
                           ")");
  }
  const double cause = static_cast<double>(level - all.event_levels.begin());
  FineGrayRows out;
  ASSIGN_OR_RETURN(out.frame, formula::BuildModelFrame(f, table, formula::ModelKind::kCox,
                                                       request.subset, options));
  const formula::ModelFrame& m = out.frame;
  // R's start of every first row: 0, or below the earliest time when one is 0 or less.
  double earliest = all.time.empty() ? 1 : *std::min_element(all.time.begin(), all.time.end());
  const double zero = earliest > 0 ? 0 : 2 * earliest - 1;
  std::map<size_t, size_t> in_model;  // table row -> row of the model frame
  for (size_t k = 0; k < m.n; ++k) in_model[m.rows[k]] = k;
  std::map<std::string, int32_t> model_stratum;
  for (size_t s = 0; s < m.strata_labels.size(); ++s) {
    model_stratum[m.strata_labels[s]] = static_cast<int32_t>(s);
  }
  const size_t strata = std::max<size_t>(1, all.strata_labels.size());
  stats::CoxRows& rows = out.rows;
  rows.p = m.p();
  std::vector<size_t> source;  // the model frame's row of each expanded row
  for (size_t s = 0; s < strata; ++s) {
    std::vector<size_t> members;
    for (size_t k = 0; k < all.n; ++k) {
      if (all.strata.empty() || all.strata[k] == static_cast<int32_t>(s)) members.push_back(k);
    }
    const bool any_event = std::any_of(members.begin(), members.end(),
                                       [&](size_t k) { return all.status[k] == cause; });
    if (!any_event) continue;  // R's finegray leaves out a stratum without an event of the cause
    const Censoring g = CensoringOf(all.time, all.status, members, cause);
    for (size_t k : members) {
      const auto found = in_model.find(all.rows[k]);
      const bool used = found != in_model.end();
      auto add = [&](double start, double stop, double status, double weight) {
        if (!used) {
          ++out.omitted;
          return;
        }
        source.push_back(found->second);
        rows.start.push_back(start);
        rows.stop.push_back(stop);
        rows.status.push_back(status);
        rows.weight.push_back(weight);
        out.events += status;
      };
      const double t = all.time[k], status = all.status[k];
      if (status == 0 || status == cause) {
        add(zero, t, status == cause ? 1 : 0, 1);
        continue;
      }
      // A competing event: at risk to the end of its censoring interval, then on each later
      // interval holding an event of the cause, weighted G(interval) / G(its own).
      size_t j =
          static_cast<size_t>(std::lower_bound(g.cut.begin(), g.cut.end(), t) - g.cut.begin());
      add(zero, g.cut[j], 0, 1);
      const double own = g.prob[j];
      for (++j; j < g.cut.size(); ++j) {
        if (g.keep[j]) add(g.cut[j - 1], g.cut[j], 0, g.prob[j] / own);
      }
    }
  }
  if (source.empty()) {
    return InvalidArgument("finegray: no event of '" + request.cause + "' in the records");
  }
  const size_t n = source.size();
  rows.x.resize(n * rows.p);
  for (size_t j = 0; j < rows.p; ++j) {
    for (size_t r = 0; r < n; ++r) rows.x[j * n + r] = m.X(source[r], j);
  }
  if (!m.strata.empty()) {
    for (size_t r = 0; r < n; ++r) rows.strata.push_back(m.strata[source[r]]);
  }
  return out;
}

json FirstStep(const AnalysisRequest& r) {
  return {{"analysis", "finegray"}, {"subset", r.subset}, {"formula", r.formula},
          {"step", "design"},       {"ties", r.ties},     {"cause", r.cause}};
}

Result<AnalysisOutput> RunFineGray(const AnalysisRequest& request, const data::Table& table) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(request.formula));
  if (!f.clusters.empty() || f.surv.size() != 2) {
    return InvalidArgument("finegray takes Surv(time, event) ~ covariates (+ strata(...))");
  }
  ASSIGN_OR_RETURN(stats::Ties ties, ParseTies(request.ties));
  ASSIGN_OR_RETURN(FineGrayRows fg, ExpandFineGray(request, f, table, {}));
  AnalysisOutput out;
  out.request = request;
  if (fg.omitted) {
    out.notes.push_back(std::to_string(fg.omitted) + " observation" + (fg.omitted == 1 ? "" : "s") +
                        " deleted due to missingness");
  }
  CoxphOutput cox;
  cox.n_omitted_na = fg.omitted;
  cox.ties = request.ties;
  double total = 0;
  for (double sum : WeightedColumnSums(fg.rows, &total)) cox.means.push_back(sum / total);
  bool whole = true;
  for (double w : fg.rows.weight) whole = whole && w == std::floor(w);
  CoxphOptions options;
  options.ties = ties;
  ASSIGN_OR_RETURN(options.robust, RobustVariance(request, f, whole, &out));
  const std::vector<std::string> names = fg.frame.coef_names;
  const stats::CoxKernel kernel(std::move(fg.rows));
  LocalCoxSite site(&kernel);
  ASSIGN_OR_RETURN(cox.fit, FitCoxph({&site}, names, options));
  for (const std::string& w : cox.fit.warnings) out.notes.push_back("warning: " + w);
  out.result = std::move(cox);
  return out;
}

Result<AnalysisOutput> FederatedFineGray(const AnalysisRequest& request,
                                         const std::vector<SiteLink>& sites) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(request.formula));
  if (!HasSiteStrata(f)) {
    return FailedPrecondition(
        "finegray across sites needs + strata(site): each site's censoring distribution is then "
        "its own, and the pooled fit is the sum of the sites' risk sets");
  }
  return FederatedCox(request, sites, FirstStep(request));
}

// At a site: the expansion of its own records, and a Cox model's rules and steps on it.
Status BuildFineGraySiteModel(const json& task, const formula::Formula& f,
                              const formula::FrameOptions& options, const data::Table& table,
                              SiteModel* model) {
  AnalysisRequest request;
  request.subset = task.value("subset", "");
  request.cause = task.value("cause", "");
  ASSIGN_OR_RETURN(FineGrayRows fg, ExpandFineGray(request, f, table, options));
  model->events = fg.events;
  for (double w : fg.rows.weight) model->whole_weights = model->whole_weights && w == std::floor(w);
  RETURN_IF_ERROR(DescribeFrame(fg.frame, table, /*cross_products=*/false, model));
  model->omitted = static_cast<double>(fg.omitted);
  model->mean_sums = WeightedColumnSums(fg.rows, &model->mean_total);
  model->cox = std::make_unique<stats::CoxKernel>(std::move(fg.rows));
  return Status::Ok();
}

Result<LocalRelease> SiteStep(const json& task, const data::Table& table,
                              const privacy::Policy& policy, LocalStepCache* cache) {
  return RunModelStep(task, table, policy, cache, BuildFineGraySiteModel, CoxStep);
}

json Signature(const json& step) {
  json sig = FormulaSignature(step);
  sig["ties"] = step.value("ties", "efron");
  sig["cause"] = step.value("cause", "");
  return sig;
}

std::string Method(const nlohmann::ordered_json& request, const nlohmann::ordered_json&) {
  return "Fine–Gray subdistribution hazards model " + TextOf(request, "formula") + " for '" +
         TextOf(request, "cause") + "' (ties: " + TextOf(request, "ties") +
         "): R's finegray() expansion with censoring weights from each stratum's Kaplan–Meier "
         "of censoring, then a weighted Cox model with a robust variance; across sites each site "
         "is its own stratum and the estimate equals the pooled fit.";
}

}  // namespace

AnalysisKind FineGrayKind() {
  return {.name = "finegray",
          .summary = "Fine–Gray model of a competing risk (R's finegray + coxph)",
          .options = {FormulaOption("Surv(time, event) ~ covariates, event a factor of causes"),
                      SubsetOption(),
                      {.name = "cause",
                       .field = &AnalysisRequest::cause,
                       .help = "The event level of interest (R's etype)",
                       .required = true},
                      TiesOption({"efron", "breslow"})},
          .run_federated = FederatedFineGray,
          .site_step = SiteStep,
          .run_local = RunFineGray,
          .first_step = FirstStep,
          .signature = Signature,
          .review =
              [](const AnalysisRequest& r, const data::Table& table, privacy::ReviewFigures* f) {
                formula::FrameOptions options;
                options.competing_events = true;
                return ReviewModel(r, table, formula::ModelKind::kCox, f, options);
              },
          .method = Method};
}

}  // namespace passerelle::analysis
