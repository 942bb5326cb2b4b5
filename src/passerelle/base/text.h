// Small string helpers shared by the parsers and the table printers.
#ifndef PASSERELLE_BASE_TEXT_H_
#define PASSERELLE_BASE_TEXT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace passerelle {

std::string_view TrimSpaces(std::string_view s);
// True when `s` is a name usable for a variable or a dataset: a letter, then letters, digits,
// '_' or '.', at most 64 characters (R's syntactic names, minus the leading dot).
bool IsValidName(std::string_view s);
// Byte offset of the first byte that breaks UTF-8 in `s`, or nullopt when `s` is valid UTF-8.
std::optional<size_t> FindInvalidUtf8(std::string_view s);
// Quotes `s` for display in an error message: "abc", with long cells shortened.
std::string QuoteCell(std::string_view s);
// Joins with a separator.
std::string Join(const std::vector<std::string>& parts, std::string_view separator);
// Lowercase hexadecimal of raw bytes.
std::string HexEncode(std::string_view bytes);
// Number formatting for people: `digits` significant digits, no trailing zeros.
std::string FormatNumber(double value, int digits = 6);

}  // namespace passerelle

#endif  // PASSERELLE_BASE_TEXT_H_
