#include "passerelle/stats/cox.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <thread>

#include "passerelle/base/parallel.h"
#include "passerelle/base/radix_sort.h"
#include "passerelle/stats/linalg.h"

namespace passerelle::stats {
namespace {

// Index of (a, b), a >= b, in a packed lower triangle.
inline size_t Packed(size_t a, size_t b) { return a * (a + 1) / 2 + b; }

// Fenwick tree of counts over ranks 1..n, with each rank's own count beside it.
class Fenwick {
 public:
  explicit Fenwick(size_t n) : tree_(n + 1, 0.0), at_(n + 1, 0.0) {}
  void Add(size_t rank, double w) {
    at_[rank] += w;
    for (size_t i = rank; i < tree_.size(); i += i & (~i + 1)) tree_[i] += w;
  }
  double At(size_t rank) const { return at_[rank]; }
  double Prefix(size_t rank) const {  // sum over ranks 1..rank
    double s = 0;
    for (size_t i = rank; i > 0; i -= i & (~i + 1)) s += tree_[i];
    return s;
  }

 private:
  std::vector<double> tree_, at_;
};

}  // namespace

CoxKernel::CoxKernel(CoxRows rows) : n_(rows.stop.size()), p_(rows.p) {
  counting_ = !rows.start.empty();
  own_clusters_ = rows.cluster.empty();
  // Weights all 1 are no weights (R takes ties = "exact" then).
  weighted_ = std::any_of(rows.weight.begin(), rows.weight.end(), [](double w) { return w != 1; });
  auto stratum = [&](size_t i) { return rows.strata.empty() ? 0 : rows.strata[i]; };
  // Rows sorted by stratum, then time descending, then row (a total order): by time first,
  // then stably by stratum.
  std::vector<KeyedRow> keys(n_);
  for (size_t i = 0; i < n_; ++i) {
    keys[i] = {~OrderedKey(rows.stop[i]), static_cast<uint32_t>(i)};
  }
  RadixSort(&keys);
  if (!rows.strata.empty()) {
    for (KeyedRow& k : keys) k.key = OrderedKey(rows.strata[k.row]);
    RadixSort(&keys);
  }
  std::vector<double> means(p_, 0.0);
  for (size_t j = 0; j < p_; ++j) {
    double sum = 0;
    for (size_t i = 0; i < n_; ++i) sum += rows.x[j * n_ + i];
    means[j] = n_ ? sum / static_cast<double>(n_) : 0;
  }
  // x sorted and centred where it is, one column at a time, then turned row-major in place:
  // the rows' copy of the design is the kernel's, not a second one beside it.
  {
    std::vector<double> column(n_);
    for (size_t j = 0; j < p_; ++j) {
      double* in = &rows.x[j * n_];
      ParallelParts(n_, [&](size_t, size_t begin, size_t end) {
        for (size_t k = begin; k < end; ++k) column[k] = in[keys[k].row] - means[j];
      });
      std::copy(column.begin(), column.end(), in);
    }
  }
  x_ = std::move(rows.x);
  TransposeInPlace(&x_, n_, p_);
  stop_.resize(n_);
  status_.resize(n_);
  // Offsets, clusters and strata take memory only when the model has them.
  if (!rows.offset.empty()) offset_.resize(n_);
  if (weighted_) weight_.resize(n_);
  if (!own_clusters_) cluster_.resize(n_);
  if (counting_) start_.resize(n_);
  // The rows' other values gathered into sorted order, in parts.
  ParallelParts(n_, [&](size_t, size_t begin, size_t end) {
    for (size_t k = begin; k < end; ++k) {
      const size_t i = keys[k].row;
      stop_[k] = rows.stop[i];
      status_[k] = rows.status[i];
      if (!rows.offset.empty()) offset_[k] = rows.offset[i];
      if (weighted_) weight_[k] = rows.weight[i];
      if (counting_) start_[k] = rows.start[i];
    }
  });
  // Clusters renumbered densely in sorted order; a row without a cluster is its own.
  std::vector<int32_t> cluster_code;
  if (!rows.cluster.empty()) {
    int32_t max_code = 0;
    for (int32_t c : rows.cluster) max_code = std::max(max_code, c);
    cluster_code.assign(static_cast<size_t>(max_code) + 1, -1);
  }
  bounds_.push_back(0);
  for (size_t k = 0; k < n_; ++k) {
    events_ += status_[k];
    if (k > 0 && stratum(keys[k].row) != stratum(keys[k - 1].row)) bounds_.push_back(k);
    if (rows.cluster.empty()) {
      ++clusters_;
    } else {
      int32_t& code = cluster_code[rows.cluster[keys[k].row]];
      if (code < 0) code = static_cast<int32_t>(clusters_++);
      cluster_[k] = code;
    }
  }
  bounds_.push_back(n_);
  keys = {};
  if (counting_) {
    by_start_.resize(n_);
    std::iota(by_start_.begin(), by_start_.end(), 0);
    for (size_t s = 0; s + 1 < bounds_.size(); ++s) {
      std::stable_sort(by_start_.begin() + bounds_[s], by_start_.begin() + bounds_[s + 1],
                       [&](size_t a, size_t b) { return start_[a] > start_[b]; });
    }
  }
}

std::vector<double> CoxKernel::LinearPredictor(std::span<const double> beta) const {
  std::vector<double> eta(n_);
  ParallelParts(n_, [&](size_t, size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      double e = offset_.empty() ? 0.0 : offset_[i];
      const double* xi = &x_[i * p_];
      for (size_t j = 0; j < p_; ++j) e += xi[j] * beta[j];
      eta[i] = e;
    }
  });
  return eta;
}

std::vector<double> CoxKernel::RiskScores(std::span<const double> beta,
                                          std::vector<double>* eta) const {
  *eta = LinearPredictor(beta);
  std::vector<double> r(n_);
  ParallelParts(n_, [&](size_t, size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) r[i] = W(i) * std::exp((*eta)[i]);
  });
  return r;
}

Status CoxKernel::AddExactTime(const std::vector<double>& r, const std::vector<size_t>& risk,
                               size_t deaths, double* cost, CoxAggregate* out) const {
  // Exact partial likelihood: sum over all subsets of size d of the risk set, by the
  // recursion B_k(m) = B_k(m-1) + r_m B_{k-1}(m-1), with first and second derivatives.
  const size_t p = p_, d = deaths;
  const size_t packed = p * (p + 1) / 2;
  *cost += static_cast<double>(risk.size()) * static_cast<double>(d) *
           static_cast<double>(packed + p + 1);
  if (*cost > 5e9) {
    return InvalidArgument(
        "ties = \"exact\" would enumerate too many subsets for this "
        "data (many tied events in large risk sets); use efron");
  }
  double r_max = 0;
  for (size_t k : risk) r_max = std::max(r_max, r[k]);
  std::vector<double> B(d + 1, 0.0), G((d + 1) * p, 0.0), H((d + 1) * packed, 0.0);
  B[0] = 1;
  for (size_t k : risk) {
    const double rk = r[k] / r_max;
    const double* xk = &x_[k * p];
    for (size_t m = d; m >= 1; --m) {
      const double* g_prev = &G[(m - 1) * p];
      const double* h_prev = &H[(m - 1) * packed];
      double* g = &G[m * p];
      double* h = &H[m * packed];
      for (size_t a = 0; a < p; ++a) {
        for (size_t b = 0; b <= a; ++b) {
          h[Packed(a, b)] += rk * (h_prev[Packed(a, b)] + xk[a] * g_prev[b] + g_prev[a] * xk[b] +
                                   xk[a] * xk[b] * B[m - 1]);
        }
      }
      for (size_t a = 0; a < p; ++a) g[a] += rk * (g_prev[a] + xk[a] * B[m - 1]);
      B[m] += rk * B[m - 1];
    }
  }
  const double bd = B[d];
  out->loglik -= std::log(bd) + static_cast<double>(d) * std::log(r_max);
  for (size_t a = 0; a < p; ++a) {
    const double ga = G[d * p + a] / bd;
    out->score[a] -= ga;
    for (size_t b = 0; b <= a; ++b) {
      out->information[a * p + b] += H[d * packed + Packed(a, b)] / bd - ga * G[d * p + b] / bd;
    }
  }
  return Status::Ok();
}

Result<CoxAggregate> CoxKernel::Evaluate(std::span<const double> beta, Ties ties) const {
  if (ties == Ties::kExact && weighted_) {
    return InvalidArgument(
        "weights: case weights are not supported with ties = \"exact\" (as R's coxph); use "
        "efron or breslow");
  }
  const size_t p = p_;
  std::vector<double> eta;
  const std::vector<double> r = RiskScores(beta, &eta);
  CoxAggregate out;
  out.score.assign(p, 0.0);
  out.information.assign(p * p, 0.0);  // lower triangle until the end
  double* info = out.information.data();
  // The information's S2 terms, Σ_t A_t S2(t) - B_t D2(t), are one sum over the rows:
  // Σ_i v_i x_i x_i' with v_i = r_i (Σ of A_t over the event times at which row i is at risk,
  // less B_t at its own death). The sweep below finds A_t and B_t and the terms in S0, S1 and
  // D1; the rows' sum comes after it, in parts (docs/methods/coxph.md).
  std::vector<double> v(n_, 0.0);
  std::vector<double> s1(p), d1(p);
  std::vector<size_t> risk;
  double exact_cost = 0;
  struct EventTime {
    size_t begin, end;  // its rows
    double time, a, b;
  };
  std::vector<EventTime> times;
  for (size_t s = 0; s + 1 < bounds_.size(); ++s) {
    const size_t begin = bounds_[s], end = bounds_[s + 1];
    times.clear();
    double s0 = 0;
    std::fill(s1.begin(), s1.end(), 0.0);
    size_t at_risk = 0;
    size_t next_removal = begin;
    for (size_t i = begin; i < end;) {
      const double t = stop_[i];
      if (counting_) {
        while (next_removal < end && start_[by_start_[next_removal]] >= t) {
          const size_t gone = by_start_[next_removal++];
          s0 -= r[gone];
          for (size_t a = 0; a < p; ++a) s1[a] -= r[gone] * x_[gone * p + a];
          if (--at_risk == 0) {  // an empty risk set: drop the rounding left by subtraction
            s0 = 0;
            std::fill(s1.begin(), s1.end(), 0.0);
          }
        }
      }
      size_t j = i;
      double deaths = 0, d0 = 0, wd = 0;  // deaths, their weighted risk, their weight
      std::fill(d1.begin(), d1.end(), 0.0);
      for (; j < end && stop_[j] == t; ++j) {
        const double rj = r[j];
        const double* xj = &x_[j * p];
        s0 += rj;
        for (size_t a = 0; a < p; ++a) s1[a] += rj * xj[a];
        ++at_risk;
        if (status_[j] == 0) continue;
        deaths += 1;
        const double wj = W(j);
        wd += wj;
        out.loglik += wj * eta[j];
        d0 += rj;
        for (size_t a = 0; a < p; ++a) {
          out.score[a] += wj * xj[a];
          d1[a] += rj * xj[a];
        }
      }
      if (deaths == 0) {
        i = j;
        continue;
      }
      if (ties == Ties::kExact && deaths > 1) {
        risk.clear();
        for (size_t k = begin; k < j; ++k) {
          if (!counting_ || start_[k] < t) risk.push_back(k);
        }
        RETURN_IF_ERROR(AddExactTime(r, risk, static_cast<size_t>(deaths), &exact_cost, &out));
        i = j;
        continue;
      }
      // Breslow: the d deaths share the full risk set. Efron: the k-th of them (k = 0..d-1)
      // sees the risk set less k/d of the dying subjects' weight, denom_k = S0 - f_k D0, and
      // counts with their mean case weight (R's coxph). The sums over k reduce to five
      // scalars, so a tied time costs O(d + p^2):
      //   score -= S1 A - D1 B,   info += S2 A - D2 B - (S1S1' C - (S1D1' + D1S1') E + D1D1' F)
      // with A = sum 1/denom, B = sum f/denom, C = sum 1/denom^2, E = sum f/denom^2,
      // F = sum f^2/denom^2.
      double A = 0, B = 0, C = 0, E = 0, F = 0;
      if (ties != Ties::kBreslow && deaths > 1) {
        const double mean_w = wd / deaths;
        for (int k = 0; k < static_cast<int>(deaths); ++k) {
          const double f = k / deaths;
          const double denom = s0 - f * d0;
          out.loglik -= mean_w * std::log(denom);
          A += mean_w / denom;
          B += mean_w * f / denom;
          C += mean_w / (denom * denom);
          E += mean_w * f / (denom * denom);
          F += mean_w * f * f / (denom * denom);
        }
      } else {
        out.loglik -= wd * std::log(s0);
        A = wd / s0;
        C = wd / (s0 * s0);
      }
      for (size_t a = 0; a < p; ++a) {
        out.score[a] -= s1[a] * A - d1[a] * B;
        double* row = &info[a * p];
        for (size_t b = 0; b <= a; ++b) {
          row[b] -= s1[a] * s1[b] * C - (s1[a] * d1[b] + d1[a] * s1[b]) * E + d1[a] * d1[b] * F;
        }
      }
      times.push_back({i, j, t, A, B});
      i = j;
    }
    // Row k is at risk at the event times of rows [0, k]'s groups, i.e. those that end after k
    // (and, counting-process data, after its start): walk the rows backwards, adding each
    // event time's A once its rows are reached.
    std::vector<double> later_a;  // Σ A over event times at or before times[g].time
    if (counting_) {
      later_a.resize(times.size() + 1, 0.0);
      for (size_t g = times.size(); g-- > 0;) later_a[g] = later_a[g + 1] + times[g].a;
    }
    double cum = 0;
    size_t g = times.size();
    for (size_t k = end; k-- > begin;) {
      while (g > 0 && times[g - 1].end > k) cum += times[--g].a;
      double at = cum;
      if (counting_) {
        // Event times at or before the start: the first group (in descending time) with
        // time <= start.
        const auto first = std::partition_point(
            times.begin(), times.end(), [&](const EventTime& e) { return e.time > start_[k]; });
        at -= later_a[static_cast<size_t>(first - times.begin())];
      }
      v[k] = r[k] *
             (status_[k] != 0 && g < times.size() && times[g].begin <= k ? at - times[g].b : at);
    }
  }
  // Σ v_i x_i x_i' over fixed parts of the rows, added in part order.
  std::vector<double> parts[kParallelParts];
  const size_t used = ParallelParts(n_, [&](size_t part, size_t begin, size_t end) {
    parts[part].assign(p * p, 0.0);
    AddWeightedCrossProduct(x_.data(), v.data(), p, p, begin, end, parts[part].data());
  });
  for (size_t k = 0; k < used; ++k) {
    for (size_t e = 0; e < p * p; ++e) info[e] += parts[k][e];
  }
  for (size_t a = 0; a < p; ++a) {
    for (size_t b = 0; b < a; ++b) info[b * p + a] = info[a * p + b];
  }
  return out;
}

std::vector<double> CoxKernel::ScoreResiduals(std::span<const double> beta, Ties ties) const {
  const size_t p = p_;
  std::vector<double> eta;
  const std::vector<double> r = RiskScores(beta, &eta);
  std::vector<double> resid(n_ * p, 0.0);
  std::vector<double> s1(p), d1(p);

  for (size_t s = 0; s + 1 < bounds_.size(); ++s) {
    const size_t begin = bounds_[s], end = bounds_[s + 1];
    // Descending sweep: per event time, the hazard increment a0 = sum_j 1/denom_j, the
    // weighted mean a1 = sum_j mean_j/denom_j, the mean over the tied deaths' steps m, and the
    // Efron corrections e0, e1 for the deaths themselves.
    std::vector<double> times, a0, a1, e0, e1, m;
    double s0 = 0;
    std::fill(s1.begin(), s1.end(), 0.0);
    size_t at_risk = 0, next_removal = begin;
    auto add = [&](size_t i, double sign) {
      s0 += sign * r[i];
      for (size_t a = 0; a < p; ++a) s1[a] += sign * r[i] * x_[i * p + a];
    };
    for (size_t i = begin; i < end;) {
      const double t = stop_[i];
      if (counting_) {
        while (next_removal < end && start_[by_start_[next_removal]] >= t) {
          add(by_start_[next_removal++], -1.0);
          if (--at_risk == 0) {
            s0 = 0;
            std::fill(s1.begin(), s1.end(), 0.0);
          }
        }
      }
      size_t j = i;
      double deaths = 0, d0 = 0, wd = 0;
      std::fill(d1.begin(), d1.end(), 0.0);
      for (; j < end && stop_[j] == t; ++j) {
        add(j, 1.0);
        ++at_risk;
        if (status_[j] == 0) continue;
        deaths += 1;
        wd += W(j);
        d0 += r[j];
        for (size_t a = 0; a < p; ++a) d1[a] += r[j] * x_[j * p + a];
      }
      if (deaths > 0) {
        const bool efron = ties != Ties::kBreslow && deaths > 1;
        const int steps = efron ? static_cast<int>(deaths) : 1;
        double h0 = 0, c0 = 0;
        std::vector<double> h1(p, 0.0), c1(p, 0.0), mm(p, 0.0);
        for (int k = 0; k < steps; ++k) {
          const double f = efron ? k / deaths : 0.0;
          const double w = efron ? wd / deaths : wd;
          const double denom = s0 - f * d0;
          h0 += w / denom;
          c0 += f * w / denom;
          for (size_t a = 0; a < p; ++a) {
            const double mean = (s1[a] - f * d1[a]) / denom;
            h1[a] += w * mean / denom;
            c1[a] += f * w * mean / denom;
            mm[a] += mean / steps;
          }
        }
        times.push_back(t);
        a0.push_back(h0);
        e0.push_back(c0);
        a1.insert(a1.end(), h1.begin(), h1.end());
        e1.insert(e1.end(), c1.begin(), c1.end());
        m.insert(m.end(), mm.begin(), mm.end());
      }
      i = j;
    }
    // Cumulate in ascending time order.
    const size_t nt = times.size();
    std::reverse(times.begin(), times.end());
    std::vector<double> cum0(nt + 1, 0.0), cum1((nt + 1) * p, 0.0);
    for (size_t k = 0; k < nt; ++k) {
      const size_t src = nt - 1 - k;
      cum0[k + 1] = cum0[k] + a0[src];
      for (size_t a = 0; a < p; ++a) cum1[(k + 1) * p + a] = cum1[k * p + a] + a1[src * p + a];
    }
    // Number of event times <= t.
    auto upto = [&](double t) {
      return static_cast<size_t>(std::upper_bound(times.begin(), times.end(), t) - times.begin());
    };
    for (size_t i = begin; i < end; ++i) {
      const double* xi = &x_[i * p];
      double* u = &resid[i * p];
      const size_t hi = upto(stop_[i]);
      const size_t lo = counting_ ? upto(start_[i]) : 0;
      const double h0 = cum0[hi] - cum0[lo];
      const double risk = r[i] / W(i);  // the row's own exp(eta), unweighted
      for (size_t a = 0; a < p; ++a) {
        u[a] = -risk * (xi[a] * h0 - (cum1[hi * p + a] - cum1[lo * p + a]));
      }
      if (status_[i] != 0) {
        const size_t src = nt - hi;  // this death's time, in descending storage
        for (size_t a = 0; a < p; ++a) {
          u[a] += xi[a] - m[src * p + a] + risk * (xi[a] * e0[src] - e1[src * p + a]);
        }
      }
    }
  }
  return resid;
}

std::vector<double> CoxKernel::ClusterMeat(std::span<const double> beta, Ties ties) const {
  const size_t p = p_;
  const std::vector<double> resid = ScoreResiduals(beta, ties);
  std::vector<double> sums(clusters_ * p, 0.0);
  for (size_t i = 0; i < n_; ++i) {
    for (size_t a = 0; a < p; ++a) sums[Cluster(i) * p + a] += W(i) * resid[i * p + a];
  }
  std::vector<double> meat(p * p, 0.0);
  for (size_t c = 0; c < clusters_; ++c) {
    const double* u = &sums[c * p];
    for (size_t a = 0; a < p; ++a) {
      for (size_t b = 0; b < p; ++b) meat[a * p + b] += u[a] * u[b];
    }
  }
  return meat;
}

ZphAggregate CoxKernel::Zph(std::span<const double> beta, Ties ties,
                            const std::function<double(double)>& g) const {
  const size_t p = p_;
  std::vector<double> eta;
  const std::vector<double> r = RiskScores(beta, &eta);
  ZphAggregate out;
  out.u.assign(p, 0.0);
  out.gu.assign(p, 0.0);
  out.info.assign(p * p, 0.0);
  out.g_info.assign(p * p, 0.0);
  out.g2_info.assign(p * p, 0.0);
  std::vector<double> s1(p), s2(p * p), d1(p), d2(p * p), u_t(p), i_t(p * p);
  for (size_t s = 0; s + 1 < bounds_.size(); ++s) {
    const size_t begin = bounds_[s], end = bounds_[s + 1];
    double s0 = 0;
    std::fill(s1.begin(), s1.end(), 0.0);
    std::fill(s2.begin(), s2.end(), 0.0);
    size_t at_risk = 0, next_removal = begin;
    auto add = [&](size_t i, double sign) {
      const double ri = sign * r[i];
      const double* xi = &x_[i * p];
      s0 += ri;
      for (size_t a = 0; a < p; ++a) {
        s1[a] += ri * xi[a];
        for (size_t b = 0; b < p; ++b) s2[a * p + b] += ri * xi[a] * xi[b];
      }
    };
    for (size_t i = begin; i < end;) {
      const double t = stop_[i];
      if (counting_) {
        while (next_removal < end && start_[by_start_[next_removal]] >= t) {
          add(by_start_[next_removal++], -1.0);
          if (--at_risk == 0) {
            s0 = 0;
            std::fill(s1.begin(), s1.end(), 0.0);
            std::fill(s2.begin(), s2.end(), 0.0);
          }
        }
      }
      size_t j = i;
      double deaths = 0, wd = 0, d0 = 0;
      std::fill(d1.begin(), d1.end(), 0.0);
      std::fill(d2.begin(), d2.end(), 0.0);
      std::fill(u_t.begin(), u_t.end(), 0.0);
      std::fill(i_t.begin(), i_t.end(), 0.0);
      for (; j < end && stop_[j] == t; ++j) {
        add(j, 1.0);
        ++at_risk;
        if (status_[j] == 0) continue;
        deaths += 1;
        wd += W(j);
        d0 += r[j];
        const double* xj = &x_[j * p];
        for (size_t a = 0; a < p; ++a) {
          u_t[a] += W(j) * xj[a];
          d1[a] += r[j] * xj[a];
          for (size_t b = 0; b < p; ++b) d2[a * p + b] += r[j] * xj[a] * xj[b];
        }
      }
      i = j;
      if (deaths == 0) continue;
      // The time's score and information, Breslow or Efron with the mean tied weight.
      const bool efron = ties != Ties::kBreslow && deaths > 1;
      const int steps = efron ? static_cast<int>(deaths) : 1;
      const double w = efron ? wd / deaths : wd;
      for (int k = 0; k < steps; ++k) {
        const double f = efron ? k / deaths : 0.0;
        const double denom = s0 - f * d0;
        for (size_t a = 0; a < p; ++a) {
          const double mean_a = (s1[a] - f * d1[a]) / denom;
          u_t[a] -= w * mean_a;
          for (size_t b = 0; b < p; ++b) {
            const double mean_b = (s1[b] - f * d1[b]) / denom;
            i_t[a * p + b] += w * ((s2[a * p + b] - f * d2[a * p + b]) / denom - mean_a * mean_b);
          }
        }
      }
      const double gt = g(t);
      out.g_events += gt * deaths;
      out.events += deaths;
      for (size_t a = 0; a < p; ++a) {
        out.u[a] += u_t[a];
        out.gu[a] += gt * u_t[a];
      }
      for (size_t k = 0; k < p * p; ++k) {
        out.info[k] += i_t[k];
        out.g_info[k] += gt * i_t[k];
        out.g2_info[k] += gt * gt * i_t[k];
      }
    }
  }
  return out;
}

void CoxKernel::ConcordanceByRisk(const std::vector<KeyedRow>& by_eta, ConcordanceAggregate* out,
                                  std::vector<double>* c1, std::vector<double>* m1,
                                  std::vector<double>* c2, std::vector<double>* m2) const {
  // A death k and a row j are compared when j outlived k: a later time, or a censoring at
  // k's time. With the stratum's distinct times numbered 0, 1, ... ascending, give row j the
  // position 2 t_j + (1 if censored) and death k the position 2 t_k: j outlived k exactly
  // when pos(j) > dpos(k). Rows are taken in order of risk, a group of equal risk at a time;
  // per stratum, one tree holds the rows of lower risk by position (for each death, the rows
  // it is compared with), another the deaths of lower risk (for each row, the deaths it is
  // compared with). Each tree has two entries per distinct time, so it stays small; the rows
  // are first gathered into risk order, so both sweeps read memory in sequence.
  struct Slot {
    uint32_t stratum, pos;
    double w;
    bool death;
  };
  std::vector<uint32_t> stratum(n_), pos(n_);
  std::vector<size_t> positions;  // per stratum: 2 x its distinct times
  for (size_t s = 0; s + 1 < bounds_.size(); ++s) {
    const size_t begin = bounds_[s], end = bounds_[s + 1];
    size_t times = 0;
    for (size_t k = end; k-- > begin;) {
      if (k + 1 == end || stop_[k] != stop_[k + 1]) ++times;
      stratum[k] = static_cast<uint32_t>(s);
      pos[k] = static_cast<uint32_t>(2 * (times - 1) + (status_[k] == 0 ? 1 : 0));
    }
    positions.push_back(2 * times);
  }
  // Per stratum and position: the weight of rows at or after it, and of deaths before it.
  std::vector<std::vector<double>> rows_from(positions.size()), deaths_before(positions.size());
  for (size_t s = 0; s < positions.size(); ++s) {
    rows_from[s].assign(positions[s] + 1, 0.0);
    deaths_before[s].assign(positions[s] + 1, 0.0);
  }
  for (size_t k = 0; k < n_; ++k) {
    rows_from[stratum[k]][pos[k]] += W(k);
    if (status_[k] != 0) deaths_before[stratum[k]][pos[k] + 1] += W(k);
  }
  for (size_t s = 0; s < positions.size(); ++s) {
    for (size_t q = positions[s]; q-- > 0;) rows_from[s][q] += rows_from[s][q + 1];
    for (size_t q = 1; q <= positions[s]; ++q) deaths_before[s][q] += deaths_before[s][q - 1];
  }
  std::vector<Slot> slots(n_);
  for (size_t e = 0; e < n_; ++e) {
    const size_t k = by_eta[e].row;
    slots[e] = {stratum[k], pos[k], W(k), status_[k] != 0};
  }
  stratum = {};
  pos = {};
  // Each death against the rows of lower, equal and higher risk that outlived it. The tree
  // is indexed from the latest position down, so "outlived" is a prefix.
  auto deaths_against_rows = [&] {
    std::vector<Fenwick> trees;
    for (size_t n : positions) trees.emplace_back(n);
    std::vector<double> lower;
    std::vector<Slot> tied;
    for (size_t g = 0, h = 0; g < n_; g = h) {
      while (h < n_ && by_eta[h].key == by_eta[g].key) ++h;
      auto outlived = [&](const Slot& k) {  // rows in the tree that outlived death k
        return trees[k.stratum].Prefix(positions[k.stratum] - k.pos - 1);
      };
      lower.clear();
      for (size_t e = g; e < h; ++e) lower.push_back(slots[e].death ? outlived(slots[e]) : 0.0);
      for (size_t e = g; e < h; ++e) {
        trees[slots[e].stratum].Add(positions[slots[e].stratum] - slots[e].pos, slots[e].w);
      }
      if (h - g > 1) {
        // Events of equal risk at the same time: tied in both.
        tied.clear();
        for (size_t e = g; e < h; ++e) {
          if (slots[e].death) tied.push_back({slots[e].stratum, slots[e].pos, slots[e].w, true});
        }
        std::sort(tied.begin(), tied.end(), [](const Slot& a, const Slot& b) {
          return a.stratum != b.stratum ? a.stratum < b.stratum : a.pos < b.pos;
        });
        for (size_t a = 0, b = 0; a < tied.size(); a = b) {
          double sum = 0, sum2 = 0;
          for (;
               b < tied.size() && tied[b].stratum == tied[a].stratum && tied[b].pos == tied[a].pos;
               ++b) {
            sum += tied[b].w, sum2 += tied[b].w * tied[b].w;
          }
          out->tied_both += (sum * sum - sum2) / 2;
          out->tied_time -= (sum * sum - sum2) / 2;
        }
      }
      for (size_t e = g; e < h; ++e) {
        const Slot& k = slots[e];
        if (!k.death) continue;
        const double below = lower[e - g];
        const double equal = h - g > 1 ? outlived(k) - below : 0.0;
        const double total = rows_from[k.stratum][k.pos + 1];
        const double higher = total - below - equal;
        out->concordant += k.w * below;  // the one who died first had the higher risk
        out->discordant += k.w * higher;
        out->tied_risk += k.w * equal;
        (*c1)[e] = k.w * (below - higher);
        (*m1)[e] = k.w * total;
      }
    }
  };
  // Each row against the deaths of lower, equal and higher risk that it outlived.
  auto rows_against_deaths = [&] {
    std::vector<Fenwick> trees;
    for (size_t n : positions) trees.emplace_back(n);
    std::vector<double> lower;
    for (size_t g = 0, h = 0; g < n_; g = h) {
      while (h < n_ && by_eta[h].key == by_eta[g].key) ++h;
      auto outlived = [&](const Slot& j) { return trees[j.stratum].Prefix(j.pos); };
      lower.clear();
      for (size_t e = g; e < h; ++e) lower.push_back(outlived(slots[e]));
      for (size_t e = g; e < h; ++e) {
        if (slots[e].death) trees[slots[e].stratum].Add(slots[e].pos + 1, slots[e].w);
      }
      for (size_t e = g; e < h; ++e) {
        const Slot& j = slots[e];
        const double below = lower[e - g];
        const double equal = h - g > 1 ? outlived(j) - below : 0.0;
        const double total = deaths_before[j.stratum][j.pos];
        const double higher = total - below - equal;
        (*c2)[e] = j.w * (higher - below);  // a death of higher risk than this row: concordant
        (*m2)[e] = j.w * total;
      }
    }
  };
  if (n_ >= kParallelMinRows) {
    std::thread second(rows_against_deaths);
    deaths_against_rows();
    second.join();
  } else {
    deaths_against_rows();
    rows_against_deaths();
  }
}

ConcordanceAggregate CoxKernel::Concordance(std::span<const double> beta) const {
  const std::vector<double> eta = LinearPredictor(beta);
  std::vector<KeyedRow> by_eta(n_);
  for (size_t i = 0; i < n_; ++i) by_eta[i] = {OrderedKey(eta[i]), static_cast<uint32_t>(i)};
  RadixSort(&by_eta);
  // Counting-process data: ranks of the linear predictor, 1-based, equal values sharing one.
  std::vector<uint32_t> rank(counting_ ? n_ : 0);
  uint32_t ranks = 0;
  for (size_t k = 0; counting_ && k < n_; ++k) {
    if (k == 0 || by_eta[k].key != by_eta[k - 1].key) ++ranks;
    rank[by_eta[k].row] = ranks;
  }
  // Per row: concordant minus discordant pairs (c), and all comparable pairs (m), it takes
  // part in, each pair counted with the other row's case weight (and, in the totals, with the
  // product of both). The two sweeps are independent and run on two threads with their own
  // arrays.
  const auto w = [this](size_t k) { return W(k); };
  std::vector<double> c1(n_, 0.0), m1(n_, 0.0), c2(n_, 0.0), m2(n_, 0.0);
  ConcordanceAggregate totals[2];
  // Events at the same time (rows [i, j)) are tied in time, and in both when their risks are
  // equal: pairs weighing w_a w_b, i.e. ((sum w)^2 - sum w^2) / 2 over a set of events.
  std::vector<std::pair<uint32_t, double>> tied;  // (rank, weight) of each event
  auto tied_events = [&](size_t i, size_t j, ConcordanceAggregate* out) {
    tied.clear();
    for (size_t k = i; k < j; ++k) {
      if (status_[k] != 0) tied.push_back({rank[k], w(k)});
    }
    if (tied.size() < 2) return;
    std::sort(tied.begin(), tied.end());
    auto pairs = [&](size_t a, size_t b) {
      double sum = 0, sum2 = 0;
      for (size_t e = a; e < b; ++e) sum += tied[e].second, sum2 += tied[e].second * tied[e].second;
      return (sum * sum - sum2) / 2;
    };
    out->tied_time += pairs(0, tied.size());
    for (size_t a = 0, b = 0; a < tied.size(); a = b) {
      while (b < tied.size() && tied[b].first == tied[a].first) ++b;
      const double g = pairs(a, b);
      out->tied_time -= g;
      out->tied_both += g;
    }
  };
  if (!counting_) {
    // Pairs of events at the same time, less those also tied in risk (ConcordanceByRisk).
    for (size_t s = 0; s + 1 < bounds_.size(); ++s) {
      for (size_t i = bounds_[s], j = i; i < bounds_[s + 1]; i = j) {
        double sum = 0, sum2 = 0;
        for (; j < bounds_[s + 1] && stop_[j] == stop_[i]; ++j) {
          if (status_[j] != 0) sum += w(j), sum2 += w(j) * w(j);
        }
        totals[0].tied_time += (sum * sum - sum2) / 2;
      }
    }
    ConcordanceByRisk(by_eta, &totals[0], &c1, &m1, &c2, &m2);
  }

  // Sweep 1, descending time: each death against those still at risk after it (censored at
  // the same time count as longer; deaths at the same time are tied in time, not compared).
  auto sweep_deaths = [&] {
    ConcordanceAggregate& out = totals[0];
    for (size_t s = 0; s + 1 < bounds_.size(); ++s) {
      const size_t begin = bounds_[s], end = bounds_[s + 1];
      Fenwick at_risk(ranks);
      double total = 0;
      size_t next_removal = begin;
      for (size_t i = begin; i < end;) {
        const double t = stop_[i];
        while (next_removal < end && start_[by_start_[next_removal]] >= t) {
          const size_t gone = by_start_[next_removal++];
          at_risk.Add(rank[gone], -w(gone));
          total -= w(gone);
        }
        size_t j = i;
        for (; j < end && stop_[j] == t; ++j) {
          if (status_[j] == 0) {
            at_risk.Add(rank[j], w(j));
            total += w(j);
          }
        }
        for (size_t k = i; k < j; ++k) {
          if (status_[k] == 0) continue;
          const double lower = at_risk.Prefix(rank[k] - 1);
          const double equal = at_risk.At(rank[k]);
          const double higher = total - lower - equal;
          out.concordant += w(k) * lower;  // the one who died first had the higher risk
          out.discordant += w(k) * higher;
          out.tied_risk += w(k) * equal;
          c1[k] += lower - higher;
          m1[k] += lower + higher + equal;
        }
        tied_events(i, j, &out);
        for (size_t k = i; k < j; ++k) {
          if (status_[k] != 0) {
            at_risk.Add(rank[k], w(k));
            total += w(k);
          }
        }
        i = j;
      }
    }
  };
  // Sweep 2, ascending time: each row against the deaths it was compared with, i.e. deaths in
  // (start, stop), plus those at stop itself when the row was censored.
  auto sweep_rows = [&] {
    auto count = [&](const Fenwick& deaths, double deaths_total, size_t row, double sign) {
      const double lower = deaths.Prefix(rank[row] - 1);
      const double equal = deaths.At(rank[row]);
      const double higher = deaths_total - lower - equal;
      c2[row] += sign * (higher - lower);  // a death with higher risk than this row: concordant
      m2[row] += sign * (lower + higher + equal);
    };
    for (size_t s = 0; s + 1 < bounds_.size(); ++s) {
      const size_t begin = bounds_[s], end = bounds_[s + 1];
      Fenwick deaths(ranks);
      double deaths_total = 0;
      struct Event {
        double time;
        int order;  // 0 query before the deaths at `time`, 1 a death, 2 query after them
        size_t row;
        double sign;
      };
      std::vector<Event> events;
      for (size_t k = begin; k < end; ++k) {
        if (status_[k] != 0) events.push_back({stop_[k], 1, k, 1});
        events.push_back({stop_[k], status_[k] != 0 ? 0 : 2, k, 1});
        events.push_back({start_[k], 2, k, -1});
      }
      std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
        return a.time != b.time ? a.time < b.time : a.order < b.order;
      });
      for (const Event& e : events) {
        if (e.order == 1) {
          deaths.Add(rank[e.row], w(e.row));
          deaths_total += w(e.row);
        } else {
          count(deaths, deaths_total, e.row, e.sign);
        }
      }
    }
  };
  if (counting_ && n_ >= kParallelMinRows) {
    std::thread second(sweep_rows);
    sweep_deaths();
    second.join();
  } else if (counting_) {
    sweep_deaths();
    sweep_rows();
  }
  ConcordanceAggregate out = totals[0];
  // Each row's parts, weighted by its case weight (right-censored data's already are, and in
  // order of risk), summed per cluster.
  for (size_t i = 0; counting_ && i < n_; ++i) {
    c1[i] = w(i) * (c1[i] + c2[i]);
    m1[i] = w(i) * (m1[i] + m2[i]);
  }
  for (size_t i = 0; !counting_ && i < n_; ++i) {
    c1[i] += c2[i];
    m1[i] += m2[i];
  }
  if (!own_clusters_) {
    std::vector<double> cluster_c(clusters_, 0.0), cluster_m(clusters_, 0.0);
    for (size_t i = 0; i < n_; ++i) {
      const size_t row = counting_ ? i : by_eta[i].row;
      cluster_c[Cluster(row)] += c1[i];
      cluster_m[Cluster(row)] += m1[i];
    }
    c1 = std::move(cluster_c);
    m1 = std::move(cluster_m);
  }
  for (size_t k = 0; k < c1.size(); ++k) {
    out.c2 += c1[k] * c1[k];
    out.cm += c1[k] * m1[k];
    out.m2 += m1[k] * m1[k];
  }
  return out;
}

}  // namespace passerelle::stats
