#include "passerelle/base/text.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace passerelle {

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsValidName(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;  // PostgreSQL keeps 63 bytes of a name
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(s[0])) return false;
  for (char c : s) {
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '_' && c != '.') return false;
  }
  return true;
}

std::optional<size_t> FindInvalidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    // ASCII fast path, eight bytes at a time.
    while (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      if (word & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned min_code;
    unsigned code;
    if ((c & 0xE0) == 0xC0) {
      len = 2, min_code = 0x80, code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min_code = 0x800, code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min_code = 0x10000, code = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
      code = (code << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    if (code < min_code || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return i;
    i += len;
  }
  return std::nullopt;
}

std::string QuoteCell(std::string_view s) {
  constexpr size_t kMax = 40;
  size_t end = std::min(s.size(), kMax);
  // Not in the middle of a UTF-8 character.
  while (end < s.size() && end > 0 && (static_cast<unsigned char>(s[end]) & 0xc0) == 0x80) --end;
  std::string out = "\"";
  const std::string_view shown = s.substr(0, end);
  for (size_t i = 0; i < shown.size(); ++i) {
    const auto b = static_cast<unsigned char>(shown[i]);
    const auto at = [&shown, i](size_t k) {
      return i + k < shown.size() ? static_cast<unsigned char>(shown[i + k]) : 0;
    };
    // A control byte (a NUL would end the message where it is printed), or a byte that begins
    // no UTF-8 character (text that is not UTF-8), as its value.
    const size_t n = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
    if (b < 0x20 || b == 0x7f || n == 0 || i + n > shown.size() ||
        FindInvalidUtf8(shown.substr(i, n))) {
      out += "\\x" + HexEncode(shown.substr(i, 1));
      continue;
    }
    // C1 controls (U+0080 to U+009F) and the marks that turn text around (U+200E, U+200F,
    // U+202A to U+202E, U+2066 to U+2069) would rewrite the message on a terminal: as \uXXXX.
    // Any other character as it is.
    const bool c1 = b == 0xC2 && at(1) <= 0x9F;
    const bool turning =
        b == 0xE2 &&
        ((at(1) == 0x80 && (at(2) == 0x8E || at(2) == 0x8F || (at(2) >= 0xAA && at(2) <= 0xAE))) ||
         (at(1) == 0x81 && at(2) >= 0xA6 && at(2) <= 0xA9));
    if (c1 || turning) {
      const uint32_t code = c1 ? at(1) : 0x2000 | (at(1) & 0x3F) << 6 | (at(2) & 0x3F);
      const char unit[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
      out += "\\u" + HexEncode(std::string_view(unit, 2));
    } else {
      out.append(shown.substr(i, n));
    }
    i += n - 1;
  }
  if (end < s.size()) out.append("...");
  out.push_back('"');
  return out;
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out.append(separator);
    out.append(parts[i]);
  }
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 15]);
  }
  return hex;
}

std::string FormatNumber(double value, int digits) {
  if (std::isnan(value)) return "NA";
  if (std::isinf(value)) return value > 0 ? "Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, value);
  return buf;
}

}  // namespace passerelle
