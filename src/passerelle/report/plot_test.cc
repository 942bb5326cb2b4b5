// The pictures are checked against the numbers: a curve's step heights read back from the SVG
// path are the result's survival estimates, the numbers at risk under the axis are R's
// summary(fit, times), a forest plot's markers sit at the hazard ratios, bars at the counts.
#include "passerelle/report/plot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <sstream>

#include "passerelle/data/csv_table.h"

namespace passerelle::report {
namespace {

const std::string kRef = std::string(PASSERELLE_SOURCE_DIR) + "/tests/reference/data/";

analysis::AnalysisOutput Analyze(const analysis::AnalysisRequest& request) {
  data::CsvTableOptions options;
  options.levels["rx"] = {"Obs", "Lev", "Lev+5FU"};
  auto table = data::ReadCsvTable({kRef + "colon_death.csv"}, options);
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  auto out = analysis::RunAnalysis(request, *table);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return *out;
}

// The value of attribute `name` of an element ("" when it has none).
std::string Attribute(const std::string& element, const std::string& name) {
  const std::string key = " " + name + "=\"";
  const size_t at = element.find(key);
  if (at == std::string::npos) return "";
  const size_t from = at + key.size();
  return element.substr(from, element.find('"', from) - from);
}

// Every element of class `cls`: its start tag, then its text up to the next tag.
std::vector<std::string> Elements(const std::string& svg, const std::string& cls) {
  std::vector<std::string> out;
  const std::string key = "class=\"" + cls + "\"";
  for (size_t at = svg.find(key); at != std::string::npos; at = svg.find(key, at + 1)) {
    const size_t open = svg.rfind('<', at);
    const size_t close = svg.find('>', at);
    out.push_back(svg.substr(open, svg.find('<', close) - open));
  }
  return out;
}

TEST(Plot, CumulativeIncidenceStepsAreEachCausesEstimate) {
  data::CsvTableOptions options;
  options.levels["event"] = {"censor", "pcm", "death"};
  auto table = data::ReadCsvTable({kRef + "mgus2_competing.csv"}, options);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  analysis::AnalysisRequest r;
  r.function = "survfit";
  r.formula = "Surv(etime, event) ~ sex";
  auto out = analysis::RunAnalysis(r, *table);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const auto& fit = std::get<analysis::SurvfitOutput>(out->result);
  Result<std::string> svg = PlotSvg(*out);
  ASSERT_TRUE(svg.ok());
  const std::string area = Elements(*svg, "plot-area").at(0);
  const double top = std::stod(Attribute(area, "y")), height = std::stod(Attribute(area, "height"));
  const std::vector<std::string> curves = Elements(*svg, "cif-curve");
  ASSERT_EQ(curves.size(), 4u);  // two groups, two causes
  for (size_t k = 0; k < curves.size(); ++k) {
    const size_t g = k / 2, state = k % 2 + 1;
    EXPECT_EQ(Attribute(curves[k], "data-group"), fit.strata[g]);
    EXPECT_EQ(Attribute(curves[k], "data-state"), fit.states[state]);
    std::istringstream d(Attribute(curves[k], "d"));
    std::vector<double> levels;
    for (std::string token; d >> token;) {
      if (token[0] == 'V') levels.push_back(1 - (std::stod(token.substr(1)) - top) / height);
    }
    const std::vector<double>& p = fit.incidence[g].pstate[state];
    ASSERT_EQ(levels.size(), p.size());
    for (size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(levels[i], p[i], 1e-4) << k << " " << i;
  }
  // The numbers at risk at time 0: each group's patients (R: 631 women, 753 men).
  for (const std::string& e : Elements(*svg, "at-risk")) {
    if (Attribute(e, "data-time") != "0") continue;
    const std::string n = e.substr(e.find('>') + 1);
    EXPECT_EQ(n, Attribute(e, "data-group") == "sex=F" ? "631" : "753");
  }
}

TEST(Plot, KaplanMeierStepsAndNumbersAtRiskAreTheResults) {
  analysis::AnalysisRequest r;
  r.function = "survfit";
  r.formula = "Surv(time, status) ~ rx";
  const analysis::AnalysisOutput out = Analyze(r);
  const auto& fit = std::get<analysis::SurvfitOutput>(out.result);
  const std::string svg = KaplanMeierSvg(fit, "OS by arm", 0.0021);
  ASSERT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_EQ(svg.find("http://", 40), std::string::npos);  // nothing outside the picture
  const std::string area = Elements(svg, "plot-area").at(0);
  const double top = std::stod(Attribute(area, "y")), height = std::stod(Attribute(area, "height"));
  const std::vector<std::string> curves = Elements(svg, "km-curve");
  ASSERT_EQ(curves.size(), 3u);
  for (size_t g = 0; g < 3; ++g) {
    EXPECT_EQ(Attribute(curves[g], "data-group"), fit.strata[g]);
    // "M x y H x V y H x V y ...": every V is the survival after a row.
    std::istringstream d(Attribute(curves[g], "d"));
    std::vector<double> levels;
    for (std::string token; d >> token;) {
      if (token[0] == 'V') levels.push_back(1 - (std::stod(token.substr(1)) - top) / height);
    }
    ASSERT_EQ(levels.size(), fit.curves[g].surv.size());
    for (size_t i = 0; i < levels.size(); ++i) {
      EXPECT_NEAR(levels[i], fit.curves[g].surv[i], 1e-4) << fit.strata[g] << " row " << i;
    }
  }
  // R: summary(survfit(Surv(time, status) ~ rx, colon_death), times = c(0, 1000, 2000, 3000)).
  const std::map<std::string, std::vector<double>> r_at_risk = {{"rx=Obs", {315, 211, 141, 6}},
                                                                {"rx=Lev", {310, 203, 145, 4}},
                                                                {"rx=Lev+5FU", {304, 227, 170, 7}}};
  size_t checked = 0;
  for (const std::string& text : Elements(svg, "at-risk")) {
    const double time = std::stod(Attribute(text, "data-time"));
    const std::string shown = text.substr(text.find('>') + 1);
    const auto& want = r_at_risk.at(Attribute(text, "data-group"));
    const size_t k = static_cast<size_t>(time / 1000);
    if (k < want.size()) {
      EXPECT_EQ(std::stod(shown), want[k]) << text;
      ++checked;
    } else {
      EXPECT_EQ(shown, "0") << text;  // after every curve's end, nobody is left
    }
  }
  EXPECT_EQ(checked, 12u);
  EXPECT_EQ(Elements(svg, "km-censor").size(), 3u);
  EXPECT_NE(svg.find("Log-rank p = 0.0021"), std::string::npos);
  // One colour and one dash pattern per group.
  EXPECT_NE(Attribute(curves[1], "stroke-dasharray"), Attribute(curves[2], "stroke-dasharray"));
}

TEST(Plot, ForestMarkersSitAtTheHazardRatios) {
  analysis::AnalysisRequest r;
  r.function = "coxph";
  r.formula = "Surv(time, status) ~ rx + sex + age + nodes";
  const analysis::AnalysisOutput out = Analyze(r);
  const auto& fit = std::get<analysis::CoxphOutput>(out.result).fit;
  const std::string svg = ForestSvg(out);
  const std::string axis = Elements(svg, "forest-axis").at(0);
  EXPECT_EQ(Attribute(axis, "data-scale"), "log");
  const double left = std::stod(Attribute(axis, "data-left"));
  const double width = std::stod(Attribute(axis, "data-width"));
  const double low = std::stod(Attribute(axis, "data-min"));
  const double high = std::stod(Attribute(axis, "data-max"));
  const std::vector<std::string> markers = Elements(svg, "estimate");
  const std::vector<std::string> rows = Elements(svg, "forest-row");
  ASSERT_EQ(rows.size(), fit.coef_names.size());
  ASSERT_EQ(markers.size(), fit.coef_names.size());
  const double z = 1.959963984540054;
  for (size_t j = 0; j < rows.size(); ++j) {
    EXPECT_EQ(Attribute(rows[j], "data-term"), fit.coef_names[j]);
    EXPECT_NEAR(std::stod(Attribute(rows[j], "data-estimate")), std::exp(fit.coef[j]), 1e-12);
    EXPECT_NEAR(std::stod(Attribute(rows[j], "data-lower")), std::exp(fit.coef[j] - z * fit.se[j]),
                1e-12);
    const double centre = std::stod(Attribute(markers[j], "x")) + 5;
    const double hr = std::exp(low + (centre - left) / width * (high - low));
    EXPECT_NEAR(hr, std::exp(fit.coef[j]), 1e-3 * std::exp(fit.coef[j])) << fit.coef_names[j];
  }
  // R: exp(coef) of rxLev+5FU in coxph(Surv(time, status) ~ rx + sex + age + nodes, colon_death).
  EXPECT_NE(svg.find("data-term=\"rxLev+5FU\""), std::string::npos);
}

TEST(Plot, BarsAreTheCountsAndWithheldCountsAreMarked) {
  analysis::AnalysisRequest r;
  r.function = "table";
  r.rows = "rx";
  r.cols = "sex";
  analysis::AnalysisOutput out = Analyze(r);
  auto& t = std::get<analysis::TableOutput>(out.result);
  t.counts[1] = std::numeric_limits<double>::quiet_NaN();  // as a site would withhold it
  const std::string svg = BarSvg(t);
  const std::vector<std::string> bars = Elements(svg, "bar");
  ASSERT_EQ(bars.size(), 6u);
  for (size_t i = 0; i < bars.size(); ++i) {
    if (i == 1) {
      EXPECT_EQ(Attribute(bars[i], "data-count"), "withheld");
      continue;
    }
    EXPECT_EQ(std::stod(Attribute(bars[i], "data-count")), t.counts[i]);
  }
  // Heights are proportional to the counts.
  const double h0 = std::stod(Attribute(bars[0], "height"));
  const double h2 = std::stod(Attribute(bars[2], "height"));
  EXPECT_NEAR(h0 / h2, t.counts[0] / t.counts[2], 1e-3);
  EXPECT_NE(svg.find("*: withheld by a site"), std::string::npos);
  auto none = PlotSvg(Analyze([] {
    analysis::AnalysisRequest s;
    s.function = "survdiff";
    s.formula = "Surv(time, status) ~ rx";
    return s;
  }()));
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace passerelle::report
