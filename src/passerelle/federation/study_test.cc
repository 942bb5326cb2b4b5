#include "passerelle/federation/study.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace passerelle::federation {
namespace {

TEST(Study, ParsesTheIssueExample) {
  const std::string text = R"j({ "title": "OS", "dataset": "gu_cohort",
    "analyses": [
      { "id": "os_cox", "function": "coxph",
        "formula": "Surv(os_days, os_event) ~ age_dx + organ + strata(site)", "ties": "efron",
        "subset": "organ != \"testis\"" },
      { "id": "os_km", "function": "survfit", "formula": "Surv(os_days, os_event) ~ organ",
        "bin_days": 30 },
      { "id": "n1", "function": "glm", "family": "binomial",
        "formula": "I(n_stage == \"N1\") ~ age_dx + organ" } ] })j";
  auto study = ParseStudy(text, "s.json");
  ASSERT_TRUE(study.ok()) << study.status().ToString();
  ASSERT_EQ(study->analyses.size(), 3u);
  EXPECT_EQ(study->analyses[0].request.subset, "organ != \"testis\"");
  EXPECT_EQ(study->analyses[1].request.bin_days, 30);
  EXPECT_EQ(study->analyses[2].request.family, "binomial");
}

TEST(Study, ReadsTheOptionsOfWeightedAndPropensityModels) {
  const std::string text = R"j({ "title": "t", "dataset": "gu_cohort", "analyses": [
      { "id": "w", "function": "coxph", "formula": "Surv(t, s) ~ x", "weights": "w",
        "robust": false },
      { "id": "ps", "function": "coxph", "formula": "Surv(t, s) ~ trt", "robust": "true",
        "propensity": "trt ~ age", "estimand": "att", "stabilized": false },
      { "id": "fg", "function": "finegray", "formula": "Surv(t, e) ~ x", "cause": "1" },
      { "id": "ph", "function": "coxzph", "formula": "Surv(t, s) ~ x", "transform": "log" },
      { "id": "cal", "function": "calibration", "formula": "Surv(t, s) ~ I(0.1 * x)",
        "time": 365, "baseline": 0.9 } ] })j";
  auto study = ParseStudy(text, "s.json");
  ASSERT_TRUE(study.ok()) << study.status().ToString();
  EXPECT_EQ(study->analyses[0].request.weights, "w");
  EXPECT_EQ(study->analyses[0].request.robust, "false");  // JSON's false, as the choice
  EXPECT_EQ(study->analyses[1].request.robust, "true");
  EXPECT_EQ(study->analyses[1].request.estimand, "att");
  EXPECT_EQ(study->analyses[2].request.cause, "1");
  EXPECT_EQ(study->analyses[3].request.transform, "log");
  EXPECT_EQ(study->analyses[4].request.at_time, 365);
  // A finegray without its cause, or a robust that is neither, is refused by name.
  EXPECT_NE(ParseStudy(R"({"title": "t", "dataset": "d", "analyses": [{"id": "a",
      "function": "finegray", "formula": "Surv(t, e) ~ x"}]})",
                       "s.json")
                .status()
                .message()
                .find("cause: is required for finegray"),
            std::string::npos);
  EXPECT_NE(ParseStudy(R"({"title": "t", "dataset": "d", "analyses": [{"id": "a",
      "function": "coxph", "formula": "Surv(t, s) ~ x", "robust": "maybe"}]})",
                       "s.json")
                .status()
                .message()
                .find("robust: 'maybe' is not one of true, false"),
            std::string::npos);
}

TEST(Study, ErrorsNameTheFieldOrThePlace) {
  auto error = [](const std::string& text) {
    return ParseStudy(text, "s.json").status().message();
  };
  EXPECT_EQ(error("{\"title\": \"t\",\n \"dataset\": }"), "s.json:2:13: not valid JSON");
  EXPECT_EQ(error("{\"title\": \"t\",\n \"dataset\": 4e4444}"),
            "s.json:2:13: a number beyond the range of a double");
  EXPECT_EQ(error(R"({"title": "t", "dataset": "d", "analyses": [{"id": "a", "function": "glm",
                   "formula": "y ~ x"}]})"),
            "s.json: analyses[0].family: is required for glm (binomial, poisson, gaussian)");
  EXPECT_NE(error(R"({"title": "t", "dataset": "d", "analyses": [{"id": "a",
                   "function": "coxph", "fomula": "y ~ x"}]})")
                .find("analyses[0].fomula: is not a field of an analysis"),
            std::string::npos);
  EXPECT_EQ(error(R"({"title": "t", "dataset": "d", "analyses": [{"id": "a",
                   "function": "lm", "formula": "y ~ x"}]})"),
            "s.json: analyses[0].function: 'lm' is not one of coxph, survfit, survdiff, glm, "
            "table, describe, concordance, finegray, coxzph, calibration");
  EXPECT_EQ(error(R"({"title": "t", "dataset": "d", "analyses": [
                   {"id": "a", "function": "describe"}, {"id": "a", "function": "describe"}]})"),
            "s.json: analyses[1].id: 'a' is used twice");
  // A site named twice would count its records twice.
  EXPECT_EQ(error(R"({"title": "t", "dataset": "d", "sites": ["lyon", "lyon"],
                   "analyses": [{"id": "a", "function": "describe"}]})"),
            "s.json: sites: names 'lyon' twice");
  EXPECT_EQ(error(R"({"title": "t", "dataset": "d", "on_refusal": "skip",
                   "analyses": [{"id": "a", "function": "describe"}]})"),
            "s.json: on_refusal: must be \"fail\" or \"exclude\"");
}

const char kProtocol[] = R"js({
  "protocol": "GU-2026-01", "title": "OS by organ", "dataset": "gu_cohort",
  "researchers": ["alice"], "expires": "2027-06-30", "sites": ["lyon"],
  "analyses": [
    { "id": "km", "function": "survfit", "formula": "Surv(os_days, os_event) ~ organ" },
    { "id": "lr", "function": "survdiff", "formula": "Surv(os_days, os_event) ~ organ + strata(site)" },
    { "id": "cox", "function": "coxph", "formula": "Surv(os_days, os_event) ~ age_dx",
      "subset": "organ != \"testis\"" },
    { "id": "t1", "function": "describe", "variables": ["age_dx"] } ] })js";

TEST(Protocol, ParsesAndNamesWhatIsMissing) {
  auto p = ParseProtocol(kProtocol, "p.json");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->name, "GU-2026-01");
  EXPECT_EQ(p->researchers, std::vector<std::string>{"alice"});
  EXPECT_EQ(p->expires, "2027-06-30");
  EXPECT_EQ(p->study.analyses.size(), 4u);
  auto error = [](std::string text, const std::string& from, const std::string& to) {
    text.replace(text.find(from), from.size(), to);
    return ParseProtocol(text, "p.json").status().message();
  };
  EXPECT_EQ(error(kProtocol, "\"2027-06-30\"", "\"2027-02-30\""),
            "p.json: expires: must be a date, YYYY-MM-DD (the last day it may run)");
  EXPECT_EQ(error(kProtocol, "[\"alice\"]", "[]"),
            "p.json: researchers: is required (who may run it)");
  EXPECT_EQ(error(kProtocol, "\"GU-2026-01\"", "\"GU 2026\""),
            "p.json: protocol: must be a name (letters, digits, '-', '_', '.')");
  // A study under a protocol may leave its analyses out; one without must list them.
  auto study = ParseStudy(R"js({"title": "t", "dataset": "d", "protocol": "GU-2026-01"})js", "s");
  ASSERT_TRUE(study.ok()) << study.status().ToString();
  EXPECT_EQ(study->protocol, "GU-2026-01");
  EXPECT_TRUE(study->analyses.empty());
  EXPECT_FALSE(ParseStudy(R"js({"title": "t", "dataset": "d"})js", "s").ok());
}

TEST(Protocol, ATaskBelongsToAnAnalysisOnlyAsApproved) {
  auto p = ParseProtocol(kProtocol, "p.json");
  ASSERT_TRUE(p.ok());
  auto of = [&](const std::string& step) { return ProtocolAnalysisOf(*p, step); };
  // Every round of the fit, whatever its coefficients.
  EXPECT_EQ(*of(R"js({"analysis": "coxph", "step": "evaluate", "formula":
      "Surv(os_days, os_event) ~ age_dx", "subset": "organ != \"testis\"", "ties": "efron",
      "beta": [0.3]})js"),
            "cox");
  EXPECT_EQ(*of(R"js({"analysis": "survfit", "step": "counts", "formula":
      "Surv(os_days, os_event) ~ organ", "subset": "", "bin_days": 30})js"),
            "km");
  EXPECT_EQ(*of(R"js({"analysis": "survdiff", "step": "logrank", "formula":
      "Surv(os_days, os_event) ~ organ + strata(site)", "subset": "", "rho": 0})js"),
            "lr");
  EXPECT_EQ(*of(R"js({"analysis": "describe", "variables": ["age_dx"], "subset": ""})js"), "t1");
  // Anything else: another subset, ties, grid, formula, variables, analysis.
  for (const char* other : {
           R"js({"analysis": "coxph", "step": "evaluate", "formula":
               "Surv(os_days, os_event) ~ age_dx", "subset": "", "beta": [0.3]})js",
           R"js({"analysis": "coxph", "step": "design", "formula":
               "Surv(os_days, os_event) ~ age_dx", "subset": "organ != \"testis\"",
               "ties": "breslow"})js",
           R"js({"analysis": "survfit", "step": "counts", "formula":
               "Surv(os_days, os_event) ~ organ", "subset": "", "bin_days": 31})js",
           R"js({"analysis": "survfit", "step": "counts", "formula":
               "Surv(os_days * 30, os_event) ~ organ", "subset": "", "bin_days": 30})js",
           R"js({"analysis": "describe", "variables": ["age_dx", "psa_dx"], "subset": ""})js",
           // The exact log-rank step of a curve, or of a test approved on the grid.
           R"js({"analysis": "survfit", "step": "logrank", "formula":
               "Surv(os_days, os_event) ~ organ", "subset": "", "rho": 0})js",
           R"js({"analysis": "survdiff", "step": "counts", "formula":
               "Surv(os_days, os_event) ~ organ + strata(site)", "subset": "", "bin_days": 30})js",
           R"js({"analysis": "table", "rows": "organ", "subset": ""})js", "not json"}) {
    EXPECT_EQ(of(other).status().code(), StatusCode::kNotFound) << other;
  }
}

TEST(Study, SizesAreBounded) {
  nlohmann::json study = {{"title", std::string(600, 't')},
                          {"dataset", "d"},
                          {"analyses", {{{"id", "a"}, {"function", "describe"}}}}};
  EXPECT_EQ(ParseStudy(study.dump(), "s").status().message(), "s: title: is longer than 500 bytes");
  study["title"] = "t";
  study["analyses"][0]["variables"] = std::vector<std::string>(501, "age_dx");
  EXPECT_EQ(ParseStudy(study.dump(), "s").status().message(),
            "s: analyses[0].variables: lists more than 500 variables");
  study["analyses"] = nlohmann::json::array();
  for (int i = 0; i < 201; ++i) {
    study["analyses"].push_back({{"id", "a" + std::to_string(i)}, {"function", "describe"}});
  }
  EXPECT_EQ(ParseStudy(study.dump(), "s").status().message(),
            "s: analyses: has more than 200 analyses");
}

TEST(Protocol, ChangesBetweenVersionsAreListed) {
  auto before = ParseProtocol(kProtocol, "p.json");
  std::string text = kProtocol;
  text.replace(text.find("2027-06-30"), 10, "2027-12-31");
  text.replace(text.find("~ age_dx\","), 10, "~ age_dx + psa_dx\",");
  auto after = ParseProtocol(text, "p.json");
  ASSERT_TRUE(before.ok() && after.ok()) << after.status().ToString();
  const std::vector<std::string> changes = ProtocolChanges(*before, *after);
  ASSERT_EQ(changes.size(), 2u) << ::testing::PrintToString(changes);
  EXPECT_EQ(changes[0], "expires: 2027-06-30 -> 2027-12-31");
  EXPECT_NE(changes[1].find("changed {\"id\":\"cox\""), std::string::npos) << changes[1];
  EXPECT_NE(changes[1].find("age_dx + psa_dx"), std::string::npos);
  EXPECT_TRUE(ProtocolChanges(*before, *before).empty());
}

}  // namespace
}  // namespace passerelle::federation
