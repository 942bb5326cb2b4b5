// From a model frame to the rows each statistics kernel takes: the one place that knows how
// the formula's columns map onto a kernel's input.
#ifndef PASSERELLE_ANALYSIS_FRAMES_H_
#define PASSERELLE_ANALYSIS_FRAMES_H_

#include "passerelle/formula/model.h"
#include "passerelle/stats/cox.h"
#include "passerelle/stats/glm.h"

namespace passerelle::analysis {

// Moves the frame's design, times, strata, offset and clusters into Cox rows.
stats::CoxRows CoxRowsFrom(formula::ModelFrame frame);
// The column sums of Cox rows' design weighted by their case weights, and the weights' total
// (the rows, unweighted; and always for (start, stop] rows, as R's agreg.fit): R's means are
// their ratio. A column of -1, 0 and 1 only is not
// centred by R (coxph's nocenter): its sum is 0.
std::vector<double> WeightedColumnSums(const stats::CoxRows& rows, double* total);
// The GLM rows of the frame (its null model is the kernel's first columns: NullColumns).
stats::GlmRows GlmRowsFrom(formula::ModelFrame frame);

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_FRAMES_H_
