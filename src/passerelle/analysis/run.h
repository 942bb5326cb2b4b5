// One entry point for every analysis in local mode: a request (function, formula, options),
// a table, and the result in R's layout. The command line, the tests and (later) the site
// node call this.
#ifndef PASSERELLE_ANALYSIS_RUN_H_
#define PASSERELLE_ANALYSIS_RUN_H_

#include <string>
#include <variant>
#include <vector>

#include "passerelle/analysis/coxph.h"
#include "passerelle/base/status.h"
#include "passerelle/data/table.h"

namespace passerelle::analysis {

struct AnalysisRequest {
  std::string function;  // coxph, survfit, survdiff, glm
  std::string formula;
  std::string subset;
  std::string ties = "efron";     // coxph
  std::string family;             // glm: binomial, poisson, gaussian
  double rho = 0;                 // survdiff
  std::string conf_type = "log";  // survfit
};

struct CoxphOutput {
  CoxphResult fit;
  size_t n_omitted_na = 0;
  std::vector<double> means;
  std::string ties;
};

using AnalysisResult = std::variant<CoxphOutput>;

struct AnalysisOutput {
  AnalysisRequest request;
  AnalysisResult result;
  std::vector<std::string> notes;  // rows dropped, warnings: what R would print
};

Result<AnalysisOutput> RunAnalysis(const AnalysisRequest& request, const data::Table& table);

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_RUN_H_
