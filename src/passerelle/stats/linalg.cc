#include "passerelle/stats/linalg.h"

#include <cmath>

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

}  // namespace passerelle::stats
