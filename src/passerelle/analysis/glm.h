// glm: IRLS as a driver over site kernels, exactly R's glm.fit iteration (same starting values,
// same convergence rule on the deviance), so that the coefficients and the covariance are R's.
#ifndef PASSERELLE_ANALYSIS_GLM_H_
#define PASSERELLE_ANALYSIS_GLM_H_

#include <span>
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

// A site as the GLM driver sees it: its local steps. In local mode a kernel in this process
// (LocalGlmSite); in federated mode a node that runs the same kernel on its own rows.
class GlmSite {
 public:
  virtual ~GlmSite() = default;
  virtual double n() const = 0;
  virtual Status Validate() const = 0;
  virtual Result<stats::GlmAggregate> Evaluate(std::span<const double> beta) = 0;
  virtual Result<stats::GlmAggregate> EvaluateAtStart() = 0;
};

// The columns of a GLM's null model, the design's first: the intercept alone, or none.
inline size_t NullColumns(bool intercept) { return intercept ? 1 : 0; }

// A kernel in this process, fitting the model of its design's first `columns` columns: all of
// them, or the null model's (NullColumns), on the same rows.
class LocalGlmSite : public GlmSite {
 public:
  LocalGlmSite(const stats::GlmKernel* kernel, size_t columns)
      : kernel_(kernel), columns_(columns) {}
  explicit LocalGlmSite(const stats::GlmKernel* kernel) : LocalGlmSite(kernel, kernel->p()) {}
  double n() const override { return static_cast<double>(kernel_->n()); }
  Status Validate() const override { return kernel_->Validate(); }
  Result<stats::GlmAggregate> Evaluate(std::span<const double> beta) override {
    return kernel_->Evaluate(beta);
  }
  Result<stats::GlmAggregate> EvaluateAtStart() override {
    return kernel_->EvaluateAtStart(columns_);
  }

 private:
  const stats::GlmKernel* kernel_;
  size_t columns_;
};

// `null_sites` hold the same rows with the intercept alone (or no column at all when the
// model has no intercept), for the null deviance. A site's failure is returned as its Status.
Result<GlmResult> FitGlm(const std::vector<GlmSite*>& sites,
                         const std::vector<GlmSite*>& null_sites,
                         const std::vector<std::string>& coef_names, stats::Family family,
                         bool intercept);

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_GLM_H_
