#include "passerelle/analysis/describe.h"

#include "passerelle/stats/summary.h"

namespace passerelle::analysis {

std::vector<VariableDescription> Describe(const data::Table& table) {
  std::vector<VariableDescription> out;
  for (const data::Column& column : table.columns) {
    VariableDescription d;
    d.name = column.variable.name;
    d.type = column.variable.type;
    if (column.is_numeric()) {
      const stats::NumericSummary s = stats::Summarize(column.numbers);
      d.n = s.n;
      d.missing = s.missing;
      if (d.type != data::VarType::kDate) {
        d.mean = s.mean;
        d.sd = s.sd;
      }
    } else if (d.type == data::VarType::kCategory) {
      std::vector<size_t> counts(column.levels.size(), 0);
      for (int32_t code : column.codes) {
        if (code < 0) {
          ++d.missing;
        } else {
          ++counts[code];
          ++d.n;
        }
      }
      for (size_t i = 0; i < counts.size(); ++i) d.levels.emplace_back(column.levels[i], counts[i]);
    } else {
      for (uint8_t m : column.text_missing) ++(m ? d.missing : d.n);
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace passerelle::analysis
