// The analyses Passerelle runs, each described once: its name, what it is, and its options — how
// a study file, `passerelle analyze`, the hub's `GET /v1/analyses` and the web form name, check
// and write them. Everything that lists analyses or their options reads this table.
#ifndef PASSERELLE_ANALYSIS_REGISTRY_H_
#define PASSERELLE_ANALYSIS_REGISTRY_H_

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "passerelle/base/status.h"

namespace passerelle::analysis {

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
};

// The default time grid of federated survival curves and tests, in days.
inline constexpr double kDefaultBinDays = 30;

// One option of an analysis: where its value lives in a request (text, a number, or a list of
// variable names), and how it is checked and written.
struct AnalysisOption {
  using Field = std::variant<std::string AnalysisRequest::*, double AnalysisRequest::*,
                             std::vector<std::string> AnalysisRequest::*>;
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
  std::string name = {};     // "coxph"
  std::string summary = {};  // one line, for help and forms
  std::vector<AnalysisOption> options = {};
  bool local = true;  // `passerelle analyze` runs it on CSV files or a store
  bool plot = true;   // `analyze --plot` draws it
};

// Every kind, in the order help and forms list them.
const std::vector<AnalysisKind>& AnalysisKinds();
// The kind named `name`; nullptr when there is none.
const AnalysisKind* FindAnalysisKind(std::string_view name);

// Checks a request against its kind: a known analysis, its required options, their choices and
// ranges. InvalidArgument "OPTION: RULE" (the caller says where), e.g. "family: is required for
// glm (binomial, poisson, gaussian)".
Status CheckRequest(const AnalysisRequest& request);

// The request's options as a JSON object, in its kind's order: those given, and those always
// written. The same text wherever a request is shown or compared (reports, protocol changes).
std::string RequestOptionsJson(const AnalysisRequest& request);

// Every kind and its options as JSON, for `GET /v1/analyses`: [{name, summary, options: [{name,
// type: "text" | "number" | "variables", required, choices, help}]}].
std::string AnalysisKindsJson();

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_REGISTRY_H_
