// One entry point for every analysis in local mode: a request (function, formula, options),
// a table, and the result in R's layout. The command line, the tests and (later) the site
// node call this.
#ifndef PASSERELLE_ANALYSIS_RUN_H_
#define PASSERELLE_ANALYSIS_RUN_H_

#include <limits>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "passerelle/analysis/coxph.h"
#include "passerelle/analysis/glm.h"
#include "passerelle/analysis/registry.h"
#include "passerelle/base/status.h"
#include "passerelle/data/table.h"
#include "passerelle/stats/contingency.h"
#include "passerelle/stats/survival.h"

namespace passerelle::analysis {

// A propensity score's model and what its weights do: per arm (the treatment's two levels) the
// records and the effective sample size (sum w)^2 / sum w^2, and per covariate of the score
// model the standardized mean difference before and after weighting (both over the unweighted
// pooled standard deviation sqrt((s1^2 + s0^2) / 2)).
struct PropensityOutput {
  std::string formula, estimand;
  bool stabilized = false;
  GlmResult model;
  size_t n_omitted_na = 0;
  std::vector<std::string> arms;
  std::vector<double> n, ess;
  std::vector<std::string> covariates;
  std::vector<double> smd_before, smd_after;
};

struct CoxphOutput {
  CoxphResult fit;
  std::optional<PropensityOutput> propensity;  // a model weighted by propensity scores
  size_t n_omitted_na = 0;
  std::vector<double> means;
  std::string ties;
};

struct SurvfitOutput {
  std::string conf_type = "log";
  double conf_int = 0.95;
  std::vector<std::string> strata;  // R's labels ("trt=1"; "all")
  std::vector<stats::KaplanMeier> curves;
  // Per stratum, the last day shown when a site's release cuts the curve (its events are
  // counted to that day); +inf when the curve is whole.
  std::vector<double> shown_to;
  // Competing events (a factor event): R's states, "(s0)" (no event yet) then each cause, and
  // for each stratum the cumulative incidence instead of a Kaplan–Meier curve.
  std::vector<std::string> states;
  std::vector<stats::CumulativeIncidence> incidence;

  // From a factor event's levels (the first is censoring); none: Kaplan–Meier.
  void SetStates(const std::vector<std::string>& event_levels) {
    states.clear();
    if (event_levels.empty()) return;
    states.push_back("(s0)");
    states.insert(states.end(), event_levels.begin() + 1, event_levels.end());
  }
  // The next stratum's estimate from its counts.
  void Add(const stats::TimeCounts& counts) {
    if (states.empty()) {
      curves.push_back(stats::ComputeKaplanMeier(counts, conf_int));
    } else {
      incidence.push_back(stats::ComputeCumulativeIncidence(counts, conf_int));
    }
  }
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
  std::vector<double> counts;                  // row_levels x max(1, col_levels), row-major
  std::vector<std::vector<size_t>> cell_rows;  // the table's rows in each cell, as counts
  std::vector<size_t> counted;                 // the rows counted (no missing value), ascending
  size_t n_missing = 0;  // rows with a missing value, not counted (as R's table())
  stats::ChiSquareResult chisq;
};

// A descriptive table ("Table 1"): one column per site and one for all sites together.
// NaN: suppressed (a count of 1 to k-1) or not applicable.
struct DescribedVariable {
  std::string name, type;
  std::vector<std::string> levels;  // categories
  std::vector<double> n, missing;   // per column
  std::vector<double> mean, sd;     // per column: numbers only
  // Per column, numbers only: the quartiles, each at a site the mean of the k records around it
  // (no patient's own value), overall the sites' average weighted by their records.
  std::vector<double> q1, median, q3;
  std::vector<double> counts;  // levels x columns, row-major
  // The standardized mean difference between the sites (the mean over pairs of sites when
  // there are more than two): numbers |m1 - m2| / sqrt((s1^2 + s2^2) / 2), categories Yang and
  // Dalton's over their levels' proportions. NaN when a site withheld what it needs.
  double smd = std::numeric_limits<double>::quiet_NaN();
};

struct DescribeOutput {
  std::vector<std::string> columns;  // site names, then "all"
  std::vector<double> rows;          // records per column
  std::vector<DescribedVariable> variables;
};

// R's concordance(): the concordance of a predictor with survival, its standard error, and
// the pairs it counts.
struct ConcordanceOutput {
  double n = 0;
  double concordance = 0, concordance_se = 0;
  double concordant = 0, discordant = 0, tied_x = 0, tied_y = 0, tied_xy = 0;
};

// R's cox.zph(fit, transform, terms = TRUE)$table: the score test of each term's coefficient
// changing with g(time), and the global test.
struct CoxZphOutput {
  std::string transform;
  std::vector<std::string> rownames;  // each term, then "GLOBAL"
  std::vector<double> chisq, df, p;
};

// A calibration table at a time t for a model's linear predictor: per group of it (its tenths
// by default, at each site its own), the mean predicted risk 1 - S0(t)^exp(lp) against the
// Kaplan–Meier risk observed by t, with its 95% confidence interval. NaN where a site withholds.
struct CalibrationGroup {
  std::string site;  // "" in local mode
  int group = 0;     // 1 = the lowest predictor
  double n = 0, events = 0;
  double predicted = 0, observed = 0, lower = 0, upper = 0;
};
struct CalibrationOutput {
  double time = 0, baseline = 0;
  std::vector<CalibrationGroup> groups;
};

using AnalysisResult =
    std::variant<CoxphOutput, SurvfitOutput, SurvdiffOutput, GlmOutput, TableOutput, DescribeOutput,
                 ConcordanceOutput, CoxZphOutput, CalibrationOutput>;

struct AnalysisOutput {
  AnalysisRequest request;
  AnalysisResult result;
  std::vector<std::string> notes;  // rows dropped, warnings: what R would print
};

Result<AnalysisOutput> RunAnalysis(const AnalysisRequest& request, const data::Table& table);

// The rows where `subset` is TRUE (all rows when it is empty), ascending.
Result<std::vector<size_t>> SubsetRows(const std::string& subset, const data::Table& table);
// "efron", "breslow", "exact"; InvalidArgument naming the choices otherwise.
Result<stats::Ties> ParseTies(const std::string& ties);
// "binomial", "poisson", "gaussian"; InvalidArgument naming the choices otherwise.
Result<stats::Family> ParseFamily(const std::string& family);

// R's survdiff from each stratum's observed, expected and variance (groups in `groups` order):
// the totals, and the chi-square on the groups with expected events. Local and federated runs
// both end here.
SurvdiffOutput SurvdiffFromStrata(double rho, std::vector<std::string> groups,
                                  std::vector<std::string> strata,
                                  const std::vector<stats::LogrankAggregate>& per_stratum);

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_RUN_H_
