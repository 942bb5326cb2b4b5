#include "passerelle/base/date.h"

#include <gtest/gtest.h>

namespace passerelle {
namespace {

TEST(Date, RoundTripsEveryDayOverTwoCenturies) {
  for (int32_t d = DaysFromCivil(1900, 1, 1); d < DaysFromCivil(2100, 1, 1); ++d) {
    const CivilDate c = CivilFromDays(d);
    ASSERT_EQ(DaysFromCivil(c.year, c.month, c.day), d);
  }
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1) - DaysFromCivil(2000, 2, 28), 2);  // 2000 is leap
  EXPECT_EQ(FormatIsoDate(DaysFromCivil(2024, 2, 29)), "2024-02-29");
}

TEST(Date, IsoParsingIsStrict) {
  const DateFormat iso;
  EXPECT_EQ(iso.ParseDays("2021-03-04"), DaysFromCivil(2021, 3, 4));
  EXPECT_FALSE(iso.ParseDays("2021-3-4"));
  EXPECT_FALSE(iso.ParseDays("2023-02-29"));
  EXPECT_FALSE(iso.ParseDays("2021-03-04x"));
  EXPECT_FALSE(iso.ParseDays("04/03/2021"));
  EXPECT_FALSE(iso.ParseDays(""));
}

TEST(Date, YearsRunFrom1800To2300AndADateOutsideThemIsToldApart) {
  const DateFormat iso;
  EXPECT_TRUE(iso.ParseDays("1800-01-01"));
  EXPECT_TRUE(iso.ParseDays("2300-12-31"));
  for (const char* code : {"9999-12-31", "1799-12-31", "2301-01-01", "1582-10-13"}) {
    EXPECT_FALSE(iso.ParseDays(code)) << code;
    EXPECT_TRUE(iso.OutOfRange(code)) << code;
  }
  // Not a day, or not the layout: not a date out of range either.
  for (const char* text : {"9999-02-30", "2021-03-04", "2021-3-4", "31/12/9999", "abc"}) {
    EXPECT_FALSE(iso.OutOfRange(text)) << text;
  }
  // Written in the layout, a day or not.
  for (const char* text : {"9999-02-30", "1900-02-29", "2021-13-45", "2021-03-04"}) {
    EXPECT_TRUE(iso.Follows(text)) << text;
  }
  for (const char* text : {"2021-3-4", "31/12/2021", "abc", ""}) EXPECT_FALSE(iso.Follows(text));
}

TEST(Date, ADayOrMonthBesideAnotherNumberHasTwoDigits) {
  auto compact = DateFormat::Parse("yyyymmdd");
  ASSERT_TRUE(compact.ok());
  EXPECT_EQ(compact->ParseDays("20201102"), DaysFromCivil(2020, 11, 2));
  EXPECT_FALSE(compact->ParseDays("2020112"));
  auto reversed = DateFormat::Parse("ddmmyyyy");
  ASSERT_TRUE(reversed.ok());
  EXPECT_EQ(reversed->ParseDays("02112020"), DaysFromCivil(2020, 11, 2));
  EXPECT_FALSE(reversed->ParseDays("2112020"));
  auto mixed = DateFormat::Parse("dd/mmyyyy");
  ASSERT_TRUE(mixed.ok());
  EXPECT_EQ(mixed->ParseDays("2/112020"), DaysFromCivil(2020, 11, 2));
  EXPECT_FALSE(mixed->ParseDays("2/12020"));
}

TEST(Date, FrenchLayout) {
  auto format = DateFormat::Parse("dd/mm/yyyy");
  ASSERT_TRUE(format.ok());
  EXPECT_EQ(format->ParseDays("04/03/2021"), DaysFromCivil(2021, 3, 4));
  EXPECT_EQ(format->ParseDays("4/3/2021"), DaysFromCivil(2021, 3, 4));
  EXPECT_FALSE(format->ParseDays("31/02/2021"));
  EXPECT_FALSE(format->ParseDays("2021-03-04"));
}

TEST(Date, FormatWritesTheLayoutParseDaysReads) {
  const DateFormat iso;
  EXPECT_EQ(iso.Format({2021, 3, 4}), "2021-03-04");
  auto french = DateFormat::Parse("dd/mm/yyyy");
  ASSERT_TRUE(french.ok());
  EXPECT_EQ(french->Format({987, 12, 31}), "31/12/0987");
  for (int32_t d = DaysFromCivil(1990, 1, 1); d < DaysFromCivil(1992, 1, 1); ++d) {
    ASSERT_EQ(iso.ParseDays(iso.Format(CivilFromDays(d))), d);
    ASSERT_EQ(french->ParseDays(french->Format(CivilFromDays(d))), d);
  }
  // A day that does not exist is written as it is, and refused when read.
  EXPECT_EQ(iso.Format({1900, 2, 29}), "1900-02-29");
  EXPECT_FALSE(iso.ParseDays(iso.Format({1900, 2, 29})));
}

TEST(Date, BadPatternsAreRefused) {
  EXPECT_FALSE(DateFormat::Parse("dd/mm").ok());
  EXPECT_FALSE(DateFormat::Parse("yyyy-mm-dd-dd").ok());
  EXPECT_FALSE(DateFormat::Parse("%d/%m/%Y").ok());
}

}  // namespace
}  // namespace passerelle
