// The Cox model's kernel at one site: for a coefficient vector beta, the log partial
// likelihood, its score and information (Breslow, Efron or exact ties; strata; counting-process
// (start, stop] data), the clustered "meat" of the sandwich variance, and the concordance
// counts with their influence sums. Everything a site releases is a sum over its own risk sets,
// so the sites' results add up to the pooled stratified fit (docs/methods/coxph.md).
#ifndef PASSERELLE_STATS_COX_H_
#define PASSERELLE_STATS_COX_H_

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/stats/packed_column.h"

namespace passerelle::stats {

enum class Ties { kEfron, kBreslow, kExact };

// One site's rows. Column-major x (n x p); empty start: right-censored data; empty strata:
// one stratum; empty offset: none; empty cluster: each row its own cluster; empty weight: each
// row weighs 1 (R's case weights: a row of weight w counts as w rows in every sum).
struct CoxRows {
  size_t p = 0;
  std::vector<double> x;
  std::vector<double> start;
  std::vector<double> stop;
  std::vector<double> status;  // 1 event, 0 censored
  std::vector<int32_t> strata;
  std::vector<double> offset;
  std::vector<int32_t> cluster;
  std::vector<double> weight;
};

struct CoxAggregate {
  double loglik = 0;
  std::vector<double> score;        // p
  std::vector<double> information;  // p x p, row-major
};

struct ConcordanceAggregate {
  double concordant = 0, discordant = 0, tied_risk = 0;
  // Pairs of events at the same time (R's tied.y), and of those also tied in risk (tied.xy).
  double tied_time = 0, tied_both = 0;
  // Sums over clusters of a cluster's influence parts, for the infinitesimal-jackknife variance:
  // with c_k = concordant - discordant pairs and m_k = all comparable pairs involving cluster k,
  // sum c_k^2, sum c_k m_k and sum m_k^2.
  double c2 = 0, cm = 0, m2 = 0;

  // Another set of pairs (another site's, within its own strata) counted in with these.
  void Add(const ConcordanceAggregate& o) {
    concordant += o.concordant;
    discordant += o.discordant;
    tied_risk += o.tied_risk;
    tied_time += o.tied_time;
    tied_both += o.tied_both;
    c2 += o.c2;
    cm += o.cm;
    m2 += o.m2;
  }
};

// The sums of cox.zph's score test at the fitted coefficients, for a function g of time: per
// event time t its score U_t and information I_t, summed plain and weighted by g(t) and g(t)^2,
// and g summed over the events (R centres g by its mean over them; the centring is applied to
// these sums, so sites' sums add up before it).
struct ZphAggregate {
  std::vector<double> u, gu;                  // p
  std::vector<double> info, g_info, g2_info;  // p x p, row-major
  double g_events = 0, events = 0;

  void Add(const ZphAggregate& o) {
    auto add = [](std::vector<double>& a, const std::vector<double>& b) {
      if (a.empty()) a.assign(b.size(), 0.0);
      for (size_t i = 0; i < b.size(); ++i) a[i] += b[i];
    };
    add(u, o.u);
    add(gu, o.gu);
    add(info, o.info);
    add(g_info, o.g_info);
    add(g2_info, o.g2_info);
    g_events += o.g_events;
    events += o.events;
  }
};

class CoxKernel {
 public:
  // Rows given a piece at a time, in their order (a table's model frame slice by slice): the
  // kernel keeps them packed (stats::PackedColumn) and sorts them once all are in, so no more
  // than a piece of rows is ever held as doubles.
  class Builder {
   public:
    Builder();
    Builder(Builder&&) noexcept;
    ~Builder();
    // A piece's rows. Its strata are codes into `strata_keys` (each stratum's place among
    // every piece's, as formula::ModelFrame::strata_keys orders them); without keys, the codes
    // are the strata's own, the same in every piece. Clusters: codes the same in every piece.
    // REQUIRES: consistent lengths, and the same columns (p, start, offset, weights, clusters)
    // in every piece.
    void Add(CoxRows piece, const std::vector<std::vector<double>>& strata_keys = {});
    // Room for `rows` rows in all (an upper bound: a table's), so that no column grows by
    // copies of itself.
    void Reserve(size_t rows);
    CoxKernel Finish() &&;

   private:
    friend class CoxKernel;
    struct Impl;
    std::unique_ptr<Impl> impl_;
  };

  // Sorts the rows by stratum and time, and centres x by its column means (which changes no
  // result: risk sets never cross strata). REQUIRES: consistent lengths.
  explicit CoxKernel(CoxRows rows);

  size_t n() const { return n_; }
  size_t p() const { return p_; }
  double events() const { return events_; }

  bool weighted() const { return weighted_; }

  // Log partial likelihood, score and information at beta.
  // InvalidArgument for exact ties too costly to enumerate, or with case weights (as R).
  Result<CoxAggregate> Evaluate(std::span<const double> beta, Ties ties) const;
  // Sum over clusters of u_c u_c', where u_c sums the weighted score residuals of cluster c
  // (p x p).
  std::vector<double> ClusterMeat(std::span<const double> beta, Ties ties) const;
  // Concordance of the linear predictor with the observed times, as R's concordance() for a
  // coxph fit (higher risk, earlier event), pairs within strata only.
  ConcordanceAggregate Concordance(std::span<const double> beta) const;
  // cox.zph's sums at beta for the time function g.
  ZphAggregate Zph(std::span<const double> beta, Ties ties,
                   const std::function<double(double)>& g) const;

 private:
  explicit CoxKernel(Builder::Impl&& rows);

  // Row k's design (centred) into x[0..p), and its linear predictor x'beta + offset.
  void Row(size_t k, double* x) const {
    for (size_t j = 0; j < p_; ++j) x[j] = x_[j][k];
  }
  double Eta(size_t k, std::span<const double> beta, double* x) const {
    Row(k, x);
    double e = offset_.empty() ? 0.0 : offset_[k];
    for (size_t j = 0; j < p_; ++j) e += x[j] * beta[j];
    return e;
  }
  // Its weighted risk w exp(eta).
  double Risk(size_t k, std::span<const double> beta, double* x) const {
    return W(k) * std::exp(Eta(k, beta, x));
  }
  // The same of rows [from, from + rows), rows <= kBlock, read a column at a time: the design
  // into x (column j from x[j * kBlock]), the linear predictors into eta, the risks into risk
  // (unless it is null).
  static constexpr size_t kBlock = 256;
  void ReadBlock(size_t from, size_t rows, std::span<const double> beta, double* x, double* eta,
                 double* risk) const;
  // Adds the exact-ties terms (log likelihood, score, lower triangle of the information) of
  // one event time with `deaths` deaths and the given risk set; `cost` counts the work so far.
  Status AddExactTime(std::span<const double> beta, const std::vector<size_t>& risk, size_t deaths,
                      double* cost, CoxAggregate* out) const;
  // The rows in order of their linear predictor (ties by row), and where each group of equal
  // values starts.
  struct RiskOrder {
    std::vector<uint32_t> rows;
    std::vector<bool> starts;
  };
  RiskOrder ByRisk(std::span<const double> beta) const;
  // Right-censored data's concordance pairs, rows taken in the order of their risk: the totals
  // into *out, and each row's influence parts (c, m: see Concordance), times its case weight,
  // to `take` in that order.
  void ConcordanceByRisk(const RiskOrder& order, ConcordanceAggregate* out,
                         const std::function<void(size_t row, double c, double m)>& take) const;
  // Each row's score residuals (p values, unweighted) at beta, in sorted order, to `take`.
  void ScoreResiduals(std::span<const double> beta, Ties ties,
                      const std::function<void(size_t k, const double* u)>& take) const;

  size_t n_ = 0, p_ = 0;
  double events_ = 0;
  bool counting_ = false, weighted_ = false;
  bool own_clusters_ = true;     // no cluster() given: each row is its own
  std::vector<PackedColumn> x_;  // the design's columns, centred, sorted
  PackedColumn stop_;            // sorted
  std::vector<uint8_t> status_;  // 1 event, 0 censored; sorted
  std::vector<double> start_;    // counting process only
  std::vector<double> weight_;   // empty: every row weighs 1
  double W(size_t k) const { return weighted_ ? weight_[k] : 1.0; }
  std::vector<double> offset_;    // empty: no offset
  std::vector<int32_t> cluster_;  // empty: each row its own cluster (Cluster(k) is k)
  size_t Cluster(size_t k) const { return own_clusters_ ? k : static_cast<size_t>(cluster_[k]); }
  size_t clusters_ = 0;
  // Stratum boundaries in the sorted order: rows [bounds_[s], bounds_[s + 1]).
  std::vector<size_t> bounds_;
  // Within each stratum, rows sorted by start descending (counting process), as indices.
  std::vector<uint32_t> by_start_;
};

}  // namespace passerelle::stats

#endif  // PASSERELLE_STATS_COX_H_
