// glm: IRLS as a driver over site kernels, exactly R's glm.fit iteration (same starting values,
// same convergence rule on the deviance), so that the coefficients and the covariance are R's.
#ifndef PASSERELLE_ANALYSIS_GLM_H_
#define PASSERELLE_ANALYSIS_GLM_H_

#include <string>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/stats/glm.h"

namespace passerelle::analysis {

struct GlmResult {
  std::string family, link;
  size_t n = 0;
  std::vector<std::string> coef_names;
  std::vector<double> coef, se, z, p, var;  // NaN for aliased columns; var p x p
  double deviance = 0, null_deviance = 0, aic = 0, loglik = 0, dispersion = 1;
  double df_residual = 0, df_null = 0;
  int iter = 0;
  bool converged = false;
  bool t_statistics = false;  // gaussian: t tests with df_residual, as summary.glm
  std::vector<std::string> warnings;
};

// `null_sites` hold the same rows with the intercept alone (or no column at all when the
// model has no intercept), for the null deviance.
Result<GlmResult> FitGlm(const std::vector<const stats::GlmKernel*>& sites,
                         const std::vector<const stats::GlmKernel*>& null_sites,
                         const std::vector<std::string>& coef_names, stats::Family family,
                         bool intercept);

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_GLM_H_
