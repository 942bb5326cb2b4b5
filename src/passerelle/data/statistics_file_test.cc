#include "passerelle/data/statistics_file.h"

#include <gtest/gtest.h>
#include <readstat.h>

#include <cstdio>
#include <fstream>

#include "passerelle/base/sha256.h"
#include "passerelle/base/test_dir.h"
#include "passerelle/data/csv.h"
#include "passerelle/data/record_test_util.h"
#include "passerelle/data/value.h"

namespace passerelle::data {
namespace {

using testing::Fixture;
using testing::ReadAll;
using testing::ReadFile;
using testing::Records;

const std::vector<std::string> kCellsHeader = {"id", "grade", "x", "day", "stamp", "text"};

// cells.sav (make_files.R): a labelled code with a value that has no label and a user-missing
// code, numbers that need all their digits, dates and date-times, UTF-8 text.
TEST(StatisticsFile, SpssCellsReadAsACsvExportWouldHoldThem) {
  auto read = ReadFile(Fixture("cells.sav"));
  ASSERT_TRUE(read.ok()) << read.status().message();
  ASSERT_TRUE(read->status.ok()) << read->status.message();
  EXPECT_EQ(read->header, kCellsHeader);
  const std::vector<std::vector<std::string>> expected = {
      {"r1", "low", "0.1", "2020-02-29", "2021-06-01", "été"},
      {"r2", "high", "0.3333333333333333", "1960-01-01", "1970-01-01", ""},
      {"r3", "7", "123456789012", "", "", "plain"},
      {"r4", "", "-2.5e-07", "1899-12-31", "2000-01-01", "北京"},
  };
  EXPECT_EQ(read->rows, expected);
  EXPECT_EQ(read->lines, (std::vector<size_t>{1, 2, 3, 4}));
}

TEST(StatisticsFile, StataExtendedMissingValuesAreMissing) {
  auto read = ReadFile(Fixture("cells.dta"));
  ASSERT_TRUE(read.ok()) << read.status().message();
  ASSERT_TRUE(read->status.ok()) << read->status.message();
  EXPECT_EQ(read->header, kCellsHeader);
  const std::vector<std::vector<std::string>> expected = {
      {"r1", "low", "0.1", "2020-02-29", "2021-06-01", "été"},
      {"r2", "high", "0.3333333333333333", "1960-01-01", "1970-01-01", ""},
      {"r3", "7", "123456789012", "", "", "plain"},
      {"r4", "", "-2.5e-07", "1899-12-31", "2000-01-01", "北京"},  // grade is .b
  };
  EXPECT_EQ(read->rows, expected);
}

TEST(StatisticsFile, ValueLabelsAreTheDeclaredLevelsInTheFilesOrder) {
  auto reader = OpenRecordReader(Fixture("cells.sav"), {}, {});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  // 9 "unknown" is a user-missing code: it names a missing value, not a level.
  EXPECT_EQ((*reader)->DeclaredLevels(1), (std::vector<std::string>{"low", "high"}));
  EXPECT_TRUE((*reader)->DeclaredLevels(0).empty());
  auto gu = OpenRecordReader(Fixture("gu_lyon.dta"), {}, {});
  ASSERT_TRUE(gu.ok()) << gu.status().message();
  const auto& header = (*gu)->header();
  const size_t organ = std::find(header.begin(), header.end(), "organ") - header.begin();
  EXPECT_EQ((*gu)->DeclaredLevels(organ),
            (std::vector<std::string>{"prostate", "bladder", "kidney", "upper_tract", "testis",
                                      "penis"}));
}

// legacy_gbk.sav and legacy_gbk.dta (make_legacy.py): GBK text in files that do not say their
// encoding. ReadStat would read them as windows-1252, every byte a character: refused unless
// the encoding is given, and then read as written.
TEST(StatisticsFile, TextOfAFileThatDoesNotSayItsEncodingNeedsItGiven) {
  for (const std::string name : {"legacy_gbk.sav", "legacy_gbk.dta", "legacy_cp936.sav"}) {
    SCOPED_TRACE(name);
    auto unsaid = OpenRecordReader(Fixture(name), {}, {});
    ASSERT_FALSE(unsaid.ok());
    // Code page 936 is one ReadStat cannot convert from: the same advice.
    EXPECT_NE(unsaid.status().message().find(name == "legacy_cp936.sav"
                                                 ? "unsupported character set"
                                                 : "not ASCII in a file that does not say its "
                                                   "encoding"),
              std::string::npos)
        << unsaid.status().message();
    EXPECT_NE(unsaid.status().message().find("--encoding"), std::string::npos);
    EXPECT_NE(unsaid.status().message().find("gbk"), std::string::npos);
    RecordOptions gbk;
    gbk.encoding = "gbk";
    auto reader = OpenRecordReader(Fixture(name), gbk, {});
    ASSERT_TRUE(reader.ok()) << reader.status().message();
    const size_t g = (*reader)->header().size() - 1;
    EXPECT_EQ((*reader)->DeclaredLevels(g), (std::vector<std::string>{"高", "低"}));
    const Records read = ReadAll(reader->get());
    ASSERT_TRUE(read.status.ok()) << read.status.message();
    ASSERT_EQ(read.rows.size(), 3u);
    EXPECT_EQ(read.rows[0][g - 1], "张三");
    EXPECT_EQ(read.rows[1][g - 1], "北京");
    EXPECT_EQ(read.rows[1][g], "低");
  }
}

// odd_labels.sav (make_legacy.py): codes labelled "NA" and "" read as missing values, never as
// levels; a date's value label is left aside (a category would list the dates as levels); a
// text variable's user-missing code U is a missing value, and its label "unk" no level.
TEST(StatisticsFile, LabelsThatNameNoLevelAndLabelsOfDatesAreLeftAside) {
  auto reader = OpenRecordReader(Fixture("odd_labels.sav"), {}, {});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  EXPECT_EQ((*reader)->DeclaredLevels(1), (std::vector<std::string>{"yes"}));
  EXPECT_TRUE((*reader)->DeclaredLevels(2).empty());
  EXPECT_EQ((*reader)->DeclaredLevels(3), (std::vector<std::string>{"male", "female"}));
  const Records read = ReadAll(reader->get());
  ASSERT_TRUE(read.status.ok()) << read.status.message();
  EXPECT_EQ(read.rows, (std::vector<std::vector<std::string>>{{"r1", "NA", "2020-01-01", "male"},
                                                              {"r2", "yes", "2021-05-05", ""},
                                                              {"r3", "", "", "female"}}));
}

TEST(StatisticsFile, DatesAndNumbersFollowTheImportsCellFormat) {
  CellFormat french;
  french.decimal_comma = true;
  french.date_format = *DateFormat::Parse("dd/mm/yyyy");
  auto read = ReadFile(Fixture("cells.sav"), {}, french);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->rows[0][2], "0,1");
  EXPECT_EQ(read->rows[0][3], "29/02/2020");
  EXPECT_EQ(read->rows[0][4], "01/06/2021");
}

// Every kind of statistics file holds the cohort of gu_lyon.csv: same names, same values.
TEST(StatisticsFile, EveryPackagesCohortHoldsTheCsvsCells) {
  auto csv = ReadFile(Fixture("gu_lyon.csv"));
  ASSERT_TRUE(csv.ok()) << csv.status().message();
  for (const std::string name :
       {"gu_lyon.sav", "gu_lyon.zsav", "gu_lyon.dta", "gu_lyon.xpt", "gu_lyon.sas7bdat"}) {
    SCOPED_TRACE(name);
    auto read = ReadFile(Fixture(name));
    ASSERT_TRUE(read.ok()) << read.status().message();
    ASSERT_TRUE(read->status.ok()) << read->status.message();
    ASSERT_EQ(read->header, csv->header);
    ASSERT_EQ(read->rows.size(), csv->rows.size());
    for (size_t r = 0; r < csv->rows.size(); ++r) {
      for (size_t c = 0; c < csv->header.size(); ++c) {
        const std::string& want = csv->rows[r][c];
        const std::string& got = read->rows[r][c];
        // Numbers are written with the digits they need ("13" for the CSV's "13.0").
        const auto x = ParseNumber(want, false);
        if (x && !want.empty()) {
          const auto y = ParseNumber(got, false);
          ASSERT_TRUE(y) << "row " << r + 1 << " " << csv->header[c] << ": " << got;
          EXPECT_EQ(*x, *y) << "row " << r + 1 << " " << csv->header[c];
        } else {
          EXPECT_EQ(got, want) << "row " << r + 1 << " " << csv->header[c];
        }
      }
    }
  }
}

TEST(StatisticsFile, PlacesAreDataRows) {
  auto reader = OpenRecordReader(Fixture("gu_lyon.sav"), {}, {});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  EXPECT_EQ((*reader)->Where(12, 3), "row 12");
  EXPECT_EQ((*reader)->Where(0, 3), "");
  EXPECT_EQ((*reader)->header_line(), 0u);
}

TEST(StatisticsFile, ChecksumIsOfTheFilesBytes) {
  auto reader = OpenRecordReader(Fixture("cells.dta"), {}, {});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  ReadAll(reader->get());
  std::ifstream in(Fixture("cells.dta"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ((*reader)->ChecksumHex(), Sha256Hex(bytes));
}

TEST(StatisticsFile, WhatDoesNotApplyOrCannotBeReadIsRefused) {
  const std::string dir = passerelle::testing::FreshTestDir("statistics");
  RecordOptions tab;
  tab.separator = '\t';
  auto sep = OpenRecordReader(Fixture("cells.sav"), tab, {});
  ASSERT_FALSE(sep.ok());
  EXPECT_NE(sep.status().message().find("a separator applies to CSV files"), std::string::npos);
  RecordOptions sheet;
  sheet.sheet = "Sheet1";
  EXPECT_FALSE(OpenRecordReader(Fixture("cells.dta"), sheet, {}).ok());

  std::ofstream(dir + "/fake.sav") << "id,age\n1,2\n";
  auto fake = OpenRecordReader(dir + "/fake.sav", {}, {});
  ASSERT_FALSE(fake.ok());
  EXPECT_EQ(fake.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(fake.status().message().find("fake.sav: cannot read it as a SPSS file"),
            std::string::npos)
      << fake.status().message();
  auto absent = OpenRecordReader(dir + "/absent.dta", {}, {});
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.status().code(), StatusCode::kNotFound) << absent.status().message();
}

// ---- Streaming: a file of many rows, written here with ReadStat's writer ----

ssize_t WriteToFile(const void* data, size_t length, void* file) {
  return static_cast<ssize_t>(std::fwrite(data, 1, length, static_cast<std::FILE*>(file)));
}

// n rows: i (1..n), and code, labelled 1 "even" 2 "odd", with 99 user-missing every 7th row.
void WriteRows(const std::string& path, long n) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  readstat_writer_t* writer = readstat_writer_init();
  readstat_set_data_writer(writer, &WriteToFile);
  readstat_label_set_t* labels = readstat_add_label_set(writer, READSTAT_TYPE_DOUBLE, "parity");
  readstat_label_double_value(labels, 1, "even");
  readstat_label_double_value(labels, 2, "odd");
  readstat_variable_t* i = readstat_add_variable(writer, "i", READSTAT_TYPE_DOUBLE, 0);
  readstat_variable_t* code = readstat_add_variable(writer, "code", READSTAT_TYPE_DOUBLE, 0);
  readstat_variable_set_label_set(code, labels);
  ASSERT_EQ(readstat_variable_add_missing_double_value(code, 99), READSTAT_OK);
  ASSERT_EQ(readstat_begin_writing_sav(writer, file, n), READSTAT_OK);
  for (long row = 1; row <= n; ++row) {
    readstat_begin_row(writer);
    readstat_insert_double_value(writer, i, static_cast<double>(row));
    readstat_insert_double_value(writer, code, row % 7 == 0 ? 99 : row % 2 == 0 ? 1 : 2);
    readstat_end_row(writer);
  }
  ASSERT_EQ(readstat_end_writing(writer), READSTAT_OK);
  readstat_writer_free(writer);
  std::fclose(file);
}

// A portable file (haven writes none): names in upper case, numbers as base-30 text.
TEST(StatisticsFile, SpssPortableFile) {
  const std::string path = passerelle::testing::FreshTestDir("statistics") + "/cells.por";
  std::FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  readstat_writer_t* writer = readstat_writer_init();
  readstat_set_data_writer(writer, &WriteToFile);
  readstat_label_set_t* labels = readstat_add_label_set(writer, READSTAT_TYPE_DOUBLE, "GRADES");
  readstat_label_double_value(labels, 1, "low");
  readstat_label_double_value(labels, 2, "high");
  readstat_variable_t* id = readstat_add_variable(writer, "ID", READSTAT_TYPE_STRING, 8);
  readstat_variable_t* grade = readstat_add_variable(writer, "GRADE", READSTAT_TYPE_DOUBLE, 0);
  readstat_variable_set_label_set(grade, labels);
  ASSERT_EQ(readstat_variable_add_missing_double_value(grade, 9), READSTAT_OK);
  readstat_variable_t* day = readstat_add_variable(writer, "DAY", READSTAT_TYPE_DOUBLE, 0);
  readstat_variable_set_format(day, "ADATE10");
  readstat_variable_t* x = readstat_add_variable(writer, "X", READSTAT_TYPE_DOUBLE, 0);
  ASSERT_EQ(readstat_begin_writing_por(writer, file, 3), READSTAT_OK);
  // Seconds since 1582-10-14: 2020-02-29 is 13802313600.
  const double seconds[] = {13802313600.0, 13802313600.0 + 86399, -1};
  const double grades[] = {1, 7, 9};
  for (int row = 0; row < 3; ++row) {
    readstat_begin_row(writer);
    readstat_insert_string_value(writer, id, ("r" + std::to_string(row + 1)).c_str());
    readstat_insert_double_value(writer, grade, grades[row]);
    if (seconds[row] < 0) {
      readstat_insert_missing_value(writer, day);
    } else {
      readstat_insert_double_value(writer, day, seconds[row]);
    }
    readstat_insert_double_value(writer, x, row == 0 ? 0.5 : 12);
    readstat_end_row(writer);
  }
  ASSERT_EQ(readstat_end_writing(writer), READSTAT_OK);
  readstat_writer_free(writer);
  std::fclose(file);

  auto read = ReadFile(path);
  ASSERT_TRUE(read.ok()) << read.status().message();
  ASSERT_TRUE(read->status.ok()) << read->status.message();
  EXPECT_EQ(read->header, (std::vector<std::string>{"ID", "GRADE", "DAY", "X"}));
  const std::vector<std::vector<std::string>> expected = {
      {"r1", "low", "2020-02-29", "0.5"},
      {"r2", "7", "2020-02-29", "12"},
      {"r3", "", "", "12"},
  };
  EXPECT_EQ(read->rows, expected);
}

// One row of numbers, each with its display format, as an SPSS (.sav), Stata (.dta, format
// 118) or SAS transport (.xpt) file; `text` adds a string variable holding it.
void WriteFormats(const std::string& path,
                  const std::vector<std::pair<std::string, double>>& formats,
                  const std::string& text = "") {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  readstat_writer_t* writer = readstat_writer_init();
  readstat_set_data_writer(writer, &WriteToFile);
  std::vector<readstat_variable_t*> variables;
  for (size_t i = 0; i < formats.size(); ++i) {
    const std::string name = "V" + std::to_string(i + 1);
    variables.push_back(readstat_add_variable(writer, name.c_str(), READSTAT_TYPE_DOUBLE, 0));
    readstat_variable_set_format(variables.back(), formats[i].first.c_str());
  }
  readstat_variable_t* string =
      text.empty() ? nullptr
                   : readstat_add_variable(writer, "T", READSTAT_TYPE_STRING, text.size());
  if (path.ends_with(".dta")) {
    ASSERT_EQ(readstat_writer_set_file_format_version(writer, 118), READSTAT_OK);
    ASSERT_EQ(readstat_begin_writing_dta(writer, file, 1), READSTAT_OK);
  } else if (path.ends_with(".sav")) {
    ASSERT_EQ(readstat_begin_writing_sav(writer, file, 1), READSTAT_OK);
  } else {
    ASSERT_EQ(readstat_begin_writing_xport(writer, file, 1), READSTAT_OK);
  }
  readstat_begin_row(writer);
  for (size_t i = 0; i < formats.size(); ++i) {
    readstat_insert_double_value(writer, variables[i], formats[i].second);
  }
  if (string) readstat_insert_string_value(writer, string, text.c_str());
  readstat_end_row(writer);
  ASSERT_EQ(readstat_end_writing(writer), READSTAT_OK);
  readstat_writer_free(writer);
  std::fclose(file);
}

// A date shown in part (the month and year, the year, the day of the week) or from a
// date-time is still a date; a time of day, or a custodian's own format, is a number.
TEST(StatisticsFile, DatesInEveryFormatAreDatesAndTimesAreNumbers) {
  const std::string dir = passerelle::testing::FreshTestDir("statistics");
  constexpr double kDay = 22281;                     // 2021-01-01, days since 1960
  constexpr double kSeconds = kDay * 86400 + 51900;  // 14:25 that day
  constexpr double kMilliseconds = kSeconds * 1000;
  WriteFormats(dir + "/formats.xpt", {{"WORDDATE18.", kDay},
                                      {"MONYY7.", kDay},
                                      {"YEAR4.", kDay},
                                      {"JULIAN7.", kDay},
                                      {"MMDDYYS10.", kDay},
                                      {"DTDATE9.", kSeconds},
                                      {"E8601DN10.", kSeconds},
                                      {"TIME8.", 51900},
                                      {"TOD8.", kSeconds},
                                      {"YEARGRP.", kDay}});
  auto sas = ReadFile(dir + "/formats.xpt");
  ASSERT_TRUE(sas.ok()) << sas.status().message();
  ASSERT_TRUE(sas->status.ok()) << sas->status.message();
  const std::string date = "2021-01-01";
  EXPECT_EQ(sas->rows,
            (std::vector<std::vector<std::string>>{
                {date, date, date, date, date, date, date, "51900", "1925130300", "22281"}}));

  WriteFormats(dir + "/formats.dta", {{"%td", kDay},
                                      {"%tc", kMilliseconds},
                                      {"%tcDD/NN/CCYY_HH:MM", kMilliseconds},
                                      {"%tcMon_DD", kMilliseconds},
                                      {"%-td", kDay},
                                      {"%-tc", kMilliseconds},
                                      {"%tcHH:MM", 51900000},
                                      {"%tchh:mm_am", 51900000}});
  auto stata = ReadFile(dir + "/formats.dta");
  ASSERT_TRUE(stata.ok()) << stata.status().message();
  ASSERT_TRUE(stata->status.ok()) << stata->status.message();
  EXPECT_EQ(stata->rows, (std::vector<std::vector<std::string>>{
                             {date, date, date, date, date, date, "51900000", "51900000"}}));

  // SPSS: seconds since 1582-10-14; QYR, MOYR and WKYR show a part of the date.
  constexpr double kSpssSeconds = 160056.0 * 86400;  // 2021-01-01
  WriteFormats(dir + "/formats.sav", {{"MOYR8", kSpssSeconds},
                                      {"QYR8", kSpssSeconds},
                                      {"WKYR10", kSpssSeconds},
                                      {"DATETIME20", kSpssSeconds + 51900},
                                      {"TIME8", 51900}});
  auto spss = ReadFile(dir + "/formats.sav");
  ASSERT_TRUE(spss.ok()) << spss.status().message();
  ASSERT_TRUE(spss->status.ok()) << spss->status.message();
  EXPECT_EQ(spss->rows, (std::vector<std::vector<std::string>>{{date, date, date, date, "51900"}}));
}

// --encoding is for a file that does not say its encoding: a Stata file from Stata 14 on is
// UTF-8, and read as GBK its text would be stored as other characters.
TEST(StatisticsFile, AnEncodingIsNotGivenToAFileThatSaysUtf8) {
  const std::string path = passerelle::testing::FreshTestDir("statistics") + "/utf8.dta";
  WriteFormats(path, {{"%9.0g", 1}}, "\xC3\xA9t\xC3\xA9");
  RecordOptions gbk;
  gbk.encoding = "gbk";
  auto refused = OpenRecordReader(path, gbk, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("says its text is UTF-8"), std::string::npos)
      << refused.status().message();
  auto read = ReadFile(path);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->rows, (std::vector<std::vector<std::string>>{{"1", "\xC3\xA9t\xC3\xA9"}}));
}

TEST(StatisticsFile, ManyRowsStreamInOrder) {
  const std::string path = passerelle::testing::FreshTestDir("statistics") + "/many.sav";
  constexpr long kRows = 25000;  // many batches of the parsing thread
  WriteRows(path, kRows);
  auto reader = OpenRecordReader(path, {}, {});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  const Records read = ReadAll(reader->get());
  ASSERT_TRUE(read.status.ok()) << read.status.message();
  ASSERT_EQ(read.rows.size(), static_cast<size_t>(kRows));
  for (long row = 1; row <= kRows; ++row) {
    const auto& cells = read.rows[row - 1];
    ASSERT_EQ(cells[0], std::to_string(row));
    ASSERT_EQ(cells[1], row % 7 == 0 ? "" : row % 2 == 0 ? "even" : "odd") << row;
    ASSERT_EQ(read.lines[row - 1], static_cast<size_t>(row));
  }
}

// A reader dropped after a few rows stops its parsing thread (which waits, a few batches ahead).
TEST(StatisticsFile, AReaderLeftEarlyStopsItsThread) {
  const std::string path = passerelle::testing::FreshTestDir("statistics") + "/many.sav";
  WriteRows(path, 20000);
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto reader = OpenRecordReader(path, {}, {});
    ASSERT_TRUE(reader.ok()) << reader.status().message();
    Record record;
    for (int k = 0; k < attempt * 1500; ++k) ASSERT_TRUE(*(*reader)->Next(&record));
  }
}

// ---- Hostile files ----

std::string FixtureBytes(const std::string& name) {
  std::ifstream in(Fixture(name), std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Reads a file held in memory to its end: the error that stopped it, or "" when none did.
std::string Refusal(const std::string& bytes, const std::string& label) {
  auto reader = OpenStatisticsBytes(bytes, label, {}, {});
  if (!reader.ok()) return reader.status().message();
  const Records read = ReadAll(reader->get());
  return read.status.ok() ? "" : read.status.message();
}

TEST(StatisticsHostile, AFileInMemoryReadsAsOnDisk) {
  for (const std::string name :
       {"cells.sav", "cells.dta", "gu_lyon.zsav", "gu_lyon.xpt", "gu_lyon.sas7bdat"}) {
    SCOPED_TRACE(name);
    auto disk = ReadFile(Fixture(name));
    ASSERT_TRUE(disk.ok()) << disk.status().message();
    auto reader = OpenStatisticsBytes(FixtureBytes(name), name, {}, {});
    ASSERT_TRUE(reader.ok()) << reader.status().message();
    const Records memory = ReadAll(reader->get());
    ASSERT_TRUE(memory.status.ok()) << memory.status.message();
    EXPECT_EQ(memory.header, disk->header);
    EXPECT_EQ(memory.rows, disk->rows);
    EXPECT_EQ((*reader)->ChecksumHex(), Sha256Hex(FixtureBytes(name)));
  }
}

// Every fixture cut short, at every length a step apart: refused with ReadStat's reason or as
// truncated, never read as a shorter file, never a crash.
TEST(StatisticsHostile, ATruncatedFileIsRefused) {
  for (const std::string name : {"gu_lyon.sav", "gu_lyon.zsav", "gu_lyon.dta", "gu_lyon.xpt",
                                 "gu_lyon.sas7bdat", "cells.sav", "cells.dta"}) {
    SCOPED_TRACE(name);
    const std::string bytes = FixtureBytes(name);
    for (size_t n = 0; n < bytes.size(); n += 211) {
      const std::string why = Refusal(bytes.substr(0, n), name);
      EXPECT_TRUE(why.starts_with(name + ": ") || why.starts_with(name + ":row "))
          << n << ": " << why;
    }
  }
  // Cut in its data: ReadStat's own words, or the rows missing.
  const std::string sav = FixtureBytes("gu_lyon.sav");
  const std::string cut_sav = Refusal(sav.substr(0, sav.size() - 1000), "cut.sav");
  EXPECT_TRUE(cut_sav.starts_with("cut.sav: cannot read it as a SPSS file: ") ||
              cut_sav.starts_with("cut.sav: the file declares 40 rows and holds "))
      << cut_sav;
  const std::string dta = FixtureBytes("gu_lyon.dta");
  const std::string cut_dta = Refusal(dta.substr(0, dta.size() / 2), "cut.dta");
  EXPECT_TRUE(cut_dta.starts_with("cut.dta: cannot read it as a Stata file: ")) << cut_dta;
}

// SPSS's header says how many rows the file holds: four bytes at offset 80.
TEST(StatisticsHostile, ADeclaredRowCountTheFileCannotHoldIsRefused) {
  std::string sav = FixtureBytes("gu_lyon.sav");
  const char rows[4] = {'\xff', '\xff', '\xff', '\x7f'};
  sav.replace(80, 4, rows, 4);
  const std::string why = Refusal(sav, "absurd.sav");
  EXPECT_NE(why.find("absurd.sav: the file declares 2,147,483,647 rows of "), std::string::npos)
      << why;
  EXPECT_NE(why.find("variables, more than its 11,160 bytes can hold: it is damaged"),
            std::string::npos)
      << why;
}

// Written with ReadStat's writer: `variables` numeric variables, or one variable whose label
// set has `labels` labels; one row.
std::string WriteWide(int variables, int labels) {
  const std::string path = passerelle::testing::FreshTestDir("statistics") + "/wide.sav";
  std::FILE* file = std::fopen(path.c_str(), "wb");
  readstat_writer_t* writer = readstat_writer_init();
  readstat_set_data_writer(writer, &WriteToFile);
  readstat_label_set_t* set = readstat_add_label_set(writer, READSTAT_TYPE_DOUBLE, "codes");
  for (int i = 0; i < labels; ++i) {
    readstat_label_double_value(set, i, ("code " + std::to_string(i)).c_str());
  }
  std::vector<readstat_variable_t*> added;
  for (int i = 0; i < variables; ++i) {
    added.push_back(
        readstat_add_variable(writer, ("v" + std::to_string(i)).c_str(), READSTAT_TYPE_DOUBLE, 0));
  }
  if (labels > 0) readstat_variable_set_label_set(added[0], set);
  readstat_begin_writing_sav(writer, file, 1);
  readstat_begin_row(writer);
  for (readstat_variable_t* v : added) readstat_insert_double_value(writer, v, 1);
  readstat_end_row(writer);
  readstat_end_writing(writer);
  readstat_writer_free(writer);
  std::fclose(file);
  return path;
}

TEST(StatisticsHostile, TooManyVariablesOrLabelsAreRefused) {
  auto wide = OpenRecordReader(WriteWide(32768, 0), {}, {});
  ASSERT_FALSE(wide.ok());
  EXPECT_NE(wide.status().message().find(
                "wide.sav: the file declares 32,768 variables, over the limit of 32,767"),
            std::string::npos)
      << wide.status().message();
  EXPECT_TRUE(OpenRecordReader(WriteWide(300, 0), {}, {}).ok());

  auto labelled = OpenRecordReader(WriteWide(1, 65537), {}, {});
  ASSERT_FALSE(labelled.ok());
  EXPECT_NE(labelled.status().message().find(
                "wide.sav: value labels \"labels0\": more than 65,536 labels, the limit"),
            std::string::npos)
      << labelled.status().message();
  EXPECT_TRUE(OpenRecordReader(WriteWide(1, 1000), {}, {}).ok());
}

}  // namespace
}  // namespace passerelle::data
