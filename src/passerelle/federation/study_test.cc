#include "passerelle/federation/study.h"

#include <gtest/gtest.h>

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

TEST(Study, ErrorsNameTheFieldOrThePlace) {
  auto error = [](const std::string& text) {
    return ParseStudy(text, "s.json").status().message();
  };
  EXPECT_EQ(error("{\"title\": \"t\",\n \"dataset\": }"), "s.json:2:13: not valid JSON");
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
            "table, describe");
  EXPECT_EQ(error(R"({"title": "t", "dataset": "d", "analyses": [
                   {"id": "a", "function": "describe"}, {"id": "a", "function": "describe"}]})"),
            "s.json: analyses[1].id: 'a' is used twice");
}

}  // namespace
}  // namespace passerelle::federation
