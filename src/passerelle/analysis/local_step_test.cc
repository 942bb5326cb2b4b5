// One algorithm, two transports: the Cox driver over sites that receive their local steps as
// JSON tasks gives the pooled site-stratified fit; the sites' rules refuse what they must.
#include "passerelle/analysis/local_step.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>

#include "passerelle/analysis/federated.h"
#include "passerelle/analysis/frames.h"
#include "passerelle/analysis/test_site.h"
#include "passerelle/data/csv_table.h"
#include "passerelle/formula/model.h"

namespace passerelle::analysis {
namespace {

const std::string kRef = std::string(PASSERELLE_SOURCE_DIR) + "/tests/reference/data/";
const std::string kFormula = "Surv(time, status) ~ rx + sex + age + obstruct + nodes";

data::Table Site(const std::string& file) {
  data::CsvTableOptions options;
  options.levels["rx"] = {"Obs", "Lev", "Lev+5FU"};
  auto t = data::ReadCsvTable({kRef + file}, options);
  EXPECT_TRUE(t.ok());
  return *t;
}

nlohmann::json CoxTask() {
  return {{"analysis", "coxph"}, {"formula", kFormula}, {"subset", ""}, {"ties", "efron"}};
}

TEST(LocalStep, RemoteSitesGiveThePooledStratifiedFit) {
  std::vector<data::Table> tables = {Site("colon_death_site1.csv"), Site("colon_death_site2.csv"),
                                     Site("colon_death_site3.csv")};
  std::vector<std::unique_ptr<RemoteCoxSite>> remote;
  std::vector<CoxSite*> sites;
  int tasks = 0;
  for (size_t s = 0; s < tables.size(); ++s) {
    const privacy::Policy policy = privacy::DefaultPolicy("site" + std::to_string(s + 1));
    const data::Table* table = &tables[s];
    auto site =
        RemoteCoxSite::Connect(testing::OverText([table, policy, &tasks](const std::string& task) {
                                 ++tasks;
                                 return testing::Aggregate(RunLocalStep(task, *table, policy));
                               }),
                               CoxTask());
    ASSERT_TRUE(site.ok()) << site.status().ToString();
    sites.push_back(site->get());
    remote.push_back(std::move(*site));
  }
  auto federated = FitCoxph(sites, remote[0]->coef_names(), CoxphOptions{});
  ASSERT_TRUE(federated.ok()) << federated.status().ToString();
  EXPECT_GT(tasks, 10);

  // Pooled, in one process, with the site as a stratum.
  data::CsvTableOptions options;
  options.levels["rx"] = {"Obs", "Lev", "Lev+5FU"};
  auto pooled_table =
      data::ReadCsvTable({kRef + "colon_death_site1.csv", kRef + "colon_death_site2.csv",
                          kRef + "colon_death_site3.csv"},
                         options);
  ASSERT_TRUE(pooled_table.ok());
  auto f = formula::ParseFormula(kFormula + " + strata(site)");
  auto m = formula::BuildModelFrame(*f, *pooled_table, formula::ModelKind::kCox, "");
  ASSERT_TRUE(m.ok());
  const std::vector<std::string> names = m->coef_names;
  const stats::CoxKernel kernel(CoxRowsFrom(std::move(*m)));
  LocalCoxSite local(&kernel);
  auto pooled = FitCoxph({&local}, names, CoxphOptions{});
  ASSERT_TRUE(pooled.ok());
  for (size_t j = 0; j < names.size(); ++j) {
    EXPECT_NEAR(federated->coef[j], pooled->coef[j], 1e-10);
    EXPECT_NEAR(federated->se[j], pooled->se[j], 1e-10);
  }
  EXPECT_NEAR(federated->loglik, pooled->loglik, 1e-8);
  EXPECT_NEAR(federated->concordance, pooled->concordance, 1e-12);
  // R: coxph(Surv(time, status) ~ rx + sex + age + obstruct + nodes + strata(site)) on the
  // pooled colon sites (tests/reference/expected/12_federated_colon_3sites.json).
  EXPECT_NEAR(federated->coef[0], -0.06435616964362041, 1e-7);  // rxLev
}

TEST(LocalStep, SiteRulesRefuseWithoutLeakingNumbers) {
  const data::Table table = Site("colon_death_site3.csv");
  const privacy::Policy policy = privacy::DefaultPolicy("site3");
  // Eight patients: below the minimum cohort of ten.
  auto small = RunLocalStep("{\"analysis\": \"coxph\", \"step\": \"describe\", \"formula\": \"" +
                                kFormula + "\", \"subset\": \"age < 28\"}",
                            table, policy);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(small.status().message().find("rule min_cohort_size"), std::string::npos);
  privacy::Policy no_cox = policy;
  no_cox.allowed_analyses = std::vector<std::string>{"describe"};
  auto refused = RunLocalStep("{\"analysis\": \"coxph\", \"step\": \"describe\"}", table, no_cox);
  EXPECT_NE(refused.status().message().find("rule allowed_analyses"), std::string::npos);
  EXPECT_EQ(RunLocalStep("{not json", table, policy).status().code(), StatusCode::kInvalidArgument);
  // A site answering garbage is an error of that site, not a number.
  auto garbage =
      RemoteCoxSite::Connect(testing::OverText([](const std::string&) -> Result<std::string> {
                               return std::string("<html>");
                             }),
                             CoxTask());
  EXPECT_EQ(garbage.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace passerelle::analysis

namespace passerelle::analysis {
namespace {

// Competing events: a group with 1 to k-1 events of a cause leaves nothing of itself; the
// others leave each cause's counts. mgus2 under 50: women 2 progressions (withheld), men 6 and
// 10 deaths.
TEST(LocalStep, WeightsAreAVariableAndSmallCalibrationGroupsStayHome) {
  const data::Table table = Site("colon_death_site3.csv");
  const privacy::Policy policy = privacy::DefaultPolicy("site3");
  // A weight computed from a condition would make one patient the model: names only.
  auto expression = RunLocalStep(nlohmann::json{{"analysis", "coxph"},
                                                {"step", "design"},
                                                {"formula", kFormula},
                                                {"weights", "1 + 1000 * (age == 40)"}}
                                     .dump(),
                                 table, policy);
  ASSERT_FALSE(expression.ok());
  EXPECT_NE(expression.status().message().find("rule weights_variable"), std::string::npos);
  auto variable = RunLocalStep(
      nlohmann::json{
          {"analysis", "coxph"}, {"step", "design"}, {"formula", kFormula}, {"weights", "age"}}
          .dump(),
      table, policy);
  EXPECT_TRUE(variable.ok()) << variable.status().ToString();
  // Calibration in groups of 1 to k-1 records: the group shows nothing but that it was withheld.
  auto groups = RunLocalStep(nlohmann::json{{"analysis", "calibration"},
                                            {"step", "groups"},
                                            {"formula", "Surv(time, status) ~ I(0.02 * age)"},
                                            {"time", 1826},
                                            {"baseline", 0.6},
                                            {"groups", 100},
                                            {"bin_days", 30}}
                                 .dump(),
                             table, policy);
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  size_t withheld = 0;
  const nlohmann::json answer = nlohmann::json::parse(groups->aggregate);
  for (const auto& g : answer["groups"]) {
    if (!g["n"].is_null()) continue;
    ++withheld;
    EXPECT_TRUE(g["predicted"].is_null() && g["observed"].is_null() && g["events"].is_null());
  }
  EXPECT_GT(withheld, 0u);
}

TEST(LocalStep, QuartilesNeedFourTimesKRecords) {
  // With n < 4k, n times the mean less the first and last quartile windows (k records each)
  // could be one record: the smallest or the largest value. So no quartile below 4k records.
  const data::Table table = Site("colon_death_site3.csv");
  const privacy::Policy policy = privacy::DefaultPolicy("site3");
  auto quartiles = [&](const std::string& subset) {
    auto release = RunLocalStep(
        nlohmann::json{{"analysis", "describe"}, {"variables", {"age"}}, {"subset", subset}}.dump(),
        table, policy);
    EXPECT_TRUE(release.ok()) << release.status().ToString();
    return nlohmann::json::parse(release->aggregate)["variables"][0]["quartiles"];
  };
  std::vector<double> ages;
  for (size_t r = 0; r < table.rows; ++r) ages.push_back(table.Find("age")->numbers[r]);
  std::sort(ages.begin(), ages.end());
  // The youngest 19 and 20 records (ages are distinct enough at the cut).
  const double cut19 = ages[18], cut20 = ages[19];
  ASSERT_LT(cut19, cut20);
  const auto few = quartiles("age <= " + std::to_string(cut19));
  const auto enough = quartiles("age <= " + std::to_string(cut20));
  for (int q = 0; q < 3; ++q) {
    EXPECT_TRUE(few[q].is_null());
    EXPECT_TRUE(enough[q].is_number());
  }
}

TEST(LocalStep, CompetingEventsWithholdAGroupWithFewEventsOfACause) {
  data::CsvTableOptions options;
  options.levels["event"] = {"censor", "pcm", "death"};
  auto table = data::ReadCsvTable({kRef + "mgus2_competing.csv"}, options);
  ASSERT_TRUE(table.ok());
  const privacy::Policy policy = privacy::DefaultPolicy("s1");
  auto release = RunLocalStep(
      R"({"analysis": "survfit", "step": "counts", "formula": "Surv(etime, event) ~ sex",
          "subset": "age < 50", "bin_days": 30})",
      *table, policy);
  ASSERT_TRUE(release.ok()) << release.status().ToString();
  const nlohmann::json j = nlohmann::json::parse(release->aggregate);
  EXPECT_EQ(j["event_levels"], nlohmann::json({"censor", "pcm", "death"}));
  ASSERT_EQ(j["cells"].size(), 2u);
  const nlohmann::json& women = j["cells"][0];
  EXPECT_EQ(women["group"], "sex=F");
  EXPECT_EQ(women["withheld"], "min_cell_count");
  EXPECT_FALSE(women.contains("n_cause") || women.contains("n") || women.contains("time"));
  const nlohmann::json& men = j["cells"][1];
  EXPECT_FALSE(men.contains("withheld"));
  double pcm = 0, death = 0;
  for (double d : men["n_cause"][0].get<std::vector<double>>()) pcm += d;
  for (double d : men["n_cause"][1].get<std::vector<double>>()) death += d;
  EXPECT_LE(pcm, 6);  // the rows stop where fewer than k remain at risk
  EXPECT_LE(death, 10);
  EXPECT_GT(pcm + death, 0);
  // The log-rank test takes one kind of event.
  auto logrank = RunLocalStep(
      R"({"analysis": "survdiff", "step": "counts", "formula": "Surv(etime, event) ~ sex",
          "bin_days": 30})",
      *table, policy);
  EXPECT_EQ(logrank.status().code(), StatusCode::kInvalidArgument);
}

TEST(LocalStep, RemoteGlmSitesGiveThePooledLogisticFit) {
  std::vector<data::Table> tables = {Site("colon_death_site1.csv"), Site("colon_death_site2.csv"),
                                     Site("colon_death_site3.csv")};
  const std::string formula = "status ~ rx + sex + age + obstruct + nodes";
  std::vector<std::unique_ptr<RemoteGlmSite>> remote;
  std::vector<GlmSite*> sites, null_sites;
  for (size_t s = 0; s < tables.size(); ++s) {
    const privacy::Policy policy = privacy::DefaultPolicy("site" + std::to_string(s + 1));
    const data::Table* table = &tables[s];
    Transport transport = testing::OverText([table, policy](const std::string& task) {
      return testing::Aggregate(RunLocalStep(task, *table, policy));
    });
    for (bool null_model : {false, true}) {
      auto site = RemoteGlmSite::Connect(
          transport, {{"analysis", "glm"}, {"formula", formula}, {"family", "binomial"}},
          null_model);
      ASSERT_TRUE(site.ok()) << site.status().ToString();
      (null_model ? null_sites : sites).push_back(site->get());
      remote.push_back(std::move(*site));
    }
  }
  auto fit = FitGlm(sites, null_sites, remote[0]->coef_names(), stats::Family::kBinomial, true);
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  // R: glm(status ~ rx + sex + age + obstruct + nodes, family = binomial) on the pooled sites
  // (tests/reference/expected/12_federated_colon_3sites.json, glm_logit_pooled).
  EXPECT_NEAR(fit->coef[0], -1.2370372708342456, 1e-7);  // (Intercept)
  EXPECT_NEAR(fit->deviance, 1166.8219284268534, 1e-6);
}

}  // namespace
}  // namespace passerelle::analysis

namespace passerelle::analysis {
namespace {

// A site builds a fit's model once: a GLM's design step with its first IRLS step, its
// evaluations and its null model share one; the model of the site's own factor levels (the
// "levels" step) is let go once the one of the levels every site uses is built.
TEST(LocalStep, ASiteKeepsOneModelAFit) {
  const data::Table table = Site("colon_death_site1.csv");
  const privacy::Policy policy = privacy::DefaultPolicy("site1");
  for (const char* function : {"glm", "coxph"}) {
    LocalStepCache cache;
    std::mutex mu;  // the hub asks a site's model and null model at once; a node, one at a time
    std::vector<std::string> steps;
    const SiteLink link{"site1", testing::OverText([&](const std::string& task) {
                          std::lock_guard<std::mutex> lock(mu);
                          steps.push_back(nlohmann::json::parse(task).value("step", ""));
                          return testing::Aggregate(RunLocalStep(task, table, policy, &cache));
                        })};
    AnalysisRequest request;
    request.function = function;
    request.formula = std::string(function) == "glm" ? "status ~ rx + sex + age + nodes" : kFormula;
    request.family = "binomial";
    auto out = RunFederated(request, {link});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_GE(steps.size(), 4u) << function;
    EXPECT_EQ(cache.size(), 1u) << function;
  }
}

TEST(LocalStep, AggregatesOfTheWrongSizeAreTheSitesFailure) {
  // Valid JSON, wrong shape: refused as the site's failure, never read past its end.
  const std::string describe =
      R"j({"n": 50, "coef_names": ["(Intercept)", "x"], "intercept": true})j";
  const std::string wrong =
      R"j({"n": 50, "xtwx": [1, 2, 3], "xtwz": [1], "deviance": 1, "loglik": -1,
           "extreme_fits": 0})j";
  Transport lying = testing::OverText([&](const std::string& task) -> Result<std::string> {
    return task.find("\"design\"") != std::string::npos ? describe : wrong;
  });
  auto site = RemoteGlmSite::Connect(
      lying, {{"analysis", "glm"}, {"formula", "y ~ x"}, {"family", "binomial"}}, false);
  ASSERT_TRUE(site.ok());
  auto step = (*site)->EvaluateAtStart();
  ASSERT_FALSE(step.ok());
  EXPECT_EQ(step.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(step.status().message().find("wrong size"), std::string::npos);
}

}  // namespace
}  // namespace passerelle::analysis
