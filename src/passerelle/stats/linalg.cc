#include "passerelle/stats/linalg.h"

#include <cmath>
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

// Built twice, for processors with AVX2 (the four lanes in one instruction) and without (two
// and two); the lanes' arithmetic is the same either way — no fused multiply-add — so are the
// results, bit for bit.
__attribute__((target_clones("avx2", "default"))) void AddLanes(const double* xt, const double* yt,
                                                                size_t p, double* acc) {
  double* out = acc;
  for (size_t a = 0; a < p; ++a) {
    const double* ya = &yt[a * kLanes];
    for (size_t b = 0; b <= a; ++b, out += kLanes) {
      const double* xb = &xt[b * kLanes];
      for (size_t l = 0; l < kLanes; ++l) out[l] += ya[l] * xb[l];
    }
  }
}

}  // namespace

WeightedCrossProducts::WeightedCrossProducts(size_t p)
    : p_(p), acc_(p * (p + 1) / 2 * kLanes, 0.0), xt_(p * kLanes, 0.0), yt_(p * kLanes, 0.0) {}

void WeightedCrossProducts::Add(const double* x, const double* v, size_t stride, size_t rows) {
  for (size_t k = 0; k < rows; ++k) {
    for (size_t a = 0; a < p_; ++a) {
      const double xa = x[k * stride + a];
      xt_[a * kLanes + filled_] = xa;
      yt_[a * kLanes + filled_] = v[k] * xa;
    }
    if (++filled_ == kLanes) Flush();
  }
}

void WeightedCrossProducts::Flush() {
  for (size_t a = 0; a < p_; ++a) {  // lanes without a row add nothing
    for (size_t l = filled_; l < kLanes; ++l) xt_[a * kLanes + l] = yt_[a * kLanes + l] = 0.0;
  }
  AddLanes(xt_.data(), yt_.data(), p_, acc_.data());
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

void AddWeightedCrossProduct(const double* x, const double* v, size_t p, size_t stride,
                             size_t begin, size_t end, double* lower) {
  WeightedCrossProducts sums(p);
  sums.Add(x + begin * stride, v + begin, stride, end - begin);
  sums.AddTo(lower);
}

// The element at j * rows + i goes to i * cols + j, that is, each position k but the last to
// k * cols modulo (size - 1); the moves form cycles, each followed once (a bit a position marks
// those done).
void TransposeInPlace(std::vector<double>* a, size_t rows, size_t cols) {
  const size_t size = rows * cols;
  if (rows < 2 || cols < 2) return;
  std::vector<bool> done(size, false);
  for (size_t start = 1; start + 1 < size; ++start) {
    if (done[start]) continue;
    double carried = (*a)[start];
    size_t k = start;
    do {
      k = k * cols % (size - 1);
      std::swap(carried, (*a)[k]);
      done[k] = true;
    } while (k != start);
  }
}

}  // namespace passerelle::stats
