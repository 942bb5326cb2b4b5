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

struct Column {
  Variable variable;
  // Integer, number, date (days since 1970-01-01); NaN = missing. A row's number is Number(row).
  std::vector<double> numbers;
  // Or, when `integral`, an integer or date column whose every value is a whole number of 32
  // bits, held in 4 bytes a row as R holds its integers (kMissingInteger = missing).
  std::vector<int32_t> integers;
  bool integral = false;
  static constexpr int32_t kMissingInteger = INT32_MIN;
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
    return integers[row] == kMissingInteger ? std::nan("") : integers[row];
  }
  // Every row's number.
  std::vector<double> Numbers() const;
  // Held as `numbers` from now on.
  void ToNumbers();
  bool IsMissing(size_t row) const {
    if (integral) return integers[row] == kMissingInteger;
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
