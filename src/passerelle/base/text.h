// Small string helpers shared by the parsers and the table printers.
#ifndef PASSERELLE_BASE_TEXT_H_
#define PASSERELLE_BASE_TEXT_H_

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace passerelle {

std::string_view TrimSpaces(std::string_view s);
// True when `s` is a name usable for a variable or a dataset: a letter, then letters, digits,
// '_' or '.', at most 63 characters (R's syntactic names, minus the leading dot; PostgreSQL
// keeps 63 bytes of a name).
bool IsValidName(std::string_view s);
// What IsValidName asks, for messages.
inline constexpr char kValidNameRule[] =
    "a letter, then letters, digits, '_' or '.', at most 63 characters";
// Byte offset of the first byte that breaks UTF-8 in `s`, or nullopt when `s` is valid UTF-8.
std::optional<size_t> FindInvalidUtf8(std::string_view s);
// Quotes `s` for display in an error message: "abc", with long cells shortened (between two
// characters), control bytes written \xNN, and C1 controls and the marks that turn text around
// \uNNNN.
std::string QuoteCell(std::string_view s);
// Joins with a separator.
std::string Join(const std::vector<std::string>& parts, std::string_view separator);
// Lowercase hexadecimal of raw bytes.
std::string HexEncode(std::string_view bytes);
// `text` with ASCII letters in lower case, other bytes as they are (header names, extensions).
inline std::string AsciiLower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower;
}

// Number formatting for people: `digits` significant digits, no trailing zeros.
std::string FormatNumber(double value, int digits = 6);

// Eight bytes standing for `s`: two texts of the same length up to 8 bytes have the same key
// only when they are equal; a longer text's key is its first eight bytes. A quick first
// comparison of short texts (a category's levels), read in at most two loads.
inline uint64_t ShortKey(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  uint64_t key = 0;
  if (n >= 8) {
    std::memcpy(&key, p, 8);
  } else if (n >= 4) {
    uint32_t low, high;  // overlapping when n < 8: the length says how
    std::memcpy(&low, p, 4);
    std::memcpy(&high, p + n - 4, 4);
    key = uint64_t{low} | uint64_t{high} << 32;
  } else if (n > 0) {
    key = uint64_t{p[0]} | uint64_t{p[n / 2]} << 8 | uint64_t{p[n - 1]} << 16;
  }
  return key;
}

}  // namespace passerelle

#endif  // PASSERELLE_BASE_TEXT_H_
