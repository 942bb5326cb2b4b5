#include "passerelle/report/results_text.h"

#include <gtest/gtest.h>

#include <cmath>

namespace passerelle::report {
namespace {

// A Kaplan–Meier curve a site's release cut at the tail counts its events to the cut, and says
// so; a whole curve does not.
TEST(ResultsText, ACutCurveSaysItsEventsAreCountedToTheCut) {
  analysis::AnalysisOutput out;
  out.request.function = "survfit";
  out.request.formula = "Surv(time, status) ~ rx";
  analysis::SurvfitOutput km;
  km.strata = {"rx=Obs", "rx=Lev"};
  km.shown_to = {1800, INFINITY};
  for (double events : {839.0, 120.0}) {
    stats::KaplanMeier c;
    c.n = 1000;
    c.events = events;
    c.time = {30};
    c.n_risk = {1000};
    c.n_event = {events};
    c.surv = {0.5};
    c.std_err_surv = c.lower = c.upper = {0.5};
    km.curves.push_back(c);
  }
  out.result = km;
  const std::string text = ResultsText(out);
  EXPECT_NE(text.find("839 to day 1800"), std::string::npos) << text;
  EXPECT_EQ(text.find("120 to day"), std::string::npos) << text;
}

}  // namespace
}  // namespace passerelle::report
