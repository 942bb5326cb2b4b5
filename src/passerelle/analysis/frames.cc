#include "passerelle/analysis/frames.h"

namespace passerelle::analysis {

stats::CoxRows CoxRowsFrom(formula::ModelFrame frame) {
  stats::CoxRows rows;
  rows.p = frame.p();
  rows.x = std::move(frame.x);
  rows.start = std::move(frame.start);
  rows.stop = std::move(frame.time);
  rows.status = std::move(frame.status);
  rows.strata = std::move(frame.strata);
  rows.offset = std::move(frame.offset);
  rows.cluster = std::move(frame.cluster);
  rows.weight = std::move(frame.weights);
  return rows;
}

std::vector<double> WeightedColumnSums(const stats::CoxRows& rows, double* total) {
  const size_t n = rows.stop.size();
  const bool weighted = !rows.weight.empty() && rows.start.empty();
  std::vector<double> sums(rows.p, 0.0);
  *total = 0;
  for (size_t i = 0; i < n; ++i) *total += weighted ? rows.weight[i] : 1;
  for (size_t j = 0; j < rows.p; ++j) {
    bool centred = false;
    for (size_t i = 0; i < n; ++i) {
      const double x = rows.x[j * n + i];
      centred |= x != -1 && x != 0 && x != 1;
      sums[j] += (weighted ? rows.weight[i] : 1) * x;
    }
    if (!centred) sums[j] = 0;
  }
  return sums;
}

stats::GlmRows GlmRowsFrom(formula::ModelFrame frame) {
  stats::GlmRows rows;
  rows.p = frame.p();
  rows.x = std::move(frame.x);
  rows.y = std::move(frame.y);
  rows.offset = std::move(frame.offset);
  rows.weight = std::move(frame.weights);
  return rows;
}

stats::GlmRows NullGlmRowsFrom(const formula::ModelFrame& frame) {
  stats::GlmRows rows;
  rows.p = frame.intercept ? 1 : 0;
  rows.x.assign(frame.intercept ? frame.n : 0, 1.0);
  rows.y = frame.y;
  rows.offset = frame.offset;
  rows.weight = frame.weights;
  return rows;
}

}  // namespace passerelle::analysis
