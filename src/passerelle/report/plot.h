// Results as pictures: self-contained SVG, drawn by one renderer for every surface (`passerelle
// analyze ... --plot FILE.svg`, the study report, the hub's web UI), so they all show the same
// picture. Every figure a picture shows is the result's — a curve's step heights, the numbers at
// risk, the ratios and their intervals, the counts — and the elements carry classes and data
// attributes (`km-curve`, `cif-curve`, `at-risk`, `forest-row`, `bar`) that tests read back.
//
// Colours come from the Okabe–Ito palette, and each group also has its own dash pattern, so a
// greyscale print keeps the groups apart.
#ifndef PASSERELLE_REPORT_PLOT_H_
#define PASSERELLE_REPORT_PLOT_H_

#include <string>

#include "passerelle/analysis/run.h"
#include "passerelle/base/status.h"

namespace passerelle::report {

// Kaplan–Meier curves: steps, censoring ticks, the confidence band, a legend, the numbers at
// risk under the time axis (at each tick: n.risk at the first time at or after it, as
// summary(fit, times) counts; blank after a curve's last released row unless nobody is left),
// and the log-rank p when `logrank_p` is a number.
std::string KaplanMeierSvg(const analysis::SurvfitOutput& fit, const std::string& title,
                           double logrank_p);

// Competing events: each cause's cumulative incidence per group (colour by group, dash pattern
// by cause; with one group, both by cause), rising from 0, with 95% bands, censoring ticks and
// the numbers at risk of each group (paths of class `cif-curve`, with data-group and
// data-state).
std::string CumulativeIncidenceSvg(const analysis::SurvfitOutput& fit, const std::string& title);

// A forest plot of a Cox model's hazard ratios or a GLM's odds or rate ratios (coefficients for
// the gaussian family) with their 95% Wald intervals (robust when the Cox fit is), on a log
// scale for ratios. The intercept is not drawn.
std::string ForestSvg(const analysis::AnalysisOutput& output);

// A covariate balance ("love") plot of a propensity score: each covariate's standardized mean
// difference before (open circle) and after (filled) weighting, with the 0.1 guides.
std::string BalanceSvg(const analysis::PropensityOutput& ps);

// A calibration plot: each group's observed risk (with its 95% interval) against its mean
// predicted risk, the diagonal of perfect calibration, a colour per site.
std::string CalibrationSvg(const analysis::CalibrationOutput& c, const std::string& title);

// Bars of a table's counts (grouped by row level for a two-way table); a withheld count is an
// empty bar marked "*".
std::string BarSvg(const analysis::TableOutput& table);

// The picture of an analysis: survfit → Kaplan–Meier, coxph and glm → forest (with the balance
// plot below it when weighted by propensity scores), table → bars.
// InvalidArgument for an analysis without one (survdiff, describe).
Result<std::string> PlotSvg(const analysis::AnalysisOutput& output);

}  // namespace passerelle::report

#endif  // PASSERELLE_REPORT_PLOT_H_
