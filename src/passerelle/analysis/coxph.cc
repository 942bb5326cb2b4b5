#include "passerelle/analysis/coxph.h"

#include <cmath>
#include <limits>

#include "passerelle/analysis/each_site.h"
#include "passerelle/stats/distributions.h"
#include "passerelle/stats/linalg.h"

namespace passerelle::analysis {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The local steps of all sites at beta, summed in site order (the combine step).
Result<stats::CoxAggregate> EvaluateAll(const std::vector<CoxSite*>& sites,
                                        const std::vector<double>& beta, stats::Ties ties) {
  stats::CoxAggregate total;
  const size_t p = beta.size();
  total.score.assign(p, 0.0);
  total.information.assign(p * p, 0.0);
  ASSIGN_OR_RETURN(const std::vector<stats::CoxAggregate> parts,
                   EachSite<stats::CoxAggregate>(
                       sites.size(), [&](size_t s) { return sites[s]->Evaluate(beta, ties); }));
  for (const stats::CoxAggregate& a : parts) {
    total.loglik += a.loglik;
    for (size_t i = 0; i < p; ++i) total.score[i] += a.score[i];
    for (size_t i = 0; i < p * p; ++i) total.information[i] += a.information[i];
  }
  return total;
}

ChiSquareTest Test(double statistic, double df) {
  return {statistic, df, stats::ChiSquareUpper(statistic, df)};
}

}  // namespace

Result<CoxphResult> FitCoxph(const std::vector<CoxSite*>& sites,
                             const std::vector<std::string>& coef_names,
                             const CoxphOptions& options) {
  const size_t p = coef_names.size();
  CoxphResult r;
  r.coef_names = coef_names;
  for (const CoxSite* site : sites) {
    r.n += static_cast<size_t>(site->n());
    r.nevent += site->events();
  }
  if (r.nevent == 0) {
    return InvalidArgument("no events in the data: a Cox model cannot be fitted (all " +
                           std::to_string(r.n) + " observations are censored)");
  }
  if (p == 0) return InvalidArgument("the model has no covariate to estimate");

  std::vector<double> beta(p, 0.0);
  ASSIGN_OR_RETURN(stats::CoxAggregate at_zero, EvaluateAll(sites, beta, options.ties));
  r.loglik_init = at_zero.loglik;
  const stats::SymmetricFactor info0(at_zero.information, p, options.toler_chol);
  std::vector<bool> aliased(p, false);
  for (size_t j = 0; j < p; ++j) {
    if (info0.singular(j)) {
      aliased[j] = true;
      r.warnings.push_back("X matrix deemed to be singular; variable " + coef_names[j] +
                           " is aliased with the others and its coefficient is NA");
    }
  }
  const double df = static_cast<double>(info0.rank());
  r.score_test = Test(stats::QuadraticForm(info0, at_zero.score), df);

  // Newton-Raphson with step halving, as R's coxfit6.
  stats::CoxAggregate current = at_zero;
  double loglik = at_zero.loglik;
  int halving = 0;
  std::vector<double> step =
      stats::SymmetricFactor(current.information, p, options.toler_chol).Solve(current.score);
  std::vector<double> next(p);
  for (size_t j = 0; j < p; ++j) next[j] = aliased[j] ? 0 : beta[j] + step[j];
  for (r.iter = 1; r.iter <= options.max_iterations; ++r.iter) {
    ASSIGN_OR_RETURN(stats::CoxAggregate trial, EvaluateAll(sites, next, options.ties));
    // Worse beyond rounding (a sum over a million risk sets is exact to ~1e-12 relative).
    if (!std::isfinite(trial.loglik) || trial.loglik < loglik - 1e-11 * std::fabs(loglik)) {
      // Worse: halve the step towards the last good point.
      ++halving;
      for (size_t j = 0; j < p; ++j) next[j] = (next[j] + beta[j]) / 2;
      if (halving > 30) break;
      continue;
    }
    const bool done = std::fabs(1 - loglik / trial.loglik) <= options.tolerance && halving == 0;
    halving = 0;
    beta = next;
    loglik = trial.loglik;
    current = std::move(trial);
    if (done) {
      r.converged = true;
      break;
    }
    step = stats::SymmetricFactor(current.information, p, options.toler_chol).Solve(current.score);
    for (size_t j = 0; j < p; ++j) next[j] = aliased[j] ? 0 : beta[j] + step[j];
  }
  if (r.iter > options.max_iterations) r.iter = options.max_iterations;
  if (!r.converged) {
    r.warnings.push_back("Ran out of iterations and did not converge");
  }

  r.loglik = loglik;
  const stats::SymmetricFactor info(current.information, p, options.toler_chol);
  r.var = info.Inverse();
  r.coef = beta;
  r.se.assign(p, kNaN);
  for (size_t j = 0; j < p; ++j) {
    if (aliased[j]) {
      r.coef[j] = kNaN;
      for (size_t k = 0; k < p; ++k) r.var[j * p + k] = r.var[k * p + j] = kNaN;
    } else {
      r.se[j] = std::sqrt(r.var[j * p + j]);
    }
  }
  // Monotone likelihood: the last Newton step is still large against the coefficient.
  std::vector<double> last_step = info.Solve(current.score);
  for (size_t j = 0; j < p; ++j) {
    if (aliased[j]) continue;
    const double inf_j = std::fabs(last_step[j]);
    if (inf_j > 1e-9 && inf_j > 3.1622776601683795e-5 * std::fabs(beta[j])) {
      r.warnings.push_back("Loglik converged before variable " + coef_names[j] +
                           "; coefficient may be infinite (monotone likelihood, e.g. a level "
                           "with no events)");
    }
  }
  std::vector<double> b_used(p, 0.0);
  for (size_t j = 0; j < p; ++j) b_used[j] = aliased[j] ? 0 : beta[j];

  r.lr_test = Test(2 * (r.loglik - r.loglik_init), df);
  r.wald_test_model_based = Test(
      [&] {
        double w = 0;
        for (size_t a = 0; a < p; ++a) {
          for (size_t b = 0; b < p; ++b)
            w += b_used[a] * current.information[a * p + b] * b_used[b];
        }
        return w;
      }(),
      df);
  r.wald_test = r.wald_test_model_based;

  const std::vector<double>* z_var = &r.var;
  if (options.robust) {
    std::vector<double> meat(p * p, 0.0), meat0(p * p, 0.0);
    // Each site's meat at the estimate, then at 0 (for the robust score test).
    using Meats = std::pair<std::vector<double>, std::vector<double>>;
    auto meats = [&](size_t s) -> Result<Meats> {
      ASSIGN_OR_RETURN(std::vector<double> m, sites[s]->ClusterMeat(b_used, options.ties));
      ASSIGN_OR_RETURN(std::vector<double> m0,
                       sites[s]->ClusterMeat(std::vector<double>(p, 0.0), options.ties));
      return Meats{std::move(m), std::move(m0)};
    };
    ASSIGN_OR_RETURN(const std::vector<Meats> parts, EachSite<Meats>(sites.size(), meats));
    for (const auto& [m, m0] : parts) {
      for (size_t i = 0; i < p * p; ++i) {
        meat[i] += m[i];
        meat0[i] += m0[i];
      }
    }
    // Sandwich V B V, an aliased column's rows and columns of V taken as 0 (then NA).
    std::vector<double> v = r.var, vb(p * p, 0.0);
    for (double& x : v) x = x == x ? x : 0;
    r.robust_var.assign(p * p, 0.0);
    for (size_t a = 0; a < p; ++a) {
      for (size_t b = 0; b < p; ++b) {
        for (size_t k = 0; k < p; ++k) vb[a * p + b] += v[a * p + k] * meat[k * p + b];
      }
    }
    for (size_t a = 0; a < p; ++a) {
      for (size_t b = 0; b < p; ++b) {
        for (size_t k = 0; k < p; ++k) r.robust_var[a * p + b] += vb[a * p + k] * v[k * p + b];
      }
    }
    for (size_t j = 0; j < p; ++j) {
      if (!aliased[j]) continue;
      for (size_t k = 0; k < p; ++k) r.robust_var[j * p + k] = r.robust_var[k * p + j] = kNaN;
    }
    r.robust_se.assign(p, kNaN);
    for (size_t j = 0; j < p; ++j) {
      if (!aliased[j]) r.robust_se[j] = std::sqrt(r.robust_var[j * p + j]);
    }
    std::vector<double> robust_used = r.robust_var;
    for (double& x : robust_used) x = x == x ? x : 0;
    const stats::SymmetricFactor robust_factor(robust_used, p, options.toler_chol);
    r.wald_test = Test(stats::QuadraticForm(robust_factor, b_used), df);
    const stats::SymmetricFactor meat0_factor(meat0, p, options.toler_chol);
    r.robust_score_test = Test(stats::QuadraticForm(meat0_factor, at_zero.score), df);
    z_var = &r.robust_var;
  }
  r.z.assign(p, kNaN);
  r.p.assign(p, kNaN);
  for (size_t j = 0; j < p; ++j) {
    if (aliased[j]) continue;
    r.z[j] = beta[j] / std::sqrt((*z_var)[j * p + j]);
    r.p[j] = stats::NormalTwoSided(r.z[j]);
  }

  stats::ConcordanceAggregate c;
  ASSIGN_OR_RETURN(const std::vector<stats::ConcordanceAggregate> pairs,
                   EachSite<stats::ConcordanceAggregate>(
                       sites.size(), [&](size_t s) { return sites[s]->Concordance(b_used); }));
  for (const stats::ConcordanceAggregate& s : pairs) c.Add(s);
  r.has_concordance = FinishConcordance(c, &r.concordance, &r.concordance_se);
  return r;
}

bool FinishConcordance(const stats::ConcordanceAggregate& c, double* concordance, double* se) {
  const double pairs = c.concordant + c.discordant + c.tied_risk;
  if (pairs <= 0) return false;
  // R's concordancefit: Somers' d and its infinitesimal-jackknife variance.
  const double somers = (c.concordant - c.discordant) / pairs;
  *concordance = (somers + 1) / 2;
  const double var_somers = (c.c2 - 2 * somers * c.cm + somers * somers * c.m2) / (pairs * pairs);
  *se = std::sqrt(var_somers / 4);
  return true;
}

}  // namespace passerelle::analysis
