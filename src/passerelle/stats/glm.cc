#include "passerelle/stats/glm.h"

#include <cmath>
#include <limits>

namespace passerelle::stats {
namespace {

constexpr double kEpsilon = std::numeric_limits<double>::epsilon();

// y log(y / mu), 0 when y is 0 (R's y_log_y).
double YLogY(double y, double mu) { return y > 0 ? y * std::log(y / mu) : 0.0; }

}  // namespace

GlmKernel::GlmKernel(GlmRows rows, Family family)
    : n_(rows.y.size()), p_(rows.p), family_(family), y_(std::move(rows.y)) {
  x_.resize(n_ * p_);
  for (size_t i = 0; i < n_; ++i) {
    for (size_t j = 0; j < p_; ++j) x_[i * p_ + j] = rows.x[j * n_ + i];
  }
  offset_ = rows.offset.empty() ? std::vector<double>(n_, 0.0) : std::move(rows.offset);
}

Status GlmKernel::Validate() const {
  for (double y : y_) {
    if (family_ == Family::kBinomial && (y < 0 || y > 1)) {
      return InvalidArgument("binomial: the response must be 0/1 (or a condition)");
    }
    if (family_ == Family::kPoisson && y < 0) {
      return InvalidArgument("poisson: the response must be a non-negative count");
    }
  }
  return Status::Ok();
}

GlmAggregate GlmKernel::Evaluate(std::span<const double> beta) const { return Step(beta, false); }
GlmAggregate GlmKernel::EvaluateAtStart() const { return Step({}, true); }

GlmAggregate GlmKernel::Step(std::span<const double> beta, bool at_start) const {
  const size_t p = p_;
  GlmAggregate a;
  a.n = static_cast<double>(n_);
  a.xtwx.assign(p * p, 0.0);
  a.xtwz.assign(p, 0.0);
  double rss = 0;
  for (size_t i = 0; i < n_; ++i) {
    const double* xi = &x_[i * p];
    const double y = y_[i];
    a.sum_y += y;
    a.sum_w += 1;
    double eta, mu;
    if (at_start) {
      // R's starting values: binomial (y + 0.5) / 2, poisson y + 0.1, gaussian y.
      mu = family_ == Family::kBinomial ? (y + 0.5) / 2 : family_ == Family::kPoisson ? y + 0.1 : y;
      eta = family_ == Family::kBinomial  ? std::log(mu / (1 - mu))
            : family_ == Family::kPoisson ? std::log(mu)
                                          : mu;
    } else {
      eta = offset_[i];
      for (size_t j = 0; j < p; ++j) eta += xi[j] * beta[j];
      if (family_ == Family::kBinomial) {
        // R's logit linkinv clamps eta so that mu stays inside (eps, 1 - eps).
        const double thresh = -std::log(kEpsilon);
        const double e = std::exp(std::fmin(std::fmax(eta, -thresh), thresh));
        mu = e / (1 + e);
      } else if (family_ == Family::kPoisson) {
        mu = std::fmax(std::exp(eta), kEpsilon);
      } else {
        mu = eta;
      }
    }
    // Deviance and log density.
    switch (family_) {
      case Family::kBinomial:
        a.deviance += 2 * (YLogY(y, mu) + YLogY(1 - y, 1 - mu));
        a.loglik += y * std::log(mu) + (1 - y) * std::log(1 - mu);
        if (mu < 10 * kEpsilon || mu > 1 - 10 * kEpsilon) a.extreme_fits += 1;
        break;
      case Family::kPoisson:
        a.deviance += 2 * (YLogY(y, mu) - (y - mu));
        a.loglik += y * std::log(mu) - mu - std::lgamma(y + 1);
        break;
      case Family::kGaussian:
        a.deviance += (y - mu) * (y - mu);
        rss += (y - mu) * (y - mu);
        break;
    }
    // Working response and weight: z = eta - offset + (y - mu) / mu'(eta), w = mu'(eta)^2 / V(mu).
    double dmu, variance;
    switch (family_) {
      case Family::kBinomial:
        dmu = std::fmax(mu * (1 - mu), kEpsilon);
        variance = mu * (1 - mu);
        break;
      case Family::kPoisson:
        dmu = std::fmax(mu, kEpsilon);
        variance = mu;
        break;
      default:
        dmu = 1;
        variance = 1;
    }
    const double z = eta - offset_[i] + (y - mu) / dmu;
    const double w = dmu * dmu / variance;
    for (size_t j = 0; j < p; ++j) {
      const double wxj = w * xi[j];
      a.xtwz[j] += wxj * z;
      for (size_t k = 0; k <= j; ++k) a.xtwx[j * p + k] += wxj * xi[k];
    }
  }
  if (family_ == Family::kGaussian) {
    // The log-likelihood at the ML variance RSS / n (R's logLik for gaussian glm).
    const double n = a.n;
    a.loglik = -n / 2 * (std::log(2 * M_PI * rss / n) + 1);
  }
  for (size_t j = 0; j < p; ++j) {
    for (size_t k = 0; k < j; ++k) a.xtwx[k * p + j] = a.xtwx[j * p + k];
  }
  return a;
}

}  // namespace passerelle::stats
