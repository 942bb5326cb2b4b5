// The analyses' table: each kind's options are checked, written and described from one entry.
#include "passerelle/analysis/registry.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace passerelle::analysis {
namespace {

TEST(Registry, ChecksWritesAndDescribesEachKindFromItsEntry) {
  AnalysisRequest glm;
  glm.function = "glm";
  glm.formula = "y ~ x";
  EXPECT_EQ(CheckRequest(glm).message(),
            "family: is required for glm (binomial, poisson, gaussian)");
  glm.family = "gamma";
  EXPECT_EQ(CheckRequest(glm).message(),
            "family: 'gamma' is not one of binomial, poisson, gaussian");
  glm.family = "poisson";
  EXPECT_TRUE(CheckRequest(glm).ok());
  EXPECT_EQ(RequestOptionsJson(glm), R"({"formula":"y ~ x","family":"poisson"})");

  AnalysisRequest km;
  km.function = "survfit";
  km.formula = "Surv(t, e) ~ 1";
  EXPECT_EQ(RequestOptionsJson(km),
            R"({"formula":"Surv(t, e) ~ 1","conf_type":"log","bin_days":30.0})");
  km.bin_days = -1;
  EXPECT_EQ(CheckRequest(km).message(), "bin_days: must not be negative");

  AnalysisRequest unknown;
  unknown.function = "lm";
  EXPECT_EQ(CheckRequest(unknown).message(),
            "function: 'lm' is not one of coxph, survfit, survdiff, glm, table, describe, "
            "concordance, finegray, coxzph, calibration");

  const nlohmann::json kinds = nlohmann::json::parse(AnalysisKindsJson());
  ASSERT_EQ(kinds.size(), AnalysisKinds().size());
  EXPECT_EQ(kinds[0]["name"], "coxph");
  EXPECT_EQ(kinds[0]["options"][2]["choices"], nlohmann::json({"efron", "breslow", "exact"}));
  for (const nlohmann::json& k : kinds) {
    EXPECT_TRUE(FindAnalysisKind(k["name"].get<std::string>())) << k.dump();
    for (const nlohmann::json& o : k["options"]) {
      EXPECT_TRUE(o["type"] == "text" || o["type"] == "number" || o["type"] == "variables" ||
                  o["type"] == "flag");
    }
  }
  EXPECT_EQ(FindAnalysisKind("table")->options[0].name, "rows");
  // A flag is written only when set.
  AnalysisRequest c;
  c.function = "concordance";
  c.formula = "Surv(t, e) ~ x";
  EXPECT_EQ(RequestOptionsJson(c), R"({"formula":"Surv(t, e) ~ x"})");
  c.reverse = true;
  EXPECT_EQ(RequestOptionsJson(c), R"({"formula":"Surv(t, e) ~ x","reverse":true})");
  EXPECT_EQ(FindAnalysisKind("nothing"), nullptr);
}

TEST(Registry, ARequestNamesTheColumnsItMayRead) {
  AnalysisRequest r;
  r.function = "coxph";
  r.formula = "Surv(os_months, os_event) ~ `psa at dx` + log(age_dx) + strata(site)";
  r.subset = "sex == \"male\" & age_dx >= 50.5";
  const std::set<std::string> names = RequestNames(r);
  for (const char* name :
       {"os_months", "os_event", "psa at dx", "age_dx", "site", "sex", "Surv", "log", "strata"}) {
    EXPECT_TRUE(names.count(name)) << name;
  }
  EXPECT_FALSE(names.count("male"));  // a string
  EXPECT_FALSE(names.count("50.5"));  // a number
  r.formula = "Surv(t, e) ~ .";       // every column: no list
  EXPECT_TRUE(RequestNames(r).empty());
  AnalysisRequest d;
  d.function = "describe";  // no variables: all of them
  EXPECT_TRUE(RequestNames(d).empty());
  d.variables = {"age_dx"};
  EXPECT_EQ(RequestNames(d), std::set<std::string>({"age_dx"}));
}

TEST(Registry, AStepNamesTheColumnsItsSiteReads) {
  // A later step of a Cox model: its options, the levels every site uses keyed by their
  // expressions, the coefficients.
  const nlohmann::json step = {
      {"analysis", "coxph"},
      {"step", "evaluate"},
      {"formula", "Surv(os_days, os_event) ~ age_dx + organ + I(m_stage != \"M0\")"},
      {"subset", "sex == \"male\""},
      {"weights", "w"},
      {"levels", {{"organ", {"prostate", "bladder"}}, {"I(m_stage != \"M0\")", {"FALSE"}}}},
      {"beta", {0.5, -1.25}}};
  const std::set<std::string> names = TaskNames(step);
  for (const char* name : {"os_days", "os_event", "age_dx", "organ", "m_stage", "sex", "w"}) {
    EXPECT_TRUE(names.count(name)) << name;
  }
  EXPECT_FALSE(names.count("male"));
  EXPECT_FALSE(names.count("M0"));
  // Where it cannot tell, none: every column is read.
  EXPECT_TRUE(
      TaskNames({{"analysis", "describe"}, {"variables", nlohmann::json::array()}}).empty());
  EXPECT_TRUE(TaskNames({{"analysis", "describe"}}).empty());
  EXPECT_TRUE(TaskNames({{"analysis", "describe"}, {"variables", {"age_dx"}}}).count("age_dx"));
  EXPECT_TRUE(TaskNames({{"analysis", "no_such_kind"}, {"formula", "y ~ x"}}).empty());
  EXPECT_TRUE(TaskNames({{"analysis", 3}}).empty());
  EXPECT_TRUE(TaskNames({{"analysis", "glm"}, {"formula", "y ~ ."}}).empty());
}

}  // namespace
}  // namespace passerelle::analysis
