// Every analysis run federated over three colon sites (in-process transports into the sites'
// local steps) equals the pooled analysis: Cox and survdiff with the site as a stratum exactly,
// survfit and survdiff without site strata on the 30-day grid, tables and describe by summing.
// R's numbers for the grid come from survfit(Surv(ceiling(time / 30) * 30, status) ~ rx) on the
// pooled reference sites.
#include "passerelle/analysis/federated.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "passerelle/analysis/describe.h"
#include "passerelle/analysis/test_site.h"
#include "passerelle/base/test_dir.h"
#include "passerelle/base/text.h"
#include "passerelle/data/csv_table.h"
#include "passerelle/privacy/disclosure.h"

namespace passerelle::analysis {
namespace {

const std::string kRef = std::string(PASSERELLE_SOURCE_DIR) + "/tests/reference/data/";

data::Table Read(const std::vector<std::string>& files) {
  data::CsvTableOptions options;
  options.levels["rx"] = {"Obs", "Lev", "Lev+5FU"};
  std::vector<std::string> paths;
  for (const auto& f : files) paths.push_back(f[0] == '/' ? f : kRef + f);
  auto t = data::ReadCsvTable(paths, options);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return *t;
}

class FederatedTest : public ::testing::Test {
 protected:
  FederatedTest()
      : tables_({Read({"colon_death_site1.csv"}), Read({"colon_death_site2.csv"}),
                 Read({"colon_death_site3.csv"})}),
        pooled_(Read({"colon_death_site1.csv", "colon_death_site2.csv", "colon_death_site3.csv"})) {
    for (size_t s = 0; s < tables_.size(); ++s) {
      policies_.push_back(privacy::DefaultPolicy("site" + std::to_string(s + 1)));
    }
  }

  std::vector<SiteLink> Links() {
    std::vector<SiteLink> links;
    for (size_t s = 0; s < tables_.size(); ++s) {
      links.push_back({policies_[s].site, testing::OverText([this, s](const std::string& task) {
                         ++tasks_;
                         const std::string step = nlohmann::json::parse(task).value("step", "");
                         if (step == "design") ++designs_;
                         if (step == "start") ++starts_;
                         return testing::Aggregate(RunLocalStep(task, tables_[s], policies_[s]));
                       })});
    }
    return links;
  }

  AnalysisOutput Federated(const AnalysisRequest& r) {
    auto out = RunFederated(r, Links());
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? *out : AnalysisOutput{};
  }
  AnalysisOutput Pooled(const AnalysisRequest& r) {
    auto out = RunAnalysis(r, pooled_);
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return *out;
  }

  std::vector<data::Table> tables_;
  data::Table pooled_;
  std::vector<privacy::Policy> policies_;
  std::atomic<int> tasks_ = 0;    // the sites of a round are asked at once
  std::atomic<int> designs_ = 0;  // "design" steps asked
  std::atomic<int> starts_ = 0;   // "start" steps asked
};

void ExpectNear(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "index " << i;
    } else {
      EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::fabs(want[i]))) << "index " << i;
    }
  }
}

// The day a note says a curve or test stops at ("... to day 2790; ..." / "days 0 to 2790;").
double EndFromNotes(const std::vector<std::string>& notes) {
  for (const std::string& n : notes) {
    for (const char* marker : {"to day ", "days 0 to "}) {
      const size_t at = n.find(marker);
      if (at != std::string::npos) return std::stod(n.substr(at + std::strlen(marker)));
    }
  }
  return INFINITY;
}

TEST_F(FederatedTest, CoxWithSiteStrataIsThePooledFit) {
  AnalysisRequest r;
  r.function = "coxph";
  r.formula = "Surv(time, status) ~ rx + sex + age + obstruct + nodes + strata(site)";
  const auto fed = std::get<CoxphOutput>(Federated(r).result);
  const auto pooled = std::get<CoxphOutput>(Pooled(r).result);
  ExpectNear(fed.fit.coef, pooled.fit.coef, 1e-9);
  ExpectNear(fed.fit.var, pooled.fit.var, 1e-9);
  ExpectNear(fed.means, pooled.means, 1e-12);
  // 18 rows have a missing value, 3 of them at one site: that count stays there.
  EXPECT_EQ(pooled.n_omitted_na, 18u);
  EXPECT_EQ(fed.n_omitted_na, 15u);
  EXPECT_NEAR(fed.fit.coef[0], -0.06435616964362041, 1e-7);  // R, reference case 12
  // Every site's levels of rx are the agreed ones: the levels step brought each site's design
  // and its evaluation at zero, and neither was asked again.
  EXPECT_EQ(designs_, 0);

  // Without strata(site) the fit is the same, and a note says why.
  r.formula = "Surv(time, status) ~ rx + sex + age + obstruct + nodes";
  const AnalysisOutput unstratified = Federated(r);
  ExpectNear(std::get<CoxphOutput>(unstratified.result).fit.coef, pooled.fit.coef, 1e-9);
  ASSERT_FALSE(unstratified.notes.empty());
  EXPECT_NE(unstratified.notes.back().find("stratified by site"), std::string::npos);
}

// Every site of a round is asked at once, and the answers are combined in site order: each
// site's transport here waits until every site has been asked in its round (a round asked one
// site after the other never gets there, and fails after 10 s naming the site asked alone), and the
// results are those of the pooled data, bit for bit those of the sites asked one by one.
TEST_F(FederatedTest, EverySiteOfARoundIsAskedAtOnce) {
  struct Meeting {
    std::mutex mu;
    std::condition_variable cv;
    size_t arrived = 0;
    int round = 0;
  } meeting;
  const size_t n = tables_.size();
  std::vector<SiteLink> together = Links();
  for (SiteLink& link : together) {
    link.transport = [&meeting, n, ask = link.transport,
                      name = link.name](const nlohmann::json& task) -> Result<nlohmann::json> {
      {
        std::unique_lock<std::mutex> lock(meeting.mu);
        const int mine = meeting.round;
        if (++meeting.arrived == n) {
          meeting.arrived = 0;
          ++meeting.round;
          meeting.cv.notify_all();
        } else if (!meeting.cv.wait_for(lock, std::chrono::seconds(10),
                                        [&] { return meeting.round != mine; })) {
          return Unavailable(name + " was asked while the other sites were not");
        }
      }
      return ask(task);
    };
  }
  // The same sites asked one after the other, in site order.
  std::vector<SiteLink> one_by_one;
  for (const SiteLink& link : Links()) {
    one_by_one.push_back({link.name, [ask = link.transport](const nlohmann::json& task) {
                            static std::mutex one;  // one site at a time
                            std::lock_guard<std::mutex> lock(one);
                            return ask(task);
                          }});
  }
  AnalysisRequest cox;
  cox.function = "coxph";
  cox.formula = "Surv(time, status) ~ rx + age + nodes + cluster(id) + strata(site)";
  AnalysisRequest glm;
  glm.function = "glm";
  glm.family = "binomial";
  glm.formula = "status ~ rx + age + nodes";
  AnalysisRequest km;
  km.function = "survfit";
  km.formula = "Surv(time, status) ~ rx";
  km.subset = "!is.na(nodes)";
  auto both = [&](const AnalysisRequest& r) {
    Result<AnalysisOutput> at_once = RunFederated(r, together);
    EXPECT_TRUE(at_once.ok()) << at_once.status().ToString();
    Result<AnalysisOutput> in_turn = RunFederated(r, one_by_one);
    EXPECT_TRUE(in_turn.ok()) << in_turn.status().ToString();
    return std::make_pair(at_once.ok() ? *at_once : AnalysisOutput{},
                          in_turn.ok() ? *in_turn : AnalysisOutput{});
  };
  const auto [cox_at_once, cox_in_turn] = both(cox);
  const CoxphResult& fit = std::get<CoxphOutput>(cox_at_once.result).fit;
  EXPECT_EQ(fit.coef, std::get<CoxphOutput>(cox_in_turn.result).fit.coef);
  EXPECT_EQ(fit.robust_var, std::get<CoxphOutput>(cox_in_turn.result).fit.robust_var);
  EXPECT_EQ(fit.concordance, std::get<CoxphOutput>(cox_in_turn.result).fit.concordance);
  ExpectNear(fit.coef, std::get<CoxphOutput>(Pooled(cox).result).fit.coef, 1e-9);
  ExpectNear(fit.robust_var, std::get<CoxphOutput>(Pooled(cox).result).fit.robust_var, 1e-9);
  const auto [glm_at_once, glm_in_turn] = both(glm);
  EXPECT_EQ(std::get<GlmOutput>(glm_at_once.result).fit.coef,
            std::get<GlmOutput>(glm_in_turn.result).fit.coef);
  EXPECT_EQ(std::get<GlmOutput>(glm_at_once.result).fit.deviance,
            std::get<GlmOutput>(glm_in_turn.result).fit.deviance);
  const auto [km_at_once, km_in_turn] = both(km);
  const auto& curves = std::get<SurvfitOutput>(km_at_once.result).curves;
  ASSERT_EQ(curves.size(), 3u);
  for (size_t g = 0; g < curves.size(); ++g) {
    EXPECT_EQ(curves[g].surv, std::get<SurvfitOutput>(km_in_turn.result).curves[g].surv);
  }
}

TEST_F(FederatedTest, GlmIsThePooledFit) {
  AnalysisRequest r;
  r.function = "glm";
  r.family = "binomial";
  r.formula = "status ~ rx + sex + age + obstruct + nodes";
  const AnalysisOutput fed_out = Federated(r);
  const auto& fed = std::get<GlmOutput>(fed_out.result);
  const auto pooled = std::get<GlmOutput>(Pooled(r).result);
  ExpectNear(fed.fit.coef, pooled.fit.coef, 1e-9);
  ExpectNear(fed.fit.se, pooled.fit.se, 1e-9);
  EXPECT_NEAR(fed.fit.deviance, pooled.fit.deviance, 1e-9 * pooled.fit.deviance);
  EXPECT_NEAR(fed.fit.null_deviance, pooled.fit.null_deviance, 1e-9 * pooled.fit.null_deviance);
  // The first IRLS step of the model and of its null model came with their designs: no "start"
  // step was asked of any site.
  EXPECT_EQ(starts_, 0);
  EXPECT_EQ(fed_out.notes[0],
            "observations deleted due to missingness: 15 plus fewer than k at a site that "
            "suppresses small counts");
}

// Gaussian and Poisson too, with a site withholding its count of rows dropped for a missing
// value (1 to k-1): the fit is the pooled one, its notes say a few more were dropped.
TEST_F(FederatedTest, GaussianAndPoissonGlmsAreThePooledFitWhenACountIsWithheld) {
  for (const char* family : {"gaussian", "poisson"}) {
    AnalysisRequest r;
    r.function = "glm";
    r.family = family;
    r.formula = "nodes ~ rx + sex + age + obstruct";
    const AnalysisOutput fed_out = Federated(r);
    ASSERT_TRUE(std::holds_alternative<GlmOutput>(fed_out.result)) << family;
    const auto& fed = std::get<GlmOutput>(fed_out.result);
    const auto pooled = std::get<GlmOutput>(Pooled(r).result);
    ExpectNear(fed.fit.coef, pooled.fit.coef, 1e-9);
    ExpectNear(fed.fit.se, pooled.fit.se, 1e-9);
    EXPECT_NEAR(fed.fit.deviance, pooled.fit.deviance, 1e-9 * pooled.fit.deviance);
    EXPECT_NEAR(fed.fit.aic, pooled.fit.aic, 1e-9 * std::fabs(pooled.fit.aic)) << family;
    ASSERT_FALSE(fed_out.notes.empty());
    EXPECT_NE(fed_out.notes[0].find("plus fewer than k"), std::string::npos) << fed_out.notes[0];
  }
}

// R's glm drops factor levels the rows do not use (coxph keeps them): dropping a middle level
// or the reference level gives R's coefficients, federated and pooled.
TEST_F(FederatedTest, GlmDropsUnusedLevelsAsR) {
  AnalysisRequest r;
  r.function = "glm";
  r.family = "binomial";
  r.formula = "status ~ rx + age";
  const std::vector<std::pair<std::string, std::vector<double>>> cases = {
      {"rx != \"Lev\"", {0.2419992895823438184, -0.5194574608506784541, -0.0018241255744074233}},
      {"rx != \"Obs\"",
       {8.1269514681520966e-02, -4.6379694117562881e-01, -6.3404775089176508e-05}}};
  for (const auto& [subset, want] : cases) {
    r.subset = subset;
    const auto fed = std::get<GlmOutput>(Federated(r).result);
    const auto pooled = std::get<GlmOutput>(Pooled(r).result);
    EXPECT_EQ(fed.fit.coef_names, (std::vector<std::string>{"(Intercept)", "rxLev+5FU", "age"}));
    EXPECT_EQ(pooled.fit.coef_names, fed.fit.coef_names);
    ExpectNear(fed.fit.coef, want, 1e-8);
    ExpectNear(pooled.fit.coef, want, 1e-8);
  }
}

// factor(x) of a number has the values of each site's rows: a site without extent == 1 still
// builds the pooled design (coxph keeps all levels, glm the levels some site uses).
TEST_F(FederatedTest, SitesAgreeOnTheLevelsOfFactorsOfNumbers) {
  const std::string path = testing::FreshTestDir("federated") + "/site3_without_extent1.csv";
  {
    std::ifstream in(kRef + "colon_death_site3.csv");
    std::ofstream out(path);
    std::string line;
    for (int row = 0; std::getline(in, line); ++row) {
      int commas = 0;
      size_t at = 0;
      while (commas < 12 && (at = line.find(',', at) + 1) != 0) ++commas;  // extent: column 13
      if (row == 0 || line[at] != '1') out << line << "\n";
    }
  }
  tables_[2] = Read({path});
  auto pooled = data::StackTables(tables_[0], tables_[1]);
  ASSERT_TRUE(pooled.ok());
  pooled = data::StackTables(std::move(*pooled), tables_[2]);
  ASSERT_TRUE(pooled.ok());
  pooled_ = std::move(*pooled);
  AnalysisRequest r;
  r.function = "coxph";
  r.formula = "Surv(time, status) ~ factor(extent) + age + strata(site)";
  const auto fed = std::get<CoxphOutput>(Federated(r).result);
  const auto want = std::get<CoxphOutput>(Pooled(r).result);
  EXPECT_EQ(fed.fit.coef_names, want.fit.coef_names);
  ExpectNear(fed.fit.coef, want.fit.coef, 1e-9);
  // Site 3's own levels are not the agreed ones: every site was asked its design on them.
  EXPECT_EQ(designs_, 3);
  r.function = "glm";
  r.family = "binomial";
  r.formula = "status ~ factor(extent) + age";
  r.subset = "extent != 1";
  const auto gfed = std::get<GlmOutput>(Federated(r).result);
  const auto gwant = std::get<GlmOutput>(Pooled(r).result);
  EXPECT_EQ(gfed.fit.coef_names,
            (std::vector<std::string>{"(Intercept)", "factor(extent)3", "factor(extent)4", "age"}));
  EXPECT_EQ(gfed.fit.coef_names, gwant.fit.coef_names);
  ExpectNear(gfed.fit.coef, gwant.fit.coef, 1e-9);
}

// A concordance within each site (+ strata(site)) adds up to the pooled one exactly: counts,
// concordance and its jackknife standard error. Across sites without strata it is refused: no
// one can compare two patients of two sites.
TEST_F(FederatedTest, ConcordanceWithinSitesIsThePooledOne) {
  AnalysisRequest r;
  r.function = "concordance";
  r.formula = "Surv(time, status) ~ I(0.02 * age + 0.1 * nodes) + strata(site)";
  r.reverse = true;
  const auto fed = std::get<ConcordanceOutput>(Federated(r).result);
  const auto pooled = std::get<ConcordanceOutput>(Pooled(r).result);
  EXPECT_EQ(fed.n, pooled.n);
  EXPECT_EQ(fed.concordant, pooled.concordant);
  EXPECT_EQ(fed.discordant, pooled.discordant);
  EXPECT_EQ(fed.tied_x, pooled.tied_x);
  // site2 has 4 pairs of deaths on one day (and 1 also tied in the predictor): counts of 1 to
  // k-1 it withholds, so the pooled ties are not known; the estimate does not use them.
  EXPECT_EQ(pooled.tied_y, 9 + 4);
  EXPECT_TRUE(std::isnan(fed.tied_y));
  EXPECT_TRUE(std::isnan(fed.tied_xy));
  const AnalysisOutput fed_out = Federated(r);
  EXPECT_NE(Join(fed_out.notes, "\n").find("a site withholds its pairs of events on one day"),
            std::string::npos);
  EXPECT_NEAR(fed.concordance, pooled.concordance, 1e-14);
  EXPECT_NEAR(fed.concordance_se, pooled.concordance_se, 1e-14);
  EXPECT_GT(fed.concordance, 0.55);
  // A large site's pairs (50,000 patients: about 10^9 pairs) are read as counts of pairs, not
  // refused as a count of patients over 10^8.
  const SiteLink large = {
      "large", testing::OverText([](const std::string&) -> Result<std::string> {
        return std::string(R"({"n": 50000, "concordant": 900000000, "discordant": 300000000,
                               "tied_x": 0, "tied_y": null, "tied_xy": null,
                               "c2": 1e12, "cm": 1e12, "m2": 2e12})");
      })};
  auto big = RunFederated(r, {large});
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_DOUBLE_EQ(std::get<ConcordanceOutput>(big->result).concordance, 0.75);
  r.formula = "Surv(time, status) ~ age";
  auto across = RunFederated(r, Links());
  ASSERT_FALSE(across.ok());
  EXPECT_NE(across.status().message().find("add + strata(site)"), std::string::npos);
}

TEST_F(FederatedTest, KaplanMeierOnTheGridIsRsPooledCurve) {
  AnalysisRequest r;
  r.function = "survfit";
  r.formula = "Surv(time, status) ~ rx";
  const AnalysisOutput fed_out = Federated(r);  // default grid: 30 days
  const auto& fed = std::get<SurvfitOutput>(fed_out.result);
  r.bin_days = 30;
  const auto pooled = std::get<SurvfitOutput>(Pooled(r).result);
  ASSERT_EQ(fed.strata, pooled.strata);
  ASSERT_EQ(fed.strata.size(), 3u);
  // The sites stop releasing where fewer than k of theirs remain: the pooled curve ends there,
  // and up to there it is the pooled curve.
  const double end = EndFromNotes(fed_out.notes);
  ASSERT_LT(end, INFINITY);
  for (size_t g = 0; g < 3; ++g) {
    const auto& got = fed.curves[g];
    const auto& want = pooled.curves[g];
    ASSERT_GT(got.time.size(), 10u);
    ASSERT_LE(got.time.size(), want.time.size());
    EXPECT_EQ(got.n, want.n);
    for (size_t j = 0; j < got.time.size(); ++j) {
      EXPECT_EQ(got.time[j], want.time[j]);
      EXPECT_EQ(got.n_risk[j], want.n_risk[j]);
      EXPECT_NEAR(got.surv[j], want.surv[j], 1e-13);
      EXPECT_NEAR(got.std_err[j], want.std_err[j], 1e-13);
      EXPECT_NEAR(got.lower[j], want.lower[j], 1e-13);
    }
    EXPECT_LE(got.time.back(), end);
    // A cut curve says where its events stop being counted; the pooled one is whole.
    if (want.time.back() > got.time.back()) {
      EXPECT_TRUE(std::isfinite(fed.shown_to[g]));
      EXPECT_GE(fed.shown_to[g], got.time.back());
    }
    ASSERT_EQ(pooled.shown_to.size(), 3u);
    EXPECT_EQ(pooled.shown_to[g], INFINITY);
  }
  // R: surv at the first grid times of rx=Obs, and at 1800 days for each arm.
  EXPECT_EQ(fed.curves[0].time[0], 120);
  EXPECT_NEAR(fed.curves[0].surv[0], 0.99682539682539684, 1e-14);
  EXPECT_NEAR(fed.curves[0].surv[2], 0.98412698412698418, 1e-14);
  const double r1800[] = {0.52894317578332462, 0.53540752051918283, 0.63741418614713863};
  for (size_t g = 0; g < 3; ++g) {
    const auto& c = fed.curves[g];
    const size_t j = std::upper_bound(c.time.begin(), c.time.end(), 1800.0) - c.time.begin() - 1;
    EXPECT_NEAR(c.surv[j], r1800[g], 1e-14) << fed.strata[g];
  }
}

// Competing events at two sites (mgus2, odd and even ids): each cause's cumulative incidence
// and its standard error on the grid are the pooled ones, and R's.
TEST(FederatedCompetingRisks, CumulativeIncidenceOnTheGridIsRsPooledEstimate) {
  const std::string dir = testing::FreshTestDir("federated_competing");
  std::ifstream in(kRef + "mgus2_competing.csv");
  std::string header, line;
  std::getline(in, header);
  std::ofstream odd(dir + "/odd.csv"), even(dir + "/even.csv"), no_pcm(dir + "/no_pcm.csv");
  for (std::ofstream* f : {&odd, &even, &no_pcm}) *f << header << "\n";
  for (int row = 0; std::getline(in, line); ++row) {
    (row % 2 ? odd : even) << line << "\n";
    if (row % 2 == 0 && line.find(",pcm") == std::string::npos) no_pcm << line << "\n";
  }
  for (std::ofstream* f : {&odd, &even, &no_pcm}) f->close();
  data::CsvTableOptions options;
  options.levels["event"] = {"censor", "pcm", "death"};
  std::vector<data::Table> tables;
  for (const char* site : {"odd", "even"}) {
    tables.push_back(*data::ReadCsvTable({dir + "/" + site + ".csv"}, options));
  }
  const data::Table pooled_table = *data::ReadCsvTable({kRef + "mgus2_competing.csv"}, options);
  std::vector<SiteLink> links;
  const privacy::Policy policy = privacy::DefaultPolicy("site");
  for (data::Table& t : tables) {
    links.push_back({"s" + std::to_string(links.size() + 1),
                     testing::OverText([&t, &policy](const std::string& task) {
                       return testing::Aggregate(RunLocalStep(task, t, policy));
                     })});
  }
  AnalysisRequest r;
  r.function = "survfit";
  r.formula = "Surv(etime, event) ~ sex";
  auto fed_out = RunFederated(r, links);
  ASSERT_TRUE(fed_out.ok()) << fed_out.status().ToString();
  const auto& fed = std::get<SurvfitOutput>(fed_out->result);
  r.bin_days = 30;
  auto pooled_out = RunAnalysis(r, pooled_table);
  ASSERT_TRUE(pooled_out.ok());
  const auto& pooled = std::get<SurvfitOutput>(pooled_out->result);
  ASSERT_EQ(fed.states, std::vector<std::string>({"(s0)", "pcm", "death"}));
  ASSERT_EQ(fed.strata, pooled.strata);
  for (size_t g = 0; g < 2; ++g) {
    const stats::CumulativeIncidence &got = fed.incidence[g], &want = pooled.incidence[g];
    ASSERT_GT(got.time.size(), 3u);
    ASSERT_LE(got.time.size(), want.time.size());
    for (size_t j = 0; j < got.time.size(); ++j) {
      EXPECT_EQ(got.time[j], want.time[j]);
      EXPECT_EQ(got.n_risk[j], want.n_risk[j]);
      for (size_t k = 0; k < 3; ++k) {
        EXPECT_NEAR(got.pstate[k][j], want.pstate[k][j], 1e-13);
        EXPECT_NEAR(got.std_err[k][j], want.std_err[k][j], 1e-13);
        EXPECT_NEAR(got.lower[k][j], want.lower[k][j], 1e-13);
      }
    }
  }
  // R: summary(survfit(Surv(ceiling(etime / 30) * 30, event) ~ sex), times = c(60, 120)).
  const double r_pstate[2][2][3] = {
      {{0.69687991330656529, 0.039676027135546188, 0.26344405955788852},
       {0.45863857183718632, 0.071755614742347248, 0.46960581342046637}},
      {{0.60397020613199381, 0.029241873087360700, 0.36678792078064554},
       {0.38096224344007767, 0.054174100369969225, 0.56486365618995316}}};
  const double r_se[2][2][3] = {
      {{0.018312677150837318, 0.0077763337102618067, 0.017550879597663435},
       {0.020380002876285032, 0.0104389827088316109, 0.020367084948569369}},
      {{0.017830961975668198, 0.0061425895373986511, 0.017570210265147389},
       {0.018362115088080461, 0.0084615928099901552, 0.018671311391244703}}};
  for (size_t g = 0; g < 2; ++g) {
    const stats::CumulativeIncidence& c = fed.incidence[g];
    for (size_t t = 0; t < 2; ++t) {
      const size_t j = std::find(c.time.begin(), c.time.end(), 60.0 * (t + 1)) - c.time.begin();
      ASSERT_LT(j, c.time.size());
      for (size_t k = 0; k < 3; ++k) {
        EXPECT_NEAR(c.pstate[k][j], r_pstate[g][t][k], 1e-14) << g << t << k;
        EXPECT_NEAR(c.std_err[k][j], r_se[g][t][k], 1e-14) << g << t << k;
      }
    }
  }

  // A factor of numbers takes its levels from each site's records: a site where no one
  // progressed has levels 0 and 2 only. The hub merges the levels and the estimate is still
  // the pooled one.
  tables[1] = *data::ReadCsvTable({dir + "/no_pcm.csv"}, options);
  const data::Table both = *data::ReadCsvTable({dir + "/odd.csv", dir + "/no_pcm.csv"}, options);
  r.formula = "Surv(etime, factor(I(event == \"pcm\") + 2 * I(event == \"death\"))) ~ 1";
  r.bin_days = 0;
  auto merged_out = RunFederated(r, links);
  ASSERT_TRUE(merged_out.ok()) << merged_out.status().ToString();
  r.bin_days = 30;
  auto both_out = RunAnalysis(r, both);
  ASSERT_TRUE(both_out.ok()) << both_out.status().ToString();
  const auto& merged = std::get<SurvfitOutput>(merged_out->result);
  // A site whose event does not begin with the others' censoring level: no estimate, and the
  // error says whose levels differ and what to do.
  std::vector<SiteLink> odd_first = links;
  odd_first[1].transport = testing::OverText([&](const std::string& task) -> Result<std::string> {
    ASSIGN_OR_RETURN(std::string answer, testing::Aggregate(RunLocalStep(task, tables[1], policy)));
    nlohmann::json j = nlohmann::json::parse(answer);
    j["event_levels"][0] = "alive";
    return j.dump();
  });
  auto mismatched = RunFederated(r, odd_first);
  ASSERT_FALSE(mismatched.ok());
  EXPECT_EQ(mismatched.status().message(),
            "site s2: its event's censoring level is 'alive', site s1's is '0': give the sites "
            "the same dictionary");
  EXPECT_EQ(merged.states, std::vector<std::string>({"(s0)", "1", "2"}));
  const stats::CumulativeIncidence& got = merged.incidence.at(0);
  const stats::CumulativeIncidence& want =
      std::get<SurvfitOutput>(both_out->result).incidence.at(0);
  ASSERT_GT(got.time.size(), 3u);
  for (size_t j = 0; j < got.time.size(); ++j) {
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_NEAR(got.pstate[k][j], want.pstate[k][j], 1e-13) << j << " " << k;
      EXPECT_NEAR(got.std_err[k][j], want.std_err[k][j], 1e-13) << j << " " << k;
    }
  }
}

TEST_F(FederatedTest, LogrankWithSiteStrataIsExact) {
  AnalysisRequest r;
  r.function = "survdiff";
  r.formula = "Surv(time, status) ~ rx + strata(site)";
  const auto fed = std::get<SurvdiffOutput>(Federated(r).result);
  const auto pooled = std::get<SurvdiffOutput>(Pooled(r).result);
  EXPECT_NEAR(fed.chisq, 12.050403022869173, 1e-10);  // R
  EXPECT_NEAR(fed.chisq, pooled.chisq, 1e-12);
  ExpectNear(fed.exp, pooled.exp, 1e-12);
  ExpectNear(fed.var, pooled.var, 1e-12);
  EXPECT_EQ(fed.strata, pooled.strata);
  ExpectNear(fed.obs_by_stratum, pooled.obs_by_stratum, 0);
}

TEST_F(FederatedTest, LogrankWithoutSiteStrataIsThePooledTestOnTheGrid) {
  AnalysisRequest r;
  r.function = "survdiff";
  r.formula = "Surv(time, status) ~ rx";
  const AnalysisOutput fed_out = Federated(r);
  const auto& fed = std::get<SurvdiffOutput>(fed_out.result);
  // Pooled: times on the grid, followed up to the last day every site releases.
  const double end = EndFromNotes(fed_out.notes);
  data::Table t = pooled_;
  auto column = [&](const std::string& name) -> std::vector<double>& {
    for (auto& c : t.columns) {
      if (c.variable.name != name) continue;
      c.ToNumbers();
      return c.numbers;
    }
    throw std::runtime_error(name);
  };
  std::vector<double>& time = column("time");
  std::vector<double>& status = column("status");
  for (size_t i = 0; i < t.rows; ++i) {
    time[i] = privacy::BinTime(time[i], 30);
    if (time[i] > end) time[i] = end + 30, status[i] = 0;
  }
  auto want = RunAnalysis(r, t);
  ASSERT_TRUE(want.ok());
  const auto& pooled = std::get<SurvdiffOutput>(want->result);
  EXPECT_NEAR(fed.chisq, pooled.chisq, 1e-10);
  ExpectNear(fed.obs, pooled.obs, 0);
  ExpectNear(fed.exp, pooled.exp, 1e-12);
}

TEST_F(FederatedTest, TablesAndDescribeAddUp) {
  AnalysisRequest r;
  r.function = "table";
  r.rows = "rx";
  r.cols = "sex";
  const auto fed = std::get<TableOutput>(Federated(r).result);
  const auto pooled = std::get<TableOutput>(Pooled(r).result);
  EXPECT_EQ(fed.row_levels, pooled.row_levels);
  EXPECT_EQ(fed.col_levels, pooled.col_levels);
  ExpectNear(fed.counts, pooled.counts, 0);
  EXPECT_NEAR(fed.chisq.statistic, pooled.chisq.statistic, 1e-12);

  r = AnalysisRequest();
  r.function = "describe";
  const auto d = std::get<DescribeOutput>(Federated(r).result);
  ASSERT_EQ(d.columns, (std::vector<std::string>{"site1", "site2", "site3", "all"}));
  EXPECT_EQ(d.rows.back(), static_cast<double>(pooled_.rows));
  for (const VariableDescription& want : Describe(pooled_)) {
    const auto it = std::find_if(d.variables.begin(), d.variables.end(),
                                 [&](const auto& v) { return v.name == want.name; });
    ASSERT_NE(it, d.variables.end()) << want.name;
    // A site's n is withheld with its missing count when that is 1 to 4 (site3 lacks `nodes`
    // for three patients): n + missing = records would rebuild one from the other.
    bool all_released = true;
    for (size_t s = 0; s < 3; ++s) all_released &= it->n[s] == it->n[s];
    if (all_released) {
      EXPECT_EQ(it->n.back(), static_cast<double>(want.n)) << want.name;
    } else {
      EXPECT_TRUE(std::isnan(it->n.back()) && std::isnan(it->missing.back())) << want.name;
    }
    EXPECT_EQ(all_released, want.name != "nodes" && want.name != "differ") << want.name;
    if (want.name == "age") {
      EXPECT_NEAR(it->mean.back(), want.mean, 1e-12) << want.name;
      EXPECT_NEAR(it->sd.back(), want.sd, 1e-12) << want.name;
      // Quartiles: each site's the mean of the 5 records around it, no patient's own value;
      // overall the sites' average weighted by their records.
      double weighted = 0;
      for (size_t s = 0; s < 3; ++s) {
        std::vector<double> ages;
        for (size_t row = 0; row < tables_[s].rows; ++row) {
          ages.push_back(tables_[s].Find("age")->Number(row));
        }
        std::sort(ages.begin(), ages.end());
        const size_t centre = static_cast<size_t>(std::lround(0.5 * (ages.size() - 1)));
        double sum = 0;
        for (size_t i = centre - 2; i <= centre + 2; ++i) sum += ages[i];
        EXPECT_NEAR(it->median[s], sum / 5, 1e-12);
        weighted += it->n[s] * it->median[s];
      }
      EXPECT_NEAR(it->median.back(), weighted / it->n.back(), 1e-12);
      EXPECT_LT(it->q1.back(), it->median.back());
      EXPECT_LT(it->median.back(), it->q3.back());
      // The standardized difference between the sites: the mean of the three pairs'.
      double smd = 0;
      for (size_t a = 0; a < 3; ++a) {
        for (size_t b = a + 1; b < 3; ++b) {
          smd += std::fabs(it->mean[a] - it->mean[b]) /
                 std::sqrt((it->sd[a] * it->sd[a] + it->sd[b] * it->sd[b]) / 2) / 3;
        }
      }
      EXPECT_NEAR(it->smd, smd, 1e-12);
    }
    if (want.name == "rx") {
      EXPECT_TRUE(std::isfinite(it->smd));  // Yang and Dalton's
    }
  }
}

TEST_F(FederatedTest, CalibrationIsEachSitesOwnGroups) {
  AnalysisRequest r;
  r.function = "calibration";
  r.formula = "Surv(time, status) ~ I(0.02 * age + 0.1 * nodes + 0.5 * obstruct)";
  r.at_time = 1826;
  r.baseline = 0.6;
  r.groups = 5;
  r.bin_days = 30;
  const auto fed = std::get<CalibrationOutput>(Federated(r).result);
  ASSERT_EQ(fed.groups.size(), 15u);
  for (size_t s = 0; s < 3; ++s) {
    // Each site's rows are its own local calibration on the 30-day grid.
    const auto local = std::get<CalibrationOutput>(RunAnalysis(r, tables_[s])->result);
    ASSERT_EQ(local.groups.size(), 5u);
    for (size_t g = 0; g < 5; ++g) {
      const CalibrationGroup& f = fed.groups[s * 5 + g];
      EXPECT_EQ(f.site, "site" + std::to_string(s + 1));
      EXPECT_EQ(f.n, local.groups[g].n);
      EXPECT_NEAR(f.predicted, local.groups[g].predicted, 1e-12);
      EXPECT_NEAR(f.observed, local.groups[g].observed, 1e-12);
    }
  }
}

TEST_F(FederatedTest, SmallCountsNeverLeaveAndRefusalsNameTheSiteAndRule) {
  // nodes > 20 is rare: some site cells hold 1 to 4 patients.
  AnalysisRequest r;
  r.function = "table";
  r.rows = "I(nodes > 20)";
  r.cols = "rx";
  const AnalysisOutput out = Federated(r);
  const auto& t = std::get<TableOutput>(out.result);
  size_t suppressed = 0;
  for (double c : t.counts) suppressed += std::isnan(c);
  EXPECT_GT(suppressed, 0u);
  EXPECT_FALSE(t.chisq.valid);

  policies_[1].min_cohort_size = 1000;
  r = AnalysisRequest();
  r.function = "coxph";
  r.formula = "Surv(time, status) ~ age";
  auto refused = RunFederated(r, Links());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(refused.status().message().find("site site2: rule min_cohort_size"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(refused.status().message().find("324"), std::string::npos);  // the size stays home

  // A grid finer than the site allows is refused by the site.
  policies_[1].min_cohort_size = 10;
  r = AnalysisRequest();
  r.function = "survfit";
  r.formula = "Surv(time, status) ~ 1";
  r.bin_days = 7;
  refused = RunFederated(r, Links());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("rule min_time_bin_days"), std::string::npos);
}

TEST_F(FederatedTest, WhatNeedsEveryEventTimeIsRefusedWithItsReason) {
  // cox.zph's km and rank transforms read the pooled curve at every event time.
  AnalysisRequest r;
  r.function = "coxzph";
  r.formula = "Surv(time, status) ~ age + strata(site)";
  auto refused = RunFederated(r, Links());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("across sites use identity or log"), std::string::npos);
  EXPECT_EQ(tasks_, 0);  // refused before any site is asked
  r.transform = "identity";
  EXPECT_TRUE(RunFederated(r, Links()).ok());
  const int asked = tasks_;
  // Fine–Gray's censoring distribution is estimated within each site, so each site is a stratum.
  r = AnalysisRequest();
  r.function = "finegray";
  r.formula = "Surv(time, status) ~ age";
  r.cause = "death";
  refused = RunFederated(r, Links());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("needs + strata(site)"), std::string::npos);
  EXPECT_EQ(tasks_, asked);
}

TEST(MergeLevels, KeepsEachSitesOrder) {
  EXPECT_EQ(MergeLevels({{"organ=prostate", "organ=kidney"}, {"organ=bladder", "organ=kidney"}}),
            (std::vector<std::string>{"organ=prostate", "organ=bladder", "organ=kidney"}));
  EXPECT_EQ(MergeLevels({{"x=1", "x=10"}, {"x=2", "x=3"}}),
            (std::vector<std::string>{"x=1", "x=2", "x=3", "x=10"}));
}

}  // namespace
}  // namespace passerelle::analysis
