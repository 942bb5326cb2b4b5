// The distribution functions the tests need, written out: normal, chi-square and Student t
// tail probabilities, and the normal quantile (Wichura's AS 241, as R's qnorm).
#ifndef PASSERELLE_STATS_DISTRIBUTIONS_H_
#define PASSERELLE_STATS_DISTRIBUTIONS_H_

namespace passerelle::stats {

// P(Z <= z) for a standard normal Z.
double NormalCdf(double z);
// Two-sided p-value of a z statistic: 2 P(Z >= |z|).
double NormalTwoSided(double z);
// The p-quantile of the standard normal. REQUIRES: 0 < p < 1.
double NormalQuantile(double p);
// P(X > x) for X chi-square with `df` degrees of freedom (R's pchisq(lower.tail = FALSE)).
double ChiSquareUpper(double x, double df);
// Two-sided p-value of a t statistic with `df` degrees of freedom.
double StudentTTwoSided(double t, double df);
// P(X <= x) for the regularized lower incomplete gamma function P(a, x).
double GammaP(double a, double x);
// The regularized incomplete beta function I_x(a, b).
double BetaIncomplete(double a, double b, double x);

}  // namespace passerelle::stats

#endif  // PASSERELLE_STATS_DISTRIBUTIONS_H_
