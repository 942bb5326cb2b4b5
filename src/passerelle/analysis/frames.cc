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

stats::GlmRows GlmRowsFrom(const formula::ModelFrame& frame) {
  stats::GlmRows rows;
  rows.p = frame.p();
  rows.x = frame.x;
  rows.y = frame.y;
  rows.offset = frame.offset;
  rows.weight = frame.weights;
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
