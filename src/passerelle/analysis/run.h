// One entry point for every analysis in local mode: a request (function, formula, options),
// a table, and the result in R's layout. The command line, the tests and (later) the site
// node call this.
#ifndef PASSERELLE_ANALYSIS_RUN_H_
#define PASSERELLE_ANALYSIS_RUN_H_

#include <string>
#include <variant>
#include <vector>

#include "passerelle/analysis/coxph.h"
#include "passerelle/analysis/glm.h"
#include "passerelle/base/status.h"
#include "passerelle/data/table.h"
#include "passerelle/stats/contingency.h"
#include "passerelle/stats/survival.h"

namespace passerelle::analysis {

struct AnalysisRequest {
  std::string function;  // coxph, survfit, survdiff, glm
  std::string formula;
  std::string subset;
  std::string ties = "efron";     // coxph
  std::string family;             // glm: binomial, poisson, gaussian
  double rho = 0;                 // survdiff
  std::string conf_type = "log";  // survfit
  std::string rows, cols;         // table: variable names (cols optional)
};

struct CoxphOutput {
  CoxphResult fit;
  size_t n_omitted_na = 0;
  std::vector<double> means;
  std::string ties;
};

struct SurvfitOutput {
  std::string conf_type = "log";
  double conf_int = 0.95;
  std::vector<std::string> strata;  // R's labels ("trt=1"; "all")
  std::vector<stats::KaplanMeier> curves;
};

struct SurvdiffOutput {
  double rho = 0;
  std::vector<std::string> groups;
  std::vector<double> n, obs, exp, var;  // var: groups x groups
  double chisq = 0, df = 0, p = 1;
  // With strata: per group and stratum (groups x strata, row-major).
  std::vector<std::string> strata;
  std::vector<double> obs_by_stratum, exp_by_stratum;
};

struct GlmOutput {
  GlmResult fit;
  size_t n_omitted_na = 0;
};

struct TableOutput {
  std::string rows, cols;  // cols empty for a one-way table
  std::vector<std::string> row_levels, col_levels;
  std::vector<double> counts;  // row_levels x max(1, col_levels), row-major
  size_t n_missing = 0;        // rows with a missing value, not counted (as R's table())
  stats::ChiSquareResult chisq;
};

using AnalysisResult =
    std::variant<CoxphOutput, SurvfitOutput, SurvdiffOutput, GlmOutput, TableOutput>;

struct AnalysisOutput {
  AnalysisRequest request;
  AnalysisResult result;
  std::vector<std::string> notes;  // rows dropped, warnings: what R would print
};

Result<AnalysisOutput> RunAnalysis(const AnalysisRequest& request, const data::Table& table);

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_RUN_H_
