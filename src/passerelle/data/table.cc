#include "passerelle/data/table.h"

#include <algorithm>
#include <limits>

namespace passerelle::data {

const Column* Table::Find(std::string_view name) const {
  for (const Column& c : columns) {
    if (c.variable.name == name) return &c;
  }
  return nullptr;
}

ColumnBuilder::ColumnBuilder(Variable variable) {
  column_.variable = std::move(variable);
  column_.levels = column_.variable.levels;
  for (size_t i = 0; i < column_.levels.size(); ++i) {
    level_code_.emplace(column_.levels[i], static_cast<int32_t>(i));
  }
}

void ColumnBuilder::AddMissing() {
  if (column_.is_numeric()) {
    column_.numbers.push_back(std::numeric_limits<double>::quiet_NaN());
  } else if (column_.variable.type == VarType::kCategory) {
    column_.codes.push_back(-1);
  } else {
    column_.texts.emplace_back();
    column_.text_missing.push_back(1);
  }
}

void ColumnBuilder::AddNumber(double value) { column_.numbers.push_back(value); }

void ColumnBuilder::AddText(std::string_view value) {
  if (column_.variable.type != VarType::kCategory) {
    column_.texts.emplace_back(value);
    column_.text_missing.push_back(0);
    return;
  }
  auto [it, added] =
      level_code_.try_emplace(std::string(value), static_cast<int32_t>(column_.levels.size()));
  if (added) column_.levels.emplace_back(value);
  column_.codes.push_back(it->second);
}

Column ColumnBuilder::Finish() {
  if (column_.variable.type == VarType::kCategory && column_.variable.levels.empty()) {
    std::vector<std::string> sorted = column_.levels;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int32_t> remap(sorted.size());
    for (size_t i = 0; i < sorted.size(); ++i)
      remap[level_code_[sorted[i]]] = static_cast<int32_t>(i);
    for (int32_t& code : column_.codes) {
      if (code >= 0) code = remap[code];
    }
    column_.levels = std::move(sorted);
  }
  return std::move(column_);
}

}  // namespace passerelle::data
