#include "passerelle/base/date.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace passerelle {

// Howard Hinnant's days_from_civil / civil_from_days algorithms (public domain), exact for
// every proleptic Gregorian date.
int32_t DaysFromCivil(int year, int month, int day) {
  year -= month <= 2;
  const int era = (year >= 0 ? year : year - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}

CivilDate CivilFromDays(int32_t days) {
  days += 719468;
  const int era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int y = static_cast<int>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {y + (m <= 2), m, d};
}

void FormatIsoDate(int32_t days, char out[10]) {
  const CivilDate c = CivilFromDays(days);
  // Written by hand: imports format millions of dates, and snprintf dominates otherwise.
  const int y = c.year < 0 ? 0 : c.year > 9999 ? 9999 : c.year;
  out[0] = static_cast<char>('0' + y / 1000);
  out[1] = static_cast<char>('0' + y / 100 % 10);
  out[2] = static_cast<char>('0' + y / 10 % 10);
  out[3] = static_cast<char>('0' + y % 10);
  out[4] = '-';
  out[5] = static_cast<char>('0' + c.month / 10);
  out[6] = static_cast<char>('0' + c.month % 10);
  out[7] = '-';
  out[8] = static_cast<char>('0' + c.day / 10);
  out[9] = static_cast<char>('0' + c.day % 10);
}

std::string FormatIsoDate(int32_t days) {
  char buf[10];
  FormatIsoDate(days, buf);
  return std::string(buf, 10);
}

std::string UtcNowIso() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// The years a date may have: a date outside them is a code (9999-12-31 for "no end") or a slip.
constexpr int kFirstYear = 1800, kLastYear = 2300;

bool RealDay(int y, int m, int d) { return m >= 1 && m <= 12 && d >= 1 && d <= DaysInMonth(y, m); }

std::optional<int32_t> Checked(int y, int m, int d) {
  if (y < kFirstYear || y > kLastYear || !RealDay(y, m, d)) return std::nullopt;
  return DaysFromCivil(y, m, d);
}

// Reads between min_digits and max_digits ASCII digits at text[*pos].
bool ReadNumber(std::string_view text, size_t* pos, int min_digits, int max_digits, int* out) {
  int value = 0, n = 0;
  while (*pos < text.size() && n < max_digits && text[*pos] >= '0' && text[*pos] <= '9') {
    value = value * 10 + (text[*pos] - '0');
    ++*pos;
    ++n;
  }
  *out = value;
  return n >= min_digits;
}

}  // namespace

DateFormat::DateFormat() : pattern_("yyyy-mm-dd") {}

Result<DateFormat> DateFormat::Parse(std::string_view pattern) {
  int years = 0, months = 0, days = 0;
  for (size_t i = 0; i < pattern.size();) {
    std::string_view rest = pattern.substr(i);
    if (rest.starts_with("yyyy")) {
      ++years;
      i += 4;
    } else if (rest.starts_with("mm")) {
      ++months;
      i += 2;
    } else if (rest.starts_with("dd")) {
      ++days;
      i += 2;
    } else if (std::string_view("-/. ").find(pattern[i]) != std::string_view::npos) {
      ++i;
    } else {
      return InvalidArgument("date format '" + std::string(pattern) +
                             "': only yyyy, mm, dd and the separators - / . and space are allowed");
    }
  }
  if (years != 1 || months != 1 || days != 1) {
    return InvalidArgument("date format '" + std::string(pattern) +
                           "' must contain yyyy, mm and dd exactly once (e.g. dd/mm/yyyy)");
  }
  DateFormat format;
  format.pattern_ = std::string(pattern);
  format.iso_ = pattern == "yyyy-mm-dd";
  return format;
}

std::optional<int32_t> DateFormat::ParseDays(std::string_view text) const {
  int y = 0, m = 0, d = 0;
  if (!Parts(text, &y, &m, &d)) return std::nullopt;
  return Checked(y, m, d);
}

bool DateFormat::Follows(std::string_view text) const {
  int y = 0, m = 0, d = 0;
  return Parts(text, &y, &m, &d);
}

bool DateFormat::OutOfRange(std::string_view text) const {
  int y = 0, m = 0, d = 0;
  return Parts(text, &y, &m, &d) && RealDay(y, m, d) && (y < kFirstYear || y > kLastYear);
}

bool DateFormat::Parts(std::string_view text, int* year, int* month, int* day) const {
  int& y = *year;
  int& m = *month;
  int& d = *day;
  if (iso_) {
    // The common case, without the pattern walk.
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
    for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
      if (text[i] < '0' || text[i] > '9') return false;
    }
    auto digit = [&](size_t i) { return text[i] - '0'; };
    y = digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3);
    m = digit(5) * 10 + digit(6);
    d = digit(8) * 10 + digit(9);
    return true;
  }
  size_t pos = 0;
  const std::string_view p = pattern_;
  for (size_t i = 0; i < p.size();) {
    std::string_view rest = p.substr(i);
    // A day or a month may have one digit between separators ("1/2/2020"), never beside
    // another number (yyyymmdd: 2020112 is not a date).
    const bool beside = (i > 0 && std::isalpha(static_cast<unsigned char>(p[i - 1]))) ||
                        (i + 2 < p.size() && std::isalpha(static_cast<unsigned char>(p[i + 2])));
    const int fewest = beside ? 2 : 1;
    bool ok;
    if (rest.starts_with("yyyy")) {
      ok = ReadNumber(text, &pos, 4, 4, &y);
      i += 4;
    } else if (rest.starts_with("mm")) {
      ok = ReadNumber(text, &pos, fewest, 2, &m);
      i += 2;
    } else if (rest.starts_with("dd")) {
      ok = ReadNumber(text, &pos, fewest, 2, &d);
      i += 2;
    } else {
      ok = pos < text.size() && text[pos] == p[i];
      ++pos;
      ++i;
    }
    if (!ok) return false;
  }
  return pos == text.size();
}

std::string DateFormat::Format(const CivilDate& date) const {
  auto two = [](int n) {
    return std::string{static_cast<char>('0' + n / 10 % 10), static_cast<char>('0' + n % 10)};
  };
  const int y = date.year < 0 ? 0 : date.year > 9999 ? 9999 : date.year;
  std::string out;
  const std::string_view p = pattern_;
  for (size_t i = 0; i < p.size();) {
    const std::string_view rest = p.substr(i);
    if (rest.starts_with("yyyy")) {
      out += two(y / 100) + two(y % 100);
      i += 4;
    } else if (rest.starts_with("mm")) {
      out += two(date.month);
      i += 2;
    } else if (rest.starts_with("dd")) {
      out += two(date.day);
      i += 2;
    } else {
      out += p[i++];
    }
  }
  return out;
}

}  // namespace passerelle
