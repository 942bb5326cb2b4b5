// The Cox kernel's two-thread sweep of a large stratum equals the one-thread sweep.
#include "passerelle/stats/cox.h"

#include <gtest/gtest.h>

#include <cmath>

#include "passerelle/base/parallel.h"

namespace passerelle::stats {
namespace {

TEST(CoxKernel, SplitSweepEqualsSingleSweep) {
  // Right-censored rows take the two-thread path; the same rows written as (start, stop] with
  // start before every time take the single sweep with identical risk sets.
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

}  // namespace
}  // namespace passerelle::stats
