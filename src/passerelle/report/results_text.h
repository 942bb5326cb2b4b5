// Analysis results for people at a terminal, laid out as R's summary() and print() show them:
// coefficients with hazard or odds ratios and 95% CIs, tests, n and events; Kaplan-Meier
// medians and tables; the log-rank table; contingency tables with row percentages.
#ifndef PASSERELLE_REPORT_RESULTS_TEXT_H_
#define PASSERELLE_REPORT_RESULTS_TEXT_H_

#include <string>

#include "passerelle/analysis/run.h"

namespace passerelle::report {

std::string ResultsText(const analysis::AnalysisOutput& output);

}  // namespace passerelle::report

#endif  // PASSERELLE_REPORT_RESULTS_TEXT_H_
