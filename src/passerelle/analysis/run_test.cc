// Edge cases of the statistics engine, each with a clear outcome: a number matching R, a
// warning as R gives, or an error that says what is wrong.
#include "passerelle/analysis/run.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "passerelle/base/test_dir.h"
#include "passerelle/data/csv_table.h"

namespace passerelle::analysis {
namespace {

data::Table TableFrom(const std::string& csv) {
  const std::string path = passerelle::testing::FreshTestDir("edge") + "/data.csv";
  std::ofstream(path) << csv;
  auto table = data::ReadCsvTable({path}, {});
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  return *table;
}

Result<AnalysisOutput> Analyze(const std::string& function, const std::string& formula,
                               const data::Table& table, const std::string& ties = "efron",
                               const std::string& subset = "") {
  AnalysisRequest r;
  r.function = function;
  r.formula = formula;
  r.ties = ties;
  r.subset = subset;
  r.family = "binomial";
  return RunAnalysis(r, table);
}

const char* kTiesOnly =
    "time,status,x\n5,1,1.2\n5,1,0.3\n5,1,2.2\n5,0,1.1\n5,1,0.7\n5,0,1.9\n5,1,0.2\n5,1,1.5\n";

TEST(EdgeCases, AllEventsAtOneTime) {
  // R: coxph(Surv(time, status) ~ x, data = d), ties efron and breslow.
  const data::Table t = TableFrom(kTiesOnly);
  auto efron = Analyze("coxph", "Surv(time, status) ~ x", t);
  ASSERT_TRUE(efron.ok()) << efron.status().ToString();
  const CoxphResult& e = std::get<CoxphOutput>(efron->result).fit;
  EXPECT_NEAR(e.coef[0], -0.48340295624739177, 1e-7);
  EXPECT_NEAR(e.se[0], 0.64860402406345863, 1e-7);
  EXPECT_NEAR(e.loglik, -9.6283618544526828, 1e-9);
  auto breslow = Analyze("coxph", "Surv(time, status) ~ x", t, "breslow");
  const CoxphResult& b = std::get<CoxphOutput>(breslow->result).fit;
  EXPECT_NEAR(b.coef[0], -0.27087933482208099, 1e-7);
  EXPECT_NEAR(b.se[0], 0.61760023300038802, 1e-7);
}

TEST(EdgeCases, OneEventGivesAnInfiniteCoefficientWarning) {
  const data::Table t = TableFrom("time,status,x\n1,1,3\n2,0,1\n3,0,2\n4,0,0\n5,0,1.5\n");
  auto out = Analyze("coxph", "Surv(time, status) ~ x", t);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const CoxphResult& r = std::get<CoxphOutput>(out->result).fit;
  // R: "Ran out of iterations and did not converge"; both are said here.
  std::string all;
  for (const std::string& w : r.warnings) all += w + "\n";
  EXPECT_NE(all.find("did not converge"), std::string::npos) << all;
  EXPECT_NE(all.find("coefficient may be infinite"), std::string::npos) << all;
}

TEST(EdgeCases, AllCensoredIsRefusedWithAReason) {
  const data::Table t = TableFrom("time,status,x\n1,0,3\n2,0,1\n3,0,2\n");
  auto out = Analyze("coxph", "Surv(time, status) ~ x", t);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("no events"), std::string::npos);
  auto km = Analyze("survfit", "Surv(time, status) ~ 1", t);
  ASSERT_TRUE(km.ok());
  const auto& curve = std::get<SurvfitOutput>(km->result).curves[0];
  EXPECT_EQ(curve.surv.back(), 1.0);
  EXPECT_TRUE(std::isnan(curve.median));  // never reaches 0.5: NA, as R
}

TEST(EdgeCases, FactorLevelWithoutEvents) {
  const data::Table t =
      TableFrom("time,status,grp\n2,1,a\n4,1,a\n6,0,a\n8,1,a\n10,0,b\n12,0,b\n14,0,b\n16,0,b\n");
  auto out = Analyze("coxph", "Surv(time, status) ~ grp", t);
  ASSERT_TRUE(out.ok());
  const CoxphResult& r = std::get<CoxphOutput>(out->result).fit;
  EXPECT_LT(r.coef[0], -10);
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.warnings[0].find("grpb"), std::string::npos);
}

TEST(EdgeCases, NaOnlyColumnAndEmptySubset) {
  const data::Table t = TableFrom("time,status,x,z\n1,1,3,NA\n2,0,1,NA\n3,1,2,\n");
  auto na = Analyze("coxph", "Surv(time, status) ~ x + z", t);
  ASSERT_FALSE(na.ok());
  EXPECT_NE(na.status().message().find("no rows left"), std::string::npos);
  auto empty = Analyze("coxph", "Surv(time, status) ~ x", t, "efron", "x > 100");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("no rows left"), std::string::npos);
}

TEST(EdgeCases, AliasedColumnIsNaAndTheRestIsFitted) {
  // x2 = 2 * x: R reports its coefficient as NA.
  const data::Table t = TableFrom(
      "time,status,x,x2,w\n1,1,1,2,0.5\n2,1,2,4,0.1\n3,0,3,6,0.9\n4,1,4,8,0.3\n5,1,5,10,0.7\n"
      "6,0,6,12,0.2\n7,1,2,4,0.4\n");
  auto out = Analyze("coxph", "Surv(time, status) ~ x + x2 + w", t);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const CoxphResult& r = std::get<CoxphOutput>(out->result).fit;
  EXPECT_FALSE(std::isnan(r.coef[0]));
  EXPECT_TRUE(std::isnan(r.coef[1]));
  EXPECT_FALSE(std::isnan(r.coef[2]));
  EXPECT_EQ(r.lr_test.df, 2);
  auto glm = Analyze("glm", "status ~ x + x2 + w", t);
  ASSERT_TRUE(glm.ok()) << glm.status().ToString();
  EXPECT_TRUE(std::isnan(std::get<GlmOutput>(glm->result).fit.coef[2]));
}

TEST(EdgeCases, ContingencyTable) {
  const data::Table t = TableFrom("a,b\nx,u\nx,v\ny,u\ny,u\nNA,v\n");
  AnalysisRequest r;
  r.function = "table";
  r.rows = "a";
  r.cols = "b";
  auto out = RunAnalysis(r, t);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const TableOutput& table = std::get<TableOutput>(out->result);
  EXPECT_EQ(table.counts, (std::vector<double>{1, 1, 2, 0}));
  EXPECT_EQ(table.n_missing, 1u);
}

TEST(EdgeCases, FineGrayTakesCausesAsWholeNumbersAsRsFactorOfThem) {
  // R: finegray(Surv(etime, factor(code)) ~ ., etype = "1") is finegray with the named factor.
  data::CsvTableOptions options;
  options.levels["event"] = {"censor", "pcm", "death"};
  options.levels["sex"] = {"F", "M"};
  auto table = data::ReadCsvTable(
      {std::string(PASSERELLE_SOURCE_DIR) + "/tests/reference/data/mgus2_fg.csv"}, options);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  AnalysisRequest r;
  r.function = "finegray";
  r.formula = "Surv(etime, event) ~ age + sex";
  r.cause = "pcm";
  auto named = RunAnalysis(r, *table);
  r.formula = "Surv(etime, (event == \"pcm\") + 2 * (event == \"death\")) ~ age + sex";
  r.cause = "1";
  auto coded = RunAnalysis(r, *table);
  ASSERT_TRUE(named.ok() && coded.ok()) << coded.status().ToString();
  const CoxphResult& a = std::get<CoxphOutput>(named->result).fit;
  const CoxphResult& b = std::get<CoxphOutput>(coded->result).fit;
  EXPECT_EQ(a.n, b.n);
  for (size_t j = 0; j < a.coef.size(); ++j) EXPECT_EQ(a.coef[j], b.coef[j]);
  r.cause = "3";
  EXPECT_NE(RunAnalysis(r, *table).status().message().find("cause: '3' is not an event level"),
            std::string::npos);
}

}  // namespace
}  // namespace passerelle::analysis
