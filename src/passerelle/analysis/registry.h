// The analyses Passerelle runs. Each kind is one file, analysis/kinds/NAME.cc: its name, what it
// is, its options (how a study file, `passerelle analyze`, the hub's `GET /v1/analyses` and the
// web form name, check and write them), and what it does — at a site, at the hub, in local mode,
// in a protocol's review, in a report's methods. Everything that lists analyses, or does one,
// asks this registry; no other file names an analysis.
#ifndef PASSERELLE_ANALYSIS_REGISTRY_H_
#define PASSERELLE_ANALYSIS_REGISTRY_H_

#include <nlohmann/json_fwd.hpp>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "passerelle/base/status.h"

namespace passerelle::data {
struct Table;
}
namespace passerelle::privacy {
struct Policy;
struct ReviewFigures;
}  // namespace passerelle::privacy

namespace passerelle::analysis {

struct AnalysisOutput;  // run.h
struct SiteLink;        // federated.h
struct LocalRelease;    // local_step.h
class LocalStepCache;   // local_step.h

// What a researcher asks: an analysis and its options.
struct AnalysisRequest {
  std::string function;  // an analysis kind's name
  std::string formula;
  std::string subset;
  std::string ties = "efron";     // coxph
  std::string family;             // glm: binomial, poisson, gaussian
  double rho = 0;                 // survdiff
  std::string conf_type = "log";  // survfit
  double bin_days = 0;            // survfit, survdiff: times become ceil(t / bin) * bin (0: none)
  std::string rows, cols;         // table: variable names (cols optional)
  std::vector<std::string> variables;  // describe: the variables (empty: all)
  bool reverse = false;                // concordance: a larger value goes with a shorter time
  std::string weights;                 // coxph, glm: a variable of case weights
  std::string robust;                  // coxph: "true", "false" or empty (R's default)
  std::string cause;                   // finegray: the event level of interest
  std::string transform = "km";        // coxzph: km, rank, identity, log
  // coxph: the propensity score model of a two-level treatment ("trt ~ z1 + z2"), its weights'
  // estimand (ate, att) and whether they are stabilized.
  std::string propensity;
  std::string estimand;
  bool stabilized = false;
  // calibration: the time of the prediction, the development model's baseline survival at it,
  // and the number of groups of the linear predictor.
  double at_time = 0;
  double baseline = 0;
  double groups = 0;
};

// The default time grid of federated survival curves and tests, in days.
inline constexpr double kDefaultBinDays = 30;

// One option of an analysis: where its value lives in a request (text, a number, or a list of
// variable names), and how it is checked and written.
struct AnalysisOption {
  using Field = std::variant<std::string AnalysisRequest::*, double AnalysisRequest::*,
                             std::vector<std::string> AnalysisRequest::*, bool AnalysisRequest::*>;
  std::string name = {};  // in study files and JSON ("bin_days"); on the command line "--bin-days"
  Field field = {};
  std::string help = {};
  bool required = false;
  std::vector<std::string> choices = {};  // the values allowed, when they are few
  // Written into a request's JSON even when not given (a federated run uses it): the request's
  // own default, or for a number left at 0, `written_default`.
  bool always_written = false;
  double written_default = 0;
  bool negative_allowed = false;  // a number below 0 (otherwise refused)
};

struct AnalysisKind {
  std::string name = {};     // as studies name it (function)
  std::string summary = {};  // one line, for help and forms
  std::vector<AnalysisOption> options = {};
  bool plot = true;  // `analyze --plot` draws it

  // What the kind does. Across sites (the hub): each site's steps asked through its link, the
  // answers combined into the pooled result.
  Result<AnalysisOutput> (*run_federated)(const AnalysisRequest&,
                                          const std::vector<SiteLink>&) = nullptr;
  // At a site: one step of a task (parsed, its analysis this kind's and allowed by the policy),
  // the release it makes under the site's rules, before the node's ledger and audit.
  Result<LocalRelease> (*site_step)(const nlohmann::json& task, const data::Table&,
                                    const privacy::Policy&, LocalStepCache*) = nullptr;
  // In local mode, on one table (`passerelle analyze`); nullptr: a federated analysis only.
  Result<AnalysisOutput> (*run_local)(const AnalysisRequest&, const data::Table&) = nullptr;
  // The first step the hub sends a site for `request` (what a protocol's review runs and what
  // an approved analysis is matched by), and the fields of any step of this kind that tie it to
  // its analysis (the request's options as the step carries them, with their defaults).
  nlohmann::json (*first_step)(const AnalysisRequest&) = nullptr;
  nlohmann::json (*signature)(const nlohmann::json& step) = nullptr;
  // A protocol's review at a site: what the analysis names, groups and fits on `table`.
  Status (*review)(const AnalysisRequest&, const data::Table&, privacy::ReviewFigures*) = nullptr;
  // One sentence for a report's methods, from the request's options and the result as JSON.
  std::string (*method)(const nlohmann::ordered_json& options,
                        const nlohmann::ordered_json& results) = nullptr;
};

// Every kind, in the order help and forms list them.
const std::vector<AnalysisKind>& AnalysisKinds();
// Their names, in that order.
std::vector<std::string> AnalysisNames();
// The kind named `name`; nullptr when there is none.
const AnalysisKind* FindAnalysisKind(std::string_view name);

// Checks a request against its kind: a known analysis, its required options, their choices and
// ranges. InvalidArgument "OPTION: RULE" (the caller says where), e.g. "family: is required for
// glm (binomial, poisson, gaussian)".
Status CheckRequest(const AnalysisRequest& request);

// The request's options as a JSON object, in its kind's order: those given, and those always
// written. The same text wherever a request is shown or compared (reports, protocol changes).
std::string RequestOptionsJson(const AnalysisRequest& request);
nlohmann::ordered_json RequestOptions(const AnalysisRequest& request);

// Every name the request's expressions and variable lists spell (a superset of the columns its
// analysis reads: function names too), for reading only those columns of a file. Empty when it
// cannot tell: an unknown kind, a list of variables left to mean all of them, R's `.`.
std::set<std::string> RequestNames(const AnalysisRequest& request);
// The same for a step a site is sent (every string of it, object keys too: a step carries its
// request's options, factor levels keyed by their expressions, a propensity score's formula), for
// a site's reading only the columns its analysis reads. Empty when it cannot tell, as above.
std::set<std::string> TaskNames(const nlohmann::json& task);

// Every kind and its options as JSON, for `GET /v1/analyses`: [{name, summary, options: [{name,
// type: "text" | "number" | "variables" | "flag", required, choices, help}]}].
std::string AnalysisKindsJson();

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_REGISTRY_H_
