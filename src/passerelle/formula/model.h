// Model formulas in R syntax, and the model frame they select from a table: the response
// (Surv(time, event), Surv(start, stop, event) or an expression), the design matrix with
// treatment contrasts, strata, clusters, offsets and groups, after the subset and na.omit.
#ifndef PASSERELLE_FORMULA_MODEL_H_
#define PASSERELLE_FORMULA_MODEL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/data/table.h"
#include "passerelle/formula/expr.h"

namespace passerelle::formula {

// A term of the right-hand side: the product of its variables (one variable for a main effect).
struct Term {
  std::vector<Expr> variables;
  std::string label;  // R's term label, e.g. "age", "factor(stage)", "rx:sex"
};

struct Formula {
  std::string source;
  enum class Response { kNone, kSurv, kExpr } response = Response::kNone;
  std::vector<Expr> surv;   // Surv() arguments: (time, event) or (start, stop, event)
  Expr lhs;                 // kExpr
  std::vector<Term> terms;  // main effects first, then interactions (R's term order)
  bool intercept = true;
  std::vector<Expr> strata;  // arguments of strata() terms, in order
  std::vector<Expr> clusters;
  std::vector<Expr> offsets;
};

// Parses "lhs ~ rhs". InvalidArgument with the column of the problem.
Result<Formula> ParseFormula(std::string_view source);

// What the model needs from the formula.
enum class ModelKind {
  kRegression,  // glm: response, design with an intercept (unless -1)
  kCox,         // coxph: Surv response, design without an intercept column
  kGroups,      // survfit / survdiff: Surv response, right-hand side variables form groups
};

// The most columns a design matrix may have; a formula that would need more is refused before
// they are built (a factor of an identifier would take the machine's memory).
inline constexpr size_t kMaxModelColumns = 500;

// How factor levels that no row of the frame uses are treated (R's drop.unused.levels).
struct FrameOptions {
  // Drop them before the contrasts are built, as R's glm does (coxph keeps them).
  bool drop_unused_levels = false;
  // The levels to keep, by factor variable (its deparsed expression), so that every site of a
  // federated fit builds the same design: a glm's are the levels some site uses, a coxph's all
  // the levels of any site (factor(x) of a number has the values of the site's rows).
  std::map<std::string, std::vector<std::string>> levels;
  // A factor event (its first level censoring, each other a cause) is allowed in a Cox frame
  // (Fine–Gray's; survfit's groups frames always allow it).
  bool competing_events = false;
  // Case weights (R's weights =): an expression of the table, positive and finite; rows where
  // it is missing are dropped as for any variable of the formula. Empty: none.
  std::string weights;
  // Case weights given as values, one per row of the table (NaN: missing), e.g. propensity
  // weights; used when `weights` is empty.
  std::vector<double> weight_values;
  // Expressions that must not be missing either (a propensity score's covariates: the rows
  // complete for both models).
  std::vector<std::string> complete_in;
  // How a numeric event is coded: found from its values (0/1, else 1/2 as R's Surv()), or as
  // the whole table's values gave it to a slice of its rows (ForEachFrameSlice).
  enum class EventCoding { kFromValues, kZeroOne, kOneTwo } event_coding = EventCoding::kFromValues;
  // The table is a slice of a larger one starting at its row `first_row` (ForEachFrameSlice):
  // the frame's rows, and the rows its messages name, are the larger table's, and a slice may
  // leave no row.
  size_t first_row = 0;
  bool slice = false;
};

struct ModelFrame {
  size_t n = 0;              // rows used
  size_t n_subset_out = 0;   // rows the subset excluded
  size_t n_omitted_na = 0;   // rows dropped for a missing value (after the subset)
  std::vector<size_t> rows;  // the rows used, as indices into the table

  // Response.
  std::vector<double> y;       // kRegression
  std::vector<double> start;   // Surv(start, stop, event); empty for right-censored data
  std::vector<double> time;    // survival or stop time
  std::vector<double> status;  // 1 event, 0 censored; competing events: 1..causes
  // Competing events (survfit with a factor event): the factor's levels, the first censoring,
  // each other a cause (status k is level k). Empty for a single kind of event.
  std::vector<std::string> event_levels;

  // Design (column-major, n rows x coef_names.size() columns).
  std::vector<std::string> coef_names;
  std::vector<std::string> column_terms;  // each column's term label (R's assign)
  std::vector<double> x;
  bool intercept = false;

  std::vector<double> offset;   // empty: none
  std::vector<double> weights;  // empty: none (each row weighs 1)
  // Strata: codes 0..strata_labels.size()-1; empty codes: one stratum.
  std::vector<int32_t> strata;
  std::vector<std::string> strata_labels;  // "sex=1", "inst=3, sex=2"
  std::vector<int32_t> cluster;            // empty: none
  // kGroups: group codes and R's labels ("trt=1"; "all" for ~ 1).
  std::vector<int32_t> group;
  std::vector<std::string> group_labels;
  // Each stratum's and group's place among those of every slice of a table: per variable, its
  // level's code (a factor keeps the table's levels) or its value (a number, a logical).
  // Ordered by them, the slices' groups are the whole table's, in its order.
  std::vector<std::vector<double>> strata_keys, group_keys;

  // The factor variables of the terms: all their levels (before any is dropped), and the levels
  // the frame's rows use, in level order.
  std::map<std::string, std::vector<std::string>> all_levels, used_levels;

  size_t p() const { return coef_names.size(); }
  double X(size_t row, size_t col) const { return x[col * n + row]; }
};

// Builds the model frame: evaluates the subset (rows where it is TRUE), then every variable of
// the formula, drops rows with a missing value, and expands factors into treatment contrasts
// named as R names them (celltypesmallcell, factor(x)2, rx:sex). An event given as a logical
// (status == 2) or as 0/1 (or 1/2, R's Surv convention) becomes 0/1.
// InvalidArgument for anything the formula cannot mean on this table.
Result<ModelFrame> BuildModelFrame(const Formula& formula, const data::Table& table, ModelKind kind,
                                   const std::string& subset, const FrameOptions& options = {});

// The error of a frame left without a row by its subset and missing values.
Status NoRowsLeft(const Formula& formula);

// The rows a slice of a frame holds.
inline constexpr size_t kSliceRows = 65536;

// A table's model frame cut into slices of rows (PlanFrameSlices), so that the memory a frame
// takes is a slice's: the slices' size and count, and the options each is built with.
struct FrameSlices {
  size_t slice_rows = 0;  // the whole table's rows when there is one slice
  size_t count = 0;
  FrameOptions options;
};
// Plans the slices of `slice_rows` rows of the frame BuildModelFrame would build (the whole
// table at once when it has no more rows), each slice's frame built on its own so that between
// them they hold the whole frame's rows, values, counts and groups: their rows numbered in
// `table`, their designs with the same columns (a factor's levels are its column's, or those
// asked for), their groups ordered by group_keys and strata_keys. A numeric event's coding (0/1
// or 1/2) is taken from the whole table first. The whole table is one slice for a frame with
// cluster() (a cluster's code is its place among the values present), when unused levels are
// dropped (which levels some row uses), or when factor() or relevel()
// appear (levels from the values present). InvalidArgument as BuildModelFrame.
Result<FrameSlices> PlanFrameSlices(const Formula& formula, const data::Table& table,
                                    const std::string& subset, FrameOptions options,
                                    size_t slice_rows = kSliceRows);
// The frame of slice `slice` of `plan` (it may hold no row). InvalidArgument as BuildModelFrame.
Result<ModelFrame> BuildFrameSlice(const Formula& formula, const data::Table& table, ModelKind kind,
                                   const std::string& subset, const FrameSlices& plan,
                                   size_t slice);
// Each slice's frame given to `take`, in order; InvalidArgument when no slice keeps a row.
Status ForEachFrameSlice(const Formula& formula, const data::Table& table, ModelKind kind,
                         const std::string& subset, FrameOptions options, size_t slice_rows,
                         const std::function<Status(ModelFrame& frame)>& take);

}  // namespace passerelle::formula

#endif  // PASSERELLE_FORMULA_MODEL_H_
