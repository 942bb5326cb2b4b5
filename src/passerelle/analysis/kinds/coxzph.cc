// coxzph: R's cox.zph — is proportional hazards plausible? For each term, the score test of its
// coefficient changing linearly in g(time) at the fitted Cox model, and the global test. The
// test needs, per event time, the score and information of the model, summed plain and
// weighted by g and g^2: sums over each site's risk sets, so with the model stratified by site
// they add up to the pooled test, for a g every site computes alone (identity, log). The km and
// rank transforms need the pooled survival curve or ranks at every event time: local mode only.
// Individual residuals never leave a site; the diagnostic plot is the per-term test.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "passerelle/analysis/frames.h"
#include "passerelle/analysis/kind_support.h"
#include "passerelle/analysis/kinds/kinds.h"
#include "passerelle/stats/distributions.h"
#include "passerelle/stats/linalg.h"

namespace passerelle::analysis {
namespace {

constexpr double kToler = 1.8189894035458565e-12;  // R's coxph toler.chol

// g(t) of a transform every site computes on its own; nullptr for the others.
double (*SiteTransform(const std::string& transform))(double) {
  if (transform == "identity") return [](double t) { return t; };
  if (transform == "log") return [](double t) { return std::log(t); };
  return nullptr;
}

// R's table from the summed aggregates: g centred by its mean over the events, then per term
// (its columns jj) u' I^-1 u with u = (0, U_g[jj]) and I the information of (beta, beta_g[jj]).
CoxZphOutput Table(const stats::ZphAggregate& a, const std::vector<std::string>& column_terms,
                   const std::string& transform) {
  const size_t p = a.u.size();
  const double c = a.g_events / a.events;
  std::vector<double> u2(p), i12(p * p), i22(p * p);
  for (size_t j = 0; j < p; ++j) u2[j] = a.gu[j] - c * a.u[j];
  for (size_t k = 0; k < p * p; ++k) {
    i12[k] = a.g_info[k] - c * a.info[k];
    i22[k] = a.g2_info[k] - 2 * c * a.g_info[k] + c * c * a.info[k];
  }
  auto test = [&](const std::vector<size_t>& jj) {
    const size_t q = p + jj.size();
    std::vector<double> m(q * q), u(q, 0.0);
    for (size_t r = 0; r < q; ++r) {
      for (size_t s = 0; s < q; ++s) {
        const bool r2 = r >= p, s2 = s >= p;
        const size_t a_r = r2 ? jj[r - p] : r, a_s = s2 ? jj[s - p] : s;
        m[r * q + s] = !r2 && !s2 ? a.info[a_r * p + a_s]
                       : r2 && s2 ? i22[a_r * p + a_s]
                                  : i12[a_r * p + a_s];
      }
    }
    for (size_t k = 0; k < jj.size(); ++k) u[p + k] = u2[jj[k]];
    return stats::QuadraticForm(stats::SymmetricFactor(m, q, kToler), u);
  };
  CoxZphOutput out;
  out.transform = transform;
  std::vector<size_t> all;
  for (size_t j = 0; j < p;) {
    std::vector<size_t> jj;
    const std::string& term = column_terms[j];
    for (; j < p && column_terms[j] == term; ++j) jj.push_back(j);
    all.insert(all.end(), jj.begin(), jj.end());
    out.rownames.push_back(term);
    out.chisq.push_back(test(jj));
    out.df.push_back(static_cast<double>(jj.size()));
  }
  out.rownames.push_back("GLOBAL");
  out.chisq.push_back(test(all));
  out.df.push_back(static_cast<double>(p));
  for (size_t k = 0; k < out.chisq.size(); ++k) {
    out.p.push_back(stats::ChiSquareUpper(out.chisq[k], out.df[k]));
  }
  return out;
}

// The coefficients at which the sums are taken: an aliased (NA) one as 0, its column adding
// nothing to the risk score.
std::vector<double> Used(std::vector<double> coef) {
  for (double& b : coef) b = b == b ? b : 0;
  return coef;
}

// R's cox.zph leaves aliased coefficients out of the test: their rows and columns of the sums.
void DropAliased(const std::vector<double>& coef, stats::ZphAggregate* a,
                 std::vector<std::string>* terms) {
  const size_t p = coef.size();
  std::vector<size_t> keep;
  for (size_t j = 0; j < p; ++j) {
    if (coef[j] == coef[j]) keep.push_back(j);
  }
  if (keep.size() == p) return;
  auto vector = [&](std::vector<double>& v) {
    std::vector<double> out;
    for (size_t j : keep) out.push_back(v[j]);
    v = std::move(out);
  };
  auto matrix = [&](std::vector<double>& m) {
    std::vector<double> out;
    for (size_t r : keep) {
      for (size_t c : keep) out.push_back(m[r * p + c]);
    }
    m = std::move(out);
  };
  vector(a->u);
  vector(a->gu);
  matrix(a->info);
  matrix(a->g_info);
  matrix(a->g2_info);
  std::vector<std::string> kept;
  for (size_t j : keep) kept.push_back((*terms)[j]);
  *terms = std::move(kept);
}

Result<AnalysisOutput> RunCoxZph(const AnalysisRequest& request, const data::Table& table) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(request.formula));
  ASSIGN_OR_RETURN(stats::Ties ties, ParseTies(request.ties));
  AnalysisOutput out;
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   StartFrame(request, f, table, formula::ModelKind::kCox, &out));
  // g of every row's time: identity and log as they are; km is 1 - S(t-) of the Kaplan–Meier
  // of all rows (strata ignored, as R), rank the rank of t among all times (R's rank()).
  std::function<double(double)> g = SiteTransform(request.transform);
  std::vector<double> sorted = m.time;
  std::sort(sorted.begin(), sorted.end());
  if (!g && !m.start.empty()) {
    return InvalidArgument("transform: " + request.transform +
                           " with Surv(start, stop, event): use identity or log");
  }
  if (request.transform == "rank") {
    g = [sorted](double t) {
      const auto lo = std::lower_bound(sorted.begin(), sorted.end(), t);
      const auto hi = std::upper_bound(sorted.begin(), sorted.end(), t);
      return static_cast<double>(lo - sorted.begin()) + static_cast<double>(hi - lo + 1) / 2;
    };
  } else if (request.transform == "km") {
    std::vector<std::pair<double, double>> events;  // (time, deaths at it), ascending
    std::vector<double> survival;                   // S just after each
    {
      std::vector<std::pair<double, double>> rows;
      for (size_t i = 0; i < m.n; ++i) rows.push_back({m.time[i], m.status[i]});
      std::sort(rows.begin(), rows.end());
      double s = 1;
      for (size_t k = 0; k < rows.size();) {
        size_t j = k;
        double deaths = 0;
        for (; j < rows.size() && rows[j].first == rows[k].first; ++j) deaths += rows[j].second;
        if (deaths > 0) {
          s *= 1 - deaths / static_cast<double>(rows.size() - k);
          events.push_back({rows[k].first, deaths});
          survival.push_back(s);
        }
        k = j;
      }
    }
    g = [events, survival](double t) {
      const size_t before = static_cast<size_t>(
          std::lower_bound(events.begin(), events.end(), std::make_pair(t, -1.0)) - events.begin());
      return 1 - (before == 0 ? 1.0 : survival[before - 1]);
    };
  } else if (!g) {
    return InvalidArgument("transform: '" + request.transform +
                           "' is not one of km, rank, identity, log");
  }
  const std::vector<std::string> names = m.coef_names, terms = m.column_terms;
  const stats::CoxKernel kernel(CoxRowsFrom(std::move(m)));
  LocalCoxSite site(&kernel);
  CoxphOptions options;
  options.ties = ties;
  ASSIGN_OR_RETURN(CoxphResult fit, FitCoxph({&site}, names, options));
  for (const std::string& w : fit.warnings) out.notes.push_back("warning: " + w);
  stats::ZphAggregate sums = kernel.Zph(Used(fit.coef), ties, g);
  std::vector<std::string> kept = terms;
  DropAliased(fit.coef, &sums, &kept);
  out.result = Table(sums, kept, request.transform);
  return out;
}

json FirstStep(const AnalysisRequest& r) {
  return {{"analysis", "coxzph"}, {"subset", r.subset}, {"formula", r.formula},
          {"step", "design"},     {"ties", r.ties},     {"transform", r.transform}};
}

Result<AnalysisOutput> FederatedCoxZph(const AnalysisRequest& request,
                                       const std::vector<SiteLink>& sites) {
  if (!SiteTransform(request.transform)) {
    return FailedPrecondition(
        "transform: " + request.transform +
        " needs the pooled survival curve or ranks at every event time, which no site "
        "releases; across sites use identity or log");
  }
  json task;  // the model's step with the levels the sites agreed for the fit
  ASSIGN_OR_RETURN(AnalysisOutput fit, FederatedCox(request, sites, FirstStep(request), &task));
  const CoxphResult& cox = std::get<CoxphOutput>(fit.result).fit;
  task["step"] = "zph";
  task["beta"] = Used(cox.coef);
  ASSIGN_OR_RETURN(std::vector<json> answers, AskAll(sites, task));
  stats::ZphAggregate total;
  std::vector<std::string> terms;
  const size_t p = cox.coef.size();
  for (size_t s = 0; s < sites.size(); ++s) {
    auto read = [&]() -> Status {
      const json& j = answers[s];
      stats::ZphAggregate a;
      a.u = j.at("u").get<std::vector<double>>();
      a.gu = j.at("gu").get<std::vector<double>>();
      a.info = j.at("info").get<std::vector<double>>();
      a.g_info = j.at("g_info").get<std::vector<double>>();
      a.g2_info = j.at("g2_info").get<std::vector<double>>();
      a.g_events = j.at("g_events").get<double>();
      a.events = SiteCount(j.at("events"));
      terms = j.at("terms").get<std::vector<std::string>>();
      RETURN_IF_ERROR(CheckSizes(a.u.size(), a.info.size(), p));
      RETURN_IF_ERROR(CheckSizes(a.gu.size(), a.g_info.size(), p));
      RETURN_IF_ERROR(CheckSizes(p, a.g2_info.size(), p));
      if (terms.size() != p) return Unavailable("site answered aggregates of the wrong size");
      total.Add(a);
      return Status::Ok();
    };
    RETURN_IF_ERROR(Reading(sites[s].name, read));
  }
  AnalysisOutput out;
  out.request = request;
  out.notes = fit.notes;
  DropAliased(cox.coef, &total, &terms);
  out.result = Table(total, terms, request.transform);
  return out;
}

// At a site: a Cox model's steps, and the test's sums at the hub's coefficients.
Result<std::string> ZphStep(const json& task, const SiteModel* model,
                            const privacy::Policy& policy) {
  if (task.value("step", "") != "zph") return CoxStep(task, model, policy);
  RETURN_IF_ERROR(CheckModel(*model, policy));
  ASSIGN_OR_RETURN(stats::Ties ties, ParseTies(task.value("ties", "efron")));
  double (*g)(double) = SiteTransform(task.value("transform", ""));
  if (!g) return InvalidArgument("task: a site computes the identity and log transforms only");
  const std::vector<double> beta = task.value("beta", std::vector<double>());
  if (beta.size() != model->coef_names.size()) {
    return InvalidArgument("task: beta has the wrong length");
  }
  const stats::ZphAggregate a = model->cox->Zph(beta, ties, g);
  return json{{"u", a.u},
              {"gu", a.gu},
              {"info", a.info},
              {"g_info", a.g_info},
              {"g2_info", a.g2_info},
              {"g_events", a.g_events},
              {"events", a.events},
              {"terms", model->column_terms}}
      .dump();
}

Result<LocalRelease> SiteStep(const json& task, const data::Table& table,
                              const privacy::Policy& policy, LocalStepCache* cache) {
  return RunModelStep(task, table, policy, cache, BuildCoxSiteModel, ZphStep);
}

json Signature(const json& step) {
  json sig = FormulaSignature(step);
  sig["ties"] = step.value("ties", "efron");
  sig["transform"] = step.value("transform", "km");
  return sig;
}

std::string Method(const nlohmann::ordered_json& request, const nlohmann::ordered_json&) {
  return "Test of proportional hazards (R's cox.zph, transform " + TextOf(request, "transform") +
         ") for the Cox model " + TextOf(request, "formula") +
         ": per term, the score test of its coefficient changing with the transformed time, "
         "and the global test; across sites from the sums of the sites' risk sets, each site "
         "its own stratum.";
}

}  // namespace

AnalysisKind CoxZphKind() {
  return {.name = "coxzph",
          .summary = "Test of proportional hazards for a Cox model (R's cox.zph)",
          .options = {FormulaOption("Surv(time, event) ~ covariates"),
                      SubsetOption(),
                      TiesOption({"efron", "breslow"}),
                      {.name = "transform",
                       .field = &AnalysisRequest::transform,
                       .help = "The function of time: km, rank, identity, log (across sites: "
                               "identity or log)",
                       .choices = {"km", "rank", "identity", "log"},
                       .always_written = true}},
          .plot = false,
          .run_federated = FederatedCoxZph,
          .site_step = SiteStep,
          .run_local = RunCoxZph,
          .first_step = FirstStep,
          .signature = Signature,
          .review = ReviewCoxModel,
          .method = Method};
}

}  // namespace passerelle::analysis
