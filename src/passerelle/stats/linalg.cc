#include "passerelle/stats/linalg.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

namespace passerelle::stats {

SymmetricFactor::SymmetricFactor(std::span<const double> a, size_t p, double toler)
    : p_(p), l_(a.begin(), a.end()), singular_(p, false) {
  auto at = [&](size_t i, size_t j) -> double& { return l_[i * p_ + j]; };
  double eps = 0;
  for (size_t i = 0; i < p; ++i) eps = std::fmax(eps, std::fabs(at(i, i)));
  eps = eps == 0 ? toler : eps * toler;
  for (size_t i = 0; i < p; ++i) {
    const double pivot = at(i, i);
    if (!std::isfinite(pivot) || pivot < eps) {
      at(i, i) = 0;
      singular_[i] = true;
      if (pivot < -8 * eps) positive_ = false;
      continue;
    }
    ++rank_;
    for (size_t j = i + 1; j < p; ++j) {
      const double temp = at(j, i) / pivot;
      at(j, i) = temp;
      at(j, j) -= temp * temp * pivot;
      for (size_t k = j + 1; k < p; ++k) at(k, j) -= temp * at(k, i);
    }
  }
}

std::vector<double> SymmetricFactor::Solve(std::span<const double> b) const {
  std::vector<double> x(b.begin(), b.end());
  auto at = [&](size_t i, size_t j) { return l_[i * p_ + j]; };
  for (size_t i = 0; i < p_; ++i) {  // L y = b
    for (size_t j = 0; j < i; ++j) x[i] -= at(i, j) * x[j];
  }
  for (size_t i = 0; i < p_; ++i) x[i] = singular_[i] ? 0 : x[i] / at(i, i);  // D z = y
  for (size_t i = p_; i-- > 0;) {                                             // L' x = z
    if (singular_[i]) {
      x[i] = 0;
      continue;
    }
    for (size_t j = i + 1; j < p_; ++j) x[i] -= at(j, i) * x[j];
  }
  return x;
}

std::vector<double> SymmetricFactor::Inverse() const {
  std::vector<double> inverse(p_ * p_, 0.0);
  std::vector<double> unit(p_, 0.0);
  for (size_t j = 0; j < p_; ++j) {
    unit.assign(p_, 0.0);
    unit[j] = 1;
    const std::vector<double> column = Solve(unit);
    for (size_t i = 0; i < p_; ++i) inverse[i * p_ + j] = column[i];
  }
  // Symmetrise away rounding.
  for (size_t i = 0; i < p_; ++i) {
    for (size_t j = 0; j < i; ++j) {
      const double mean = 0.5 * (inverse[i * p_ + j] + inverse[j * p_ + i]);
      inverse[i * p_ + j] = inverse[j * p_ + i] = mean;
    }
  }
  return inverse;
}

double QuadraticForm(const SymmetricFactor& factor, std::span<const double> b) {
  const std::vector<double> x = factor.Solve(b);
  double q = 0;
  for (size_t i = 0; i < b.size(); ++i) q += b[i] * x[i];
  return q;
}

namespace {

constexpr size_t kLanes = 4;
// Rows buffered before they are added: a multiple of kLanes.
constexpr size_t kBlockRows = 128;

// Four doubles, one lane each: elementwise arithmetic, in one instruction with AVX2 and in two
// without.
typedef double Lanes __attribute__((vector_size(kLanes * sizeof(double))));

// acc's four lanes of each entry (a, b), b <= a, += yt[a] * xt[b] over `rows` buffered rows
// (a multiple of kLanes), row k into lane k mod 4: the same sums, in the same order, as four
// rows at a time. Four entries of a row of the triangle are taken together, so that their sums
// do not wait on one another. Built twice, for processors with AVX2 and without; no fused
// multiply-add either way, so the results are the same bit for bit.
__attribute__((target_clones("avx2", "default"))) void AddLanes(const double* xt, const double* yt,
                                                                size_t p, size_t rows,
                                                                double* acc) {
  double* out = acc;
  for (size_t a = 0; a < p; ++a) {
    const double* ya = &yt[a * kBlockRows];
    size_t b = 0;
    for (; b + 4 <= a + 1; b += 4, out += 4 * kLanes) {
      const double *x0 = &xt[b * kBlockRows], *x1 = x0 + kBlockRows, *x2 = x1 + kBlockRows,
                   *x3 = x2 + kBlockRows;
      Lanes s0, s1, s2, s3, y, x;
      std::memcpy(&s0, out, sizeof s0);
      std::memcpy(&s1, out + kLanes, sizeof s1);
      std::memcpy(&s2, out + 2 * kLanes, sizeof s2);
      std::memcpy(&s3, out + 3 * kLanes, sizeof s3);
      for (size_t k = 0; k < rows; k += kLanes) {
        std::memcpy(&y, ya + k, sizeof y);
        std::memcpy(&x, x0 + k, sizeof x);
        s0 += y * x;
        std::memcpy(&x, x1 + k, sizeof x);
        s1 += y * x;
        std::memcpy(&x, x2 + k, sizeof x);
        s2 += y * x;
        std::memcpy(&x, x3 + k, sizeof x);
        s3 += y * x;
      }
      std::memcpy(out, &s0, sizeof s0);
      std::memcpy(out + kLanes, &s1, sizeof s1);
      std::memcpy(out + 2 * kLanes, &s2, sizeof s2);
      std::memcpy(out + 3 * kLanes, &s3, sizeof s3);
    }
    for (; b <= a; ++b, out += kLanes) {
      const double* xb = &xt[b * kBlockRows];
      Lanes sum, y, x;
      std::memcpy(&sum, out, sizeof sum);
      for (size_t k = 0; k < rows; k += kLanes) {
        std::memcpy(&y, ya + k, sizeof y);
        std::memcpy(&x, xb + k, sizeof x);
        sum += y * x;
      }
      std::memcpy(out, &sum, sizeof sum);
    }
  }
}

}  // namespace

WeightedCrossProducts::WeightedCrossProducts(size_t p)
    : p_(p),
      acc_(p * (p + 1) / 2 * kLanes, 0.0),
      xt_(p * kBlockRows, 0.0),
      yt_(p * kBlockRows, 0.0) {}

void WeightedCrossProducts::Add(const double* x, const double* v, size_t row_step,
                                size_t column_step, size_t rows) {
  while (rows > 0) {
    const size_t m = std::min(rows, kBlockRows - filled_);
    for (size_t a = 0; a < p_; ++a) {
      const double* xa = x + a * column_step;
      double* xt = &xt_[a * kBlockRows + filled_];
      double* yt = &yt_[a * kBlockRows + filled_];
      for (size_t k = 0; k < m; ++k) {
        xt[k] = xa[k * row_step];
        yt[k] = v[k] * xt[k];
      }
    }
    filled_ += m;
    x += m * row_step;
    v += m;
    rows -= m;
    if (filled_ == kBlockRows) Flush();
  }
}

void WeightedCrossProducts::Flush() {
  const size_t rows = (filled_ + kLanes - 1) / kLanes * kLanes;
  for (size_t a = 0; a < p_; ++a) {  // lanes without a row add nothing
    for (size_t k = filled_; k < rows; ++k) xt_[a * kBlockRows + k] = yt_[a * kBlockRows + k] = 0.0;
  }
  AddLanes(xt_.data(), yt_.data(), p_, rows, acc_.data());
  filled_ = 0;
}

void WeightedCrossProducts::AddTo(double* lower) {
  if (filled_ > 0) Flush();
  const double* sum = acc_.data();
  for (size_t a = 0; a < p_; ++a) {
    for (size_t b = 0; b <= a; ++b, sum += kLanes) {
      lower[a * p_ + b] += (sum[0] + sum[1]) + (sum[2] + sum[3]);
    }
  }
}

}  // namespace passerelle::stats
