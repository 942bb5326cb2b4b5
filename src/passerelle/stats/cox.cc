#include "passerelle/stats/cox.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
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

struct CoxKernel::Builder::Impl {
  size_t n = 0, p = 0, reserve = 0;
  bool first = true, counting = false, offset = false, weights = false, clusters = false;
  bool strata = false;
  std::vector<PackedColumn> x;
  std::vector<double> sums;  // each design column's sum, in the rows' order: the centring means
  PackedColumn stop;
  std::vector<uint8_t> status;
  double events = 0;
  std::vector<double> start, offset_values, weight;
  std::vector<int32_t> cluster;
  // Each row's stratum, numbered as first seen; each stratum's key and number.
  std::vector<int32_t> stratum;
  std::map<std::vector<double>, int32_t> strata_ids;
};

CoxKernel::Builder::Builder() : impl_(std::make_unique<Impl>()) {}
CoxKernel::Builder::Builder(Builder&&) noexcept = default;
CoxKernel::Builder::~Builder() = default;

void CoxKernel::Builder::Add(CoxRows piece, const std::vector<std::vector<double>>& strata_keys) {
  Impl& b = *impl_;
  const size_t n = piece.stop.size();
  if (b.first) {
    b.first = false;
    b.p = piece.p;
    b.x.resize(b.p);
    for (PackedColumn& column : b.x) column.Reserve(b.reserve);
    b.stop.Reserve(b.reserve);
    b.status.reserve(b.reserve);
    b.sums.assign(b.p, 0.0);
    b.counting = !piece.start.empty();
    b.offset = !piece.offset.empty();
    b.weights = !piece.weight.empty();
    b.clusters = !piece.cluster.empty();
    b.strata = !piece.strata.empty();
  }
  for (size_t j = 0; j < b.p; ++j) {
    const std::span<const double> column(&piece.x[j * n], n);
    b.x[j].Append(column);
    for (double v : column) b.sums[j] += v;
  }
  b.stop.Append(piece.stop);
  for (size_t i = 0; i < n; ++i) {
    b.status.push_back(piece.status[i] != 0);
    b.events += piece.status[i];
  }
  const auto append = [](std::vector<double>* to, const std::vector<double>& from) {
    to->insert(to->end(), from.begin(), from.end());
  };
  if (b.counting) append(&b.start, piece.start);
  if (b.offset) append(&b.offset_values, piece.offset);
  if (b.weights) append(&b.weight, piece.weight);
  if (b.clusters) b.cluster.insert(b.cluster.end(), piece.cluster.begin(), piece.cluster.end());
  if (b.strata) {
    std::vector<int32_t> id;  // the piece's codes as the builder numbers its strata
    int32_t codes = 0;
    for (int32_t c : piece.strata) codes = std::max(codes, c + 1);
    for (int32_t c = 0; c < codes; ++c) {
      const std::vector<double> key =
          strata_keys.empty() ? std::vector<double>{static_cast<double>(c)} : strata_keys[c];
      id.push_back(
          b.strata_ids.try_emplace(key, static_cast<int32_t>(b.strata_ids.size())).first->second);
    }
    for (int32_t c : piece.strata) b.stratum.push_back(id[c]);
  }
  b.n += n;
}

void CoxKernel::Builder::Reserve(size_t rows) { impl_->reserve = rows; }

CoxKernel CoxKernel::Builder::Finish() && { return CoxKernel(std::move(*impl_)); }

namespace {

CoxKernel::Builder OnePiece(CoxRows rows) {
  CoxKernel::Builder b;
  b.Add(std::move(rows));
  return b;
}

// The rows of `order` (empty: rows 0..n-1) ordered stably by their key (0..keys-1): a
// counting sort.
template <typename Key>
std::vector<uint32_t> ByKey(const std::vector<uint32_t>& order, size_t n, size_t keys,
                            const Key& key) {
  const auto row = [&](size_t k) { return order.empty() ? static_cast<uint32_t>(k) : order[k]; };
  std::vector<size_t> at(keys + 1, 0);
  for (size_t k = 0; k < n; ++k) ++at[key(row(k)) + 1];
  for (size_t k = 0; k < keys; ++k) at[k + 1] += at[k];
  std::vector<uint32_t> out(n);
  for (size_t k = 0; k < n; ++k) out[at[key(row(k))]++] = row(k);
  return out;
}

template <typename T>
void Gather(std::vector<T>* v, const std::vector<uint32_t>& order) {
  if (v->empty()) return;
  std::vector<T> out(order.size());
  for (size_t k = 0; k < order.size(); ++k) out[k] = (*v)[order[k]];
  *v = std::move(out);
}

}  // namespace

CoxKernel::CoxKernel(CoxRows rows) : CoxKernel(std::move(*OnePiece(std::move(rows)).impl_)) {}

CoxKernel::CoxKernel(Builder::Impl&& b) : n_(b.n), p_(b.p) {
  counting_ = b.counting;
  own_clusters_ = !b.clusters;
  // Weights all 1 are no weights (R takes ties = "exact" then).
  weighted_ = std::any_of(b.weight.begin(), b.weight.end(), [](double w) { return w != 1; });
  if (!weighted_) b.weight = {};
  events_ = b.events;
  stop_ = std::move(b.stop);
  stop_.Seal();
  // Rows sorted by stratum, then time descending, then row (a total order): by time first,
  // then stably by stratum.
  std::vector<uint32_t> order;
  if (stop_.coded()) {
    const std::span<const double> values = stop_.values();
    std::vector<uint32_t> by_time(values.size());
    std::iota(by_time.begin(), by_time.end(), 0);
    std::sort(by_time.begin(), by_time.end(), [&](uint32_t a, uint32_t c) {
      return OrderedKey(values[a]) > OrderedKey(values[c]);
    });
    std::vector<uint32_t> rank(values.size());
    for (size_t k = 0, r = 0; k < by_time.size(); ++k) {
      if (k > 0 && OrderedKey(values[by_time[k]]) != OrderedKey(values[by_time[k - 1]])) ++r;
      rank[by_time[k]] = static_cast<uint32_t>(r);
    }
    order = ByKey(order, n_, values.size(), [&](uint32_t row) { return rank[stop_.Code(row)]; });
  } else {
    order.resize(n_);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t c) {
      return OrderedKey(stop_[a]) > OrderedKey(stop_[c]);
    });
  }
  bounds_.push_back(0);
  if (b.strata) {
    std::vector<int32_t> rank(b.strata_ids.size());
    int32_t r = 0;
    for (const auto& [key, id] : b.strata_ids) rank[id] = r++;
    std::vector<size_t> count(rank.size(), 0);
    for (int32_t& s : b.stratum) ++count[s = rank[s]];
    order = ByKey(order, n_, rank.size(), [&](uint32_t row) { return b.stratum[row]; });
    for (size_t c : count) bounds_.push_back(bounds_.back() + c);
    b.stratum = {};
  } else {
    bounds_.push_back(n_);
  }
  // Each column sorted and centred (which changes no bit of a row's centred value).
  x_ = std::move(b.x);
  for (size_t j = 0; j < p_; ++j) {
    x_[j].Seal();
    x_[j].Permute(order);
    x_[j].Shift(n_ ? b.sums[j] / static_cast<double>(n_) : 0);
  }
  stop_.Permute(order);
  status_ = std::move(b.status);
  Gather(&status_, order);
  start_ = std::move(b.start);
  Gather(&start_, order);
  offset_ = std::move(b.offset_values);
  Gather(&offset_, order);
  weight_ = std::move(b.weight);
  Gather(&weight_, order);
  // Clusters renumbered densely in sorted order; a row without a cluster is its own.
  if (b.clusters) {
    int32_t max_code = 0;
    for (int32_t c : b.cluster) max_code = std::max(max_code, c);
    std::vector<int32_t> cluster_code(static_cast<size_t>(max_code) + 1, -1);
    cluster_.resize(n_);
    for (size_t k = 0; k < n_; ++k) {
      int32_t& code = cluster_code[b.cluster[order[k]]];
      if (code < 0) code = static_cast<int32_t>(clusters_++);
      cluster_[k] = code;
    }
  } else {
    clusters_ = n_;
  }
  if (counting_) {
    by_start_.resize(n_);
    std::iota(by_start_.begin(), by_start_.end(), 0);
    for (size_t s = 0; s + 1 < bounds_.size(); ++s) {
      std::stable_sort(by_start_.begin() + bounds_[s], by_start_.begin() + bounds_[s + 1],
                       [&](uint32_t a, uint32_t c) { return start_[a] > start_[c]; });
    }
  }
}

Status CoxKernel::AddExactTime(std::span<const double> beta, const std::vector<size_t>& risk,
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
  std::vector<double> xk(p);
  double r_max = 0;
  for (size_t k : risk) r_max = std::max(r_max, Risk(k, beta, xk.data()));
  std::vector<double> B(d + 1, 0.0), G((d + 1) * p, 0.0), H((d + 1) * packed, 0.0);
  B[0] = 1;
  for (size_t k : risk) {
    const double rk = Risk(k, beta, xk.data()) / r_max;
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

void CoxKernel::ReadBlock(size_t from, size_t rows, std::span<const double> beta, double* x,
                          double* eta, double* risk) const {
  for (size_t j = 0; j < p_; ++j) x_[j].Read(from, rows, &x[j * kBlock]);
  for (size_t e = 0; e < rows; ++e) eta[e] = offset_.empty() ? 0.0 : offset_[from + e];
  for (size_t j = 0; j < p_; ++j) {  // each row's terms in the order Eta adds them
    for (size_t e = 0; e < rows; ++e) eta[e] += x[j * kBlock + e] * beta[j];
  }
  if (risk == nullptr) return;
  for (size_t e = 0; e < rows; ++e) risk[e] = W(from + e) * std::exp(eta[e]);
}

Result<CoxAggregate> CoxKernel::Evaluate(std::span<const double> beta, Ties ties) const {
  if (ties == Ties::kExact && weighted_) {
    return InvalidArgument(
        "weights: case weights are not supported with ties = \"exact\" (as R's coxph); use "
        "efron or breslow");
  }
  const size_t p = p_;
  CoxAggregate out;
  out.score.assign(p, 0.0);
  out.information.assign(p * p, 0.0);  // lower triangle until the end
  double* info = out.information.data();
  // The information's S2 terms, Σ_t A_t S2(t) - B_t D2(t), are one sum over the rows:
  // Σ_i v_i x_i x_i' with v_i = r_i (Σ of A_t over the event times at which row i is at risk,
  // less B_t at its own death). The sweep below finds A_t and B_t and the terms in S0, S1 and
  // D1; the rows' sum comes after it, in parts (docs/methods/coxph.md). A row's risk and
  // design are read again where they are needed, never held for every row.
  std::vector<double> s1(p), d1(p), xj(p);
  std::vector<size_t> risk;
  double exact_cost = 0;
  // The sweep takes every row once, in order, so it reads them a block at a time: row j's
  // design from xb[a * kBlock + j % kBlock].
  std::vector<double> xb(kBlock * p), etab(kBlock), riskb(kBlock);
  struct EventTime {
    size_t begin, end;  // its rows
    double time, a, b;
  };
  // Every stratum's event times, stratum s's from first_time[s]; and per time, the sum of A
  // over it and the stratum's times after it in the sweep (earlier times).
  std::vector<EventTime> times;
  std::vector<size_t> first_time;
  std::vector<double> later_a;
  for (size_t s = 0; s + 1 < bounds_.size(); ++s) {
    const size_t begin = bounds_[s], end = bounds_[s + 1];
    first_time.push_back(times.size());
    double s0 = 0;
    std::fill(s1.begin(), s1.end(), 0.0);
    size_t at_risk = 0;
    size_t next_removal = begin;
    for (size_t i = begin; i < end;) {
      const double t = stop_[i];
      if (counting_) {
        while (next_removal < end && start_[by_start_[next_removal]] >= t) {
          const size_t gone = by_start_[next_removal++];
          const double r = Risk(gone, beta, xj.data());
          s0 -= r;
          for (size_t a = 0; a < p; ++a) s1[a] -= r * xj[a];
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
        const size_t e = j % kBlock;
        if (e == 0)
          ReadBlock(j, std::min(kBlock, n_ - j), beta, xb.data(), etab.data(), riskb.data());
        const double rj = riskb[e];
        for (size_t a = 0; a < p; ++a) xj[a] = xb[a * kBlock + e];
        s0 += rj;
        for (size_t a = 0; a < p; ++a) s1[a] += rj * xj[a];
        ++at_risk;
        if (status_[j] == 0) continue;
        deaths += 1;
        const double wj = W(j);
        wd += wj;
        out.loglik += wj * etab[e];
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
        RETURN_IF_ERROR(AddExactTime(beta, risk, static_cast<size_t>(deaths), &exact_cost, &out));
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
    // A summed from the stratum's last time (the earliest) back.
    const size_t first = first_time.back();
    later_a.resize(times.size() + 1);
    later_a[times.size()] = 0;
    for (size_t g = times.size(); g-- > first;) {
      later_a[g] = (g + 1 == times.size() ? 0.0 : later_a[g + 1]) + times[g].a;
    }
  }
  first_time.push_back(times.size());
  // Row k is at risk at its stratum's event times whose rows end after k (and, counting-process
  // data, after its start): v_k sums their A, less B at its own death. Σ v_k x_k x_k' over
  // fixed parts of the rows, read a block at a time, added in part order.
  std::vector<double> parts[kParallelParts];
  const size_t used = ParallelParts(n_, [&](size_t part, size_t begin, size_t end) {
    std::vector<double> x(kBlock * p), eta(kBlock), r(kBlock), v(kBlock);
    WeightedCrossProducts sum(p);
    size_t s = static_cast<size_t>(std::upper_bound(bounds_.begin(), bounds_.end(), begin) -
                                   bounds_.begin()) -
               1;
    // The stratum's first event time whose rows end after row k (k only grows).
    auto g = times.begin() + static_cast<std::ptrdiff_t>(first_time[s]);
    for (size_t from = begin; from < end; from += kBlock) {
      const size_t rows = std::min(kBlock, end - from);
      ReadBlock(from, rows, beta, x.data(), eta.data(), r.data());
      for (size_t e = 0; e < rows; ++e) {
        const size_t k = from + e;
        while (k >= bounds_[s + 1]) {
          ++s;
          g = times.begin() + static_cast<std::ptrdiff_t>(first_time[s]);
        }
        const auto stratum_begin = times.begin() + static_cast<std::ptrdiff_t>(first_time[s]);
        const auto stratum_end = times.begin() + static_cast<std::ptrdiff_t>(first_time[s + 1]);
        while (g != stratum_end && g->end <= k) ++g;
        const size_t at_g = static_cast<size_t>(g - times.begin());
        double at = g == stratum_end ? 0.0 : later_a[at_g];
        if (counting_) {
          // Event times at or before the start: from the first (in descending time) with
          // time <= start.
          const auto before = std::partition_point(
              stratum_begin, stratum_end, [&](const EventTime& t) { return t.time > start_[k]; });
          if (before != stratum_end) at -= later_a[static_cast<size_t>(before - times.begin())];
        }
        v[e] = r[e] * (status_[k] != 0 && g != stratum_end && g->begin <= k ? at - g->b : at);
      }
      sum.Add(x.data(), v.data(), 1, kBlock, rows);
    }
    parts[part].assign(p * p, 0.0);
    sum.AddTo(parts[part].data());
  });
  for (size_t k = 0; k < used; ++k) {
    for (size_t e = 0; e < p * p; ++e) info[e] += parts[k][e];
  }
  for (size_t a = 0; a < p; ++a) {
    for (size_t b = 0; b < a; ++b) info[b * p + a] = info[a * p + b];
  }
  return out;
}

void CoxKernel::ScoreResiduals(std::span<const double> beta, Ties ties,
                               const std::function<void(size_t k, const double* u)>& take) const {
  const size_t p = p_;
  std::vector<double> s1(p), d1(p), x(p), u(p);
  for (size_t s = 0; s + 1 < bounds_.size(); ++s) {
    const size_t begin = bounds_[s], end = bounds_[s + 1];
    // Descending sweep: per event time, the hazard increment a0 = sum_j 1/denom_j, the
    // weighted mean a1 = sum_j mean_j/denom_j, the mean over the tied deaths' steps m, and the
    // Efron corrections e0, e1 for the deaths themselves.
    std::vector<double> times, a0, a1, e0, e1, m;
    double s0 = 0;
    std::fill(s1.begin(), s1.end(), 0.0);
    size_t at_risk = 0, next_removal = begin;
    // Adds row i's weighted risk (and its design, in x) to the risk set; returns the risk.
    auto add = [&](size_t i, double sign) {
      const double r = Risk(i, beta, x.data());
      s0 += sign * r;
      for (size_t a = 0; a < p; ++a) s1[a] += sign * r * x[a];
      return r;
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
        const double r = add(j, 1.0);
        ++at_risk;
        if (status_[j] == 0) continue;
        deaths += 1;
        wd += W(j);
        d0 += r;
        for (size_t a = 0; a < p; ++a) d1[a] += r * x[a];
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
      const size_t hi = upto(stop_[i]);
      const size_t lo = counting_ ? upto(start_[i]) : 0;
      const double h0 = cum0[hi] - cum0[lo];
      const double risk = Risk(i, beta, x.data()) / W(i);  // the row's own exp(eta), unweighted
      for (size_t a = 0; a < p; ++a) {
        u[a] = -risk * (x[a] * h0 - (cum1[hi * p + a] - cum1[lo * p + a]));
      }
      if (status_[i] != 0) {
        const size_t src = nt - hi;  // this death's time, in descending storage
        for (size_t a = 0; a < p; ++a) {
          u[a] += x[a] - m[src * p + a] + risk * (x[a] * e0[src] - e1[src * p + a]);
        }
      }
      take(i, u.data());
    }
  }
}

std::vector<double> CoxKernel::ClusterMeat(std::span<const double> beta, Ties ties) const {
  const size_t p = p_;
  std::vector<double> meat(p * p, 0.0);
  // u_c u_c' summed over the clusters in order; a row its own cluster is added as it comes.
  auto add = [&](const double* u) {
    for (size_t a = 0; a < p; ++a) {
      for (size_t b = 0; b < p; ++b) meat[a * p + b] += u[a] * u[b];
    }
  };
  if (own_clusters_) {
    std::vector<double> u(p);
    ScoreResiduals(beta, ties, [&](size_t k, const double* resid) {
      for (size_t a = 0; a < p; ++a) u[a] = W(k) * resid[a];
      add(u.data());
    });
    return meat;
  }
  std::vector<double> sums(clusters_ * p, 0.0);
  ScoreResiduals(beta, ties, [&](size_t k, const double* resid) {
    for (size_t a = 0; a < p; ++a) sums[Cluster(k) * p + a] += W(k) * resid[a];
  });
  for (size_t c = 0; c < clusters_; ++c) add(&sums[c * p]);
  return meat;
}

ZphAggregate CoxKernel::Zph(std::span<const double> beta, Ties ties,
                            const std::function<double(double)>& g) const {
  const size_t p = p_;
  ZphAggregate out;
  out.u.assign(p, 0.0);
  out.gu.assign(p, 0.0);
  out.info.assign(p * p, 0.0);
  out.g_info.assign(p * p, 0.0);
  out.g2_info.assign(p * p, 0.0);
  std::vector<double> s1(p), s2(p * p), d1(p), d2(p * p), u_t(p), i_t(p * p), x(p);
  for (size_t s = 0; s + 1 < bounds_.size(); ++s) {
    const size_t begin = bounds_[s], end = bounds_[s + 1];
    double s0 = 0;
    std::fill(s1.begin(), s1.end(), 0.0);
    std::fill(s2.begin(), s2.end(), 0.0);
    size_t at_risk = 0, next_removal = begin;
    // Adds row i's weighted risk (and its design, in x) to the risk set; returns the risk.
    auto add = [&](size_t i, double sign) {
      const double r = Risk(i, beta, x.data());
      const double ri = sign * r;
      s0 += ri;
      for (size_t a = 0; a < p; ++a) {
        s1[a] += ri * x[a];
        for (size_t b = 0; b < p; ++b) s2[a * p + b] += ri * x[a] * x[b];
      }
      return r;
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
        const double r = add(j, 1.0);
        ++at_risk;
        if (status_[j] == 0) continue;
        deaths += 1;
        wd += W(j);
        d0 += r;
        for (size_t a = 0; a < p; ++a) {
          u_t[a] += W(j) * x[a];
          d1[a] += r * x[a];
          for (size_t b = 0; b < p; ++b) d2[a * p + b] += r * x[a] * x[b];
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

void CoxKernel::ConcordanceByRisk(const RiskOrder& order, ConcordanceAggregate* out,
                                  const std::function<void(size_t, double, double)>& take) const {
  // A death k and a row j are compared when j outlived k: a later time, or a censoring at
  // k's time. With the stratum's distinct times numbered 0, 1, ... ascending, give row j the
  // position 2 t_j + (1 if censored) and death k the position 2 t_k: j outlived k exactly
  // when pos(j) > dpos(k). Rows are taken in order of risk, a group of equal risk at a time;
  // per stratum, one tree holds the rows of lower risk by position (for each death, the rows
  // it is compared with), another the deaths of lower risk (for each row, the deaths it is
  // compared with). Each tree has two entries per distinct time, so it stays small.
  std::vector<uint32_t> pos(n_);
  std::vector<size_t> positions;  // per stratum: 2 x its distinct times
  for (size_t s = 0; s + 1 < bounds_.size(); ++s) {
    const size_t begin = bounds_[s], end = bounds_[s + 1];
    size_t times = 0;
    for (size_t k = end; k-- > begin;) {
      if (k + 1 == end || stop_[k] != stop_[k + 1]) ++times;
      pos[k] = static_cast<uint32_t>(2 * (times - 1) + (status_[k] == 0 ? 1 : 0));
    }
    positions.push_back(2 * times);
  }
  const auto stratum = [this](size_t k) {
    return static_cast<size_t>(std::upper_bound(bounds_.begin(), bounds_.end(), k) -
                               bounds_.begin()) -
           1;
  };
  // Per stratum and position: the weight of rows at or after it, and of deaths before it.
  std::vector<std::vector<double>> rows_from(positions.size()), deaths_before(positions.size());
  for (size_t s = 0; s < positions.size(); ++s) {
    rows_from[s].assign(positions[s] + 1, 0.0);
    deaths_before[s].assign(positions[s] + 1, 0.0);
    for (size_t k = bounds_[s]; k < bounds_[s + 1]; ++k) {
      rows_from[s][pos[k]] += W(k);
      if (status_[k] != 0) deaths_before[s][pos[k] + 1] += W(k);
    }
    for (size_t q = positions[s]; q-- > 0;) rows_from[s][q] += rows_from[s][q + 1];
    for (size_t q = 1; q <= positions[s]; ++q) deaths_before[s][q] += deaths_before[s][q - 1];
  }
  struct Slot {
    size_t stratum, pos;
    double w;
    bool death;
  };
  std::vector<Fenwick> rows_tree, deaths_tree;
  for (size_t n : positions) rows_tree.emplace_back(n), deaths_tree.emplace_back(n);
  std::vector<Slot> group, tied;
  std::vector<double> lower, c1, m1;
  // Rows in order of risk are scattered in memory: each one's position and status are asked
  // for a little before they are needed.
  constexpr size_t kAhead = 64;
  for (size_t g = 0, h = 0; g < n_; g = h) {
    for (h = g + 1; h < n_ && !order.starts[h];) ++h;
    for (size_t e = g + kAhead; e < h + kAhead && e < n_; ++e) {
      const uint32_t k = order.rows[e];
      __builtin_prefetch(pos.data() + k);
      __builtin_prefetch(status_.data() + k);
    }
    group.clear();
    for (size_t e = g; e < h; ++e) {
      const size_t k = order.rows[e];
      const size_t s = stratum(k);
      group.push_back({s, pos[k], W(k), status_[k] != 0});
    }
    // Each death against the rows of lower, equal and higher risk that outlived it. The tree
    // is indexed from the latest position down, so "outlived" is a prefix.
    auto outlived = [&](const Slot& k) {  // rows in the tree that outlived death k
      return rows_tree[k.stratum].Prefix(positions[k.stratum] - k.pos - 1);
    };
    lower.clear();
    for (const Slot& k : group) lower.push_back(k.death ? outlived(k) : 0.0);
    for (const Slot& k : group) rows_tree[k.stratum].Add(positions[k.stratum] - k.pos, k.w);
    if (h - g > 1) {
      // Events of equal risk at the same time: tied in both.
      tied.clear();
      for (const Slot& k : group) {
        if (k.death) tied.push_back(k);
      }
      std::sort(tied.begin(), tied.end(), [](const Slot& a, const Slot& b) {
        return a.stratum != b.stratum ? a.stratum < b.stratum : a.pos < b.pos;
      });
      for (size_t a = 0, b = 0; a < tied.size(); a = b) {
        double sum = 0, sum2 = 0;
        for (; b < tied.size() && tied[b].stratum == tied[a].stratum && tied[b].pos == tied[a].pos;
             ++b) {
          sum += tied[b].w, sum2 += tied[b].w * tied[b].w;
        }
        out->tied_both += (sum * sum - sum2) / 2;
        out->tied_time -= (sum * sum - sum2) / 2;
      }
    }
    c1.assign(group.size(), 0.0);
    m1.assign(group.size(), 0.0);
    for (size_t e = 0; e < group.size(); ++e) {
      const Slot& k = group[e];
      if (!k.death) continue;
      const double below = lower[e];
      const double equal = h - g > 1 ? outlived(k) - below : 0.0;
      const double total = rows_from[k.stratum][k.pos + 1];
      const double higher = total - below - equal;
      out->concordant += k.w * below;  // the one who died first had the higher risk
      out->discordant += k.w * higher;
      out->tied_risk += k.w * equal;
      c1[e] = k.w * (below - higher);
      m1[e] = k.w * total;
    }
    // Each row against the deaths of lower, equal and higher risk that it outlived.
    auto outlived_deaths = [&](const Slot& j) { return deaths_tree[j.stratum].Prefix(j.pos); };
    lower.clear();
    for (const Slot& j : group) lower.push_back(outlived_deaths(j));
    for (const Slot& j : group) {
      if (j.death) deaths_tree[j.stratum].Add(j.pos + 1, j.w);
    }
    for (size_t e = 0; e < group.size(); ++e) {
      const Slot& j = group[e];
      const double below = lower[e];
      const double equal = h - g > 1 ? outlived_deaths(j) - below : 0.0;
      const double total = deaths_before[j.stratum][j.pos];
      const double higher = total - below - equal;
      // A death of higher risk than this row: concordant.
      take(order.rows[g + e], c1[e] + j.w * (higher - below), m1[e] + j.w * total);
    }
  }
}

CoxKernel::RiskOrder CoxKernel::ByRisk(std::span<const double> beta) const {
  // Sorted by the upper half of each row's ordered key (4 bytes a row, not 8), then each run
  // of rows sharing it by the whole key, read again where the run's keys differ.
  std::vector<double> x(p_);
  const auto key = [&](uint32_t row) { return OrderedKey(Eta(row, beta, x.data())); };
  RiskOrder order;
  order.rows.resize(n_);
  std::iota(order.rows.begin(), order.rows.end(), 0);
  order.starts.resize(n_);
  {
    std::vector<uint32_t> high(n_);
    ParallelParts(n_, [&](size_t, size_t begin, size_t end) {
      std::vector<double> xb(kBlock * p_), eta(kBlock);
      for (size_t from = begin; from < end; from += kBlock) {
        const size_t rows = std::min(kBlock, end - from);
        ReadBlock(from, rows, beta, xb.data(), eta.data(), nullptr);
        for (size_t e = 0; e < rows; ++e) {
          high[from + e] = static_cast<uint32_t>(OrderedKey(eta[e]) >> 32);
        }
      }
    });
    RadixSortInPlace(high.data(), order.rows.data(), n_);
    for (size_t e = 0; e < n_; ++e) order.starts[e] = e == 0 || high[e] != high[e - 1];
  }
  // A run's keys with their rows, while it is short enough to hold them (a long one is sorted
  // where it is, its keys read at each comparison).
  constexpr size_t kKeyedRun = size_t{1} << 16;
  std::vector<std::pair<uint64_t, uint32_t>> run;
  for (size_t g = 0, h = 0; g < n_; g = h) {
    for (h = g + 1; h < n_ && !order.starts[h];) ++h;
    if (h - g == 1) continue;
    if (h - g <= kKeyedRun) {  // each key read once, sorted with its row
      run.clear();
      for (size_t e = g; e < h; ++e) run.push_back({key(order.rows[e]), order.rows[e]});
      if (std::all_of(run.begin(), run.end(),
                      [&](const auto& r) { return r.first == run[0].first; })) {
        continue;  // one risk, its rows in order already
      }
      std::sort(run.begin(), run.end());
      for (size_t e = g; e < h; ++e) {
        order.rows[e] = run[e - g].second;
        if (e > g) order.starts[e] = run[e - g].first != run[e - g - 1].first;
      }
      continue;
    }
    const uint64_t first = key(order.rows[g]);
    bool same = true;
    for (size_t e = g + 1; same && e < h; ++e) same = key(order.rows[e]) == first;
    if (same) continue;
    std::sort(order.rows.begin() + static_cast<std::ptrdiff_t>(g),
              order.rows.begin() + static_cast<std::ptrdiff_t>(h), [&](uint32_t a, uint32_t b) {
                const uint64_t ka = key(a), kb = key(b);
                return ka != kb ? ka < kb : a < b;
              });
    for (size_t e = g + 1; e < h; ++e) {
      order.starts[e] = key(order.rows[e]) != key(order.rows[e - 1]);
    }
  }
  return order;
}

ConcordanceAggregate CoxKernel::Concordance(std::span<const double> beta) const {
  const RiskOrder by_risk = ByRisk(beta);
  // Counting-process data: ranks of the linear predictor, 1-based, equal values sharing one.
  std::vector<uint32_t> rank(counting_ ? n_ : 0);
  uint32_t ranks = 0;
  for (size_t k = 0; counting_ && k < n_; ++k) {
    if (by_risk.starts[k]) ++ranks;
    rank[by_risk.rows[k]] = ranks;
  }
  // Per row: concordant minus discordant pairs (c), and all comparable pairs (m), it takes
  // part in, each pair counted with the other row's case weight (and, in the totals, with the
  // product of both), times its own case weight: summed in squares, or per cluster.
  const auto w = [this](size_t k) { return W(k); };
  double c2 = 0, cm = 0, m2 = 0;
  std::vector<double> cluster_c(own_clusters_ ? 0 : clusters_, 0.0);
  std::vector<double> cluster_m(cluster_c.size(), 0.0);
  const auto take = [&](size_t row, double c, double m) {
    if (own_clusters_) {
      c2 += c * c;
      cm += c * m;
      m2 += m * m;
    } else {
      cluster_c[Cluster(row)] += c;
      cluster_m[Cluster(row)] += m;
    }
  };
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
    ConcordanceByRisk(by_risk, &totals[0], take);
  }
  // Counting-process data: two sweeps in time, on two threads with their own arrays.
  std::vector<double> c1(counting_ ? n_ : 0, 0.0), m1(c1.size(), 0.0);
  std::vector<double> c2_rows(c1.size(), 0.0), m2_rows(c1.size(), 0.0);

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
      // A death with higher risk than this row: concordant.
      c2_rows[row] += sign * (higher - lower);
      m2_rows[row] += sign * (lower + higher + equal);
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
  for (size_t i = 0; counting_ && i < n_; ++i) {
    take(i, w(i) * (c1[i] + c2_rows[i]), w(i) * (m1[i] + m2_rows[i]));
  }
  for (size_t k = 0; k < cluster_c.size(); ++k) {
    c2 += cluster_c[k] * cluster_c[k];
    cm += cluster_c[k] * cluster_m[k];
    m2 += cluster_m[k] * cluster_m[k];
  }
  ConcordanceAggregate out = totals[0];
  out.c2 = c2;
  out.cm = cm;
  out.m2 = m2;
  return out;
}

}  // namespace passerelle::stats
