// One algorithm, two transports: the Cox driver over sites that receive their local steps as
// JSON tasks gives the pooled site-stratified fit; the sites' rules refuse what they must.
#include "passerelle/analysis/local_step.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>
#include <tuple>

#include "passerelle/analysis/federated.h"
#include "passerelle/analysis/frames.h"
#include "passerelle/analysis/kind_support.h"
#include "passerelle/analysis/test_site.h"
#include "passerelle/data/csv_table.h"
#include "passerelle/formula/model.h"
#include "passerelle/privacy/disclosure.h"
#include "passerelle/stats/survival.h"

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
  for (size_t r = 0; r < table.rows; ++r) ages.push_back(table.Find("age")->Number(r));
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

// A table of four slices' rows (formula::kSliceRows), two parts of a kernel's rows
// (kParallelMinRows): an event coded 1/2 whose first slice holds only 1s, a competing event, an
// organ whose first level first appears in the last slice and whose last no row has.
data::Table FourSlices() {
  data::Variable days{}, status{}, event{}, organ{}, sex{};
  days.name = "days", days.type = data::VarType::kInteger;
  status.name = "status", status.type = data::VarType::kInteger;
  event.name = "event", event.type = data::VarType::kCategory;
  event.levels = {"censor", "progression", "death"};
  organ.name = "organ", organ.type = data::VarType::kCategory;
  organ.levels = {"bladder", "kidney", "prostate", "testis"};
  sex.name = "sex", sex.type = data::VarType::kInteger;
  data::ColumnBuilder d(days), st(status), e(event), o(organ), x(sex);
  const size_t n = 3 * formula::kSliceRows + 20000;
  for (size_t i = 0; i < n; ++i) {
    d.AddNumber(static_cast<double>(1 + (i * 7919) % 3001));
    st.AddNumber(i < formula::kSliceRows + 5 ? 1 : 1 + (i * 31) % 5 % 2);
    e.AddText(event.levels[(i * 13) % 7 % 3]);
    if (i % 101 == 7) {
      o.AddMissing();
    } else {
      o.AddText(organ.levels[i < 3 * formula::kSliceRows ? 1 + i % 2 : i % 3]);
    }
    x.AddNumber(static_cast<double>(1 + (i * 17) % 3 % 2));
  }
  data::Table table;
  table.columns = {d.Finish(), st.Finish(), e.Finish(), o.Finish(), x.Finish()};
  table.rows = n;
  return table;
}

TEST(LocalStep, SurvivalCountsSliceBySliceAreTheWholeTables) {
  const data::Table table = FourSlices();
  const privacy::Policy policy = privacy::DefaultPolicy("s1");
  for (const char* formula :
       {"Surv(days, status) ~ organ + strata(sex)", "Surv(days, event) ~ organ"}) {
    SCOPED_TRACE(formula);
    const nlohmann::json task = {{"analysis", "survfit"},
                                 {"step", "counts"},
                                 {"formula", formula},
                                 {"subset", ""},
                                 {"bin_days", 30}};
    auto release = RunLocalStep(task.dump(), table, policy);
    ASSERT_TRUE(release.ok()) << release.status().ToString();
    const nlohmann::json cells = nlohmann::json::parse(release->aggregate)["cells"];
    // The same counts from the whole table's frame at once.
    formula::ModelFrame m = *formula::BuildModelFrame(*formula::ParseFormula(formula), table,
                                                      formula::ModelKind::kGroups, "");
    for (double& t : m.time) t = privacy::BinTime(t, 30);
    const size_t causes = m.event_levels.empty() ? 0 : m.event_levels.size() - 1;
    size_t cell = 0, cohort = 0;
    for (size_t s = 0; s < std::max<size_t>(1, m.strata_labels.size()); ++s) {
      const StratumRows r = RowsOfStratum(m, s);
      for (size_t g = 0; g < m.group_labels.size(); ++g) {
        const stats::TimeCounts c = stats::CountByTime(r.time, r.status, r.group, g, causes);
        if (c.n == 0) continue;  // no cell for a group the stratum lacks
        ASSERT_LT(cell, cells.size());
        const nlohmann::json& got = cells[cell];
        EXPECT_EQ(got["group"], m.group_labels[g]);
        EXPECT_EQ(got["stratum"], m.strata_labels.empty() ? "" : m.strata_labels[s]);
        ASSERT_FALSE(got.contains("withheld"));
        const size_t rows = got["time"].size();
        EXPECT_EQ(got["n"], c.n);
        EXPECT_EQ(got["truncated"], rows < c.time.size());
        const auto head = [rows](const std::vector<double>& v) {
          return std::vector<double>(v.begin(), v.begin() + static_cast<ptrdiff_t>(rows));
        };
        EXPECT_EQ(got["time"], head(c.time));
        EXPECT_EQ(got["n_event"], head(c.n_event));
        EXPECT_EQ(got["n_censor"], head(c.n_censor));
        for (size_t k = 0; k < causes; ++k) EXPECT_EQ(got["n_cause"][k], head(c.n_cause[k]));
        EXPECT_EQ(release->cohorts[cell++].digest, GroupCohort(r, g, table.rows).digest);
        EXPECT_EQ(release->counts[cohort++].digest, GroupCohort(r, g, table.rows, true).digest);
        for (size_t k = 1; causes > 1 && k <= causes; ++k) {
          EXPECT_EQ(release->counts[cohort++].digest,
                    GroupCohort(r, g, table.rows, true, static_cast<double>(k)).digest);
        }
      }
    }
    EXPECT_EQ(cell, cells.size());
    EXPECT_EQ(cohort, release->counts.size());
  }
}

// A GLM's site model taken slice by slice, its rows built again at each step: the same figures,
// populations and counts as the whole frame's, and the same sums to the last bit.
TEST(LocalStep, AGlmSliceBySliceIsTheWholeTables) {
  const data::Table table = FourSlices();
  const privacy::Policy policy = privacy::DefaultPolicy("s1");
  const std::string formula = "I(status == 2) ~ organ + days + sex + days:I(sex == 2)";
  nlohmann::json task = {{"analysis", "glm"},
                         {"step", "levels"},
                         {"formula", formula},
                         {"subset", "days > 20"},
                         {"family", "binomial"}};
  // The site's own levels, then the levels the sites agree.
  LocalStepCache cache;
  auto levels = RunLocalStep(task.dump(), table, policy, &cache);
  ASSERT_TRUE(levels.ok()) << levels.status().ToString();
  const nlohmann::json answer = nlohmann::json::parse(levels->aggregate);
  EXPECT_EQ(answer["used_levels"]["organ"], nlohmann::json({"bladder", "kidney", "prostate"}));
  EXPECT_EQ(answer["levels"]["organ"], nlohmann::json({"bladder", "kidney", "prostate", "testis"}));
  task["levels"] = answer["used_levels"];
  task["step"] = "design";
  task["with_start"] = true;
  auto design = RunLocalStep(task.dump(), table, policy, &cache);
  ASSERT_TRUE(design.ok()) << design.status().ToString();
  const nlohmann::json d = nlohmann::json::parse(design->aggregate);
  const std::vector<double> beta = {-0.3, 0.2, -0.1, 1e-4, 0.05, -2e-5};
  task["step"] = "evaluate";
  task["beta"] = beta;
  auto evaluated = RunLocalStep(task.dump(), table, policy, &cache);
  ASSERT_TRUE(evaluated.ok()) << evaluated.status().ToString();
  const nlohmann::json e = nlohmann::json::parse(evaluated->aggregate);

  // The whole frame at once, its rows held by the kernel: of every level of the site, then of
  // the levels agreed.
  const auto whole_model = [&](const formula::FrameOptions& options, SiteModel* model) {
    formula::ModelFrame m =
        *formula::BuildModelFrame(*formula::ParseFormula(formula), table,
                                  formula::ModelKind::kRegression, "days > 20", options);
    EXPECT_TRUE(DescribeFrame(m, table, /*cross_products=*/true, model).ok());
    return m;
  };
  SiteModel own;
  whole_model({}, &own);
  EXPECT_EQ(own.coef_names.size(), beta.size() + 1);  // testis, which no row has
  formula::FrameOptions options;
  options.levels["organ"] = {"bladder", "kidney", "prostate"};
  SiteModel whole;
  formula::ModelFrame m = whole_model(options, &whole);
  EXPECT_EQ(d["n"], whole.n);
  EXPECT_EQ(d["coef_names"], whole.coef_names);
  EXPECT_EQ(d["coef_names"].size(), beta.size());
  const auto digests = [](const std::vector<privacy::Cohort>& cohorts) {
    std::vector<std::string> out;
    for (const privacy::Cohort& c : cohorts) out.push_back(c.digest);
    return out;
  };
  EXPECT_EQ(digests(levels->cohorts), digests(own.populations));
  EXPECT_EQ(digests(levels->counts), digests(own.counts));
  for (const auto* release : {&*design, &*evaluated}) {
    EXPECT_EQ(digests(release->cohorts), digests(whole.populations));
    EXPECT_EQ(digests(release->counts), digests(whole.counts));
  }
  EXPECT_GT(whole.populations.size(), 1u);  // the interaction's carriers
  const stats::GlmKernel kernel(GlmRowsFrom(std::move(m)), stats::Family::kBinomial);
  const stats::GlmAggregate start = *kernel.EvaluateAtStart(beta.size());
  const stats::GlmAggregate at_beta = *kernel.Evaluate(beta);
  EXPECT_EQ(d["start"]["xtwx"], start.xtwx);
  EXPECT_EQ(d["start"]["xtwz"], start.xtwz);
  EXPECT_EQ(d["start"]["deviance"], start.deviance);
  EXPECT_EQ(e["xtwx"], at_beta.xtwx);
  EXPECT_EQ(e["xtwz"], at_beta.xtwz);
  EXPECT_EQ(e["deviance"], at_beta.deviance);
  EXPECT_EQ(e["loglik"], at_beta.loglik);
}

// A Cox model's site model taken slice by slice, its rows packed and sorted once all are in:
// the same figures, populations and counts as the whole frame's, and the same log-likelihood,
// score, information, meat and concordance to the last bit — with strata first seen in the
// last slice, an event coded 1/2 whose first slice has only 1s, and case weights.
TEST(LocalStep, ACoxModelSliceBySliceIsTheWholeTables) {
  const data::Table table = FourSlices();
  const privacy::Policy policy = privacy::DefaultPolicy("s1");
  const std::string formula = "Surv(days, status) ~ sex + event + strata(organ)";
  const std::string subset = "event != \"progression\" | sex == 2";
  for (const char* weights : {"", "sex"}) {
    SCOPED_TRACE(weights);
    nlohmann::json task = {{"analysis", "coxph"}, {"step", "levels"}, {"formula", formula},
                           {"subset", subset},    {"ties", "efron"},  {"weights", weights}};
    LocalStepCache cache;
    auto levels = RunLocalStep(task.dump(), table, policy, &cache);
    ASSERT_TRUE(levels.ok()) << levels.status().ToString();
    task["levels"] = nlohmann::json::parse(levels->aggregate)["levels"];
    const std::vector<double> beta = {0.2, -0.1, 0.3};
    nlohmann::json answers;
    std::vector<LocalRelease> releases;
    for (const char* step : {"design", "evaluate", "meat", "pairs"}) {
      task["step"] = step;
      task["beta"] = beta;
      auto release = RunLocalStep(task.dump(), table, policy, &cache);
      ASSERT_TRUE(release.ok()) << step << ": " << release.status().ToString();
      answers[step] = nlohmann::json::parse(release->aggregate);
      releases.push_back(*release);
    }

    // The whole frame at once, into a kernel of one piece.
    formula::FrameOptions options;
    options.weights = weights;
    options.levels = task["levels"].get<std::map<std::string, std::vector<std::string>>>();
    formula::ModelFrame m = *formula::BuildModelFrame(*formula::ParseFormula(formula), table,
                                                      formula::ModelKind::kCox, subset, options);
    EXPECT_EQ(m.strata_labels.size(), 3u);
    SiteModel whole;
    ASSERT_TRUE(DescribeFrame(m, table, /*cross_products=*/false, &whole).ok());
    double events = 0;
    for (double s : m.status) events += s;
    stats::CoxRows rows = CoxRowsFrom(std::move(m));
    double total = 0;
    const std::vector<double> sums = WeightedColumnSums(rows, &total);
    const stats::CoxKernel kernel(std::move(rows));
    const nlohmann::json& d = answers["design"];
    EXPECT_EQ(d["n"], kernel.n());
    EXPECT_EQ(d["events"], events);
    EXPECT_EQ(d["sums"], sums);
    EXPECT_EQ(d["total"], total);
    const auto digests = [](const std::vector<privacy::Cohort>& cohorts) {
      std::vector<std::string> out;
      for (const privacy::Cohort& c : cohorts) out.push_back(c.digest);
      return out;
    };
    for (const LocalRelease& release : releases) {
      EXPECT_EQ(digests(release.cohorts), digests(whole.populations));
      EXPECT_EQ(digests(release.counts), digests(whole.counts));
    }
    const stats::CoxAggregate a = *kernel.Evaluate(beta, stats::Ties::kEfron);
    EXPECT_EQ(answers["evaluate"]["loglik"], a.loglik);
    EXPECT_EQ(answers["evaluate"]["score"], a.score);
    EXPECT_EQ(answers["evaluate"]["information"], a.information);
    EXPECT_EQ(answers["meat"]["meat"], kernel.ClusterMeat(beta, stats::Ties::kEfron));
    const stats::ConcordanceAggregate c = kernel.Concordance(beta);
    EXPECT_EQ(answers["pairs"]["concordant"], c.concordant);
    EXPECT_EQ(answers["pairs"]["discordant"], c.discordant);
    EXPECT_EQ(answers["pairs"]["c2"], c.c2);
    EXPECT_EQ(answers["pairs"]["m2"], c.m2);
  }
}

// A label's records are counted over every slice of the table (its values a slice at a time).
TEST(LocalStep, LabelsAreCountedOverTheWholeTable) {
  const data::Table table = FourSlices();
  double ones = 0;
  for (size_t r = 0; r < table.rows; ++r) ones += table.Find("sex")->Number(r) == 1;
  ASSERT_GT(ones, formula::kSliceRows);
  Result<double> fewest = FewestUndeclaredLabel("sex", table);
  ASSERT_TRUE(fewest.ok()) << fewest.status().ToString();
  EXPECT_EQ(*fewest, std::min(ones, static_cast<double>(table.rows) - ones));
  EXPECT_EQ(*FewestUndeclaredLabel("event", table), 0);  // the dictionary's own levels
}

// A response the family cannot take is refused as the slices are read, with the family's rule.
TEST(LocalStep, AGlmResponseOutsideItsFamilyIsRefused) {
  const data::Table table = FourSlices();
  const privacy::Policy policy = privacy::DefaultPolicy("s1");
  for (const auto& [formula, family, rule] :
       {std::tuple{"days ~ organ", "binomial", "binomial: the response must be 0/1"},
        std::tuple{"I(days - 1000) ~ organ", "poisson", "poisson: the response must be a non"}}) {
    const nlohmann::json task = {{"analysis", "glm"},
                                 {"step", "levels"},
                                 {"formula", formula},
                                 {"subset", ""},
                                 {"family", family}};
    auto release = RunLocalStep(task.dump(), table, policy);
    EXPECT_EQ(release.status().code(), StatusCode::kInvalidArgument) << formula;
    EXPECT_NE(release.status().message().find(rule), std::string::npos)
        << release.status().ToString();
  }
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
