#include "passerelle/analysis/glm.h"

#include <cmath>
#include <limits>

#include "passerelle/analysis/each_site.h"
#include "passerelle/stats/distributions.h"
#include "passerelle/stats/linalg.h"

namespace passerelle::analysis {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kEpsilon = 1e-8;   // R's glm.control(epsilon)
constexpr int kMaxIterations = 25;  // R's glm.control(maxit)
constexpr double kToler = 1e-10;

Result<stats::GlmAggregate> Sum(const std::vector<GlmSite*>& sites,
                                const std::vector<double>* beta) {
  stats::GlmAggregate total;
  ASSIGN_OR_RETURN(const std::vector<stats::GlmAggregate> parts,
                   EachSite<stats::GlmAggregate>(sites.size(), [&](size_t s) {
                     return beta ? sites[s]->Evaluate(*beta) : sites[s]->EvaluateAtStart();
                   }));
  for (const stats::GlmAggregate& a : parts) stats::AddGlmAggregate(a, &total);
  return total;
}

struct Irls {
  std::vector<double> beta;
  stats::GlmAggregate at_beta;       // deviance at beta
  std::vector<double> cov_unscaled;  // (X'WX)^-1 of the last weighted fit, as R's qr
  std::vector<bool> aliased;
  double fractional_successes = 0;  // at the start (binomial)
  size_t rank = 0;
  int iter = 0;
  bool converged = false;
};

// IRLS from the sites' aggregate at R's starting values.
Result<Irls> RunIrls(const std::vector<GlmSite*>& sites, size_t p, stats::GlmAggregate step) {
  Irls fit;
  fit.fractional_successes = step.fractional_successes;
  double deviance_old = step.deviance;
  const stats::SymmetricFactor first(step.xtwx, p, kToler);
  fit.aliased.assign(p, false);
  for (size_t j = 0; j < p; ++j) fit.aliased[j] = first.singular(j);
  fit.rank = first.rank();
  for (fit.iter = 1; fit.iter <= kMaxIterations; ++fit.iter) {
    // Aliased columns stay out of the fit, as R's pivoted QR leaves them.
    std::vector<double> xtwx = step.xtwx, xtwz = step.xtwz;
    for (size_t j = 0; j < p; ++j) {
      if (!fit.aliased[j]) continue;
      for (size_t k = 0; k < p; ++k) xtwx[j * p + k] = xtwx[k * p + j] = 0;
      xtwz[j] = 0;
    }
    const stats::SymmetricFactor factor(xtwx, p, kToler);
    fit.beta = factor.Solve(xtwz);
    fit.cov_unscaled = factor.Inverse();
    ASSIGN_OR_RETURN(step, Sum(sites, &fit.beta));
    fit.at_beta = step;
    if (std::fabs(step.deviance - deviance_old) / (std::fabs(step.deviance) + 0.1) < kEpsilon) {
      fit.converged = true;
      break;
    }
    deviance_old = step.deviance;
  }
  if (fit.iter > kMaxIterations) fit.iter = kMaxIterations;
  return fit;
}

}  // namespace

Result<GlmResult> FitGlm(const std::vector<GlmSite*>& sites,
                         const std::vector<GlmSite*>& null_sites,
                         const std::vector<std::string>& coef_names, stats::Family family,
                         bool intercept) {
  const size_t p = coef_names.size();
  GlmResult r;
  r.coef_names = coef_names;
  r.family = family == stats::Family::kBinomial  ? "binomial"
             : family == stats::Family::kPoisson ? "poisson"
                                                 : "gaussian";
  r.link = family == stats::Family::kBinomial  ? "logit"
           : family == stats::Family::kPoisson ? "log"
                                               : "identity";
  for (const GlmSite* site : sites) {
    RETURN_IF_ERROR(site->Validate());
    r.n += static_cast<size_t>(site->n());
  }
  if (p == 0) return InvalidArgument("the model has no coefficient to estimate");
  ASSIGN_OR_RETURN(stats::GlmAggregate start, Sum(sites, nullptr));
  ASSIGN_OR_RETURN(Irls fit, RunIrls(sites, p, std::move(start)));
  r.iter = fit.iter;
  if (fit.fractional_successes > 0) {
    r.warnings.push_back("non-integer #successes in a binomial glm!");
  }
  r.converged = fit.converged;
  if (!fit.converged) r.warnings.push_back("glm.fit: algorithm did not converge");
  if (family == stats::Family::kBinomial && fit.at_beta.extreme_fits > 0) {
    r.warnings.push_back(
        "glm.fit: fitted probabilities numerically 0 or 1 occurred "
        "(complete or quasi-complete separation)");
  }
  for (size_t j = 0; j < p; ++j) {
    if (fit.aliased[j]) {
      r.warnings.push_back("coefficient " + coef_names[j] +
                           " not defined because of singularities (NA)");
    }
  }
  r.deviance = fit.at_beta.deviance;
  r.df_residual = static_cast<double>(r.n) - static_cast<double>(fit.rank);
  r.df_null = static_cast<double>(r.n) - (intercept ? 1.0 : 0.0);
  // A Gaussian model's log-likelihood is at the ML variance of all rows (R's logLik: RSS / n,
  // the deviance being the RSS): from the summed deviance, not a sum of the sites' own.
  r.loglik =
      family == stats::Family::kGaussian
          ? -fit.at_beta.n / 2 * (std::log(2 * M_PI * fit.at_beta.deviance / fit.at_beta.n) + 1) +
                fit.at_beta.sum_log_w / 2
          : fit.at_beta.loglik;
  const double k = static_cast<double>(fit.rank) + (family == stats::Family::kGaussian ? 1 : 0);
  r.aic = -2 * r.loglik + 2 * k;
  if (family == stats::Family::kGaussian) {
    r.dispersion = r.deviance / r.df_residual;
    r.t_statistics = true;
  }
  // The null model, as R's glm.fit and glm: with an intercept and no offset, the deviance at
  // the weighted mean of the response; with an offset, the intercept alone fitted the same way.
  if (!null_sites.empty() && intercept) {
    ASSIGN_OR_RETURN(const stats::GlmAggregate null_start, Sum(null_sites, nullptr));
    if (null_start.offset) {
      ASSIGN_OR_RETURN(const Irls null_fit, RunIrls(null_sites, 1, null_start));
      r.null_deviance = null_fit.at_beta.deviance;
    } else {
      const double mean = null_start.sum_wy / null_start.sum_w;
      const std::vector<double> at_mean = {family == stats::Family::kBinomial
                                               ? std::log(mean / (1 - mean))
                                           : family == stats::Family::kPoisson ? std::log(mean)
                                                                               : mean};
      ASSIGN_OR_RETURN(const stats::GlmAggregate null_step, Sum(null_sites, &at_mean));
      r.null_deviance = null_step.deviance;
    }
  } else {
    double total = 0;
    for (GlmSite* site : null_sites) {
      ASSIGN_OR_RETURN(const stats::GlmAggregate a, site->Evaluate({}));
      total += a.deviance;
    }
    r.null_deviance = total;
  }
  r.coef = fit.beta;
  r.var.assign(p * p, kNaN);
  r.se.assign(p, kNaN);
  r.z.assign(p, kNaN);
  r.p.assign(p, kNaN);
  for (size_t a = 0; a < p; ++a) {
    if (fit.aliased[a]) {
      r.coef[a] = kNaN;
      continue;
    }
    for (size_t b = 0; b < p; ++b) {
      if (!fit.aliased[b]) r.var[a * p + b] = r.dispersion * fit.cov_unscaled[a * p + b];
    }
    r.se[a] = std::sqrt(r.var[a * p + a]);
    r.z[a] = r.coef[a] / r.se[a];
    r.p[a] = r.t_statistics ? stats::StudentTTwoSided(r.z[a], r.df_residual)
                            : stats::NormalTwoSided(r.z[a]);
  }
  return r;
}

}  // namespace passerelle::analysis
