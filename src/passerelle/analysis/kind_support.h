// Internal to analysis/: what the analysis kinds (analysis/kinds/) share. At the hub, asking the
// sites and reading their answers (federated.cc); at a site, the checks every release passes and
// the model a fit keeps between rounds (local_step.cc); survival counts on a time grid, at both
// ends (time_counts.cc); a protocol's review (review.cc); local mode's model frame (run.cc).
#ifndef PASSERELLE_ANALYSIS_KIND_SUPPORT_H_
#define PASSERELLE_ANALYSIS_KIND_SUPPORT_H_

#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "passerelle/analysis/each_site.h"
#include "passerelle/analysis/federated.h"
#include "passerelle/analysis/local_step.h"
#include "passerelle/analysis/registry.h"
#include "passerelle/analysis/run.h"
#include "passerelle/analysis/site_answer.h"
#include "passerelle/base/text.h"
#include "passerelle/formula/model.h"
#include "passerelle/privacy/differencing.h"
#include "passerelle/privacy/disclosure.h"
#include "passerelle/privacy/policy.h"
#include "passerelle/privacy/review.h"
#include "passerelle/stats/cox.h"
#include "passerelle/stats/glm.h"
#include "passerelle/stats/survival.h"

namespace passerelle::analysis {

using nlohmann::json;
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- At the hub (federated.cc) ----

// A number a site states that is not a count (a mean), or NaN where it suppressed it.
double NumberOrNaN(const json& j);
// A transport whose errors name the site.
Transport Named(const SiteLink& link);
// Each site's answer to `task`, every site asked at once (EachSite).
Result<std::vector<json>> AskAll(const std::vector<SiteLink>& sites, const json& task);
// Reads a site's answer; a malformed one is that site's failure.
template <typename Read>
Status Reading(const std::string& site, Read read) {
  try {
    return read();
  } catch (const json::exception& e) {
    return Unavailable("site " + site + ": answered garbage (" + e.what() + ")");
  } catch (const MalformedAnswer& e) {
    return Unavailable("site " + site + ": answered garbage (" + e.what() + ")");
  }
}
// The formula has + strata(site).
bool HasSiteStrata(const formula::Formula& f);
std::string CountWord(double n, const char* what);
// The rows dropped for missing values across sites, as a note.
void NoteOmitted(const std::vector<double>& omitted, AnalysisOutput* out);
// The factor levels every site builds its design with, as JSON: the merge of the sites'
// `which` answer to the "levels" step of the model of `task` (a kind's first step) — "levels"
// (all: R's coxph keeps unused levels, and factor(x) of a number has each site's values) or
// "used_levels" (R's glm drops unused ones). `answers`, when given, receives each site's answer.
Result<std::string> AgreedLevels(json task, const std::vector<SiteLink>& sites,
                                 const std::string& which, std::vector<json>* answers = nullptr);
// A GLM's sites, each connected for the model and for its null model (every site at once), every
// design checked against the first site's (kinds/glm.cc).
struct GlmSites {
  std::vector<std::unique_ptr<RemoteGlmSite>> model, null_model;  // by site
  // The GLM over these sites (the first site's design: every site has it).
  Result<GlmResult> Fit(stats::Family family) const;
};
Result<GlmSites> ConnectGlmSites(const std::vector<SiteLink>& sites, const json& task);
// Every site must build the same design, or the sums mean nothing.
template <typename Site>
Status SameDesign(const std::string& first_name, const Site& first, const std::string& name,
                  const Site& site) {
  if (site.coef_names() == first.coef_names()) return Status::Ok();
  return FailedPrecondition("site " + name + ": its model has the coefficients " +
                            Join(site.coef_names(), ", ") + ", site " + first_name + "'s " +
                            Join(first.coef_names(), ", "));
}
// Reads a site's answer with `read` (the driver's side of a model's rounds). A malformed answer
// is that site's failure, never a number.
template <typename T, typename Read>
Result<T> Decode(const Result<json>& answer, Read read) {
  if (!answer.ok()) return answer.status();
  try {
    return read(*answer);
  } catch (const json::exception& e) {
    return Unavailable(std::string("site answered garbage: ") + e.what());
  } catch (const MalformedAnswer& e) {
    return Unavailable(std::string("site answered garbage: ") + e.what());
  }
}
// A site's concordance pairs as the hub reads them (ConcordanceJson's; NaN where it withheld).
stats::ConcordanceAggregate ReadConcordance(const json& j);
// A vector of p and a matrix of p x p, or the site answered aggregates of the wrong size.
Status CheckSizes(size_t vector, size_t matrix, size_t p);

// ---- At a site (local_step.cc) ----

// Labels that leave the site with a release: the levels of a table's variables, of a model's
// factors (in coefficient names), of survival curves' groups, measured on the dataset for
// privacy::CheckLabel.
using Labels = privacy::LabelFigures;
Result<Labels> LabelsOf(const std::string& expression, const data::Table& table);
// A count as released: itself when 0 or at least k, null (suppressed) otherwise.
json ReleasableCount(double count, const privacy::Policy& policy);
// A count, or null for NaN (suppressed).
json CountJson(double c);
json CountsJson(const std::vector<double>& counts);
// The survival data of a formula pass the site's rules (times, events, their population).
Status CheckSurvival(const formula::Formula& f, const std::string& subset, const data::Table& table,
                     const privacy::Policy& policy);
// The formula's terms pass the site's rules (no condition inside arithmetic, ...).
Status CheckTerms(const formula::Formula& f, const privacy::Policy& policy);

// A site's model for the tasks of one fit: its frame's figures and its kernel, built at the
// first task and reused by the rounds that follow (the cache's key is the task without its
// step, its coefficients, and what a step's answer brings along: a GLM's null model and first
// IRLS step, a Cox model's design with its levels, are answered from the same model).
struct SiteModel {
  double n = 0, p = 0, events = 0, omitted = 0;
  bool whole_weights = true;  // every case weight is a whole number (or there are none)
  std::vector<std::string> coef_names;
  std::vector<std::string> column_terms;  // each column's term label
  bool intercept = false;
  std::vector<double> sums;  // column sums of the design
  // A Cox model's rows' weighted column sums and weight total, for R's means (coxph releases
  // them).
  std::vector<double> mean_sums;
  double mean_total = 0;
  std::vector<uint8_t> indicator;                                           // the column is 0/1
  std::map<std::string, std::vector<std::string>> all_levels, used_levels;  // factors
  privacy::Cohort cohort;                                                   // the frame's rows
  std::vector<privacy::Cohort> populations;  // the frame's rows, and each carrier's non-zero rows
  std::vector<privacy::Cohort> counts;       // the events' rows; the ones of 0/1 columns and pairs
  double fewest_in_column = 0;  // fewest records with a 1 (or a 0) in a 0/1 column, or non-zero
                                // in another column; 0: none
  std::vector<Labels> labels;   // of the factors
  std::unique_ptr<stats::CoxKernel> cox;
  std::unique_ptr<stats::GlmKernel> glm;
  formula::Formula formula;
  // The model frame's design and response, column-major, when a step needs the rows (a
  // propensity score's balance table).
  std::vector<double> x, y;
  std::vector<std::string> arms;  // a propensity score's treatment levels, as R names them
};
// The model's own rules (its size, its columns, its labels), for every step.
Status CheckModel(const SiteModel& model, const privacy::Policy& policy);
// The answer to a model's "levels" step.
std::string LevelsAnswer(const SiteModel& model);
// A Cox model's frame and kernel at a site (coxph's, and a concordance's one predictor).
Status BuildCoxSiteModel(const json& task, const formula::Formula& f,
                         const formula::FrameOptions& options, const data::Table& table,
                         SiteModel* model);
// A site's concordance pairs as they leave it: the pairs the estimate is made of, and the
// pairs of events on one day (tied in time, or in time and risk) released as counts (none or
// at least k: a few say that two patients died the same day).
json ConcordanceJson(const stats::ConcordanceAggregate& c, const privacy::Policy& policy);
// What the site's rules read of a frame, and what every step releases about it, into `model`.
// `cross_products`: the steps release X'WX (a GLM's), whose entries are sums over the records
// where two columns are both non-zero.
Status DescribeFrame(const formula::ModelFrame& m, const data::Table& table, bool cross_products,
                     SiteModel* model);
// The same, of a frame given slice by slice (formula::ForEachFrameSlice): each slice's frame
// added in order, then the figures of them all written into the model.
class FrameFigures {
 public:
  FrameFigures(bool cross_products, size_t table_rows);
  ~FrameFigures();
  void Add(const formula::ModelFrame& slice);
  Status Finish(const data::Table& table, SiteModel* model);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
// A step of a model: the site's model for the task (from `cache`, or made by `build` from the
// formula and the levels every site uses), the survival and term rules, then `step` on it; the
// release carries the model's cohorts.
using ModelBuildFn = Status (*)(const json& task, const formula::Formula& f,
                                const formula::FrameOptions& options, const data::Table& table,
                                SiteModel* model);
using ModelStepFn = Result<std::string> (*)(const json& task, const SiteModel* model,
                                            const privacy::Policy& policy);
Result<LocalRelease> RunModelStep(const json& task, const data::Table& table,
                                  const privacy::Policy& policy, LocalStepCache* cache,
                                  ModelBuildFn build, ModelStepFn step);

// ---- A Cox model (coxph.cc): coxph's, and Fine–Gray's on its expanded rows ----

// The steps of a Cox model at a site (levels, design, evaluate, meat, pairs) on `model`'s
// kernel, after the model's own rules.
Result<std::string> CoxStep(const json& task, const SiteModel* model,
                            const privacy::Policy& policy);
// A Cox model across sites: `first` is the kind's first step (the sites build the model from
// it); the result is the pooled fit stratified by site. `task`, when given: the step as the
// sites answered it (with the factor levels they agreed), for a kind's later steps.
Result<AnalysisOutput> FederatedCox(const AnalysisRequest& request,
                                    const std::vector<SiteLink>& sites, json first,
                                    json* task = nullptr);
// R's choice of variance: robust when asked, or by default with cluster() or case weights that
// are not whole numbers; robust = false ignores cluster() with R's warning.
Result<bool> RobustVariance(const AnalysisRequest& r, const formula::Formula& f, bool whole_weights,
                            AnalysisOutput* out);

// ---- A GLM (glm.cc) ----

Status BuildGlmModel(const json& task, const formula::Formula& f,
                     const formula::FrameOptions& options, const data::Table& table,
                     SiteModel* model);
Result<std::string> GlmStep(const json& task, const SiteModel* model,
                            const privacy::Policy& policy);

// ---- Propensity scores (propensity.cc): coxph --propensity ----

// The variables a formula reads, by name (the rows complete for two models).
std::vector<std::string> FormulaNames(const formula::Formula& f);
// The propensity score weights of the table's rows (NaN outside the score model's frame), for
// the score model of `task` ("propensity": its formula, "estimand", and "score": the fitted
// coefficients, the factor levels they were fitted with and the treated share when stabilized).
Result<std::vector<double>> PropensityWeights(const json& task, const data::Table& table);
// coxph's steps of a propensity score (its task's "part": "score" or "balance") at a site.
Result<LocalRelease> PropensityStep(const json& task, const data::Table& table,
                                    const privacy::Policy& policy, LocalStepCache* cache);
// The score model and balance table across sites (`first`: coxph's first step), and the score
// the sites then weight their Cox rows with (`first`'s "score").
Result<PropensityOutput> FederatedPropensity(const AnalysisRequest& request,
                                             const std::vector<SiteLink>& sites, json* first);
// The same on one table; `weights`: each table row's weight.
Result<PropensityOutput> LocalPropensity(const AnalysisRequest& request, const data::Table& table,
                                         std::vector<double>* weights);

// ---- Survival counts on a time grid (time_counts.cc) ----

// At a site. The rows of a kGroups frame in stratum `s` (all rows without strata).
struct StratumRows {
  StratumRows() = default;
  StratumRows(const StratumRows&) = delete;  // the views would still see the original's rows
  StratumRows(StratumRows&&) = default;      // a vector moved keeps its buffer: views stay valid
  std::span<const double> time, status;
  std::span<const int32_t> group;
  std::span<const size_t> rows;  // rows of the table
  // The stratum's rows when the frame has more than one (otherwise the views are the frame's).
  std::vector<double> own_time, own_status;
  std::vector<int32_t> own_group;
  std::vector<size_t> own_rows;
};
StratumRows RowsOfStratum(const formula::ModelFrame& m, size_t s);
// The records of group `g` of a stratum, as a cohort of the table: all of them, or (`events`)
// those with an event (`cause` 0: any; competing events: that cause).
privacy::Cohort GroupCohort(const StratumRows& r, size_t g, size_t table_rows, bool events = false,
                            double cause = 0);
// A released group's events, and each cause's, are counts.
void AddEventCounts(const StratumRows& r, size_t g, size_t causes, size_t table_rows,
                    LocalRelease* release);
// The groups frame of a task's formula, after the site's rules on survival data, terms and
// labels. `competing`: a factor event (competing causes) is allowed.
Result<formula::ModelFrame> GroupsFrame(const json& task, const data::Table& table,
                                        const privacy::Policy& policy, bool competing);
// The "counts" step: numbers at risk, events and censored per group and stratum on the grid.
Result<LocalRelease> RunCountsStep(const json& task, const data::Table& table,
                                   const privacy::Policy& policy, bool competing);

// At the hub. One site's Kaplan-Meier counts for a group (and stratum), as released.
struct Cell {
  std::string group, stratum;
  bool withheld = false;
  bool truncated = false;
  stats::TimeCounts counts;
};
// Every site's counts for `request` on the grid `bin`. `event_levels`: competing events'
// levels, the sites' merged (empty: one kind of event).
Result<std::vector<std::vector<Cell>>> AskCounts(const AnalysisRequest& request, double bin,
                                                 const std::vector<SiteLink>& sites,
                                                 std::vector<double>* omitted,
                                                 std::vector<std::string>* event_levels);
// The last time at which every contribution in `cells` is known: +inf when none is truncated.
double CommonEnd(const std::vector<const Cell*>& cells);
// Each site's labels of `field` (group or stratum), in its order.
std::vector<std::vector<std::string>> CellLabels(const std::vector<std::vector<Cell>>& per_site,
                                                 std::string Cell::*field);
std::string Day(double t);

// ---- A protocol's review at a site (review.cc) ----

// The names a formula's request uses (survival times, response, strata, terms) measured on
// `table`; `formula` is the parsed formula, `site_strata` whether it has + strata(site).
Status ReviewFormula(const AnalysisRequest& r, const data::Table& table, privacy::ReviewFigures* f,
                     formula::Formula* formula, bool* site_strata);
// A model: its formula's names (ReviewFormula), and its design on `table`, each column's
// minority and the largest leverage.
Status ReviewModel(const AnalysisRequest& r, const data::Table& table, formula::ModelKind kind,
                   privacy::ReviewFigures* f, const formula::FrameOptions& options = {});
// A Cox model's (and a predictor's against survival): ReviewModel with a Cox frame.
Status ReviewCoxModel(const AnalysisRequest& r, const data::Table& table,
                      privacy::ReviewFigures* f);
// The labels each grouping expression would release.
Status ReviewLabels(const std::vector<std::string>& grouping, const data::Table& table,
                    privacy::ReviewFigures* f);
// A table's or a describe's variables.
Status ReviewVariables(const AnalysisRequest& r, const data::Table& table,
                       privacy::ReviewFigures* f);
// Survival curves or a test: the grid, and the groups and strata as labels.
Status ReviewCurves(const AnalysisRequest& r, const data::Table& table, privacy::ReviewFigures* f,
                    bool exact_with_site_strata);

// ---- Local mode (run.cc) ----

// The model frame of a request, with the output it starts: the request and R's note on the
// rows dropped for missing values.
Result<formula::ModelFrame> StartFrame(const AnalysisRequest& request, const formula::Formula& f,
                                       const data::Table& table, formula::ModelKind kind,
                                       AnalysisOutput* out,
                                       const formula::FrameOptions& options = {});

// ---- Steps and their signatures ----

// The fields every step's signature holds: its analysis and subset, a counts step's grid and a
// log-rank step's rho (so no one asks the exact times of a test approved on the grid).
json StepSignature(const json& step);
// StepSignature and the step's formula: the signature of a formula's analysis.
json FormulaSignature(const json& step);
// The grid of a request's curves: its bin_days, or the default.
double BinDaysOf(const AnalysisRequest& r);

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_KIND_SUPPORT_H_
