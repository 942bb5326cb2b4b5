#include "passerelle/stats/linalg.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace passerelle::stats {
namespace {

// The sums are row k's into lane k mod 4, lanes added (0 + 1) + (2 + 3) at the end: the same
// bits however the rows come in pieces, and however many are buffered before they are added.
TEST(Linalg, WeightedCrossProductsAddEachRowIntoItsLane) {
  const size_t p = 5;
  for (size_t n : {1, 3, 4, 127, 128, 129, 1001}) {
    std::vector<double> x(n * p), v(n);
    uint64_t state = n;
    auto next = [&state] {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      return static_cast<double>(state >> 11) / 9007199254740992.0 - 0.5;
    };
    for (double& e : x) e = next();
    for (double& e : v) e = next() + 1;
    std::vector<double> lanes(p * p * 4, 0.0), want(p * p, 0.0);
    for (size_t k = 0; k < n; ++k) {
      for (size_t a = 0; a < p; ++a) {
        for (size_t b = 0; b <= a; ++b) {
          lanes[(a * p + b) * 4 + k % 4] += (v[k] * x[k * p + a]) * x[k * p + b];
        }
      }
    }
    for (size_t a = 0; a < p; ++a) {
      for (size_t b = 0; b <= a; ++b) {
        const double* l = &lanes[(a * p + b) * 4];
        want[a * p + b] = (l[0] + l[1]) + (l[2] + l[3]);
      }
    }
    std::vector<double> by_column(n * p);  // the same rows, column-major
    for (size_t k = 0; k < n; ++k) {
      for (size_t a = 0; a < p; ++a) by_column[a * n + k] = x[k * p + a];
    }
    for (size_t piece : {n, size_t{1}, size_t{7}, size_t{200}}) {
      WeightedCrossProducts rows(p), columns(p);
      for (size_t from = 0; from < n; from += piece) {
        rows.Add(&x[from * p], &v[from], p, 1, std::min(piece, n - from));
        columns.Add(&by_column[from], &v[from], 1, n, std::min(piece, n - from));
      }
      std::vector<double> got(p * p, 0.0), got_by_column(p * p, 0.0);
      rows.AddTo(got.data());
      columns.AddTo(got_by_column.data());
      EXPECT_EQ(got, want) << n << " rows in pieces of " << piece;
      EXPECT_EQ(got_by_column, want) << n << " rows in pieces of " << piece;
    }
  }
}

}  // namespace
}  // namespace passerelle::stats
