#include "passerelle/data/value.h"

#include <charconv>
#include <cmath>
#include <string>

#include "passerelle/base/text.h"

namespace passerelle::data {

std::string_view VarTypeName(VarType type) {
  switch (type) {
    case VarType::kInteger:
      return "integer";
    case VarType::kNumber:
      return "number";
    case VarType::kDate:
      return "date";
    case VarType::kCategory:
      return "category";
    case VarType::kIdentifier:
      return "identifier";
    case VarType::kText:
      return "text";
  }
  return "text";
}

std::optional<VarType> VarTypeFromName(std::string_view name) {
  for (VarType t : {VarType::kInteger, VarType::kNumber, VarType::kDate, VarType::kCategory,
                    VarType::kIdentifier, VarType::kText}) {
    if (VarTypeName(t) == name) return t;
  }
  return std::nullopt;
}

std::optional<int64_t> ParseInteger(std::string_view cell) {
  cell = TrimSpaces(cell);
  if (!cell.empty() && cell[0] == '+') cell.remove_prefix(1);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  if (ec != std::errc() || end != cell.data() + cell.size() || cell.empty()) return std::nullopt;
  return value;
}

std::optional<double> ParseNumber(std::string_view cell, bool decimal_comma) {
  // Most cells: a few digits, nothing else. Exact: fewer than 16 digits are below 2^53.
  if (!cell.empty() && cell.size() < 16) {
    int64_t whole = 0;
    size_t i = 0;
    for (; i < cell.size() && cell[i] >= '0' && cell[i] <= '9'; ++i) {
      whole = whole * 10 + (cell[i] - '0');
    }
    if (i == cell.size()) return static_cast<double>(whole);
  }
  cell = TrimSpaces(cell);
  if (!cell.empty() && cell[0] == '+') cell.remove_prefix(1);
  if (cell.empty()) return std::nullopt;
  // from_chars would accept "inf" and "nan"; a measurement never is either.
  const char first = cell[0] == '-' && cell.size() > 1 ? cell[1] : cell[0];
  if (!((first >= '0' && first <= '9') || first == '.' || (decimal_comma && first == ','))) {
    return std::nullopt;
  }
  std::string converted;
  if (decimal_comma) {
    if (cell.find('.') != std::string_view::npos) return std::nullopt;
    converted.assign(cell);
    for (char& c : converted) {
      if (c == ',') c = '.';
    }
    cell = converted;
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  if (ec != std::errc() || end != cell.data() + cell.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

}  // namespace passerelle::data
