#include "passerelle/analysis/frames.h"

#include <thread>

#include "passerelle/base/parallel.h"

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
  // Each column summed in the rows' order, whichever thread sums it: the same bits.
  const auto sum_columns = [&](size_t from, size_t to) {
    for (size_t j = from; j < to; ++j) {
      bool centred = false;
      double sum = 0;
      for (size_t i = 0; i < n; ++i) {
        const double x = rows.x[j * n + i];
        centred |= x != -1 && x != 0 && x != 1;
        sum += (weighted ? rows.weight[i] : 1) * x;
      }
      sums[j] = centred ? sum : 0;
    }
  };
  if (n >= kParallelMinRows && rows.p > 1) {
    std::thread half(sum_columns, rows.p / 2, rows.p);
    sum_columns(0, rows.p / 2);
    half.join();
  } else {
    sum_columns(0, rows.p);
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

}  // namespace passerelle::analysis
