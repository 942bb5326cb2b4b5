#include "passerelle/stats/linalg.h"

#include <gtest/gtest.h>

#include <vector>

namespace passerelle::stats {
namespace {

// The kernels' design turned row-major where it is: every shape, against the plain transpose.
TEST(Linalg, TransposeInPlaceMovesEveryElement) {
  for (size_t rows : {1, 2, 3, 7, 100}) {
    for (size_t cols : {1, 2, 3, 5, 8}) {
      std::vector<double> a(rows * cols), want(rows * cols);
      for (size_t j = 0; j < cols; ++j) {
        for (size_t i = 0; i < rows; ++i) {
          a[j * rows + i] = static_cast<double>(j * 1000 + i);
          want[i * cols + j] = a[j * rows + i];
        }
      }
      TransposeInPlace(&a, rows, cols);
      EXPECT_EQ(a, want) << rows << " x " << cols;
    }
  }
}

}  // namespace
}  // namespace passerelle::stats
