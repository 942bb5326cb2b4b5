#include "passerelle/data/value.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
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

namespace {

// Most cells are a sign, digits and a decimal separator, whose digits make an integer of at
// most 2^53 (R writes 15 significant digits): their value is that integer divided by a power
// of ten up to 10^22, both exact in a double, and one IEEE division rounds the exact quotient
// correctly (Clinger's fast path) — the same double as from_chars. Anything else (more digits,
// an exponent, spaces): nullopt, for the general path.
// Digits are read eight bytes at a time (a little-endian load: the first byte lowest), without
// a loop over single digits: the count of digits leading a chunk comes from a mask, their value
// from three multiplications.
uint64_t Load(const char* p) {
  uint64_t chunk;
  std::memcpy(&chunk, p, 8);
  return chunk;
}

// How many of the chunk's bytes, from the first, are ASCII digits (0 to 8).
int LeadingDigits(uint64_t chunk) {
  const uint64_t x = chunk ^ 0x3030303030303030;  // a digit's byte is now 0..9
  // The top bit of each byte above 9 (no carry crosses a byte: 0x7F + 0x76 < 0x100).
  const uint64_t above_nine =
      (((x & 0x7F7F7F7F7F7F7F7F) + 0x7676767676767676) | x) & 0x8080808080808080;
  return above_nine == 0 ? 8 : std::countr_zero(above_nine) / 8;
}

// The value of the chunk's first `n` bytes (1 to 8), each a digit. A borrow of the subtraction
// only moves towards the later bytes, which the shift drops.
uint64_t DigitsValue(uint64_t chunk, int n) {
  chunk = (chunk - 0x3030303030303030) << (8 * (8 - n));  // zeros first: the value is the same
  chunk = chunk * 10 + (chunk >> 8);                      // pairs of digits, in every other byte
  return (((chunk & 0x000000FF000000FF) * (100 + (1000000ULL << 32))) +
          (((chunk >> 16) & 0x000000FF000000FF) * (1 + (10000ULL << 32)))) >>
         32;
}

// The digits from `p` on, appended to `digits`; returns where they end. The cell is [begin,
// end): fewer than eight bytes before its end are read as the last eight bytes of the cell,
// shifted (zero bytes, never digits, come in after its end); a cell shorter than eight bytes
// is read byte by byte.
const char* Digits(const char* begin, const char* p, const char* end, uint64_t& digits) {
  static constexpr uint64_t kScale[] = {1,      10,      100,      1000,     10000,
                                        100000, 1000000, 10000000, 100000000};
  uint64_t value = digits;
  while (p < end) {
    const size_t left = static_cast<size_t>(end - p);
    uint64_t chunk;
    if (left >= 8) {
      chunk = Load(p);
    } else if (end - begin >= 8) {
      chunk = Load(end - 8) >> (8 * (8 - left));
    } else {
      while (p < end && static_cast<unsigned>(*p - '0') < 10) {
        value = value * 10 + static_cast<unsigned>(*p++ - '0');
      }
      break;
    }
    const int n = LeadingDigits(chunk);
    if (n == 0) break;
    value = value * kScale[n] + DigitsValue(chunk, n);  // wraps past 19 digits: refused anyway
    p += n;
    if (n < 8) break;
  }
  digits = value;
  return p;
}

std::optional<double> PlainDecimal(std::string_view cell, char separator) {
  static constexpr double kPowers[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const char* const begin = cell.data();
  const char* p = begin;
  const char* const end = p + cell.size();
  const bool negative = p < end && *p == '-';
  if (negative) ++p;
  if (end - p > 20) return std::nullopt;  // 19 digits and the separator at most: no overflow
  uint64_t digits = 0;
  const char* const whole = p;
  p = Digits(begin, p, end, digits);
  size_t count = static_cast<size_t>(p - whole), scale = 0;
  if (p < end && *p == separator) {
    const char* const fraction = ++p;
    p = Digits(begin, p, end, digits);
    scale = static_cast<size_t>(p - fraction);
    count += scale;
  }
  if (p != end || count == 0 || count > 19 || digits > (uint64_t{1} << 53) || scale > 22) {
    return std::nullopt;
  }
  const double value = static_cast<double>(digits) / kPowers[scale];
  return negative ? -value : value;
}

}  // namespace

std::optional<double> ParseNumber(std::string_view cell, bool decimal_comma) {
  if (std::optional<double> plain = PlainDecimal(cell, decimal_comma ? ',' : '.')) return plain;
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
