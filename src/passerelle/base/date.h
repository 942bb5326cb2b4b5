// Calendar dates as whole days since 1970-01-01 (proleptic Gregorian), with parsing of the
// formats hospitals export (ISO yyyy-mm-dd by default, or a pattern such as dd/mm/yyyy).
#ifndef PASSERELLE_BASE_DATE_H_
#define PASSERELLE_BASE_DATE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "passerelle/base/status.h"

namespace passerelle {

// Days since 1970-01-01 of a valid civil date. REQUIRES: 1 <= month <= 12, day valid for month.
int32_t DaysFromCivil(int year, int month, int day);
struct CivilDate {
  int year, month, day;
};
CivilDate CivilFromDays(int32_t days);
// "yyyy-mm-dd" (years clamped to 0000..9999).
std::string FormatIsoDate(int32_t days);
// The same ten characters written to out[0..9], without allocating.
void FormatIsoDate(int32_t days, char out[10]);

// The current time in UTC as ISO 8601, e.g. "2026-11-28T07:30:00Z".
std::string UtcNowIso();

// A date layout made of the tokens yyyy, mm, dd and literal separators, e.g. "dd/mm/yyyy".
class DateFormat {
 public:
  // The ISO layout yyyy-mm-dd.
  DateFormat();
  // InvalidArgument unless `pattern` has each of yyyy, mm and dd exactly once.
  static Result<DateFormat> Parse(std::string_view pattern);

  const std::string& pattern() const { return pattern_; }
  // Days since 1970-01-01, or nullopt when `text` does not follow the layout or names no real
  // day (2023-02-30). Days and months may have one digit ("1/2/2020") in non-ISO layouts.
  // Years run from 1800 to 2300.
  std::optional<int32_t> ParseDays(std::string_view text) const;
  // `text` follows the layout and names a real day, of a year outside 1800 to 2300 (a code
  // such as 9999-12-31, or a slip).
  bool OutOfRange(std::string_view text) const;
  // `text` is written in the layout, whether or not it names a day (Excel's 1900-02-29).
  bool Follows(std::string_view text) const;
  // `date` written in the layout ("31/01/2020" for dd/mm/yyyy; years as four digits, clamped
  // to 0000..9999). The day is not checked: a day that does not exist (Excel's 1900-02-29) is
  // written as it is, for ParseDays to refuse.
  std::string Format(const CivilDate& date) const;

 private:
  // The year, month and day `text` writes in the layout, unchecked.
  bool Parts(std::string_view text, int* year, int* month, int* day) const;
  std::string pattern_;
  bool iso_ = true;
};

}  // namespace passerelle

#endif  // PASSERELLE_BASE_DATE_H_
