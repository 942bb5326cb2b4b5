#include "passerelle/analysis/local_step.h"

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
    return InvalidArgument("task: analysis '" + analysis + "' has no local step yet");
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("task: malformed JSON: ") + e.what());
  }
}

Result<std::unique_ptr<RemoteCoxSite>> RemoteCoxSite::Connect(Transport transport,
                                                              const std::string& formula,
                                                              const std::string& subset,
                                                              const std::string& ties) {
  std::unique_ptr<RemoteCoxSite> site(new RemoteCoxSite());
  site->transport_ = std::move(transport);
  site->formula_ = formula;
  site->subset_ = subset;
  site->ties_ = ties;
  ASSIGN_OR_RETURN(std::string answer, site->Ask("describe", {}));
  try {
    const json j = json::parse(answer);
    site->n_ = j.at("n").get<double>();
    site->events_ = j.at("events").get<double>();
    site->coef_names_ = j.at("coef_names").get<std::vector<std::string>>();
  } catch (const json::exception& e) {
    return Unavailable(std::string("site answered garbage: ") + e.what());
  }
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
  ASSIGN_OR_RETURN(std::string answer, Ask("evaluate", beta));
  try {
    const json j = json::parse(answer);
    stats::CoxAggregate a;
    a.loglik = j.at("loglik").get<double>();
    a.score = j.at("score").get<std::vector<double>>();
    a.information = j.at("information").get<std::vector<double>>();
    if (a.score.size() != beta.size() || a.information.size() != beta.size() * beta.size()) {
      return Unavailable("site answered aggregates of the wrong size");
    }
    return a;
  } catch (const json::exception& e) {
    return Unavailable(std::string("site answered garbage: ") + e.what());
  }
}

Result<std::vector<double>> RemoteCoxSite::ClusterMeat(std::span<const double> beta, stats::Ties) {
  ASSIGN_OR_RETURN(std::string answer, Ask("meat", beta));
  try {
    return json::parse(answer).at("meat").get<std::vector<double>>();
  } catch (const json::exception& e) {
    return Unavailable(std::string("site answered garbage: ") + e.what());
  }
}

Result<stats::ConcordanceAggregate> RemoteCoxSite::Concordance(std::span<const double> beta) {
  ASSIGN_OR_RETURN(std::string answer, Ask("concordance", beta));
  try {
    const json j = json::parse(answer);
    stats::ConcordanceAggregate c;
    c.concordant = j.at("concordant").get<double>();
    c.discordant = j.at("discordant").get<double>();
    c.tied_risk = j.at("tied_risk").get<double>();
    c.c2 = j.at("c2").get<double>();
    c.cm = j.at("cm").get<double>();
    c.m2 = j.at("m2").get<double>();
    return c;
  } catch (const json::exception& e) {
    return Unavailable(std::string("site answered garbage: ") + e.what());
  }
}

}  // namespace passerelle::analysis
