#include "passerelle/data/table.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <type_traits>
#include <unordered_map>

namespace passerelle::data {

const Column* Table::Find(std::string_view name) const {
  for (const Column& c : columns) {
    if (c.variable.name == name) return &c;
  }
  return nullptr;
}

std::vector<std::string> RecordIdentities(const Table& table) {
  const Column* id = nullptr;
  for (auto& c : table.columns) {
    if (c.variable.type == VarType::kIdentifier) {
      id = &c;
      break;
    }
  }
  std::vector<std::string> out(table.rows);
  for (size_t r = 0; r < table.rows; ++r) {
    std::string& who = out[r];
    if (id && !id->IsMissing(r)) {
      who = "id:" + id->texts[r];
    } else {
      who = "row";
      for (const Column& c : table.columns) {
        who += '\x1f';
        if (c.IsMissing(r)) continue;
        if (c.is_numeric()) {
          char number[32];
          std::snprintf(number, sizeof number, "%.17g", c.Number(r));
          who += number;
        } else if (c.variable.type == VarType::kCategory) {
          who += c.levels[static_cast<size_t>(c.codes[r])];
        } else {
          who += c.texts[r];
        }
      }
    }
  }
  // A repeat told apart by its occurrence, in the order of the rows: the rows sorted by
  // identity (4 bytes a row, where a hash table would take ten times that).
  std::vector<uint32_t> order(table.rows);
  for (size_t r = 0; r < table.rows; ++r) order[r] = static_cast<uint32_t>(r);
  std::stable_sort(order.begin(), order.end(),
                   [&out](uint32_t a, uint32_t b) { return out[a] < out[b]; });
  for (size_t k = 1, first = 0; k < order.size(); ++k) {
    if (out[order[k]] != out[order[first]]) {
      first = k;
    } else {
      out[order[k]] += "#" + std::to_string(k - first + 1);
    }
  }
  return out;
}

bool IntegerValues::Push(double v) {
  if (!(v == std::trunc(v) && v > INT32_MIN && v <= INT32_MAX)) return false;
  const auto x = static_cast<int32_t>(v);
  const int needed = x > INT8_MIN && x <= INT8_MAX ? 1 : x > INT16_MIN && x <= INT16_MAX ? 2 : 4;
  if (needed > width_) Widen(needed);
  Append(x);
  return true;
}

void IntegerValues::Append(int32_t v) {
  if (width_ == 1) {
    i8_.push_back(static_cast<int8_t>(v));
  } else if (width_ == 2) {
    i16_.push_back(static_cast<int16_t>(v));
  } else {
    i32_.push_back(v);
  }
}

void IntegerValues::Widen(int width) {
  IntegerValues wider;
  wider.width_ = width;
  const size_t n = size();
  if (width == 2) wider.i16_.reserve(std::max(n + 1, i8_.capacity()));
  if (width == 4) wider.i32_.reserve(std::max(n + 1, std::max(i8_.capacity(), i16_.capacity())));
  for (size_t r = 0; r < n; ++r) wider.Append(Missing(r) ? Least(width) : At(r));
  *this = std::move(wider);
}

IntegerValues IntegerValues::Slice(size_t begin, size_t end) const {
  IntegerValues out;
  out.width_ = width_;
  const auto part = [&](const auto& v) {
    using Values = std::decay_t<decltype(v)>;
    return v.empty() ? Values() : Values(v.begin() + begin, v.begin() + end);
  };
  if (width_ == 1) out.i8_ = part(i8_);
  if (width_ == 2) out.i16_ = part(i16_);
  if (width_ == 4) out.i32_ = part(i32_);
  return out;
}

void IntegerValues::Extend(const IntegerValues& more) {
  if (more.width_ > width_) Widen(more.width_);
  for (size_t r = 0; r < more.size(); ++r) Append(more.Missing(r) ? Least(width_) : more.At(r));
}

std::vector<double> Column::Numbers() const {
  if (!integral) return numbers;
  std::vector<double> out(integers.size());
  for (size_t r = 0; r < out.size(); ++r) out[r] = Number(r);
  return out;
}

void Column::ToNumbers() {
  if (!integral) return;
  numbers = Numbers();
  integers = {};
  integral = false;
}

ColumnBuilder::ColumnBuilder(Variable variable, size_t rows) {
  column_.variable = std::move(variable);
  column_.integral =
      column_.variable.type == VarType::kInteger || column_.variable.type == VarType::kDate;
  if (column_.integral) {
    column_.integers.Reserve(rows);
  } else if (column_.is_numeric()) {
    column_.numbers.reserve(rows);
  } else if (column_.variable.type == VarType::kCategory) {
    column_.codes.reserve(rows);
  } else {
    column_.texts.reserve(rows);
    column_.text_missing.reserve(rows);
  }
  column_.levels = column_.variable.levels;
  for (size_t i = 0; i < column_.levels.size(); ++i) {
    level_code_.emplace(column_.levels[i], static_cast<int32_t>(i));
  }
}

void ColumnBuilder::AddMissing() {
  if (column_.integral) {
    column_.integers.PushMissing();
  } else if (column_.is_numeric()) {
    column_.numbers.push_back(std::numeric_limits<double>::quiet_NaN());
  } else if (column_.variable.type == VarType::kCategory) {
    column_.codes.push_back(-1);
  } else {
    column_.texts.emplace_back();
    column_.text_missing.push_back(1);
  }
}

void ColumnBuilder::AddNumber(double value) {
  if (column_.integral && column_.integers.Push(value)) return;
  column_.ToNumbers();  // a value 32 bits do not hold: the column's numbers as doubles
  column_.numbers.push_back(value);
}

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

Table SliceRows(const Table& table, size_t begin, size_t end) {
  Table out;
  out.rows = end - begin;
  const auto part = [begin, end](const auto& values) {
    using Values = std::decay_t<decltype(values)>;
    return values.empty() ? Values() : Values(values.begin() + begin, values.begin() + end);
  };
  for (const Column& c : table.columns) {
    Column& slice = out.columns.emplace_back();
    slice.variable = c.variable;
    slice.levels = c.levels;
    slice.numbers = part(c.numbers);
    if (c.integral) slice.integers = c.integers.Slice(begin, end);
    slice.integral = c.integral;
    slice.codes = part(c.codes);
    slice.texts = part(c.texts);
    slice.text_missing = part(c.text_missing);
  }
  return out;
}

Result<Table> StackTables(Table a, const Table& b) {
  if (a.columns.size() != b.columns.size()) {
    return InvalidArgument("the tables to stack have different variables");
  }
  for (Column& col : a.columns) {
    const Column* other = b.Find(col.variable.name);
    if (!other) return InvalidArgument("variable " + col.variable.name + " is missing in a table");
    if (other->variable.type != col.variable.type) {
      return InvalidArgument("variable " + col.variable.name + " has different types");
    }
    if (col.integral && other->integral) {
      col.integers.Extend(other->integers);
    } else if (col.is_numeric()) {
      col.ToNumbers();
      const std::vector<double> more = other->Numbers();
      col.numbers.insert(col.numbers.end(), more.begin(), more.end());
    } else if (col.variable.type == VarType::kCategory) {
      std::vector<int32_t> recode;
      for (const std::string& level : other->levels) {
        auto it = std::find(col.levels.begin(), col.levels.end(), level);
        if (it == col.levels.end()) it = col.levels.insert(col.levels.end(), level);
        recode.push_back(static_cast<int32_t>(it - col.levels.begin()));
      }
      for (int32_t c : other->codes) col.codes.push_back(c < 0 ? c : recode[c]);
    } else {
      col.texts.insert(col.texts.end(), other->texts.begin(), other->texts.end());
      col.text_missing.insert(col.text_missing.end(), other->text_missing.begin(),
                              other->text_missing.end());
    }
  }
  a.rows += b.rows;
  return a;
}

}  // namespace passerelle::data
