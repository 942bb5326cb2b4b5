// What a site node runs for a task: the local step of an analysis on its own table, after the
// site's disclosure rules, returning the aggregate as JSON. RemoteCoxSite and RemoteGlmSite are
// the driver's side: sites whose local steps travel as such tasks through a transport
// (in-process in tests; HTTPS with mutual TLS between hub and node).
#ifndef PASSERELLE_ANALYSIS_LOCAL_STEP_H_
#define PASSERELLE_ANALYSIS_LOCAL_STEP_H_

#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "passerelle/analysis/coxph.h"
#include "passerelle/analysis/glm.h"
#include "passerelle/base/status.h"
#include "passerelle/data/table.h"
#include "passerelle/privacy/differencing.h"
#include "passerelle/privacy/policy.h"

namespace passerelle::analysis {

// Runs a task on `table`: its analysis' kind (analysis/kinds/) answers the task's step — a
// model's design, levels and rounds, a curve's counts, a table's cells — and what every step
// names ("analysis", "step", "formula", "subset", the kind's options). Models answer "levels"
// (the factor levels of the site, all and in use; tasks then carry the levels every site agrees
// on).
// PermissionDenied (naming the rule, never the protected number) when the cohort, the model size or
// the events break the policy; InvalidArgument for a malformed task.
// The answer comes with the cohorts it describes (the rows of `table` behind the release: a
// model's rows, a table's subset, each released survival curve's group), which the node checks
// against its differencing ledger before anything leaves.
struct LocalRelease {
  std::string aggregate;  // JSON
  // The populations the release describes (a model's rows, a variable's non-missing records, a
  // curve's group): each statistic's own records, for the differencing rule.
  std::vector<privacy::Cohort> cohorts;
  // Further sets whose sizes follow from the release (a table's cells, a category's levels, the
  // events of a model, the ones of a 0/1 column), for the count audit with the cohorts.
  std::vector<privacy::Cohort> counts;
};
class LocalStepCache;
Result<LocalRelease> RunLocalStep(const std::string& task_json, const data::Table& table,
                                  const privacy::Policy& policy, LocalStepCache* cache = nullptr);
// The same for a task already parsed (a node's, out of its signed message).
Result<LocalRelease> RunParsedLocalStep(const nlohmann::json& task, const data::Table& table,
                                        const privacy::Policy& policy,
                                        LocalStepCache* cache = nullptr);

// The fewest records of `table` holding one of the labels `expression` would release (a value
// of a number or of an open category; a dictionary's declared levels and TRUE/FALSE are public
// and not counted); 0 when none, or when the expression is an identifier, text or a date.
Result<double> FewestUndeclaredLabel(const std::string& expression, const data::Table& table);

// The models a node keeps between the rounds of a fit (the model frame and the kernel, built at
// the first task instead of at every round), for one table: Clear() it when the table changes.
class LocalStepCache {
 public:
  LocalStepCache();
  ~LocalStepCache();
  void Clear();
  size_t size() const;  // the models held

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Sends a task to one site and returns its answer, or the site's Status. Over the network
// (the hub's task board) the task is signed and queued, and only there is it text; in tests it
// runs in-process.
using Transport = std::function<Result<nlohmann::json>(const nlohmann::json& task)>;

class RemoteCoxSite : public CoxSite {
 public:
  // Asks the site to describe its cohort for the model first (n, events, coefficient names):
  // `task` is the analysis's first step (its analysis, formula, subset, ties, weights and the
  // factor levels every site uses); the rounds send it again with their step and coefficients.
  // `early`, when given, is the site's answer to the "levels" step asked `with_design`, its own
  // levels being the agreed ones: its design and its evaluation at zero come from there, and
  // neither is asked again.
  static Result<std::unique_ptr<RemoteCoxSite>> Connect(Transport transport, nlohmann::json task,
                                                        const nlohmann::json* early = nullptr);
  double n() const override { return n_; }
  double events() const override { return events_; }
  const std::vector<std::string>& coef_names() const { return coef_names_; }
  // Column sums of the design (for R's means) and rows dropped for missing values (NaN when
  // the site suppressed a count of 1 to k-1: an indicator column's sum counts patients).
  const std::vector<double>& sums() const { return sums_; }
  double total() const { return total_; }  // the rows' weight total (their number unweighted)
  double omitted() const { return omitted_; }
  // Every case weight of the site is a whole number (R's robust variance is the default
  // otherwise).
  bool whole_weights() const { return whole_weights_; }
  Result<stats::CoxAggregate> Evaluate(std::span<const double> beta, stats::Ties ties) override;
  Result<std::vector<double>> ClusterMeat(std::span<const double> beta, stats::Ties ties) override;
  Result<stats::ConcordanceAggregate> Concordance(std::span<const double> beta) override;

 private:
  RemoteCoxSite() = default;
  Result<nlohmann::json> Ask(const std::string& step, std::span<const double> beta);
  Transport transport_;
  std::string task_;  // the first step, as JSON text
  double n_ = 0, events_ = 0, omitted_ = 0, total_ = 0;
  bool whole_weights_ = true;
  std::vector<std::string> coef_names_;
  std::vector<double> sums_;
  std::optional<stats::CoxAggregate> at_zero_;  // from `early`, until the fit asks for it
};

class RemoteGlmSite : public GlmSite {
 public:
  // `task`: the analysis's first step (formula, subset, family, weights, the factor levels every
  // site keeps); `null_model`: the intercept-only model of the same rows (for the null
  // deviance).
  static Result<std::unique_ptr<RemoteGlmSite>> Connect(Transport transport, nlohmann::json task,
                                                        bool null_model);
  double n() const override { return n_; }
  Status Validate() const override { return Status::Ok(); }  // checked at the site
  const std::vector<std::string>& coef_names() const { return coef_names_; }
  bool intercept() const { return intercept_; }
  double omitted() const { return omitted_; }  // NaN when suppressed
  Result<stats::GlmAggregate> Evaluate(std::span<const double> beta) override;
  Result<stats::GlmAggregate> EvaluateAtStart() override;

 private:
  RemoteGlmSite() = default;
  Result<nlohmann::json> Send(const std::string& step, std::span<const double> beta);
  Result<stats::GlmAggregate> Ask(const std::string& step, std::span<const double> beta);
  Result<stats::GlmAggregate> ReadAggregate(const nlohmann::json& answer) const;
  Transport transport_;
  std::string task_;  // the first step, as JSON text
  bool null_model_ = false, intercept_ = true;
  double n_ = 0, omitted_ = 0;
  size_t p_ = 0;  // coefficients of the model asked for (the null model: 1 or 0)
  std::vector<std::string> coef_names_;
  std::optional<stats::GlmAggregate> start_;  // the first IRLS step, from the design's answer
};

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_LOCAL_STEP_H_
