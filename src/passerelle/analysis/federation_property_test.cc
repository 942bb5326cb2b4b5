// Federated equals pooled: the same drivers over one kernel per site give the pooled fit with
// the site as a stratum (Cox) or the pooled fit (GLM, Kaplan-Meier counts), for 1, 2, 3 and 5
// uneven sites.
#include <gtest/gtest.h>

#include <cmath>

#include "passerelle/analysis/coxph.h"
#include "passerelle/analysis/frames.h"
#include "passerelle/analysis/glm.h"
#include "passerelle/data/csv_table.h"
#include "passerelle/formula/model.h"
#include "passerelle/stats/survival.h"

namespace passerelle::analysis {
namespace {

const std::string kData = std::string(PASSERELLE_SOURCE_DIR) + "/tests/reference/data/";

formula::ModelFrame Frame(const data::Table& t, const std::string& f, formula::ModelKind kind,
                          const std::string& subset = "") {
  auto parsed = formula::ParseFormula(f);
  EXPECT_TRUE(parsed.ok());
  auto m = formula::BuildModelFrame(*parsed, t, kind, subset);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

void ExpectSame(const std::vector<double>& a, const std::vector<double>& b, double tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a[i], b[i], tol * std::max(1.0, std::fabs(b[i]))) << "index " << i;
  }
}

// Sites are the values of `site_expr` (e.g. the reference's site column, or a split of rows).
void CheckCoxAndGlm(const data::Table& t, const std::string& site_var,
                    const std::vector<std::string>& sites) {
  const std::string rhs = "rx + sex + age + obstruct + nodes";
  // Pooled: one kernel, strata(site).
  const formula::ModelFrame pooled = Frame(
      t, "Surv(time, status) ~ " + rhs + " + strata(" + site_var + ")", formula::ModelKind::kCox);
  const stats::CoxKernel pooled_kernel(CoxRowsFrom(pooled));
  CoxphOptions options;
  LocalCoxSite pooled_site(&pooled_kernel);
  auto want = FitCoxph({&pooled_site}, pooled.coef_names, options);
  ASSERT_TRUE(want.ok());
  // Federated: one kernel per site, each built from that site's rows only.
  std::vector<stats::CoxKernel> kernels;
  kernels.reserve(sites.size());
  std::vector<stats::GlmKernel> glm_kernels;
  glm_kernels.reserve(sites.size());
  for (const std::string& s : sites) {
    const std::string subset = site_var + " == \"" + s + "\"";
    kernels.emplace_back(
        CoxRowsFrom(Frame(t, "Surv(time, status) ~ " + rhs, formula::ModelKind::kCox, subset)));
    const formula::ModelFrame g =
        Frame(t, "status ~ " + rhs, formula::ModelKind::kRegression, subset);
    glm_kernels.emplace_back(GlmRowsFrom(g), stats::Family::kBinomial);
  }
  std::vector<LocalCoxSite> local_sites;
  for (const auto& k : kernels) local_sites.emplace_back(&k);
  std::vector<CoxSite*> site_ptrs;
  for (auto& s : local_sites) site_ptrs.push_back(&s);
  auto got = FitCoxph(site_ptrs, pooled.coef_names, options);
  ASSERT_TRUE(got.ok());
  ExpectSame(got->coef, want->coef, 1e-10);
  ExpectSame(got->var, want->var, 1e-10);
  EXPECT_NEAR(got->loglik, want->loglik, 1e-9 * std::fabs(want->loglik));
  EXPECT_NEAR(got->concordance, want->concordance, 1e-12);
  EXPECT_NEAR(got->concordance_se, want->concordance_se, 1e-12);

  const formula::ModelFrame g = Frame(t, "status ~ " + rhs, formula::ModelKind::kRegression);
  const stats::GlmKernel pooled_glm(GlmRowsFrom(g), stats::Family::kBinomial);
  LocalGlmSite pooled_site_glm(&pooled_glm), pooled_site_null(&pooled_glm, NullColumns(true));
  auto glm_want =
      FitGlm({&pooled_site_glm}, {&pooled_site_null}, g.coef_names, stats::Family::kBinomial, true);
  std::vector<LocalGlmSite> glm_sites, null_sites;
  for (size_t i = 0; i < sites.size(); ++i) {
    glm_sites.emplace_back(&glm_kernels[i]);
    null_sites.emplace_back(&glm_kernels[i], NullColumns(true));
  }
  std::vector<GlmSite*> gk, gn;
  for (size_t i = 0; i < sites.size(); ++i) {
    gk.push_back(&glm_sites[i]);
    gn.push_back(&null_sites[i]);
  }
  auto glm_got = FitGlm(gk, gn, g.coef_names, stats::Family::kBinomial, true);
  ASSERT_TRUE(glm_want.ok() && glm_got.ok());
  ExpectSame(glm_got->coef, glm_want->coef, 1e-10);
  ExpectSame(glm_got->var, glm_want->var, 1e-10);
  EXPECT_NEAR(glm_got->deviance, glm_want->deviance, 1e-9);
  EXPECT_NEAR(glm_got->null_deviance, glm_want->null_deviance, 1e-9);
}

TEST(FederatedEqualsPooled, ThreeReferenceSites) {
  data::CsvTableOptions options;
  options.levels["rx"] = {"Obs", "Lev", "Lev+5FU"};
  auto t = data::ReadCsvTable({kData + "colon_death_site1.csv", kData + "colon_death_site2.csv",
                               kData + "colon_death_site3.csv"},
                              options);
  ASSERT_TRUE(t.ok());
  CheckCoxAndGlm(*t, "site", {"site1", "site2", "site3"});
}

TEST(FederatedEqualsPooled, OneTwoAndFiveUnevenSites) {
  data::CsvTableOptions options;
  options.levels["rx"] = {"Obs", "Lev", "Lev+5FU"};
  auto base = data::ReadCsvTable({kData + "colon_death.csv"}, options);
  ASSERT_TRUE(base.ok());
  for (int k : {1, 2, 5}) {
    SCOPED_TRACE(std::to_string(k) + " sites");
    // Uneven split: site j gets rows in proportion to j + 1.
    data::Table t = *base;
    data::Variable v;
    v.name = "part";
    v.type = data::VarType::kCategory;
    data::ColumnBuilder part(v);
    const int weights_total = k * (k + 1) / 2;
    std::vector<std::string> names;
    for (int j = 0; j < k; ++j) names.push_back("s" + std::to_string(j));
    for (size_t i = 0; i < t.rows; ++i) {
      const int slot = static_cast<int>((i * 7919) % static_cast<size_t>(weights_total));
      int j = 0, acc = 1;
      while (slot >= acc) acc += (++j) + 1;
      part.AddText(names[j]);
    }
    t.columns.push_back(part.Finish());
    CheckCoxAndGlm(t, "part", names);
  }
}

TEST(FederatedEqualsPooled, KaplanMeierCountsAdd) {
  auto t = data::ReadCsvTable({kData + "colon_death.csv"}, {});
  ASSERT_TRUE(t.ok());
  const formula::ModelFrame all = Frame(*t, "Surv(time, status) ~ 1", formula::ModelKind::kGroups);
  const stats::TimeCounts pooled = stats::CountByTime(all.time, all.status, all.group, 0);
  stats::TimeCounts sum;
  for (const char* s : {"sex == 0", "sex == 1"}) {
    const formula::ModelFrame m =
        Frame(*t, "Surv(time, status) ~ 1", formula::ModelKind::kGroups, s);
    sum = stats::AddCounts(sum, stats::CountByTime(m.time, m.status, m.group, 0));
  }
  const stats::KaplanMeier a = stats::ComputeKaplanMeier(pooled, 0.95);
  const stats::KaplanMeier b = stats::ComputeKaplanMeier(sum, 0.95);
  EXPECT_EQ(a.time, b.time);
  ExpectSame(b.surv, a.surv, 1e-15);
  ExpectSame(b.std_err, a.std_err, 1e-15);
}

}  // namespace
}  // namespace passerelle::analysis

namespace passerelle::analysis {
namespace {

// A site that answers two rounds, then refuses: the fit ends with the site's refusal, not with
// a half-computed result.
class RefusingCoxSite : public LocalCoxSite {
 public:
  using LocalCoxSite::LocalCoxSite;
  Result<stats::CoxAggregate> Evaluate(std::span<const double> beta, stats::Ties ties) override {
    if (++calls_ == 3) return PermissionDenied("site lyon: rule min_events");
    return LocalCoxSite::Evaluate(beta, ties);
  }

 private:
  int calls_ = 0;
};

TEST(FederatedFaults, ARefusalInRoundThreeEndsTheFitWithTheRefusal) {
  auto t =
      data::ReadCsvTable({kData + "colon_death_site1.csv", kData + "colon_death_site2.csv"}, {});
  ASSERT_TRUE(t.ok());
  const formula::ModelFrame a =
      Frame(*t, "Surv(time, status) ~ age + nodes", formula::ModelKind::kCox, "site == \"site1\"");
  const formula::ModelFrame b =
      Frame(*t, "Surv(time, status) ~ age + nodes", formula::ModelKind::kCox, "site == \"site2\"");
  const std::vector<std::string> names = a.coef_names;
  const stats::CoxKernel ka(CoxRowsFrom(a)), kb(CoxRowsFrom(b));
  LocalCoxSite wuhan(&ka);
  RefusingCoxSite lyon(&kb);
  auto fit = FitCoxph({&wuhan, &lyon}, names, CoxphOptions{});
  ASSERT_FALSE(fit.ok());
  EXPECT_EQ(fit.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(fit.status().message(), "site lyon: rule min_events");
}

}  // namespace
}  // namespace passerelle::analysis
