// Analysis results for people at a terminal, laid out as R's summary() and print() show them:
// coefficients with hazard or odds ratios and 95% CIs, tests, n and events; Kaplan-Meier
// medians and tables; the log-rank table; contingency tables with row percentages.
#ifndef PASSERELLE_REPORT_RESULTS_TEXT_H_
#define PASSERELLE_REPORT_RESULTS_TEXT_H_

#include <string>
#include <vector>

#include "passerelle/analysis/run.h"

namespace passerelle::report {

std::string ResultsText(const analysis::AnalysisOutput& output);

// The descriptive table ("Table 1") as cells: a header row (variable, each site, "all"), then
// records, each number as mean (SD), each category's levels as n (% of the column's known
// values), missing counts; "*" where a site withheld a count.
std::vector<std::vector<std::string>> DescribeCells(const analysis::DescribeOutput& d);

}  // namespace passerelle::report

#endif  // PASSERELLE_REPORT_RESULTS_TEXT_H_
