// Numbers read from cells: the fast path for plain decimals gives the same double as the
// general one (from_chars, correctly rounded), whatever the digits.
#include "passerelle/data/value.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cstring>
#include <random>
#include <string>

namespace passerelle::data {
namespace {

std::optional<double> General(const std::string& cell) {
  double value = 0;
  const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  if (ec != std::errc() || end != cell.data() + cell.size()) return std::nullopt;
  return value;
}

TEST(ParseNumber, PlainDecimalsAreTheDoubleFromCharsGives) {
  std::mt19937_64 random(20261130);
  for (int i = 0; i < 300000; ++i) {
    // A sign or none, 1 to 19 digits (leading zeros too), a point anywhere or none.
    std::string cell = random() % 2 ? "-" : "";
    const int digits = 1 + static_cast<int>(random() % 19);
    const int point = static_cast<int>(random() % (digits + 2)) - 1;  // -1: none
    for (int d = 0; d < digits; ++d) {
      if (d == point) cell += '.';
      cell += static_cast<char>('0' + random() % 10);
    }
    if (point == digits) cell += '.';
    const std::optional<double> expected = General(cell);
    const std::optional<double> got = ParseNumber(cell, false);
    ASSERT_EQ(got.has_value(), expected.has_value()) << cell;
    ASSERT_EQ(std::memcmp(&*got, &*expected, sizeof(double)), 0) << cell;  // the same bits
    std::string comma = cell;
    for (char& c : comma) c = c == '.' ? ',' : c;
    const std::optional<double> with_comma = ParseNumber(comma, true);
    ASSERT_TRUE(with_comma.has_value()) << comma;
    ASSERT_EQ(std::memcmp(&*with_comma, &*expected, sizeof(double)), 0) << comma;
  }
}

TEST(ParseNumber, WhatIsNotANumberStaysSo) {
  for (const char* cell : {"", ".", "-", "1.2.3", "1,5", "inf", "nan", "0x10", "1e400", "--1",
                           // a stray byte among digits, in every place an eight-byte read sees
                           "1234567.8x", "12345678x.1", "x12345678.9", "1234.5678/", "1:3456789",
                           "-12345678.123456789.", "123456789012.34 67"}) {
    EXPECT_FALSE(ParseNumber(cell, false).has_value()) << cell;
  }
  // A cell inside a longer line: the bytes after it are not read as its digits.
  const std::string line = "0.123456789,12345";
  EXPECT_EQ(ParseNumber(std::string_view(line).substr(0, 11), false), 0.123456789);
  EXPECT_EQ(ParseNumber(std::string_view(line).substr(12, 3), false), 123.0);
  EXPECT_EQ(ParseNumber("12345678.", false), 12345678.0);
  EXPECT_EQ(ParseNumber("-.5", false), -0.5);
  EXPECT_FALSE(ParseNumber("1.5", true).has_value());
  EXPECT_EQ(ParseNumber(" 2.5e3 ", false), 2500.0);
  EXPECT_EQ(ParseNumber("+7", false), 7.0);
}

}  // namespace
}  // namespace passerelle::data
