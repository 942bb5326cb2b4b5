#include "passerelle/stats/glm.h"

#include <cmath>
#include <limits>

#include "passerelle/base/parallel.h"
#include "passerelle/stats/linalg.h"

namespace passerelle::stats {
namespace {

constexpr double kEpsilon = std::numeric_limits<double>::epsilon();
// -log(kEpsilon) = 52 log 2: R's logit linkinv keeps eta within it.
const double kLogitBound = -std::log(kEpsilon);

// y log(y / mu), 0 when y is 0 (R's y_log_y).
double YLogY(double y, double mu) { return y > 0 ? y * std::log(y / mu) : 0.0; }

}  // namespace

GlmKernel::GlmKernel(GlmRows rows, Family family)
    : n_(rows.y.size()), p_(rows.p), family_(family), x_(std::move(rows.x)), y_(std::move(rows.y)) {
  TransposeInPlace(&x_, n_, p_);
  offset_ = std::move(rows.offset);  // empty: every row's offset is 0
  weight_ = std::move(rows.weight);  // empty: every row weighs 1
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

GlmAggregate GlmKernel::Evaluate(std::span<const double> beta) const {
  return Step(beta, false, beta.size());
}
GlmAggregate GlmKernel::EvaluateAtStart(size_t columns) const { return Step({}, true, columns); }

GlmAggregate GlmKernel::Step(std::span<const double> beta, bool at_start, size_t columns) const {
  const size_t p = columns;
  // Two row ranges on two threads when large; always summed in the same order.
  GlmAggregate parts[kParallelParts];
  double rss[kParallelParts] = {0, 0};
  const size_t used = ParallelParts(n_, [&](size_t part, size_t begin, size_t end) {
    StepRows(beta, at_start, columns, begin, end, &parts[part], &rss[part]);
  });
  GlmAggregate a = std::move(parts[0]);
  double total_rss = rss[0];
  for (size_t k = 1; k < used; ++k) {
    for (size_t i = 0; i < p * p; ++i) a.xtwx[i] += parts[k].xtwx[i];
    for (size_t i = 0; i < p; ++i) a.xtwz[i] += parts[k].xtwz[i];
    a.deviance += parts[k].deviance;
    a.loglik += parts[k].loglik;
    a.sum_wy += parts[k].sum_wy;
    a.sum_w += parts[k].sum_w;
    a.extreme_fits += parts[k].extreme_fits;
    a.sum_log_w += parts[k].sum_log_w;
    a.fractional_successes += parts[k].fractional_successes;
    total_rss += rss[k];
  }
  a.n = static_cast<double>(n_);
  a.offset = !offset_.empty();
  if (family_ == Family::kGaussian) {
    // The log-likelihood at the ML variance RSS / n (R's logLik for gaussian glm, with the
    // prior weights' term).
    a.loglik = -a.n / 2 * (std::log(2 * M_PI * total_rss / a.n) + 1) + a.sum_log_w / 2;
  }
  // Only the lower triangle was accumulated.
  for (size_t j = 0; j < p; ++j) {
    for (size_t k = 0; k < j; ++k) a.xtwx[k * p + j] = a.xtwx[j * p + k];
  }
  return a;
}

void GlmKernel::StepRows(std::span<const double> beta, bool at_start, size_t columns, size_t begin,
                         size_t end, GlmAggregate* out, double* rss) const {
  const size_t p = columns;
  GlmAggregate& a = *out;
  a.xtwx.assign(p * p, 0.0);
  a.xtwz.assign(p, 0.0);
  std::vector<double> working(end - begin);  // the rows' working weights
  // The log density of a 0/1 response of weight 1 is log(mu) or log(1 - mu), each at least
  // R's bound eps: sixteen of them are multiplied (at least eps^16 ~ 1e-250, far from
  // underflow) and the product's logarithm taken once, a sixteenth of the logarithms.
  constexpr int kLogGroup = 16;
  double probabilities = 1;
  int in_product = 0;
  const auto add_log_density = [&a](double l) {
    a.deviance -= 2 * l;
    a.loglik += l;
  };
  for (size_t i = begin; i < end; ++i) {
    const double* xi = &x_[i * p_];
    const double y = y_[i];
    const double pw = weight_.empty() ? 1.0 : weight_[i];
    const double offset = offset_.empty() ? 0.0 : offset_[i];
    a.sum_wy += pw * y;
    a.sum_w += pw;
    if (pw != 1) a.sum_log_w += std::log(pw);  // log(1) adds nothing: skipped, row by row
    double eta, mu;
    if (at_start) {
      // R's starting values: binomial (w y + 0.5) / (w + 1), poisson y + 0.1, gaussian y.
      mu = family_ == Family::kBinomial  ? (pw * y + 0.5) / (pw + 1)
           : family_ == Family::kPoisson ? y + 0.1
                                         : y;
      if (family_ == Family::kBinomial && std::fabs(pw * y - std::round(pw * y)) > 0.001) {
        a.fractional_successes += 1;
      }
      eta = family_ == Family::kBinomial  ? std::log(mu / (1 - mu))
            : family_ == Family::kPoisson ? std::log(mu)
                                          : mu;
    } else {
      eta = offset;
      for (size_t j = 0; j < p; ++j) eta += xi[j] * beta[j];
      if (family_ == Family::kBinomial) {
        // R's logit linkinv clamps eta so that mu stays inside (eps, 1 - eps).
        // Written as comparisons (std::fmin and std::fmax are calls here), with their result:
        // a NaN becomes -kLogitBound.
        const double clamped =
            eta > -kLogitBound ? (eta < kLogitBound ? eta : kLogitBound) : -kLogitBound;
        const double e = std::exp(clamped);
        mu = e / (1 + e);
      } else if (family_ == Family::kPoisson) {
        mu = std::fmax(std::exp(eta), kEpsilon);
      } else {
        mu = eta;
      }
    }
    double dmu, variance;
    switch (family_) {
      case Family::kBinomial: {
        // Deviance and log density; for a 0/1 response of weight 1 one logarithm serves both.
        // With weights, R's log density is dbinom(round(w y), round(w), mu).
        if ((y == 0 || y == 1) && pw == 1) {
          probabilities *= y == 1 ? mu : 1 - mu;
          if (++in_product == kLogGroup) {
            add_log_density(std::log(probabilities));
            probabilities = 1;
            in_product = 0;
          }
        } else {
          a.deviance += 2 * pw * (YLogY(y, mu) + YLogY(1 - y, 1 - mu));
          const double trials = std::round(pw), successes = std::round(pw * y);
          a.loglik += std::lgamma(trials + 1) - std::lgamma(successes + 1) -
                      std::lgamma(trials - successes + 1) +
                      (successes > 0 ? successes * std::log(mu) : 0.0) +
                      (trials - successes > 0 ? (trials - successes) * std::log(1 - mu) : 0.0);
        }
        if (mu < 10 * kEpsilon || mu > 1 - 10 * kEpsilon) a.extreme_fits += 1;
        variance = mu * (1 - mu);
        dmu = variance > kEpsilon ? variance : kEpsilon;  // std::fmax, NaN included
        break;
      }
      case Family::kPoisson: {
        const double log_mu = std::log(mu);
        a.deviance += 2 * pw * ((y > 0 ? y * (std::log(y) - log_mu) : 0.0) - (y - mu));
        a.loglik += pw * (y * log_mu - mu - std::lgamma(y + 1));
        dmu = std::fmax(mu, kEpsilon);
        variance = mu;
        break;
      }
      default:
        a.deviance += pw * (y - mu) * (y - mu);
        *rss += pw * (y - mu) * (y - mu);
        dmu = 1;
        variance = 1;
    }
    // Working response and weight: z = eta - offset + (y - mu) / mu'(eta), w = mu'(eta)^2 / V(mu).
    const double z = eta - offset + (y - mu) / dmu;
    // The canonical links' mu'(eta) is V(mu) (binomial, poisson) or 1 (gaussian): w = pw mu'(eta)
    // unless mu'(eta) was held at eps.
    const double w = dmu == variance ? pw * dmu : pw * dmu * dmu / variance;
    working[i - begin] = w;
    for (size_t j = 0; j < p; ++j) a.xtwz[j] += w * xi[j] * z;
  }
  if (in_product > 0) add_log_density(std::log(probabilities));
  AddWeightedCrossProduct(&x_[begin * p_], working.data(), p, p_, 0, end - begin, a.xtwx.data());
}

}  // namespace passerelle::stats
