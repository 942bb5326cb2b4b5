// A dataset held in memory as typed columns: what analyses and summaries read. Numbers (and
// dates, as days) are doubles with NaN for missing; categories are codes into their levels.
#ifndef PASSERELLE_DATA_TABLE_H_
#define PASSERELLE_DATA_TABLE_H_

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/data/dictionary.h"

namespace passerelle::data {

// Whole numbers in as few bytes a row as the widest of them needs: 1, 2 or 4 (the least value
// of a width marks a missing one).
class IntegerValues {
 public:
  size_t size() const { return width_ == 1 ? i8_.size() : width_ == 2 ? i16_.size() : i32_.size(); }
  bool Missing(size_t row) const { return Held(row) == Least(width_); }
  int32_t At(size_t row) const { return Held(row); }
  // Room for `rows` values of one byte.
  void Reserve(size_t rows) { i8_.reserve(rows); }
  // Appends v; false, and nothing appended, when v is not a whole number of 32 bits.
  bool Push(double v);
  void PushMissing() { Append(Least(width_)); }
  IntegerValues Slice(size_t begin, size_t end) const;
  void Extend(const IntegerValues& more);

 private:
  static int32_t Least(int width) {
    return width == 1 ? INT8_MIN : width == 2 ? INT16_MIN : INT32_MIN;
  }
  int32_t Held(size_t row) const {
    return width_ == 1 ? i8_[row] : width_ == 2 ? i16_[row] : i32_[row];
  }
  void Append(int32_t v);  // REQUIRES: v fits the width
  void Widen(int width);   // missing values stay missing

  int width_ = 1;
  std::vector<int8_t> i8_;
  std::vector<int16_t> i16_;
  std::vector<int32_t> i32_;
};

struct Column {
  Variable variable;
  // Integer, number, date (days since 1970-01-01); NaN = missing. A row's number is Number(row).
  std::vector<double> numbers;
  // Or, when `integral`, an integer or date column whose every value is a whole number of 32
  // bits, held in the bytes its values need (as R holds its integers in 4).
  IntegerValues integers;
  bool integral = false;
  std::vector<int32_t> codes;       // category: index into levels; -1 = missing
  std::vector<std::string> levels;  // category: the dictionary's order, or sorted byte order
  std::vector<std::string> texts;   // identifier, text
  std::vector<uint8_t> text_missing;

  bool is_numeric() const {
    return variable.type == VarType::kInteger || variable.type == VarType::kNumber ||
           variable.type == VarType::kDate;
  }
  double Number(size_t row) const {
    if (!integral) return numbers[row];
    return integers.Missing(row) ? std::nan("") : integers.At(row);
  }
  // Every row's number.
  std::vector<double> Numbers() const;
  // Held as `numbers` from now on.
  void ToNumbers();
  bool IsMissing(size_t row) const {
    if (integral) return integers.Missing(row);
    if (is_numeric()) return std::isnan(numbers[row]);
    if (variable.type == VarType::kCategory) return codes[row] < 0;
    return text_missing[row] != 0;
  }
};

struct Table;
// Who each row is, for the site's release ledger (store/cohort_ledger.h): the value of the first
// identifier variable, or, in a dataset without one (or a row missing it), the row's values.
// Distinct within the table: a repeat is told apart by its occurrence ("#2").
std::vector<std::string> RecordIdentities(const Table& table);

struct Table {
  std::vector<Column> columns;
  size_t rows = 0;
  // nullptr when there is no such column.
  const Column* Find(std::string_view name) const;
};

// The rows of `b` under those of `a`, as R's rbind: the same variables (by name, in a's order)
// and types; a category's levels are a's followed by b's new ones. InvalidArgument naming the
// variable when the tables do not match.
Result<Table> StackTables(Table a, const Table& b);

// Rows [begin, end) of `table`, every column.
Table SliceRows(const Table& table, size_t begin, size_t end);

// Builds one column row by row.
class ColumnBuilder {
 public:
  // `rows`: how many are coming, when it is known (the column is sized once).
  explicit ColumnBuilder(Variable variable, size_t rows = 0);
  void AddMissing();
  void AddNumber(double value);          // integer, number, date
  void AddText(std::string_view value);  // category, identifier, text
  // The finished column; open categories get their levels in sorted byte order.
  Column Finish();

 private:
  Column column_;
  std::unordered_map<std::string, int32_t> level_code_;
};

}  // namespace passerelle::data

#endif  // PASSERELLE_DATA_TABLE_H_
