// Generalised linear models by iteratively reweighted least squares, with the local step a site
// can compute on its own rows: given the coefficients (or R's starting values), the weighted
// cross-products X'WX and X'Wz, the deviance and the log-likelihood. Summed over sites they are
// the pooled ones (docs/methods/glm.md).
#ifndef PASSERELLE_STATS_GLM_H_
#define PASSERELLE_STATS_GLM_H_

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "passerelle/base/status.h"

namespace passerelle::stats {

enum class Family { kBinomial, kPoisson, kGaussian };  // canonical links: logit, log, identity

struct GlmRows {
  size_t p = 0;
  std::vector<double> x;  // column-major n x p
  std::vector<double> y;
  std::vector<double> offset;  // empty: none
  std::vector<double> weight;  // prior weights (R's weights =); empty: each row 1
};

struct GlmAggregate {
  double n = 0;
  std::vector<double> xtwx;  // p x p, row-major
  std::vector<double> xtwz;  // p
  double deviance = 0;       // at the coefficients given (or at the starting values)
  double loglik = 0;         // sum of log densities (gaussian: with the ML variance; see glm.cc)
  double sum_w = 0;          // of the prior weights
  double sum_wy = 0;         // of prior weight times response
  bool offset = false;       // the model has an offset
  double extreme_fits = 0;   // binomial: fitted probabilities numerically 0 or 1
  double sum_log_w = 0;      // sum of the log prior weights (a Gaussian log-likelihood's term)
  // Binomial, at the start: rows whose weight times response is not a whole number.
  double fractional_successes = 0;
};

// The response fits the family (binomial: 0 <= y <= 1; poisson: y >= 0); InvalidArgument
// otherwise.
Status CheckGlmResponse(Family family, std::span<const double> y);

// Adds `part`'s sums (a part of a site's rows, a site's) to `total`, sized from `part` when
// empty; `offset` when either has one.
void AddGlmAggregate(const GlmAggregate& part, GlmAggregate* total);

// A piece of a GLM's rows as a kernel reads them: x (`rows` rows, row i's column j at
// x[i * row_step + j * column_step], the model's columns first), the response, the offsets and
// the prior weights (nullptr: every row 0, every row 1).
struct GlmPiece {
  size_t rows = 0, row_step = 0, column_step = 0;
  const double* x = nullptr;
  const double* y = nullptr;
  const double* offset = nullptr;
  const double* weight = nullptr;
};

// Where a kernel's rows come from: held in memory (GlmRows), or built again at each step, a
// piece at a time (a model frame's slices: analysis/frames.h), so that the kernel holds a
// piece's rows rather than all of them.
class GlmRowSource {
 public:
  virtual ~GlmRowSource() = default;
  virtual size_t n() const = 0;
  virtual size_t p() const = 0;
  virtual bool offset() const = 0;  // the rows have offsets
  // Calls `take` with rows [begin, end), a piece at a time, in order. Called from two threads
  // at once for ranges apart.
  virtual Status Rows(size_t begin, size_t end,
                      const std::function<void(const GlmPiece&)>& take) const = 0;
};

class GlmKernel {
 public:
  GlmKernel(GlmRows rows, Family family);
  GlmKernel(std::unique_ptr<const GlmRowSource> rows, Family family);
  // CheckGlmResponse over the kernel's rows (a pass over them).
  Status Validate() const;
  size_t n() const { return n_; }
  size_t p() const { return p_; }
  // The IRLS step at beta, of the model of the design's first beta.size() columns (a null
  // model: the intercept, the first, or none): cross-products for the next coefficients,
  // deviance at beta. The rows' failure to be built, if any.
  Result<GlmAggregate> Evaluate(std::span<const double> beta) const;
  // The first IRLS step of the model of the first `columns` columns, at R's starting values
  // (mustart); deviance at those values.
  Result<GlmAggregate> EvaluateAtStart(size_t columns) const;

 private:
  struct Sums;
  Result<GlmAggregate> Step(std::span<const double> beta, bool at_start, size_t columns) const;
  // Adds a piece's rows to a part's sums.
  void AddRows(const GlmPiece& piece, std::span<const double> beta, bool at_start, size_t columns,
               Sums* sums) const;
  std::unique_ptr<const GlmRowSource> rows_;
  size_t n_ = 0, p_ = 0;
  Family family_;
};

}  // namespace passerelle::stats

#endif  // PASSERELLE_STATS_GLM_H_
