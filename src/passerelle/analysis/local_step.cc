#include "passerelle/analysis/local_step.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "passerelle/analysis/frames.h"
#include "passerelle/formula/model.h"
#include "passerelle/privacy/disclosure.h"

namespace passerelle::analysis {
namespace {

using nlohmann::json;

Result<stats::Ties> TiesFrom(const std::string& ties) {
  if (ties == "efron") return stats::Ties::kEfron;
  if (ties == "breslow") return stats::Ties::kBreslow;
  if (ties == "exact") return stats::Ties::kExact;
  return InvalidArgument("task: ties must be efron, breslow or exact");
}

Result<std::string> RunCoxStep(const json& task, const data::Table& table,
                               const privacy::Policy& policy) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(task.value("formula", "")));
  ASSIGN_OR_RETURN(
      formula::ModelFrame m,
      formula::BuildModelFrame(f, table, formula::ModelKind::kCox, task.value("subset", "")));
  // The site's rules apply to its own contribution, whatever the hub asks.
  RETURN_IF_ERROR(privacy::CheckCohortSize(static_cast<double>(m.n), policy));
  double events = 0;
  for (double s : m.status) events += s;
  RETURN_IF_ERROR(privacy::CheckModelSize(static_cast<double>(m.p()), static_cast<double>(m.n),
                                          events, policy));
  ASSIGN_OR_RETURN(stats::Ties ties, TiesFrom(task.value("ties", "efron")));
  const std::vector<std::string> names = m.coef_names;
  const size_t n = m.n;
  const stats::CoxKernel kernel(CoxRowsFrom(std::move(m)));
  const std::string step = task.value("step", "");
  if (step == "describe") {
    return json{{"n", n}, {"events", events}, {"coef_names", names}}.dump();
  }
  std::vector<double> beta = task.value("beta", std::vector<double>());
  if (beta.size() != names.size()) return InvalidArgument("task: beta has the wrong length");
  if (step == "evaluate") {
    ASSIGN_OR_RETURN(stats::CoxAggregate a, kernel.Evaluate(beta, ties));
    return json{{"loglik", a.loglik}, {"score", a.score}, {"information", a.information}}.dump();
  }
  if (step == "meat") return json{{"meat", kernel.ClusterMeat(beta, ties)}}.dump();
  if (step == "concordance") {
    const stats::ConcordanceAggregate c = kernel.Concordance(beta);
    return json{{"concordant", c.concordant},
                {"discordant", c.discordant},
                {"tied_risk", c.tied_risk},
                {"c2", c.c2},
                {"cm", c.cm},
                {"m2", c.m2}}
        .dump();
  }
  return InvalidArgument("task: unknown step '" + step + "'");
}

Result<stats::Family> FamilyFrom(const std::string& family) {
  if (family == "binomial") return stats::Family::kBinomial;
  if (family == "poisson") return stats::Family::kPoisson;
  if (family == "gaussian") return stats::Family::kGaussian;
  return InvalidArgument("task: family must be binomial, poisson or gaussian");
}

json GlmAggregateJson(const stats::GlmAggregate& a) {
  return {{"n", a.n},           {"xtwx", a.xtwx},
          {"xtwz", a.xtwz},     {"deviance", a.deviance},
          {"loglik", a.loglik}, {"extreme_fits", a.extreme_fits}};
}

Result<std::string> RunGlmStep(const json& task, const data::Table& table,
                               const privacy::Policy& policy) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(task.value("formula", "")));
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   formula::BuildModelFrame(f, table, formula::ModelKind::kRegression,
                                            task.value("subset", "")));
  RETURN_IF_ERROR(privacy::CheckCohortSize(static_cast<double>(m.n), policy));
  ASSIGN_OR_RETURN(stats::Family family, FamilyFrom(task.value("family", "")));
  double events = 0;
  for (double y : m.y) events += y;
  if (family == stats::Family::kBinomial) {
    // Both outcomes count: a model of a rare outcome would single its patients out.
    events = std::min(events, static_cast<double>(m.n) - events);
  } else {
    events = static_cast<double>(m.n);
  }
  RETURN_IF_ERROR(privacy::CheckModelSize(static_cast<double>(m.p()), static_cast<double>(m.n),
                                          events, policy));
  const bool null_model = task.value("null", false);
  const stats::GlmKernel kernel(null_model ? NullGlmRowsFrom(m) : GlmRowsFrom(m), family);
  RETURN_IF_ERROR(kernel.Validate());
  const std::string step = task.value("step", "");
  if (step == "describe") {
    return json{{"n", m.n}, {"coef_names", m.coef_names}, {"intercept", m.intercept}}.dump();
  }
  if (step == "start") return GlmAggregateJson(kernel.EvaluateAtStart()).dump();
  if (step == "evaluate") {
    const std::vector<double> beta = task.value("beta", std::vector<double>());
    const size_t p = null_model ? (m.intercept ? 1 : 0) : m.p();
    if (beta.size() != p) return InvalidArgument("task: beta has the wrong length");
    return GlmAggregateJson(kernel.Evaluate(beta)).dump();
  }
  return InvalidArgument("task: unknown step '" + step + "'");
}

}  // namespace

Result<std::string> RunLocalStep(const std::string& task_json, const data::Table& table,
                                 const privacy::Policy& policy) {
  json task;
  try {
    task = json::parse(task_json);
    const std::string analysis = task.value("analysis", "");
    if (std::find(policy.allowed_analyses.begin(), policy.allowed_analyses.end(), analysis) ==
        policy.allowed_analyses.end()) {
      return PermissionDenied("rule allowed_analyses: site " + policy.site + " does not run '" +
                              analysis + "'");
    }
    if (analysis == "coxph") return RunCoxStep(task, table, policy);
    if (analysis == "glm") return RunGlmStep(task, table, policy);
    return InvalidArgument("task: analysis '" + analysis + "' has no local step yet");
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("task: malformed JSON: ") + e.what());
  }
}

namespace {

// Reads a site's answer with `read`. A malformed answer is that site's failure, never a number.
template <typename T, typename Read>
Result<T> Decode(const Result<std::string>& answer, Read read) {
  if (!answer.ok()) return answer.status();
  try {
    return read(json::parse(*answer));
  } catch (const json::exception& e) {
    return Unavailable(std::string("site answered garbage: ") + e.what());
  }
}

Status CheckSizes(size_t vector, size_t matrix, size_t p) {
  if (vector != p || matrix != p * p) {
    return Unavailable("site answered aggregates of the wrong size");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<RemoteCoxSite>> RemoteCoxSite::Connect(Transport transport,
                                                              const std::string& formula,
                                                              const std::string& subset,
                                                              const std::string& ties) {
  std::unique_ptr<RemoteCoxSite> site(new RemoteCoxSite());
  site->transport_ = std::move(transport);
  site->formula_ = formula;
  site->subset_ = subset;
  site->ties_ = ties;
  RETURN_IF_ERROR(Decode<bool>(site->Ask("describe", {}), [&](const json& j) {
                    site->n_ = j.at("n").get<double>();
                    site->events_ = j.at("events").get<double>();
                    site->coef_names_ = j.at("coef_names").get<std::vector<std::string>>();
                    return true;
                  }).status());
  return site;
}

Result<std::string> RemoteCoxSite::Ask(const std::string& step, std::span<const double> beta) {
  const json task = {
      {"analysis", "coxph"}, {"step", step},
      {"formula", formula_}, {"subset", subset_},
      {"ties", ties_},       {"beta", std::vector<double>(beta.begin(), beta.end())}};
  return transport_(task.dump());
}

Result<stats::CoxAggregate> RemoteCoxSite::Evaluate(std::span<const double> beta, stats::Ties) {
  return Decode<stats::CoxAggregate>(
      Ask("evaluate", beta), [&](const json& j) -> Result<stats::CoxAggregate> {
        stats::CoxAggregate a;
        a.loglik = j.at("loglik").get<double>();
        a.score = j.at("score").get<std::vector<double>>();
        a.information = j.at("information").get<std::vector<double>>();
        RETURN_IF_ERROR(CheckSizes(a.score.size(), a.information.size(), beta.size()));
        return a;
      });
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
  return Decode<stats::ConcordanceAggregate>(Ask("concordance", beta), [](const json& j) {
    stats::ConcordanceAggregate c;
    c.concordant = j.at("concordant").get<double>();
    c.discordant = j.at("discordant").get<double>();
    c.tied_risk = j.at("tied_risk").get<double>();
    c.c2 = j.at("c2").get<double>();
    c.cm = j.at("cm").get<double>();
    c.m2 = j.at("m2").get<double>();
    return c;
  });
}

Result<std::unique_ptr<RemoteGlmSite>> RemoteGlmSite::Connect(Transport transport,
                                                              const std::string& formula,
                                                              const std::string& subset,
                                                              const std::string& family,
                                                              bool null_model) {
  std::unique_ptr<RemoteGlmSite> site(new RemoteGlmSite());
  site->transport_ = std::move(transport);
  site->formula_ = formula;
  site->subset_ = subset;
  site->family_ = family;
  site->null_model_ = null_model;
  const json task = {{"analysis", "glm"}, {"step", "describe"}, {"formula", formula},
                     {"subset", subset},  {"family", family},   {"null", null_model}};
  RETURN_IF_ERROR(Decode<bool>(site->transport_(task.dump()), [&](const json& j) {
                    site->n_ = j.at("n").get<double>();
                    site->coef_names_ = j.at("coef_names").get<std::vector<std::string>>();
                    site->intercept_ = j.at("intercept").get<bool>();
                    return true;
                  }).status());
  site->p_ = null_model ? (site->intercept_ ? 1 : 0) : site->coef_names_.size();
  return site;
}

Result<stats::GlmAggregate> RemoteGlmSite::Ask(const std::string& step,
                                               std::span<const double> beta) {
  const json task = {{"analysis", "glm"},
                     {"step", step},
                     {"formula", formula_},
                     {"subset", subset_},
                     {"family", family_},
                     {"null", null_model_},
                     {"beta", std::vector<double>(beta.begin(), beta.end())}};
  return Decode<stats::GlmAggregate>(
      transport_(task.dump()), [&](const json& j) -> Result<stats::GlmAggregate> {
        stats::GlmAggregate a;
        a.n = j.at("n").get<double>();
        a.xtwx = j.at("xtwx").get<std::vector<double>>();
        a.xtwz = j.at("xtwz").get<std::vector<double>>();
        a.deviance = j.at("deviance").get<double>();
        a.loglik = j.at("loglik").get<double>();
        a.extreme_fits = j.at("extreme_fits").get<double>();
        RETURN_IF_ERROR(CheckSizes(a.xtwz.size(), a.xtwx.size(), p_));
        return a;
      });
}

Result<stats::GlmAggregate> RemoteGlmSite::Evaluate(std::span<const double> beta) {
  return Ask("evaluate", beta);
}

Result<stats::GlmAggregate> RemoteGlmSite::EvaluateAtStart() { return Ask("start", {}); }

}  // namespace passerelle::analysis
