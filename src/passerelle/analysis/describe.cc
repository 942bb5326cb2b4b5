#include "passerelle/analysis/describe.h"

#include "passerelle/stats/summary.h"

namespace passerelle::analysis {

std::vector<VariableDescription> Describe(const data::Table& table) {
  std::vector<size_t> rows(table.rows);
  for (size_t i = 0; i < table.rows; ++i) rows[i] = i;
  return Describe(table, rows);
}

std::vector<VariableDescription> Describe(const data::Table& table, std::span<const size_t> rows) {
  std::vector<VariableDescription> out;
  for (const data::Column& column : table.columns) {
    VariableDescription d;
    d.name = column.variable.name;
    d.type = column.variable.type;
    if (column.is_numeric()) {
      std::vector<double> values;
      values.reserve(rows.size());
      for (size_t r : rows) values.push_back(column.Number(r));
      const stats::NumericSummary s = stats::Summarize(values);
      d.n = s.n;
      d.missing = s.missing;
      if (d.type != data::VarType::kDate) {
        d.mean = s.mean;
        d.sd = s.sd;
      }
    } else if (d.type == data::VarType::kCategory) {
      std::vector<size_t> counts(column.levels.size(), 0);
      for (size_t r : rows) {
        const int32_t code = column.codes[r];
        if (code < 0) {
          ++d.missing;
        } else {
          ++counts[code];
          ++d.n;
        }
      }
      for (size_t i = 0; i < counts.size(); ++i) d.levels.emplace_back(column.levels[i], counts[i]);
    } else {
      for (size_t r : rows) ++(column.text_missing[r] ? d.missing : d.n);
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace passerelle::analysis
