// From a model frame to the rows each statistics kernel takes: the one place that knows how
// the formula's columns map onto a kernel's input.
#ifndef PASSERELLE_ANALYSIS_FRAMES_H_
#define PASSERELLE_ANALYSIS_FRAMES_H_

#include <functional>
#include <string>
#include <vector>

#include "passerelle/formula/model.h"
#include "passerelle/stats/cox.h"
#include "passerelle/stats/glm.h"

namespace passerelle::analysis {

// Moves the frame's design, times, strata, offset and clusters into Cox rows.
stats::CoxRows CoxRowsFrom(formula::ModelFrame frame);
// R's means of Cox rows' design, over rows given a piece at a time: each column's sum weighted
// by the case weights (the rows, unweighted, and always for (start, stop] rows, as R's
// agreg.fit), and the weights' total; a column of -1, 0 and 1 only is not centred by R
// (coxph's nocenter): its sum is 0. Each column is summed in the rows' order.
class CoxColumnSums {
 public:
  void Add(const stats::CoxRows& rows);
  std::vector<double> sums() const;
  double total() const { return total_; }

 private:
  std::vector<double> sums_;
  std::vector<uint8_t> centred_;
  double total_ = 0;
};
// The same of one set of rows: the sums, and the total in *total.
std::vector<double> WeightedColumnSums(const stats::CoxRows& rows, double* total);
// The GLM rows of the frame (its null model is the kernel's first columns: NullColumns).
stats::GlmRows GlmRowsFrom(formula::ModelFrame frame);

// A GLM's rows as the slices of a table's model frame (formula::PlanFrameSlices), each slice's
// frame built again when the kernel reads its rows: the kernel holds a slice's design, never
// the table's. `slice_rows`: each slice's frame rows, as a first pass over them counted.
// `table` outlives the source.
class SlicedGlmRows : public stats::GlmRowSource {
 public:
  SlicedGlmRows(const data::Table& table, formula::Formula formula, std::string subset,
                formula::FrameSlices plan, std::vector<size_t> slice_rows, size_t p, bool offset);
  size_t n() const override { return n_; }
  size_t p() const override { return p_; }
  bool offset() const override { return offset_; }
  Status Rows(size_t begin, size_t end,
              const std::function<void(const stats::GlmPiece&)>& take) const override;

 private:
  const data::Table& table_;
  formula::Formula formula_;
  std::string subset_;
  formula::FrameSlices plan_;
  std::vector<size_t> slice_rows_;
  size_t n_ = 0, p_ = 0;
  bool offset_ = false;
};

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_FRAMES_H_
