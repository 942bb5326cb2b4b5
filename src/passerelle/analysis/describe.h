// The describe analysis: per-variable summaries of a dataset (n, missing, mean and SD, or level
// counts). Dates, identifiers and free text are only counted.
#ifndef PASSERELLE_ANALYSIS_DESCRIBE_H_
#define PASSERELLE_ANALYSIS_DESCRIBE_H_

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "passerelle/data/table.h"

namespace passerelle::analysis {

struct VariableDescription {
  std::string name;
  data::VarType type = data::VarType::kText;
  size_t n = 0;  // non-missing
  size_t missing = 0;
  double mean = 0;                                     // integer and number; NaN when n == 0
  double sd = 0;                                       // integer and number; NaN when n < 2
  std::vector<std::pair<std::string, size_t>> levels;  // category: count per level, in order
};

std::vector<VariableDescription> Describe(const data::Table& table);
// The same over some rows of the table (a subset).
std::vector<VariableDescription> Describe(const data::Table& table, std::span<const size_t> rows);

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_DESCRIBE_H_
