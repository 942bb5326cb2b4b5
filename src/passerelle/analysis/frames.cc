#include "passerelle/analysis/frames.h"

#include <algorithm>
#include <thread>

#include "passerelle/base/parallel.h"
#include "passerelle/stats/linalg.h"

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

void CoxColumnSums::Add(const stats::CoxRows& rows) {
  const size_t n = rows.stop.size();
  const bool weighted = !rows.weight.empty() && rows.start.empty();
  sums_.resize(rows.p, 0.0);
  centred_.resize(rows.p, 0);
  for (size_t i = 0; i < n; ++i) total_ += weighted ? rows.weight[i] : 1;
  // Each column summed in the rows' order, whichever thread sums it: the same bits.
  const auto sum_columns = [&](size_t from, size_t to) {
    for (size_t j = from; j < to; ++j) {
      bool centred = centred_[j];
      double sum = sums_[j];
      for (size_t i = 0; i < n; ++i) {
        const double x = rows.x[j * n + i];
        centred |= x != -1 && x != 0 && x != 1;
        sum += (weighted ? rows.weight[i] : 1) * x;
      }
      sums_[j] = sum;
      centred_[j] = centred;
    }
  };
  if (n >= kParallelMinRows && rows.p > 1) {
    std::thread half(sum_columns, rows.p / 2, rows.p);
    sum_columns(0, rows.p / 2);
    half.join();
  } else {
    sum_columns(0, rows.p);
  }
}

std::vector<double> CoxColumnSums::sums() const {
  std::vector<double> out(sums_.size());
  for (size_t j = 0; j < out.size(); ++j) out[j] = centred_[j] ? sums_[j] : 0;
  return out;
}

std::vector<double> WeightedColumnSums(const stats::CoxRows& rows, double* total) {
  CoxColumnSums sums;
  sums.Add(rows);
  *total = sums.total();
  return sums.sums();
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

SlicedGlmRows::SlicedGlmRows(const data::Table& table, formula::Formula formula, std::string subset,
                             formula::FrameSlices plan, std::vector<size_t> slice_rows, size_t p,
                             bool offset)
    : table_(table),
      formula_(std::move(formula)),
      subset_(std::move(subset)),
      plan_(std::move(plan)),
      slice_rows_(std::move(slice_rows)),
      p_(p),
      offset_(offset) {
  for (size_t rows : slice_rows_) n_ += rows;
}

Status SlicedGlmRows::Rows(size_t begin, size_t end,
                           const std::function<void(const stats::GlmPiece&)>& take) const {
  size_t first = 0;  // the frame row of the slice's first row
  for (size_t s = 0; s < slice_rows_.size() && first < end; first += slice_rows_[s++]) {
    const size_t from = std::max(begin, first), to = std::min(end, first + slice_rows_[s]);
    if (from >= to) continue;
    ASSIGN_OR_RETURN(formula::ModelFrame m,
                     formula::BuildFrameSlice(formula_, table_, formula::ModelKind::kRegression,
                                              subset_, plan_, s));
    if (m.n != slice_rows_[s] || m.p() != p_) {
      return Internal("slice " + std::to_string(s) + " of the model's rows changed");
    }
    stats::GlmPiece piece;
    piece.rows = to - from;
    piece.row_step = 1;
    piece.column_step = m.n;
    piece.x = m.x.data() + (from - first);
    piece.y = m.y.data() + (from - first);
    piece.offset = m.offset.empty() ? nullptr : m.offset.data() + (from - first);
    piece.weight = m.weights.empty() ? nullptr : m.weights.data() + (from - first);
    take(piece);
  }
  return Status::Ok();
}

}  // namespace passerelle::analysis
