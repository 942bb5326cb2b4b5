// The Cox kernel's ways through right-censored data (its risk sets' sums over the rows in
// parts, its concordance taken in order of risk) equal its counting-process ways on the same
// rows written as (start, stop] with a start before every time.
#include "passerelle/stats/cox.h"

#include <gtest/gtest.h>

#include <cmath>

#include "passerelle/base/parallel.h"

namespace passerelle::stats {
namespace {

TEST(CoxKernel, RightCensoredEqualsCountingProcess) {
  const size_t n = kParallelMinRows + 50000, p = 3;
  CoxRows right;
  right.p = p;
  right.x.resize(n * p);
  uint64_t state = 12345;
  auto uniform = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) * 0x1.0p-53;
  };
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < p; ++j) right.x[j * n + i] = uniform() - 0.5;
    right.stop.push_back(std::ceil(uniform() * 500));  // heavy ties
    right.status.push_back(uniform() < 0.6 ? 1 : 0);
  }
  CoxRows counting = right;
  counting.start.assign(n, -1.0);
  const CoxKernel split(right), single(counting);
  const std::vector<double> beta = {0.3, -0.2, 0.1};
  for (Ties ties : {Ties::kEfron, Ties::kBreslow}) {
    auto a = split.Evaluate(beta, ties);
    auto b = single.Evaluate(beta, ties);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_NEAR(a->loglik, b->loglik, 1e-9 * std::fabs(b->loglik));
    for (size_t j = 0; j < p; ++j) {
      EXPECT_NEAR(a->score[j], b->score[j], 1e-7 * (1 + std::fabs(b->score[j])));
    }
    for (size_t k = 0; k < p * p; ++k) {
      EXPECT_NEAR(a->information[k], b->information[k], 1e-9 * std::fabs(b->information[k]) + 1e-9);
    }
  }
}

TEST(CoxKernel, ConcordanceByRiskEqualsSweepByTime) {
  // Ties in time and in risk (a covariate of three values), censorings at event times, case
  // weights that are not whole, and three strata.
  const size_t n = 3000;
  CoxRows right;
  right.p = 2;
  right.x.resize(n * 2);
  uint64_t state = 99;
  auto uniform = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) * 0x1.0p-53;
  };
  for (size_t i = 0; i < n; ++i) {
    right.x[i] = std::floor(uniform() * 3);
    right.x[n + i] = i % 7 == 0 ? 0.0 : uniform();
    right.stop.push_back(std::ceil(uniform() * 40));
    right.status.push_back(uniform() < 0.5 ? 1 : 0);
    right.strata.push_back(static_cast<int32_t>(i % 3));
    right.weight.push_back(0.5 + std::floor(uniform() * 4) / 4);
  }
  CoxRows counting = right;
  counting.start.assign(n, -1.0);
  const CoxKernel by_risk(right), by_time(counting);
  for (const std::vector<double>& beta :
       {std::vector<double>{0.7, 0.0}, std::vector<double>{0.4, -1.3}}) {
    const ConcordanceAggregate a = by_risk.Concordance(beta);
    const ConcordanceAggregate b = by_time.Concordance(beta);
    auto near = [](double x, double y) { return std::fabs(x - y) <= 1e-10 * (1 + std::fabs(y)); };
    EXPECT_TRUE(near(a.concordant, b.concordant)) << a.concordant << " " << b.concordant;
    EXPECT_TRUE(near(a.discordant, b.discordant)) << a.discordant << " " << b.discordant;
    EXPECT_TRUE(near(a.tied_risk, b.tied_risk)) << a.tied_risk << " " << b.tied_risk;
    EXPECT_TRUE(near(a.tied_time, b.tied_time)) << a.tied_time << " " << b.tied_time;
    EXPECT_TRUE(near(a.tied_both, b.tied_both)) << a.tied_both << " " << b.tied_both;
    EXPECT_TRUE(near(a.c2, b.c2)) << a.c2 << " " << b.c2;
    EXPECT_TRUE(near(a.cm, b.cm)) << a.cm << " " << b.cm;
    EXPECT_TRUE(near(a.m2, b.m2)) << a.m2 << " " << b.m2;
    EXPECT_GT(a.tied_risk, 0);
  }
  // Risks that differ only in their last digits (rows taken in order of the upper half of their
  // keys first): the pairs of every death and every row that outlived it, counted one by one.
  const std::vector<double> beta = {1.0, 1e-9};
  std::vector<double> eta(n, 0.0), mean(2, 0.0);
  for (size_t j = 0; j < 2; ++j) {
    for (size_t i = 0; i < n; ++i) mean[j] += right.x[j * n + i];
    mean[j] /= static_cast<double>(n);
  }
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < 2; ++j) eta[i] += (right.x[j * n + i] - mean[j]) * beta[j];
  }
  ConcordanceAggregate want;
  for (size_t i = 0; i < n; ++i) {
    if (right.status[i] == 0) continue;
    for (size_t j = 0; j < n; ++j) {
      if (right.strata[j] != right.strata[i] ||
          !(right.stop[j] > right.stop[i] ||
            (right.stop[j] == right.stop[i] && right.status[j] == 0))) {
        continue;
      }
      const double w = right.weight[i] * right.weight[j];
      (eta[i] > eta[j] ? want.concordant : eta[i] < eta[j] ? want.discordant : want.tied_risk) += w;
    }
  }
  const ConcordanceAggregate got = by_risk.Concordance(beta);
  EXPECT_NEAR(got.concordant, want.concordant, 1e-9 * want.concordant);
  EXPECT_NEAR(got.discordant, want.discordant, 1e-9 * want.discordant);
  EXPECT_NEAR(got.tied_risk, want.tied_risk, 1e-9 * want.tied_risk);
  EXPECT_GT(want.tied_risk, 0);  // the rows without x2
}

}  // namespace
}  // namespace passerelle::stats
