// coxph: the Cox proportional-hazards fit as a driver over site kernels. Each Newton-Raphson
// round asks every site for its log partial likelihood, score and information at the current
// coefficients (stats::CoxKernel::Evaluate), sums them, and steps; robust variance and
// concordance are sums of site aggregates too. With one kernel over pooled rows it is R's
// coxph(); with one kernel per site it is coxph(... + strata(site)) (docs/methods/coxph.md).
#ifndef PASSERELLE_ANALYSIS_COXPH_H_
#define PASSERELLE_ANALYSIS_COXPH_H_

#include <span>
#include <string>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/stats/cox.h"

namespace passerelle::analysis {

struct ChiSquareTest {
  double statistic = 0;
  double df = 0;
  double p = 1;
};

struct CoxphOptions {
  stats::Ties ties = stats::Ties::kEfron;
  bool robust = false;  // sandwich variance from the sites' clusters
  int max_iterations = 30;
  // Newton-Raphson stops when the relative change of the log likelihood is below this, R's
  // coxph.control(eps = 1e-9). (Much tighter would chase rounding: with a million rows the log
  // likelihood itself is only exact to about 1e-12 relative.)
  double tolerance = 1e-9;
  double toler_chol = 1.8189894035458565e-12;  // R: .Machine$double.eps^0.75
};

struct CoxphResult {
  size_t n = 0;
  double nevent = 0;
  std::vector<std::string> coef_names;
  std::vector<double> coef;                   // NaN for an aliased (singular) column
  std::vector<double> se;                     // model-based
  std::vector<double> var;                    // p x p, model-based
  std::vector<double> robust_se, robust_var;  // when robust
  std::vector<double> z, p;                   // robust when robust, as R reports
  double loglik_init = 0, loglik = 0;
  ChiSquareTest lr_test, wald_test, wald_test_model_based, score_test, robust_score_test;
  int iter = 0;
  bool converged = false;
  double concordance = 0, concordance_se = 0;
  bool has_concordance = false;
  std::vector<std::string> warnings;  // as R would warn: singular columns, infinite coefficients
};

// A site as the Cox driver sees it: its local steps. In local mode a kernel in this process
// (LocalCoxSite); in federated mode a node that runs the same kernel on its own rows.
class CoxSite {
 public:
  virtual ~CoxSite() = default;
  virtual double n() const = 0;
  virtual double events() const = 0;
  virtual Result<stats::CoxAggregate> Evaluate(std::span<const double> beta, stats::Ties ties) = 0;
  virtual Result<std::vector<double>> ClusterMeat(std::span<const double> beta,
                                                  stats::Ties ties) = 0;
  virtual Result<stats::ConcordanceAggregate> Concordance(std::span<const double> beta) = 0;
};

class LocalCoxSite : public CoxSite {
 public:
  explicit LocalCoxSite(const stats::CoxKernel* kernel) : kernel_(kernel) {}
  double n() const override { return static_cast<double>(kernel_->n()); }
  double events() const override { return kernel_->events(); }
  Result<stats::CoxAggregate> Evaluate(std::span<const double> beta, stats::Ties ties) override {
    return kernel_->Evaluate(beta, ties);
  }
  Result<std::vector<double>> ClusterMeat(std::span<const double> beta, stats::Ties ties) override {
    return kernel_->ClusterMeat(beta, ties);
  }
  Result<stats::ConcordanceAggregate> Concordance(std::span<const double> beta) override {
    return kernel_->Concordance(beta);
  }

 private:
  const stats::CoxKernel* kernel_;
};

// Fits over the sites (all with the same p). InvalidArgument when there is no event or no
// usable column; a site's failure is returned as its Status; numerical trouble is reported in
// `warnings`, never silently.
Result<CoxphResult> FitCoxph(const std::vector<CoxSite*>& sites,
                             const std::vector<std::string>& coef_names,
                             const CoxphOptions& options);

// The concordance and its standard error from summed pairs (R's concordancefit: Somers' d with
// its infinitesimal-jackknife variance); false when no pair is comparable.
bool FinishConcordance(const stats::ConcordanceAggregate& c, double* concordance, double* se);

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_COXPH_H_
