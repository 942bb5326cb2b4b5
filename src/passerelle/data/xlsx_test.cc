#include "passerelle/data/xlsx.h"

#include <gtest/gtest.h>

#include <fstream>

#include "passerelle/base/test_dir.h"
#include "passerelle/data/record_test_util.h"
#include "passerelle/data/value.h"

namespace passerelle::data {
namespace {

using testing::Fixture;
using testing::ReadFile;

std::string Iso(const CivilDate& d) { return DateFormat().Format(d); }

TEST(Xlsx, SerialDatesInBothDateSystems) {
  EXPECT_EQ(Iso(ExcelSerialDate(1, false)), "1900-01-01");
  EXPECT_EQ(Iso(ExcelSerialDate(59, false)), "1900-02-28");
  EXPECT_EQ(Iso(ExcelSerialDate(60, false)), "1900-02-29");  // the day that never was
  EXPECT_EQ(Iso(ExcelSerialDate(61, false)), "1900-03-01");
  EXPECT_EQ(Iso(ExcelSerialDate(43831, false)), "2020-01-01");
  EXPECT_EQ(Iso(ExcelSerialDate(43831.99, false)), "2020-01-01");  // the time of day is dropped
  EXPECT_EQ(Iso(ExcelSerialDate(45351, false)), "2024-02-29");
  EXPECT_EQ(Iso(ExcelSerialDate(0, true)), "1904-01-01");
  EXPECT_EQ(Iso(ExcelSerialDate(43831 - 1462, true)), "2020-01-01");
}

TEST(Xlsx, WhichNumberFormatsAreDates) {
  for (int id : {14, 15, 16, 17, 22, 27, 31, 57, 58}) EXPECT_TRUE(IsDateNumberFormat(id, "")) << id;
  for (int id : {0, 1, 2, 10, 11, 18, 19, 20, 21, 32, 45, 46, 47, 49}) {
    EXPECT_FALSE(IsDateNumberFormat(id, "")) << id;
  }
  for (const char* date : {"dd/mm/yyyy", "yyyy-mm-dd", "mmm", "mmmm yyyy", "d-mmm-yy h:mm",
                           "[$-409]mmmm d, yyyy", "yyyy\"年\"m\"月\"d\"日\"", "DD.MM.YYYY"}) {
    EXPECT_TRUE(IsDateNumberFormat(164, date)) << date;
  }
  for (const char* other : {"General", "0.00", "[Red]0.00", "h:mm", "hh:mm:ss", "[h]:mm:ss",
                            "mm:ss", "\"day \"0", "0.00\\d", "#,##0 [$€-1]", "@"}) {
    EXPECT_FALSE(IsDateNumberFormat(164, other)) << other;
  }
}

TEST(Xlsx, ColumnLetters) {
  EXPECT_EQ(ColumnLetters(1), "A");
  EXPECT_EQ(ColumnLetters(26), "Z");
  EXPECT_EQ(ColumnLetters(27), "AA");
  EXPECT_EQ(ColumnLetters(702), "ZZ");
  EXPECT_EQ(ColumnLetters(703), "AAA");
}

// gu_lyon.xlsx's first sheet holds gu_lyon.csv, its dates as Excel dates shown dd/mm/yyyy.
TEST(Xlsx, TheFirstSheetHoldsTheCsvsCohort) {
  auto csv = ReadFile(Fixture("gu_lyon.csv"));
  ASSERT_TRUE(csv.ok()) << csv.status().message();
  auto read = ReadFile(Fixture("gu_lyon.xlsx"));
  ASSERT_TRUE(read.ok()) << read.status().message();
  ASSERT_TRUE(read->status.ok()) << read->status.message();
  ASSERT_EQ(read->header, csv->header);
  ASSERT_EQ(read->rows.size(), csv->rows.size());
  for (size_t r = 0; r < csv->rows.size(); ++r) {
    EXPECT_EQ(read->lines[r], r + 2);
    for (size_t c = 0; c < csv->header.size(); ++c) {
      const std::string& want = csv->rows[r][c];
      const std::string& got = read->rows[r][c];
      const auto x = ParseNumber(want, false);
      if (x) {
        EXPECT_EQ(ParseNumber(got, false), x) << "row " << r + 1 << " " << csv->header[c];
      } else {
        EXPECT_EQ(got, want) << "row " << r + 1 << " " << csv->header[c];
      }
    }
  }
}

// The "types" sheet: its table starts at B3; booleans, numbers, dates, date-times, a number
// formatted as a time of day (not a date), empty cells.
TEST(Xlsx, CellsAreReadAsExcelTypedThem) {
  RecordOptions options;
  options.sheet = "types";
  auto reader = OpenRecordReader(Fixture("gu_lyon.xlsx"), options, {});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  EXPECT_EQ((*reader)->header_line(), 3u);
  EXPECT_EQ((*reader)->Where(5, 2), "types!C5");
  EXPECT_EQ((*reader)->Where(5, 0), "types row 5");
  const auto read = testing::ReadAll(reader->get());
  ASSERT_TRUE(read.status.ok()) << read.status.message();
  EXPECT_EQ(read.header, (std::vector<std::string>{"id", "flag", "x", "when", "stamp", "note"}));
  const std::vector<std::vector<std::string>> expected = {
      {"a", "TRUE", "0.1", "2020-01-31", "2021-06-01", "first"},
      {"b", "FALSE", "0.333333333333333", "", "2021-06-02", ""},  // openxlsx writes 15 digits
      {"c", "", "", "1999-12-31", "", ""},
      {"d", "TRUE", "12", "2024-02-29", "", "fourth"},
  };
  EXPECT_EQ(read.rows, expected);
  EXPECT_EQ(read.lines, (std::vector<size_t>{4, 5, 6, 7}));
}

TEST(Xlsx, DatesAndNumbersFollowTheImportsCellFormat) {
  RecordOptions options;
  options.sheet = "types";
  CellFormat french;
  french.decimal_comma = true;
  french.date_format = *DateFormat::Parse("dd/mm/yyyy");
  auto read = ReadFile(Fixture("gu_lyon.xlsx"), options, french);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->rows[0][2], "0,1");
  EXPECT_EQ(read->rows[0][3], "31/01/2020");
}

TEST(Xlsx, AMergedHeaderIsRefused) {
  RecordOptions options;
  options.sheet = "merged";
  auto reader = OpenRecordReader(Fixture("gu_lyon.xlsx"), options, {});
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(reader.status().message().find(
                "gu_lyon.xlsx:merged!A1:C1: the header row has merged cells A1:C1: one header "
                "cell per column"),
            std::string::npos)
      << reader.status().message();
}

TEST(Xlsx, AnUnknownSheetListsTheSheets) {
  RecordOptions options;
  options.sheet = "Sheet1";
  auto reader = OpenRecordReader(Fixture("gu_lyon.xlsx"), options, {});
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.status().message().find("the workbook has no sheet \"Sheet1\"; its sheets are "
                                           "cohort, merged, types, stray cells"),
            std::string::npos)
      << reader.status().message();
}

TEST(Xlsx, AWorkbookOfThe1904DateSystem) {
  auto read = ReadFile(Fixture("dates1904.xlsx"));
  ASSERT_TRUE(read.ok()) << read.status().message();
  ASSERT_TRUE(read->status.ok()) << read->status.message();
  EXPECT_EQ(read->rows, (std::vector<std::vector<std::string>>{
                            {"2020-01-01"}, {"1904-01-01"}, {"2024-02-29"}}));
}

// A value beyond the header's columns has no variable: refused at its cell, after the rows
// before it. The sheet's name has a space: quoted as Excel quotes it.
TEST(Xlsx, AValueOutsideTheHeadersColumnsIsRefused) {
  RecordOptions options;
  options.sheet = "stray cells";
  auto reader = OpenRecordReader(Fixture("gu_lyon.xlsx"), options, {});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  EXPECT_EQ((*reader)->Where(2, 1), "'stray cells'!A2");
  const auto read = testing::ReadAll(reader->get());
  EXPECT_EQ(read.rows, (std::vector<std::vector<std::string>>{{"a", "1"}}));
  ASSERT_FALSE(read.status.ok());
  EXPECT_NE(read.status.message().find(
                "gu_lyon.xlsx:'stray cells'!D3: a value outside the header's columns, cell "
                "\"note\""),
            std::string::npos)
      << read.status.message();
}

TEST(Xlsx, WhatIsNotAWorkbookIsRefused) {
  const std::string dir = passerelle::testing::FreshTestDir("xlsx");
  std::ofstream(dir + "/renamed.xlsx") << "id,age\n1,2\n";
  auto renamed = OpenRecordReader(dir + "/renamed.xlsx", {}, {});
  ASSERT_FALSE(renamed.ok());
  EXPECT_EQ(renamed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(renamed.status().message().find("not an Excel workbook"), std::string::npos)
      << renamed.status().message();
  auto absent = OpenRecordReader(dir + "/absent.xlsx", {}, {});
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.status().code(), StatusCode::kNotFound) << absent.status().message();
  RecordOptions gbk;
  gbk.encoding = "gbk";
  EXPECT_FALSE(OpenRecordReader(Fixture("gu_lyon.xlsx"), gbk, {}).ok());
}

}  // namespace
}  // namespace passerelle::data
