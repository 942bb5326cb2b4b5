// Typed values of one cell, and the parsing of numbers as exported by spreadsheets
// (optionally with a decimal comma, as French Excel writes them).
#ifndef PASSERELLE_DATA_VALUE_H_
#define PASSERELLE_DATA_VALUE_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace passerelle::data {

enum class VarType {
  kInteger,     // whole numbers
  kNumber,      // real numbers
  kDate,        // calendar dates, stored as yyyy-mm-dd, never released
  kCategory,    // one of a set of levels
  kIdentifier,  // a patient or record identifier: never released
  kText,        // free text: never released
};

std::string_view VarTypeName(VarType type);
std::optional<VarType> VarTypeFromName(std::string_view name);

// A cell after conversion to its variable's type. Text views point into the CSV record or
// into static storage, so a Value lives no longer than the record it came from.
struct Value {
  bool missing = true;
  int64_t integer = 0;    // kInteger; kDate as days since 1970-01-01
  double number = 0;      // kNumber
  std::string_view text;  // kCategory, kIdentifier, kText
  int32_t level = -1;     // kCategory: index into the variable's levels, when it has them

  static Value Missing() { return Value(); }
  static Value Integer(int64_t v) { return Value{false, v, 0, {}, -1}; }
  static Value Number(double v) { return Value{false, 0, v, {}, -1}; }
  static Value Text(std::string_view v, int32_t level = -1) { return Value{false, 0, 0, v, level}; }
};

// True for an empty cell or R's "NA".
inline bool IsMissingCell(std::string_view cell) { return cell.empty() || cell == "NA"; }

// Whole numbers, optionally signed; surrounding spaces allowed.
std::optional<int64_t> ParseInteger(std::string_view cell);
// Finite decimal numbers ("1.5", "-2e-3"; "1,5" when decimal_comma). No inf or nan.
std::optional<double> ParseNumber(std::string_view cell, bool decimal_comma);

}  // namespace passerelle::data

#endif  // PASSERELLE_DATA_VALUE_H_
