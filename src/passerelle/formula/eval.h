// Evaluates R expressions over a table, element by element, with R's rules for missing values
// (NA propagates through arithmetic and comparisons; FALSE & NA is FALSE; TRUE | NA is TRUE;
// x %in% set is never NA). One expression language serves subsets, I() terms and event codings.
#ifndef PASSERELLE_FORMULA_EVAL_H_
#define PASSERELLE_FORMULA_EVAL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/data/table.h"
#include "passerelle/formula/expr.h"

namespace passerelle::formula {

// A column of values, or a single value (size 1) that broadcasts.
struct Vector {
  enum class Type { kNumeric, kLogical, kFactor };
  Type type = Type::kNumeric;
  std::vector<double> values;       // numeric; logical as 0/1; NaN = NA
  std::vector<int32_t> codes;       // factor: index into levels; -1 = NA
  std::vector<std::string> levels;  // factor: in order (the first is the reference level)

  size_t size() const { return type == Type::kFactor ? codes.size() : values.size(); }
  bool IsNA(size_t i) const {
    const size_t k = size() == 1 ? 0 : i;
    return type == Type::kFactor ? codes[k] < 0 : values[k] != values[k];
  }
};

// Evaluates `expr` on every row of `table`. InvalidArgument for an unknown variable or
// function, a type mismatch (arithmetic on a category, comparing a category with <), or
// vectors of different lengths. `what` names the input in messages ("subset", "formula").
// Functions: log, log2, log10, exp, sqrt, abs, is.na, c, I, factor, relevel, as.numeric.
Result<Vector> Evaluate(const Expr& expr, const data::Table& table, std::string_view what);

// Turns a vector into a factor: factors unchanged; numbers as R's factor() (sorted unique
// values, printed with 15 significant digits); logicals as FALSE, TRUE.
Vector AsFactor(const Vector& v);

// R's as.character() of a number: 15 significant digits, no trailing zeros ("1", "0.5").
std::string FormatRNumber(double x);

}  // namespace passerelle::formula

#endif  // PASSERELLE_FORMULA_EVAL_H_
