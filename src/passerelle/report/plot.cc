#include "passerelle/report/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <type_traits>
#include <vector>

#include "passerelle/report/markup.h"
#include "passerelle/stats/distributions.h"

namespace passerelle::report {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Okabe–Ito, black first; and one dash pattern per group, for greyscale prints.
constexpr const char* kColours[] = {"#000000", "#E69F00", "#0072B2", "#009E73",
                                    "#D55E00", "#CC79A7", "#56B4E9", "#F0E442"};
constexpr const char* kDashes[] = {"", "8 4", "2 3", "10 3 2 3", "4 4", "1 2", "12 4 4 4", "6 2"};

const char* Colour(size_t g) { return kColours[g % std::size(kColours)]; }
const char* Dash(size_t g) { return kDashes[g % std::size(kDashes)]; }

// A coordinate, with two decimals.
std::string C(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

// A number as a label: up to `digits` significant digits, no trailing zeros.
std::string Label(double v, int digits = 4) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string Text(double x, double y, const std::string& text, const std::string& attributes = "") {
  return "<text x=\"" + C(x) + "\" y=\"" + C(y) + "\"" + (attributes.empty() ? "" : " ") +
         attributes + ">" + EscapeMarkup(text) + "</text>\n";
}

std::string Line(double x1, double y1, double x2, double y2, const std::string& attributes) {
  return "<line x1=\"" + C(x1) + "\" y1=\"" + C(y1) + "\" x2=\"" + C(x2) + "\" y2=\"" + C(y2) +
         "\" " + attributes + "/>\n";
}

std::string Open(double width, double height, const std::string& title) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + C(width) + "\" height=\"" +
         C(height) + "\" viewBox=\"0 0 " + C(width) + " " + C(height) +
         "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\" role=\"img\">\n"
         "<title>" +
         EscapeMarkup(title) +
         "</title>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n" +
         Text(width / 2, 20, title, "text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\"");
}

// Ticks 0, s, 2s, ... up to the first at or past `max`, s a 1, 2, 2.5 or 5 times a power of ten
// giving about `target` intervals.
std::vector<double> NiceTicks(double max, int target = 6) {
  if (!(max > 0)) max = 1;
  const double raw = max / target;
  const double power = std::pow(10, std::floor(std::log10(raw)));
  double step = 10 * power;
  for (double m : {1.0, 2.0, 2.5, 5.0}) {
    if (m * power >= raw) {
      step = m * power;
      break;
    }
  }
  std::vector<double> ticks;
  for (double t = 0; ticks.empty() || ticks.back() < max - 1e-9 * max; t += step) {
    ticks.push_back(std::round(t / step) * step);
  }
  return ticks;
}

std::string PLabel(double p) {
  if (p < 1e-4) return "p < 0.0001";
  char buf[32];
  std::snprintf(buf, sizeof buf, "p = %.2g", p);
  return std::string(buf);
}

// The patients at risk of a curve at time t: n.risk of its first row at or after t; after its
// last row, 0 when nobody is left, unknown (NaN) when the rows stop earlier (a truncated curve).
struct RiskRows {
  double n = 0;
  const std::vector<double>*time, *n_risk, *n_censor;
  std::vector<double> n_event;  // all events at each time
  double At(double t) const {
    for (size_t i = 0; i < time->size(); ++i) {
      if ((*time)[i] >= t) return (*n_risk)[i];
    }
    if (time->empty()) return n;
    const double left = n_risk->back() - n_event.back() - n_censor->back();
    return left == 0 ? 0 : kNaN;
  }
};

// One step curve: a Kaplan–Meier curve, or one cause's cumulative incidence.
struct StepCurve {
  std::string group, label;  // the curve's group (its at-risk row), and its legend
  std::string state;         // competing events: the cause; empty for Kaplan–Meier
  size_t colour = 0, dash = 0;
  double start = 1;  // the value at time 0
  const std::vector<double>*time, *y, *lower, *upper, *n_censor;
};

// The survival plot both kinds share: steps from time 0, censoring ticks, confidence bands, a
// legend above, the numbers at risk of each group under the time axis.
std::string StepPlot(const std::string& title, const std::string& y_label,
                     const std::string& curve_class, const std::vector<StepCurve>& curves,
                     const std::vector<std::string>& groups, const std::vector<RiskRows>& risk,
                     const std::string& note) {
  constexpr double kWidth = 760, kLeft = 130, kRight = 30, kTop = 64, kHeight = 320;
  const double plot_width = kWidth - kLeft - kRight;
  const double legend_rows = static_cast<double>((curves.size() + 3) / 4);
  const double top = kTop + 16 * std::max(0.0, legend_rows - 1);
  const double risk_top = top + kHeight + 62;
  const double total_height = risk_top + 20 * static_cast<double>(groups.size()) + 16;
  double last = 0;
  for (const StepCurve& c : curves) {
    if (!c.time->empty()) last = std::max(last, c.time->back());
  }
  const std::vector<double> ticks = NiceTicks(last);
  const double x_max = ticks.back();
  auto x = [&](double t) { return kLeft + t / x_max * plot_width; };
  auto y = [&](double s) { return top + (1 - s) * kHeight; };

  std::string svg = Open(kWidth, total_height, title);
  svg += "<rect class=\"plot-area\" x=\"" + C(kLeft) + "\" y=\"" + C(top) + "\" width=\"" +
         C(plot_width) + "\" height=\"" + C(kHeight) + "\" fill=\"none\" stroke=\"#888888\" " +
         "data-x-max=\"" + Label(x_max, 15) + "\"/>\n";
  for (double s : {0.0, 0.25, 0.5, 0.75, 1.0}) {
    svg += Line(kLeft - 5, y(s), kLeft, y(s), "stroke=\"#888888\"");
    svg += Line(kLeft, y(s), kLeft + plot_width, y(s), "stroke=\"#eeeeee\"");
    svg += Text(kLeft - 8, y(s) + 4, C(s), "text-anchor=\"end\"");
  }
  for (double t : ticks) {
    svg += Line(x(t), top + kHeight, x(t), top + kHeight + 5, "stroke=\"#888888\"");
    svg += Text(x(t), top + kHeight + 18, Label(t), "text-anchor=\"middle\"");
  }
  svg += Text(kLeft + plot_width / 2, top + kHeight + 38, "Time (days)", "text-anchor=\"middle\"");
  svg += Text(0, 0, y_label,
              "text-anchor=\"middle\" transform=\"translate(" + C(kLeft - 48) + " " +
                  C(top + kHeight / 2) + ") rotate(-90)\"");
  auto data = [](const StepCurve& c) {
    return "data-group=\"" + EscapeMarkup(c.group) + "\"" +
           (c.state.empty() ? "" : " data-state=\"" + EscapeMarkup(c.state) + "\"");
  };

  // Bands first, then the curves over them.
  for (const StepCurve& c : curves) {
    if (c.time->empty()) continue;
    std::vector<std::pair<double, double>> upper = {{x(0), y(c.start)}}, lower = upper;
    double up = c.start, low = c.start;
    for (size_t i = 0; i < c.time->size(); ++i) {
      const double v = (*c.y)[i];
      const double u = std::isnan((*c.upper)[i]) ? v : (*c.upper)[i];
      const double l = std::isnan((*c.lower)[i]) ? v : (*c.lower)[i];
      upper.push_back({x((*c.time)[i]), y(up)});
      upper.push_back({x((*c.time)[i]), y(u)});
      lower.push_back({x((*c.time)[i]), y(low)});
      lower.push_back({x((*c.time)[i]), y(l)});
      up = u;
      low = l;
    }
    std::string points;
    for (const auto& [px, py] : upper) points += C(px) + "," + C(py) + " ";
    for (auto it = lower.rbegin(); it != lower.rend(); ++it) {
      points += C(it->first) + "," + C(it->second) + " ";
    }
    svg += "<polygon class=\"km-band\" " + data(c) + " points=\"" + points + "\" fill=\"" +
           Colour(c.colour) + "\" fill-opacity=\"0.12\" stroke=\"none\"/>\n";
  }
  for (size_t k = 0; k < curves.size(); ++k) {
    const StepCurve& c = curves[k];
    std::string d = "M" + C(x(0)) + " " + C(y(c.start));
    std::string censored;
    for (size_t i = 0; i < c.time->size(); ++i) {
      const double t = (*c.time)[i], v = (*c.y)[i];
      d += " H" + C(x(t)) + " V" + C(y(v));
      if ((*c.n_censor)[i] > 0)
        censored += "M" + C(x(t)) + " " + C(y(v) - 4) + " V" + C(y(v) + 4) + " ";
    }
    const std::string dash =
        *Dash(c.dash) ? std::string(" stroke-dasharray=\"") + Dash(c.dash) + "\"" : "";
    svg += "<path class=\"" + curve_class + "\" " + data(c) + " d=\"" + d +
           "\" fill=\"none\" stroke=\"" + Colour(c.colour) + "\" stroke-width=\"2\"" + dash +
           "/>\n";
    if (!censored.empty()) {
      svg += "<path class=\"km-censor\" " + data(c) + " d=\"" + censored + "\" stroke=\"" +
             Colour(c.colour) + "\" stroke-width=\"1.5\"/>\n";
    }
    // Legend, above the plot.
    const double lx = kLeft + static_cast<double>(k % 4) * (plot_width / 4);
    const double ly = kTop - 26 + 16 * static_cast<double>(k / 4);
    svg += Line(lx, ly, lx + 28, ly,
                std::string("stroke=\"") + Colour(c.colour) + "\" stroke-width=\"2\"" + dash);
    svg += Text(lx + 34, ly + 4, c.label);
  }
  if (!note.empty()) svg += Text(kLeft + 10, top + kHeight - 10, note, "class=\"logrank-p\"");
  // Numbers at risk under the axis.
  svg += Text(8, risk_top - 6, "Number at risk", "font-weight=\"bold\"");
  for (size_t g = 0; g < groups.size(); ++g) {
    const double ry = risk_top + 14 + 20 * static_cast<double>(g);
    svg +=
        Text(8, ry, groups[g], std::string("fill=\"") + Colour(groups.size() > 1 ? g : 0) + "\"");
    for (double t : ticks) {
      const double n = risk[g].At(t);
      svg += Text(x(t), ry, std::isnan(n) ? "" : Label(n, 15),
                  "class=\"at-risk\" text-anchor=\"middle\" data-group=\"" +
                      EscapeMarkup(groups[g]) + "\" data-time=\"" + Label(t, 15) + "\"");
    }
  }
  return svg + "</svg>\n";
}

}  // namespace

std::string KaplanMeierSvg(const analysis::SurvfitOutput& fit, const std::string& title,
                           double logrank_p) {
  std::vector<StepCurve> curves;
  std::vector<RiskRows> risk;
  for (size_t g = 0; g < fit.curves.size(); ++g) {
    const stats::KaplanMeier& km = fit.curves[g];
    curves.push_back({fit.strata[g], fit.strata[g], "", g, g, 1.0, &km.time, &km.surv, &km.lower,
                      &km.upper, &km.n_censor});
    risk.push_back({km.n, &km.time, &km.n_risk, &km.n_censor, km.n_event});
  }
  return StepPlot(title, "Survival probability", "km-curve", curves, fit.strata, risk,
                  std::isnan(logrank_p) ? "" : "Log-rank " + PLabel(logrank_p));
}

std::string CumulativeIncidenceSvg(const analysis::SurvfitOutput& fit, const std::string& title) {
  std::vector<StepCurve> curves;
  std::vector<RiskRows> risk;
  const size_t groups = fit.incidence.size(), causes = fit.states.size() - 1;
  for (size_t g = 0; g < groups; ++g) {
    const stats::CumulativeIncidence& ci = fit.incidence[g];
    for (size_t c = 1; c <= causes; ++c) {
      // Colour by group and dash by cause; with one group, both by cause.
      const size_t colour = groups > 1 ? g : c - 1;
      curves.push_back({fit.strata[g],
                        groups > 1 ? fit.strata[g] + ": " + fit.states[c] : fit.states[c],
                        fit.states[c], colour, c - 1, 0.0, &ci.time, &ci.pstate[c], &ci.lower[c],
                        &ci.upper[c], &ci.n_censor});
    }
    std::vector<double> events(ci.time.size(), 0.0);
    for (const auto& d : ci.n_event) {
      for (size_t i = 0; i < d.size(); ++i) events[i] += d[i];
    }
    risk.push_back({ci.n, &ci.time, &ci.n_risk, &ci.n_censor, std::move(events)});
  }
  return StepPlot(title, "Cumulative incidence", "cif-curve", curves, fit.strata, risk, "");
}

std::string ForestSvg(const analysis::AnalysisOutput& output) {
  struct Row {
    std::string term;
    double estimate, lower, upper;
  };
  std::vector<Row> rows;
  bool ratio = true;
  std::string effect = "HR";
  const double z = stats::NormalQuantile(0.975);
  auto add = [&](const std::string& term, double coef, double se) {
    if (term == "(Intercept)" || std::isnan(coef)) return;
    const double lo = coef - z * se, hi = coef + z * se;
    rows.push_back(ratio ? Row{term, std::exp(coef), std::exp(lo), std::exp(hi)}
                         : Row{term, coef, lo, hi});
  };
  if (const auto* cox = std::get_if<analysis::CoxphOutput>(&output.result)) {
    const analysis::CoxphResult& r = cox->fit;
    for (size_t j = 0; j < r.coef_names.size(); ++j) {
      add(r.coef_names[j], r.coef[j], r.robust_se.empty() ? r.se[j] : r.robust_se[j]);
    }
  } else if (const auto* glm = std::get_if<analysis::GlmOutput>(&output.result)) {
    const analysis::GlmResult& r = glm->fit;
    ratio = r.family != "gaussian";
    effect = r.family == "binomial" ? "OR" : r.family == "poisson" ? "RR" : "Estimate";
    for (size_t j = 0; j < r.coef_names.size(); ++j) add(r.coef_names[j], r.coef[j], r.se[j]);
  }
  constexpr double kWidth = 760, kLabels = 190, kValues = 200, kTop = 48, kRowHeight = 26;
  const double plot_left = kLabels, plot_width = kWidth - kLabels - kValues;
  const double plot_height = kRowHeight * static_cast<double>(std::max<size_t>(rows.size(), 1));
  // The axis: log scale for ratios, always showing the null value (1 or 0).
  auto t = [&](double v) { return ratio ? std::log(v) : v; };
  double low = t(ratio ? 1 : 0), high = low;
  for (const Row& r : rows) {
    for (double v : {r.lower, r.upper, r.estimate}) {
      if (std::isfinite(t(v))) low = std::min(low, t(v)), high = std::max(high, t(v));
    }
  }
  const double pad = std::max(0.05 * (high - low), 1e-3);
  low -= pad;
  high += pad;
  auto x = [&](double v) { return plot_left + (t(v) - low) / (high - low) * plot_width; };
  const std::string title =
      (output.request.function == "finegray"                          ? "Fine–Gray model: "
       : std::holds_alternative<analysis::CoxphOutput>(output.result) ? "Cox model: "
                                                                      : "GLM: ") +
      output.request.formula;
  std::string svg = Open(kWidth, kTop + plot_height + 56, title);
  svg += Text(plot_left + plot_width + 12, kTop - 10, effect + " (95% CI)", "font-weight=\"bold\"");
  svg += "<g class=\"forest-axis\" data-scale=\"" + std::string(ratio ? "log" : "linear") +
         "\" data-left=\"" + C(plot_left) + "\" data-width=\"" + C(plot_width) + "\" data-min=\"" +
         Label(low, 15) + "\" data-max=\"" + Label(high, 15) + "\">\n";
  const double axis_y = kTop + plot_height + 4;
  svg += Line(plot_left, axis_y, plot_left + plot_width, axis_y, "stroke=\"#888888\"");
  std::vector<double> ticks;
  if (ratio) {
    for (double v : {0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0}) {
      if (std::log(v) >= low && std::log(v) <= high) ticks.push_back(v);
    }
    if (ticks.size() < 3) {
      ticks.clear();
      for (double v : {0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0}) {
        if (std::log(v) >= low && std::log(v) <= high) ticks.push_back(v);
      }
    }
  } else {
    const double step = NiceTicks(high - low, 5)[1];
    for (double v = std::ceil(low / step) * step; v <= high; v += step) ticks.push_back(v);
  }
  for (double v : ticks) {
    svg += Line(x(v), axis_y, x(v), axis_y + 5, "stroke=\"#888888\"");
    svg += Text(x(v), axis_y + 18, Label(v, 3), "text-anchor=\"middle\"");
  }
  svg += Line(x(ratio ? 1 : 0), kTop - 4, x(ratio ? 1 : 0), axis_y,
              "stroke=\"#888888\" stroke-dasharray=\"3 3\"");
  svg += "</g>\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const double cy = kTop + kRowHeight * (static_cast<double>(i) + 0.5);
    svg += "<g class=\"forest-row\" data-term=\"" + EscapeMarkup(r.term) + "\" data-estimate=\"" +
           Label(r.estimate, 15) + "\" data-lower=\"" + Label(r.lower, 15) + "\" data-upper=\"" +
           Label(r.upper, 15) + "\">\n";
    svg += Text(8, cy + 4, r.term);
    if (std::isfinite(t(r.lower)) && std::isfinite(t(r.upper))) {
      svg += Line(x(r.lower), cy, x(r.upper), cy, "class=\"ci\" stroke=\"#000000\"");
    }
    if (std::isfinite(t(r.estimate))) {
      svg += "<rect class=\"estimate\" x=\"" + C(x(r.estimate) - 5) + "\" y=\"" + C(cy - 5) +
             "\" width=\"10\" height=\"10\" fill=\"#0072B2\"/>\n";
    }
    svg += Text(plot_left + plot_width + 12, cy + 4,
                Label(r.estimate, 3) + " (" + Label(r.lower, 3) + " to " + Label(r.upper, 3) + ")");
    svg += "</g>\n";
  }
  return svg + "</svg>\n";
}

std::string BalanceSvg(const analysis::PropensityOutput& ps) {
  constexpr double kWidth = 760, kLabels = 190, kRight = 40, kTop = 64, kRowHeight = 24;
  const double plot_left = kLabels, plot_width = kWidth - kLabels - kRight;
  const size_t n = ps.covariates.size();
  const double plot_height = kRowHeight * static_cast<double>(std::max<size_t>(n, 1));
  double extent = 0.25;
  for (double v : ps.smd_before)
    extent = std::isfinite(v) ? std::max(extent, std::fabs(v)) : extent;
  for (double v : ps.smd_after) extent = std::isfinite(v) ? std::max(extent, std::fabs(v)) : extent;
  extent *= 1.1;
  auto x = [&](double v) { return plot_left + (v + extent) / (2 * extent) * plot_width; };
  std::string svg = Open(kWidth, kTop + plot_height + 60,
                         "Covariate balance: " + ps.formula + " (" + ps.estimand + " weights)");
  svg += Text(kWidth / 2, 40, "standardized mean difference: ○ before, ● after weighting",
              "text-anchor=\"middle\"");
  const double axis_y = kTop + plot_height + 4;
  svg += Line(plot_left, axis_y, plot_left + plot_width, axis_y, "stroke=\"#888888\"");
  const double step = NiceTicks(extent, 3)[1];
  for (double v = -std::floor(extent / step) * step; v <= extent + 1e-12; v += step) {
    svg += Line(x(v), axis_y, x(v), axis_y + 5, "stroke=\"#888888\"");
    svg +=
        Text(x(v), axis_y + 18, Label(std::fabs(v) < 1e-12 ? 0 : v, 3), "text-anchor=\"middle\"");
  }
  svg += Line(x(0), kTop - 4, x(0), axis_y, "stroke=\"#888888\"");
  for (double guide : {-0.1, 0.1}) {
    svg +=
        Line(x(guide), kTop - 4, x(guide), axis_y, "stroke=\"#888888\" stroke-dasharray=\"3 3\"");
  }
  for (size_t i = 0; i < n; ++i) {
    const double cy = kTop + kRowHeight * (static_cast<double>(i) + 0.5);
    svg += "<g class=\"balance-row\" data-covariate=\"" + EscapeMarkup(ps.covariates[i]) +
           "\" data-before=\"" + Label(ps.smd_before[i], 15) + "\" data-after=\"" +
           Label(ps.smd_after[i], 15) + "\">\n";
    svg += Text(8, cy + 4, ps.covariates[i]);
    if (std::isfinite(ps.smd_before[i])) {
      svg += "<circle class=\"before\" cx=\"" + C(x(ps.smd_before[i])) + "\" cy=\"" + C(cy) +
             "\" r=\"5\" fill=\"none\" stroke=\"#D55E00\" stroke-width=\"1.5\"/>\n";
    }
    if (std::isfinite(ps.smd_after[i])) {
      svg += "<circle class=\"after\" cx=\"" + C(x(ps.smd_after[i])) + "\" cy=\"" + C(cy) +
             "\" r=\"5\" fill=\"#0072B2\"/>\n";
    }
    svg += "</g>\n";
  }
  return svg + "</svg>\n";
}

std::string CalibrationSvg(const analysis::CalibrationOutput& c, const std::string& title) {
  constexpr double kWidth = 760, kLeft = 70, kTop = 50, kSize = 420;
  double extent = 0.05;
  for (const analysis::CalibrationGroup& g : c.groups) {
    for (double v : {g.predicted, g.upper})
      extent = std::isfinite(v) ? std::max(extent, v) : extent;
  }
  extent = std::min(1.0, extent * 1.1);
  auto x = [&](double v) { return kLeft + v / extent * kSize; };
  auto y = [&](double v) { return kTop + kSize - v / extent * kSize; };
  std::string svg = Open(kWidth, kTop + kSize + 60, title);
  svg += Line(kLeft, kTop + kSize, kLeft + kSize, kTop + kSize, "stroke=\"#888888\"");
  svg += Line(kLeft, kTop, kLeft, kTop + kSize, "stroke=\"#888888\"");
  svg += Line(x(0), y(0), x(extent), y(extent), "stroke=\"#888888\" stroke-dasharray=\"3 3\"");
  const double step = NiceTicks(extent, 5)[1];
  for (double v = 0; v <= extent + 1e-12; v += step) {
    svg += Text(x(v), kTop + kSize + 18, Label(v, 3), "text-anchor=\"middle\"");
    svg += Text(kLeft - 8, y(v) + 4, Label(v, 3), "text-anchor=\"end\"");
  }
  svg += Text(kLeft + kSize / 2, kTop + kSize + 40, "predicted risk", "text-anchor=\"middle\"");
  svg += Text(16, kTop + kSize / 2, "observed risk (Kaplan–Meier)",
              "text-anchor=\"middle\" transform=\"rotate(-90 16 " + C(kTop + kSize / 2) + ")\"");
  std::vector<std::string> sites;
  for (const analysis::CalibrationGroup& g : c.groups) {
    if (std::find(sites.begin(), sites.end(), g.site) == sites.end()) sites.push_back(g.site);
  }
  for (const analysis::CalibrationGroup& g : c.groups) {
    if (!std::isfinite(g.predicted) || !std::isfinite(g.observed)) continue;
    const size_t s =
        static_cast<size_t>(std::find(sites.begin(), sites.end(), g.site) - sites.begin());
    svg += "<g class=\"calibration-group\" data-site=\"" + EscapeMarkup(g.site) +
           "\" data-group=\"" + std::to_string(g.group) + "\" data-predicted=\"" +
           Label(g.predicted, 15) + "\" data-observed=\"" + Label(g.observed, 15) + "\">\n";
    if (std::isfinite(g.lower) && std::isfinite(g.upper)) {
      svg += Line(x(g.predicted), y(g.lower), x(g.predicted), y(std::min(g.upper, extent)),
                  std::string("stroke=\"") + Colour(s) + "\"");
    }
    svg += "<circle cx=\"" + C(x(g.predicted)) + "\" cy=\"" + C(y(g.observed)) +
           "\" r=\"4\" fill=\"" + Colour(s) + "\"/>\n</g>\n";
  }
  for (size_t s = 0; s < sites.size() && !sites[s].empty(); ++s) {
    svg += Text(kLeft + 12, kTop + 16 + 16 * static_cast<double>(s), "● " + sites[s],
                std::string("fill=\"") + Colour(s) + "\"");
  }
  return svg + "</svg>\n";
}

// Two pictures one above the other, as one.
std::string Stacked(const std::string& top, const std::string& bottom) {
  auto height = [](const std::string& svg) {
    const size_t at = svg.find("height=\"") + 8;
    return std::stod(svg.substr(at, svg.find('"', at) - at));
  };
  const double h1 = height(top), h2 = height(bottom);
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760.00\" height=\"" + C(h1 + h2) +
         "\" viewBox=\"0 0 760 " + C(h1 + h2) + "\" role=\"img\">\n" + top +
         "<g transform=\"translate(0 " + C(h1) + ")\">\n" + bottom + "</g>\n</svg>\n";
}

std::string BarSvg(const analysis::TableOutput& table) {
  const size_t nr = table.row_levels.size();
  const size_t nc = table.cols.empty() ? 1 : table.col_levels.size();
  constexpr double kWidth = 760, kLeft = 70, kTop = 64, kHeight = 300;
  const double plot_width = kWidth - kLeft - 30;
  double max = 0;
  for (double c : table.counts) {
    if (c == c) max = std::max(max, c);
  }
  const std::vector<double> ticks = NiceTicks(max, 5);
  auto y = [&](double v) { return kTop + kHeight - v / ticks.back() * kHeight; };
  const std::string title =
      "Counts of " + table.rows + (table.cols.empty() ? "" : " by " + table.cols);
  std::string svg = Open(kWidth, kTop + kHeight + 60, title);
  for (double v : ticks) {
    svg += Line(kLeft - 5, y(v), kLeft + plot_width, y(v), "stroke=\"#eeeeee\"");
    svg += Text(kLeft - 8, y(v) + 4, Label(v, 15), "text-anchor=\"end\"");
  }
  const double group_width = plot_width / static_cast<double>(std::max<size_t>(nr, 1));
  const double bar_width = group_width * 0.8 / static_cast<double>(nc);
  for (size_t r = 0; r < nr; ++r) {
    const double gx = kLeft + group_width * static_cast<double>(r) + group_width * 0.1;
    for (size_t c = 0; c < nc; ++c) {
      const double count = table.counts[r * nc + c];
      const double bx = gx + bar_width * static_cast<double>(c);
      const std::string where =
          "data-row=\"" + EscapeMarkup(table.row_levels[r]) + "\"" +
          (table.cols.empty() ? std::string()
                              : " data-col=\"" + EscapeMarkup(table.col_levels[c]) + "\"");
      if (count != count) {
        svg += "<rect class=\"bar\" " + where + " data-count=\"withheld\" x=\"" + C(bx) +
               "\" y=\"" + C(y(0) - 12) + "\" width=\"" + C(bar_width - 2) +
               "\" height=\"12\" fill=\"none\" stroke=\"" + Colour(c) +
               "\" stroke-dasharray=\"2 2\"/>\n";
        svg += Text(bx + bar_width / 2, y(0) - 16, "*", "text-anchor=\"middle\"");
        continue;
      }
      svg += "<rect class=\"bar\" " + where + " data-count=\"" + Label(count, 15) + "\" x=\"" +
             C(bx) + "\" y=\"" + C(y(count)) + "\" width=\"" + C(bar_width - 2) + "\" height=\"" +
             C(y(0) - y(count)) + "\" fill=\"" + Colour(c) + "\"/>\n";
    }
    svg += Text(gx + group_width * 0.4, kTop + kHeight + 18, table.row_levels[r],
                "text-anchor=\"middle\"");
  }
  svg += Line(kLeft, y(0), kLeft + plot_width, y(0), "stroke=\"#888888\"");
  if (!table.cols.empty()) {
    for (size_t c = 0; c < nc; ++c) {
      const double lx = kLeft + static_cast<double>(c) * 120;
      svg += "<rect x=\"" + C(lx) + "\" y=\"" + C(kTop - 34) + "\" width=\"12\" height=\"12\" " +
             "fill=\"" + Colour(c) + "\"/>\n";
      svg += Text(lx + 18, kTop - 24, table.cols + " = " + table.col_levels[c]);
    }
  }
  bool withheld = false;
  for (double c : table.counts) withheld |= c != c;
  if (withheld) {
    svg += Text(kLeft, kTop + kHeight + 44,
                "*: withheld by a site (a count of 1 to k-1, or withheld with one)");
  }
  return svg + "</svg>\n";
}

Result<std::string> PlotSvg(const analysis::AnalysisOutput& output) {
  return std::visit(
      [&](const auto& result) -> Result<std::string> {
        using T = std::decay_t<decltype(result)>;
        if constexpr (std::is_same_v<T, analysis::SurvfitOutput>) {
          if (!result.states.empty()) {
            return CumulativeIncidenceSvg(result,
                                          "Cumulative incidence: " + output.request.formula);
          }
          return KaplanMeierSvg(result, "Kaplan-Meier: " + output.request.formula, kNaN);
        } else if constexpr (std::is_same_v<T, analysis::CoxphOutput>) {
          if (result.propensity) return Stacked(ForestSvg(output), BalanceSvg(*result.propensity));
          return ForestSvg(output);
        } else if constexpr (std::is_same_v<T, analysis::GlmOutput>) {
          return ForestSvg(output);
        } else if constexpr (std::is_same_v<T, analysis::TableOutput>) {
          return BarSvg(result);
        } else if constexpr (std::is_same_v<T, analysis::CalibrationOutput>) {
          return CalibrationSvg(result, "Calibration at time " + Label(result.time, 6) + ": " +
                                            output.request.formula);
        } else {
          return InvalidArgument(output.request.function +
                                 " has no plot (survfit, coxph, glm and table have)");
        }
      },
      output.result);
}

}  // namespace passerelle::report
