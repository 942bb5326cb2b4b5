// The attack suite: a curious hub, or the other site of a two-site study, tries to break each
// disclosure rule of a node, and each attempt is refused or finds the number suppressed. The
// sites are real site stores (the colon reference sites 1 and 3, imported with their
// dictionary); each answers as its node does (the local step under its policy, then the
// differencing ledger), and the pooled results come from the same drivers as a study's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>

#include "passerelle/analysis/federated.h"
#include "passerelle/analysis/review.h"
#include "passerelle/analysis/test_site.h"
#include "passerelle/base/test_dir.h"
#include "passerelle/data/dictionary.h"
#include "passerelle/store/site_store.h"

namespace passerelle::federation {
namespace {

using analysis::AnalysisRequest;
using nlohmann::json;
const std::string kRef = std::string(PASSERELLE_SOURCE_DIR) + "/tests/reference/data/";

class AttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = testing::FreshTestDir("attack");
    std::ifstream in(kRef + "colon_death.dictionary.toml");
    const std::string toml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto dictionary = data::ParseDictionary(toml, "colon_death.dictionary.toml");
    ASSERT_TRUE(dictionary.ok()) << dictionary.status().ToString();
    for (const char* name : {"site1", "site3"}) {
      auto store = store::SiteStore::Create(dir + "/" + name, name);
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      store::ImportRequest request;
      request.dataset = "colon";
      request.file_path = kRef + "colon_death_" + name + ".csv";
      request.dictionary = *dictionary;
      auto report = (*store)->Import(request);
      ASSERT_TRUE(report.ok()) << report.status().ToString();
      auto table = (*store)->LoadTable("colon");
      ASSERT_TRUE(table.ok());
      sites_.push_back(std::make_unique<testing::TestSite>());
      sites_.back()->table = std::move(*table);
      sites_.back()->policy = privacy::DefaultPolicy(name);
    }
  }

  testing::TestSite& Site3() { return *sites_[1]; }

  // What site 3 answers to a task; the refusal's message when it refuses.
  Result<json> Ask3(const json& task) {
    ASSIGN_OR_RETURN(std::string answer, Site3().Run(task.dump()));
    return json::parse(answer);
  }

  // The true table at site 3, as its custodian sees it.
  analysis::TableOutput Truth3(const std::string& rows, const std::string& cols,
                               const std::string& subset = "") {
    AnalysisRequest r;
    r.function = "table";
    r.rows = rows;
    r.cols = cols;
    r.subset = subset;
    auto out = analysis::RunAnalysis(r, Site3().table);
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return std::get<analysis::TableOutput>(out->result);
  }

  std::vector<analysis::SiteLink> Links() {
    std::vector<analysis::SiteLink> links;
    for (auto& site : sites_) links.push_back({site->policy.site, site->AsTransport()});
    return links;
  }

  std::vector<std::unique_ptr<testing::TestSite>> sites_;
};

void ExpectRefused(const Status& status, const std::string& rule) {
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied) << status.ToString();
  EXPECT_NE(status.message().find("rule " + rule), std::string::npos) << status.ToString();
}

// Small cells: counts of 1 to 4 are null, and each row and column of the table holds no null or
// at least two, so the margins (released by a one-way table) rebuild none.
TEST_F(AttackTest, SmallCellsAndTheMarginsThatWouldRebuildThem) {
  const analysis::TableOutput truth = Truth3("rx", "nodes > 9");
  bool any_small = false;
  for (double c : truth.counts) any_small |= c > 0 && c < 5;
  ASSERT_TRUE(any_small);  // 3, 2 and 4 patients with more than nine nodes
  auto got = Ask3({{"analysis", "table"}, {"rows", "rx"}, {"cols", "nodes > 9"}});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  const json& counts = (*got)["counts"];
  const size_t rows = (*got)["row_levels"].size(), cols = (*got)["col_levels"].size();
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i].is_null()) continue;
    EXPECT_EQ(counts[i].get<double>(), truth.counts[i]);
    EXPECT_TRUE(truth.counts[i] == 0 || truth.counts[i] >= 5);
  }
  for (size_t r = 0; r < rows; ++r) {
    size_t hidden = 0;
    for (size_t c = 0; c < cols; ++c) hidden += counts[r * cols + c].is_null();
    EXPECT_NE(hidden, 1u) << "row " << r << ": its margin would rebuild the cell";
  }
  for (size_t c = 0; c < cols; ++c) {
    size_t hidden = 0;
    for (size_t r = 0; r < rows; ++r) hidden += counts[r * cols + c].is_null();
    EXPECT_NE(hidden, 1u) << "column " << c;
  }
  // A descriptive table: `nodes` is missing for three patients at site 3. The count present
  // plus the count missing is the number of records, so both are withheld.
  auto described = Ask3({{"analysis", "describe"}, {"variables", {"nodes"}}});
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  const json& nodes = (*described)["variables"][0];
  EXPECT_TRUE(nodes["missing"].is_null()) << nodes.dump();
  EXPECT_TRUE(nodes["n"].is_null()) << nodes.dump();
  EXPECT_EQ((*described)["rows"], 190);
}

// Two sites: site 1 knows its own table, so it could subtract it from the pooled one. Every
// pooled cell is either null or site 3's releasable count plus site 1's: never 1 to 4 of site 3.
TEST_F(AttackTest, TheOtherSiteCannotSubtractItsShare) {
  AnalysisRequest r;
  r.function = "table";
  r.rows = "rx";
  r.cols = "nodes > 9";
  auto pooled = analysis::RunFederated(r, Links());
  ASSERT_TRUE(pooled.ok()) << pooled.status().ToString();
  const auto& t = std::get<analysis::TableOutput>(pooled->result);
  AnalysisRequest mine = r;
  auto site1 = analysis::RunAnalysis(mine, sites_[0]->table);
  ASSERT_TRUE(site1.ok());
  const auto& own = std::get<analysis::TableOutput>(site1->result);
  const analysis::TableOutput truth3 = Truth3("rx", "nodes > 9");
  size_t hidden = 0;
  for (size_t i = 0; i < t.counts.size(); ++i) {
    if (std::isnan(t.counts[i])) {
      ++hidden;
      continue;
    }
    const double site3 = t.counts[i] - own.counts[i];
    EXPECT_EQ(site3, truth3.counts[i]);
    EXPECT_FALSE(site3 > 0 && site3 < 5) << "cell " << i;
  }
  EXPECT_GE(hidden, 3u);
  // A Kaplan-Meier curve: the pooled curve stops where a site would show fewer than 5 at risk.
  r = AnalysisRequest();
  r.function = "survfit";
  r.formula = "Surv(time, status) ~ 1";
  auto km = analysis::RunFederated(r, Links());
  ASSERT_TRUE(km.ok()) << km.status().ToString();
  bool noted = false;
  for (const std::string& note : km->notes)
    noted |= note.find("rule min_cell_count") != std::string::npos;
  EXPECT_TRUE(noted);
}

// Differencing: two cohorts a few records apart describe those records. Site 3 remembers every
// cohort it released and refuses the second, whichever analysis or subset asks.
TEST_F(AttackTest, DifferencingByAFewRecordsThroughSubsetsIsRefused) {
  ASSERT_TRUE(Ask3({{"analysis", "table"}, {"rows", "rx"}}).ok());
  // All but the one patient of age 26 (an identifier in a condition, or a value): refused.
  const Result<json> one_less =
      Ask3({{"analysis", "table"}, {"rows", "rx"}, {"subset", "age != 26"}});
  ExpectRefused(one_less.status(), "min_cohort_difference");
  EXPECT_EQ(one_less.status().message().find("26"), std::string::npos);
  EXPECT_EQ(one_less.status().message().find(" 1 "), std::string::npos);
  ExpectRefused(Ask3({{"analysis", "coxph"},
                      {"step", "design"},
                      {"formula", "Surv(time, status) ~ rx"},
                      {"subset", "id != \"3\" & id != \"13\""}})
                    .status(),
                "min_cohort_difference");
  ExpectRefused(Ask3({{"analysis", "describe"}, {"subset", "age > 27"}}).status(),
                "min_cohort_difference");  // drops the three patients aged 26 and 27
  // Five or more records apart, but the cells of the difference are small: the arms of those
  // few patients follow from subtracting the two tables (the count audit).
  ExpectRefused(Ask3({{"analysis", "table"}, {"rows", "rx"}, {"subset", "age > 34"}}).status(),
                "count_audit");
  // A cohort far enough from every earlier one, cell by cell: answered.
  EXPECT_TRUE(Ask3({{"analysis", "table"}, {"rows", "rx"}, {"subset", "age > 60"}}).ok());
  // The same cohort again (each round of a model fit): answered.
  EXPECT_TRUE(Ask3({{"analysis", "table"}, {"rows", "sex"}}).ok());
}

// Saturated models reproduce individual values: too many parameters, a factor of a number whose
// levels single patients out, or a 0/1 variable that only a few patients have.
TEST_F(AttackTest, SaturatedAndSingling_outModelsAreRefused) {
  ExpectRefused(Ask3({{"analysis", "glm"},
                      {"step", "design"},
                      {"family", "gaussian"},
                      {"formula", "age ~ rx + sex + obstruct + nodes + differ"},
                      {"subset", "age > 74"}})
                    .status(),
                "max_parameters_per_record");
  ExpectRefused(Ask3({{"analysis", "coxph"},
                      {"step", "levels"},
                      {"formula", "Surv(time, status) ~ factor(age)"}})
                    .status(),
                "min_cell_count");
  ExpectRefused(Ask3({{"analysis", "coxph"},
                      {"step", "design"},
                      {"formula", "Surv(time, status) ~ rx + I(age < 28)"}})
                    .status(),
                "min_cell_count");
  // Identifiers, free text and dates never become labels; a condition on them may be used.
  ExpectRefused(Ask3({{"analysis", "table"}, {"rows", "id"}}).status(), "never_released");
  ExpectRefused(Ask3({{"analysis", "survfit"},
                      {"step", "counts"},
                      {"bin_days", 30},
                      {"formula", "Surv(time, status) ~ id"}})
                    .status(),
                "never_released");
  const auto condition = Ask3({{"analysis", "table"}, {"rows", "id != \"3\""}});
  EXPECT_TRUE(condition.ok()) << condition.status().ToString();
}

// A Kaplan-Meier tail with one patient: the curve stops before the last few at risk, so the
// last patient's time never leaves.
TEST_F(AttackTest, AKaplanMeierTailWithOnePatientStaysHome) {
  auto got = Ask3({{"analysis", "survfit"},
                   {"step", "counts"},
                   {"bin_days", 30},
                   {"formula", "Surv(time, status) ~ 1"}});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  const json& cell = (*got)["cells"][0];
  EXPECT_TRUE(cell["truncated"].get<bool>());
  double remaining = cell["n"].get<double>();
  for (size_t j = 0; j < cell["time"].size(); ++j) {
    remaining -= cell["n_event"][j].get<double>() + cell["n_censor"][j].get<double>();
    EXPECT_TRUE(remaining == 0 || remaining >= 5) << "after row " << j;
  }
  double last = 0;
  for (size_t i = 0; i < Site3().table.rows; ++i) {
    last = std::max(last, Site3().table.Find("time")->Number(i));
  }
  EXPECT_LT(cell["time"].back().get<double>(), std::ceil(last / 30) * 30);
  // A finer time grid, to see each patient's own day: refused.
  ExpectRefused(Ask3({{"analysis", "survfit"},
                      {"step", "counts"},
                      {"bin_days", 1},
                      {"formula", "Surv(time, status) ~ 1"}})
                    .status(),
                "min_time_bin_days");
}

// Class 1: arithmetic inside Surv() turns the time grid into days (t * 30), and a date or any
// expression gives other values. Only a duration as stored is a survival time, in every mode.
TEST_F(AttackTest, ArithmeticOnSurvivalTimesIsRefused) {
  for (const char* formula : {"Surv(time * 30, status) ~ 1", "Surv(time + 0.5, status) ~ rx",
                              "Surv(log(time), status) ~ 1", "Surv(age, status) ~ 1"}) {
    const std::string f = formula;
    const bool age = f.find("age") != std::string::npos;
    auto got = Ask3({{"analysis", "survfit"},
                     {"step", "counts"},
                     {"formula", f},
                     {"subset", ""},
                     {"bin_days", 30}});
    if (age) {  // a number as stored: a time, if an odd one (the review flags it in words)
      EXPECT_TRUE(got.ok() || got.status().message().find("time_arithmetic") == std::string::npos);
      continue;
    }
    ExpectRefused(got.status(), "time_arithmetic");
  }
  ExpectRefused(Ask3({{"analysis", "survdiff"},
                      {"step", "logrank"},
                      {"formula", "Surv(time * 30, status) ~ rx"},
                      {"subset", ""}})
                    .status(),
                "time_arithmetic");
  ExpectRefused(Ask3({{"analysis", "coxph"},
                      {"step", "design"},
                      {"formula", "Surv(time / 7, status) ~ rx"},
                      {"subset", ""}})
                    .status(),
                "time_arithmetic");
}

// Class 2: differencing through missing values. A mean is over the records that have the
// variable; padding a subset with records that lack it makes the cohorts differ by many while
// the statistic's own records differ by one patient. Each statistic's records are its population.
TEST_F(AttackTest, PaddingACohortWithRecordsThatLackTheVariableIsRefused) {
  testing::TestSite& site1 = *sites_[0];
  const data::Table& t = site1.table;
  const data::Column& id = *t.Find("id");
  const data::Column& age = *t.Find("age");
  const data::Column& nodes = *t.Find("nodes");
  std::string target;  // a young patient whose number of nodes the attacker wants
  size_t lacking = 0;
  for (size_t r = 0; r < t.rows; ++r) {
    lacking += nodes.IsMissing(r) && !(age.Number(r) > 70);
    if (target.empty() && !nodes.IsMissing(r) && age.Number(r) <= 70) target = id.texts[r];
  }
  ASSERT_FALSE(target.empty());
  ASSERT_GE(lacking + 1, 5u);  // the subsets differ by enough records for the cohort rule
  auto ask = [&](const std::string& subset) -> Result<std::string> {
    return site1.Run(
        json{{"analysis", "describe"}, {"variables", {"nodes"}}, {"subset", subset}}.dump());
  };
  ASSERT_TRUE(ask("age > 70").ok());
  const Result<std::string> padded =
      ask("age > 70 | (is.na(nodes) & age <= 70) | id == \"" + target + "\"");
  ExpectRefused(padded.status(), "min_cohort_difference");
}

// Class 3: trackers. Three tables each far from the others by many records; the first two
// minus the third are the arms of three patients under 30.
TEST_F(AttackTest, ATrackerBuiltFromLargeCohortsIsRefused) {
  const analysis::TableOutput young = Truth3("rx", "", "age < 30");
  const double n_young = std::accumulate(young.counts.begin(), young.counts.end(), 0.0);
  ASSERT_GT(n_young, 0);
  ASSERT_LT(n_young, 5);
  auto table = [&](const std::string& subset) {
    return Ask3({{"analysis", "table"}, {"rows", "rx"}, {"subset", subset}});
  };
  ASSERT_TRUE(table("").ok()) << table("").status().ToString();
  ASSERT_TRUE(table("age < 30 | sex == 1").ok());
  ExpectRefused(table("age < 30 | sex == 0").status(), "count_audit");
}

// Class 4: counts through models and means. An intercept-only Poisson or Gaussian model of a
// 0/1 outcome, or the mean of a 0/1 number, times n is a count.
TEST_F(AttackTest, CountsThroughModelsAndMeansAreWithheld) {
  for (const char* family : {"poisson", "gaussian", "binomial"}) {
    ExpectRefused(Ask3({{"analysis", "glm"},
                        {"step", "design"},
                        {"family", family},
                        {"formula", "perfor ~ 1"},
                        {"subset", ""}})
                      .status(),
                  "min_events");
  }
  auto described = Ask3({{"analysis", "describe"}, {"variables", {"perfor"}}, {"subset", ""}});
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  const json& perfor = (*described)["variables"][0];
  EXPECT_TRUE(perfor["mean"].is_null()) << perfor.dump();  // 4 of 190: the mean would say so
  EXPECT_TRUE(perfor["sd"].is_null());
  // A number with many values keeps its mean.
  auto ages = Ask3({{"analysis", "describe"}, {"variables", {"age"}}, {"subset", ""}});
  ASSERT_TRUE(ages.ok());
  EXPECT_FALSE((*ages)["variables"][0]["mean"].is_null());
}

// Class 5: one record singled out without a 0/1 column: a continuous carrier that is zero but
// for one patient, or a value far from all others. The protocol's automatic review flags both.
TEST_F(AttackTest, ACarrierThatSinglesOutAPatientIsFlaggedByTheReview) {
  auto review = [&](const std::string& formula) {
    AnalysisRequest r;
    r.function = "coxph";
    r.formula = formula;
    std::vector<std::pair<std::string, AnalysisRequest>> analyses = {{"attack", r}};
    std::vector<std::string> rules;
    for (const auto& f : analysis::ReviewProtocol(analyses, Site3().table, Site3().policy).flags) {
      rules.push_back(f.rule);
    }
    return rules;
  };
  auto has = [](const std::vector<std::string>& rules, const std::string& rule) {
    return std::find(rules.begin(), rules.end(), rule) != rules.end();
  };
  EXPECT_TRUE(has(review("Surv(time, status) ~ rx + I(time * (age == 26))"), "sparse_term"));
  // One patient far out on a continuous carrier: their own coefficient, whatever the others.
  const auto far_out = review("Surv(time, status) ~ rx + I(exp((age - 26) * (age - 26) * -50))");
  EXPECT_TRUE(has(far_out, "leverage") || has(far_out, "sparse_term"));
  EXPECT_TRUE(
      has(review("Surv(time, status) ~ rx + I(age + 1000 * (id == \"3\"))"), "identifier_or_date"));
  EXPECT_TRUE(has(review("Surv(time, status) ~ rx + I(age + 1000 * (age == 80))"), "leverage"));
  EXPECT_TRUE(has(review("Surv(time, status) ~ rx + I(id == \"3\")"), "identifier_or_date"));
  EXPECT_TRUE(review("Surv(time, status) ~ rx + age + sex").empty());
}

// Found by a red team: a curve whose event ORs in a condition counts the patients the condition
// holds for, and their days, by difference with the plain curve; a condition on another number
// or on the time is no event code, and one on an event code or a category leaves its trace in
// the curves' event counts, which the count audit sees.
TEST_F(AttackTest, AnEventPaddedWithAConditionIsRefused) {
  auto curve = [&](const std::string& formula) {
    return Ask3({{"analysis", "survfit"},
                 {"step", "counts"},
                 {"formula", formula},
                 {"subset", ""},
                 {"bin_days", 30}});
  };
  ASSERT_TRUE(curve("Surv(time, status) ~ 1").ok());
  for (const char* padded : {"Surv(time, status == 1 | age < 30) ~ 1",
                             "Surv(time, status == 1 & !(time %in% c(100, 200))) ~ 1",
                             "Surv(time, status == 1 | nodes > 20) ~ 1"}) {
    ExpectRefused(curve(padded).status(), "event_expression");
  }
  // perfor is a 0/1 code held by four patients: the padded curve's events differ from the
  // plain one's by the perforated patients still alive.
  ExpectRefused(curve("Surv(time, status == 1 | perfor == 1) ~ 1").status(), "count_audit");
}

// Found by a red team: a covariate nudged for one patient (a condition inside arithmetic) gives
// that patient a coefficient of their own; so does a product with a rare condition.
TEST_F(AttackTest, ACovariateNudgedForOnePatientIsRefused) {
  auto model = [&](const std::string& formula) {
    return Ask3({{"analysis", "coxph"}, {"step", "design"}, {"formula", formula}, {"subset", ""}});
  };
  ExpectRefused(model("Surv(time, status) ~ I(age + 0.001 * (age == 80))").status(), "mixed_term");
  ExpectRefused(model("Surv(time, status) ~ rx + log(age + (id == \"3\"))").status(), "mixed_term");
  ExpectRefused(Ask3({{"analysis", "glm"},
                      {"step", "design"},
                      {"family", "gaussian"},
                      {"formula", "I(nodes * (age == 80)) ~ 1"},
                      {"subset", ""}})
                    .status(),
                "mixed_term");
  ExpectRefused(model("Surv(time, status) ~ rx + age:I(age == 80)").status(), "min_cell_count");
  EXPECT_TRUE(model("Surv(time, status) ~ rx + age + I(age > 60)").ok());
}

// Found by a red team: a curve over (age < 90 | Q) & time <= T differs from the curve of all
// records by a slab of records known to leave after T, and, bin by bin before T, by the one
// patient the condition tells apart: their day, and any attribute Q tests. A survival analysis
// does not choose its records by its own time, and the review flags any analysis of a protocol
// that chooses them by one of the protocol's survival times.
TEST_F(AttackTest, APopulationPaddedByItsOwnTimesIsRefused) {
  ExpectRefused(Ask3({{"analysis", "survfit"},
                      {"step", "counts"},
                      {"formula", "Surv(time, status) ~ 1"},
                      {"subset", "(age < 75 | sex == 1) & time <= 2000"},
                      {"bin_days", 30}})
                    .status(),
                "time_subset");
  ExpectRefused(Ask3({{"analysis", "coxph"},
                      {"step", "design"},
                      {"formula", "Surv(time, status) ~ rx"},
                      {"subset", "time > 100"}})
                    .status(),
                "time_subset");
  AnalysisRequest curve;
  curve.function = "survfit";
  curve.formula = "Surv(time, status) ~ 1";
  AnalysisRequest ages;
  ages.function = "describe";
  ages.variables = {"age"};
  ages.subset = "time <= 2000";
  const std::vector<std::pair<std::string, AnalysisRequest>> analyses = {{"curve", curve},
                                                                         {"ages", ages}};
  bool flagged = false;
  for (const auto& f : analysis::ReviewProtocol(analyses, Site3().table, Site3().policy).flags) {
    flagged |= f.analysis == "ages" && f.rule == "time_subset";
  }
  EXPECT_TRUE(flagged);
}

// Found by a red team: a Gaussian GLM's X'WX (and its variance, dispersion times its inverse)
// holds sum(x_a * x_b) for every pair of columns: two 0/1 columns give the count of their
// intersection, a value crossed with a rare condition the sum of those patients' values. A GLM
// whose two columns are non-zero together for 1 to k-1 records is refused.
TEST_F(AttackTest, ACrossProductOfTwoColumnsIsACountToo) {
  const data::Table& t = Site3().table;
  const data::Column& age = *t.Find("age");
  const data::Column& sex = *t.Find("sex");
  int threshold = 0;
  for (int T = 30; T < 80 && threshold == 0; ++T) {
    size_t young = 0, young_men = 0, young_women = 0;
    for (size_t r = 0; r < t.rows; ++r) {
      if (!(age.Number(r) < T)) continue;
      ++young;
      (sex.Number(r) == 1 ? young_men : young_women) += 1;
    }
    if (young >= 5 && young_men >= 1 && young_men <= 4 && young_women >= 5) threshold = T;
  }
  ASSERT_NE(threshold, 0);
  const std::string young = "I(age < " + std::to_string(threshold) + ")";
  for (const std::string& formula :
       {"nodes ~ " + young + " + I(sex == 1)", "nodes ~ I(sex == 1) + time:" + young}) {
    ExpectRefused(Ask3({{"analysis", "glm"},
                        {"step", "design"},
                        {"family", "gaussian"},
                        {"formula", formula},
                        {"subset", ""}})
                      .status(),
                  "min_cell_count");
  }
  EXPECT_TRUE(Ask3({{"analysis", "glm"},
                    {"step", "design"},
                    {"family", "gaussian"},
                    {"formula", "nodes ~ rx + I(sex == 1)"},
                    {"subset", ""}})
                  .ok());
}

// Found by a red team: two models over the same rows whose carriers (a value crossed with a
// condition) differ by one patient give that patient's value by difference (Cox means, X'WX);
// and a number of three values has its counts in its mean and SD. A carrier's non-zero records
// are a population for differencing; a number or response of two or three values needs each held
// by at least k records.
TEST_F(AttackTest, CarriersOneApartAndThreeValuedNumbersAreRefused) {
  const data::Table& t = Site3().table;
  const data::Column& age = *t.Find("age");
  const data::Column& sex = *t.Find("sex");
  bool target_is_man = false;
  for (size_t r = 0; r < t.rows; ++r) {
    if (age.Number(r) == 80) target_is_man = sex.Number(r) == 1;
  }
  const std::string other = target_is_man ? "I(sex == 1 & age != 80)" : "I(sex == 1 | age == 80)";
  auto cox = [&](const std::string& carrier) {
    return Ask3({{"analysis", "coxph"},
                 {"step", "design"},
                 {"formula", "Surv(time, status) ~ rx + age:" + carrier},
                 {"subset", ""}});
  };
  ASSERT_TRUE(cox("I(sex == 1)").ok()) << cox("I(sex == 1)").status().ToString();
  ExpectRefused(cox(other).status(), "min_cohort_difference");
  // differ takes the values 1, 2 and 3: among the patients under some age, one of them is held
  // by 1 to 4 (at site 1, with nothing released before).
  testing::TestSite& site1 = *sites_[0];
  const data::Column& differ = *site1.table.Find("differ");
  const data::Column& age1 = *site1.table.Find("age");
  int threshold = 0;
  for (int T = 25; T <= 90 && threshold == 0; ++T) {
    std::map<double, size_t> held;
    size_t missing = 0;
    for (size_t r = 0; r < site1.table.rows; ++r) {
      if (!(age1.Number(r) < T)) continue;
      if (differ.IsMissing(r)) {
        ++missing;
      } else {
        ++held[differ.Number(r)];
      }
    }
    bool rare = false;
    size_t n = 0;
    for (const auto& [value, count] : held) {
      rare |= count < 5;
      n += count;
    }
    if (held.size() == 3 && rare && n >= 10 && missing == 0) threshold = T;
  }
  ASSERT_NE(threshold, 0);
  auto answer = site1.Run(json{{"analysis", "describe"},
                               {"variables", {"differ"}},
                               {"subset", "age < " + std::to_string(threshold)}}
                              .dump());
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  const json three = json::parse(*answer);
  EXPECT_TRUE(three["variables"][0]["mean"].is_null()) << three.dump();
  EXPECT_TRUE(three["variables"][0]["sd"].is_null());
}

// Found by a red team: a model whose term reads its response (isup_grade ~ I(isup_grade > 2),
// age ~ I(age >= 88) over a padded subset) splits the response into groups whose means and the
// deviance solve for each value's count and the extremes. No term may read the response.
TEST_F(AttackTest, ATermThatReadsTheResponseIsRefused) {
  ExpectRefused(Ask3({{"analysis", "glm"},
                      {"step", "design"},
                      {"family", "gaussian"},
                      {"formula", "age ~ I(age >= 70)"},
                      {"subset", ""}})
                    .status(),
                "response_in_terms");
  ExpectRefused(Ask3({{"analysis", "coxph"},
                      {"step", "design"},
                      {"formula", "Surv(time, status) ~ rx + I(time > 1000)"},
                      {"subset", ""}})
                    .status(),
                "response_in_terms");
  EXPECT_TRUE(Ask3({{"analysis", "glm"},
                    {"step", "design"},
                    {"family", "gaussian"},
                    {"formula", "age ~ rx"},
                    {"subset", ""}})
                  .ok());
}

}  // namespace
}  // namespace passerelle::federation
