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

void AddGlmAggregate(const GlmAggregate& part, GlmAggregate* total) {
  if (total->xtwx.empty()) {
    total->xtwx.assign(part.xtwx.size(), 0.0);
    total->xtwz.assign(part.xtwz.size(), 0.0);
  }
  for (size_t i = 0; i < part.xtwx.size(); ++i) total->xtwx[i] += part.xtwx[i];
  for (size_t i = 0; i < part.xtwz.size(); ++i) total->xtwz[i] += part.xtwz[i];
  total->n += part.n;
  total->deviance += part.deviance;
  total->loglik += part.loglik;
  total->extreme_fits += part.extreme_fits;
  total->sum_log_w += part.sum_log_w;
  total->sum_w += part.sum_w;
  total->sum_wy += part.sum_wy;
  total->offset = total->offset || part.offset;
  total->fractional_successes += part.fractional_successes;
}

// Rows held in memory, x column-major, given in pieces of kPieceRows rows (the working weights
// are a piece's).
class HeldGlmRows : public GlmRowSource {
 public:
  explicit HeldGlmRows(GlmRows rows)
      : n_(rows.y.size()),
        p_(rows.p),
        x_(std::move(rows.x)),
        y_(std::move(rows.y)),
        offset_(std::move(rows.offset)),
        weight_(std::move(rows.weight)) {}
  size_t n() const override { return n_; }
  size_t p() const override { return p_; }
  bool offset() const override { return !offset_.empty(); }
  Status Rows(size_t begin, size_t end,
              const std::function<void(const GlmPiece&)>& take) const override {
    constexpr size_t kPieceRows = 65536;
    for (size_t i = begin; i < end; i += kPieceRows) {
      GlmPiece piece;
      piece.rows = std::min(end - i, kPieceRows);
      piece.row_step = 1;
      piece.column_step = n_;
      piece.x = x_.data() + i;
      piece.y = y_.data() + i;
      piece.offset = offset_.empty() ? nullptr : offset_.data() + i;
      piece.weight = weight_.empty() ? nullptr : weight_.data() + i;
      take(piece);
    }
    return Status::Ok();
  }

 private:
  size_t n_, p_;
  std::vector<double> x_;  // column-major
  std::vector<double> y_;
  std::vector<double> offset_, weight_;  // empty: none (0), all 1
};

// A part of the rows' sums, their pieces added in order.
struct GlmKernel::Sums {
  explicit Sums(size_t p) : xtwx(p) {
    a.xtwx.assign(p * p, 0.0);
    a.xtwz.assign(p, 0.0);
  }
  GlmAggregate a;
  double rss = 0;
  WeightedCrossProducts xtwx;
  std::vector<double> working;  // a piece's working weights
  // The log density of a 0/1 response of weight 1 is log(mu) or log(1 - mu), each at least
  // R's bound eps: sixteen of them are multiplied (at least eps^16 ~ 1e-250, far from
  // underflow) and the product's logarithm taken once, a sixteenth of the logarithms.
  static constexpr int kLogGroup = 16;
  double probabilities = 1;
  int in_product = 0;
  void AddLogDensity(double l) {
    a.deviance -= 2 * l;
    a.loglik += l;
  }
  // The rows' last sums.
  void Finish() {
    if (in_product > 0) AddLogDensity(std::log(probabilities));
    xtwx.AddTo(a.xtwx.data());
  }
};

GlmKernel::GlmKernel(GlmRows rows, Family family)
    : GlmKernel(std::make_unique<HeldGlmRows>(std::move(rows)), family) {}

GlmKernel::GlmKernel(std::unique_ptr<const GlmRowSource> rows, Family family)
    : rows_(std::move(rows)), n_(rows_->n()), p_(rows_->p()), family_(family) {}

Status CheckGlmResponse(Family family, std::span<const double> y) {
  for (double v : y) {
    if (family == Family::kBinomial && (v < 0 || v > 1)) {
      return InvalidArgument("binomial: the response must be 0/1 (or a condition)");
    }
    if (family == Family::kPoisson && v < 0) {
      return InvalidArgument("poisson: the response must be a non-negative count");
    }
  }
  return Status::Ok();
}

Status GlmKernel::Validate() const {
  Status wrong = Status::Ok();
  RETURN_IF_ERROR(rows_->Rows(0, n_, [&](const GlmPiece& piece) {
    if (wrong.ok()) wrong = CheckGlmResponse(family_, {piece.y, piece.rows});
  }));
  return wrong;
}

Result<GlmAggregate> GlmKernel::Evaluate(std::span<const double> beta) const {
  return Step(beta, false, beta.size());
}
Result<GlmAggregate> GlmKernel::EvaluateAtStart(size_t columns) const {
  return Step({}, true, columns);
}

Result<GlmAggregate> GlmKernel::Step(std::span<const double> beta, bool at_start,
                                     size_t columns) const {
  const size_t p = columns;
  // Two row ranges on two threads when large; always summed in the same order.
  std::vector<Sums> parts(kParallelParts, Sums(p));
  Status failed[kParallelParts];
  const size_t used = ParallelParts(n_, [&](size_t part, size_t begin, size_t end) {
    Sums& sums = parts[part];
    failed[part] = rows_->Rows(
        begin, end, [&](const GlmPiece& piece) { AddRows(piece, beta, at_start, columns, &sums); });
    sums.Finish();
  });
  for (size_t k = 0; k < used; ++k) RETURN_IF_ERROR(failed[k]);
  GlmAggregate a = std::move(parts[0].a);
  double total_rss = parts[0].rss;
  for (size_t k = 1; k < used; ++k) {
    AddGlmAggregate(parts[k].a, &a);
    total_rss += parts[k].rss;
  }
  a.n = static_cast<double>(n_);
  a.offset = rows_->offset();
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

void GlmKernel::AddRows(const GlmPiece& piece, std::span<const double> beta, bool at_start,
                        size_t columns, Sums* sums) const {
  const size_t p = columns;
  GlmAggregate& a = sums->a;
  double* rss = &sums->rss;
  std::vector<double>& working = sums->working;
  working.resize(piece.rows);
  for (size_t i = 0; i < piece.rows; ++i) {
    const double* xi = piece.x + i * piece.row_step;
    const size_t step = piece.column_step;
    const double y = piece.y[i];
    const double pw = piece.weight ? piece.weight[i] : 1.0;
    const double offset = piece.offset ? piece.offset[i] : 0.0;
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
      for (size_t j = 0; j < p; ++j) eta += xi[j * step] * beta[j];
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
          sums->probabilities *= y == 1 ? mu : 1 - mu;
          if (++sums->in_product == Sums::kLogGroup) {
            sums->AddLogDensity(std::log(sums->probabilities));
            sums->probabilities = 1;
            sums->in_product = 0;
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
    working[i] = w;
    for (size_t j = 0; j < p; ++j) a.xtwz[j] += w * xi[j * step] * z;
  }
  sums->xtwx.Add(piece.x, working.data(), piece.row_step, piece.column_step, piece.rows);
}

}  // namespace passerelle::stats
