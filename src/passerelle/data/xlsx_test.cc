#include "passerelle/data/xlsx.h"

#include <gtest/gtest.h>

#include <fstream>

#include "passerelle/base/test_dir.h"
#include "passerelle/data/record_test_util.h"
#include "passerelle/data/value.h"
#include "passerelle/data/zip_test_util.h"

namespace passerelle::data {
namespace {

using testing::DeflatedRun;
using testing::Fixture;
using testing::ReadAll;
using testing::ReadFile;
using testing::SheetXml;
using testing::StoredEntry;
using testing::Workbook;
using testing::WorkbookParts;
using testing::ZipArchive;

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

// ---- Hostile workbooks ----

// Reads a workbook held in memory to its end: the error that stopped it, or "" when none did.
std::string Refusal(const std::string& workbook) {
  auto reader = OpenXlsxBytes(workbook, "hostile.xlsx", {}, {});
  if (!reader.ok()) return reader.status().message();
  const auto read = ReadAll(reader->get());
  return read.status.ok() ? "" : read.status.message();
}

std::string Row(size_t number, const std::string& cells) {
  return "<row r=\"" + std::to_string(number) + "\">" + cells + "</row>";
}
std::string InlineCell(const std::string& ref, const std::string& text) {
  return "<c r=\"" + ref + "\" t=\"inlineStr\"><is><t>" + text + "</t></is></c>";
}

const std::string kHeader = Row(1, InlineCell("A1", "id") + InlineCell("B1", "age"));

TEST(XlsxHostile, AWorkbookInMemoryReadsAsOnDisk) {
  const std::string workbook =
      Workbook(SheetXml(kHeader + Row(2, InlineCell("A2", "p1") + "<c r=\"B2\"><v>61</v></c>")));
  auto reader = OpenXlsxBytes(workbook, "memory.xlsx", {}, {});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  const auto read = ReadAll(reader->get());
  ASSERT_TRUE(read.status.ok()) << read.status.message();
  EXPECT_EQ(read.rows, (std::vector<std::vector<std::string>>{{"p1", "61"}}));
}

// Excel's _xHHHH_ escapes are UTF-16 units: a character beyond U+FFFF is a pair of them, and a
// surrogate alone is no character (U+FFFD), never bytes that are not UTF-8.
TEST(Xlsx, EscapedCharactersAreUtf16Units) {
  const std::string workbook = Workbook(SheetXml(
      kHeader +
      Row(2, InlineCell("A2", "a_xD840__xDC00_b_x000D__x00E9_") + "<c r=\"B2\"><v>61</v></c>") +
      Row(3, InlineCell("A3", "_xD840_x_xDC00_") + "<c r=\"B3\"><v>62</v></c>")));
  auto reader = OpenXlsxBytes(workbook, "escapes.xlsx", {}, {});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  const auto read = ReadAll(reader->get());
  ASSERT_TRUE(read.status.ok()) << read.status.message();
  EXPECT_EQ(read.rows,
            (std::vector<std::vector<std::string>>{{"a\xF0\xA0\x80\x80"
                                                    "b\r\xC3\xA9",
                                                    "61"},
                                                   {"\xEF\xBF\xBDx\xEF\xBF\xBD", "62"}}));
}

// TRUE/FALSE cells are 1 or 0 (or, from some writers, true or false); a date before the
// calendar's first day is no day; a style the workbook does not have is no style.
TEST(XlsxHostile, CellsTheirTypeOrStyleCannotHoldAreRefused) {
  const auto rows = [](const std::string& b2, const std::string& styles = "") {
    return Workbook(SheetXml(kHeader + Row(2, InlineCell("A2", "p1") + b2)), "", styles);
  };
  for (const auto& [v, read] : std::vector<std::pair<std::string, std::string>>{
           {"1", "TRUE"}, {"0", "FALSE"}, {"true", "TRUE"}, {"FALSE", "FALSE"}}) {
    auto reader = OpenXlsxBytes(rows("<c r=\"B2\" t=\"b\"><v>" + v + "</v></c>"), "b.xlsx", {}, {});
    ASSERT_TRUE(reader.ok()) << reader.status().message();
    const auto all = ReadAll(reader->get());
    ASSERT_TRUE(all.status.ok()) << all.status.message();
    EXPECT_EQ(all.rows[0][1], read) << v;
  }
  for (const std::string v : {"2", "-1", "yes"}) {
    const std::string why = Refusal(rows("<c r=\"B2\" t=\"b\"><v>" + v + "</v></c>"));
    EXPECT_NE(why.find("hostile.xlsx:data!B2: "), std::string::npos) << why;
    EXPECT_NE(why.find("neither 1 nor 0"), std::string::npos) << why;
  }
  const std::string styles = std::string("<?xml version=\"1.0\"?>\n<styleSheet xmlns=\"") +
                             testing::kSheetNamespace +
                             "\"><cellXfs count=\"2\"><xf numFmtId=\"0\"/><xf "
                             "numFmtId=\"14\"/></cellXfs></styleSheet>";
  auto first = OpenXlsxBytes(rows("<c r=\"B2\" s=\"1\"><v>1</v></c>", styles), "d.xlsx", {}, {});
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(ReadAll(first->get()).rows[0][1], "1900-01-01");
  for (const std::string v : {"0", "-1", "0.5"}) {
    const std::string why = Refusal(rows("<c r=\"B2\" s=\"1\"><v>" + v + "</v></c>", styles));
    EXPECT_NE(why.find("before the first day of the workbook's calendar"), std::string::npos)
        << v << ": " << why;
  }
  const std::string unknown = Refusal(rows("<c r=\"B2\" s=\"50\"><v>1</v></c>", styles));
  EXPECT_NE(unknown.find("the cell's style 50 is not one of the 2 styles the workbook has"),
            std::string::npos)
      << unknown;
  for (const std::string s : {"-1", "1.5", " 1", "0x1", "99999999999"}) {
    const std::string malformed =
        Refusal(rows("<c r=\"B2\" s=\"" + s + "\"><v>43000</v></c>", styles));
    EXPECT_NE(malformed.find("the cell's style is not a style's number"), std::string::npos)
        << s << ": " << malformed;
  }
}

// A sheet of 1 GiB and a mebibyte of spaces, deflated to a thousandth: its declared size is
// refused before a byte is decompressed.
TEST(XlsxHostile, AZipBombThatDeclaresItsSizeIsRefusedBeforeItIsRead) {
  std::vector<testing::ZipEntry> entries = WorkbookParts(false, false);
  const std::string open = SheetXml(kHeader).substr(0, SheetXml(kHeader).find("</sheetData>"));
  entries.push_back(DeflatedRun("xl/worksheets/sheet1.xml", open, ' ',
                                (uint64_t{1} << 30) + (1 << 20), "</sheetData></worksheet>"));
  ASSERT_LT(entries.back().stored.size(), size_t{2} << 20);
  const std::string why = Refusal(ZipArchive(entries));
  EXPECT_NE(why.find("hostile.xlsx: xl/worksheets/sheet1.xml: the part declares 1,074,790,"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("over the limit of 1,073,741,824 bytes (1 GiB) a part"), std::string::npos)
      << why;
}

// Under the size limit, but deflated more than 1000 to 1.
TEST(XlsxHostile, AZipBombUnderTheSizeLimitIsRefusedForItsRatio) {
  std::vector<testing::ZipEntry> entries = WorkbookParts(false, false);
  entries.push_back(DeflatedRun("xl/worksheets/sheet1.xml", "<worksheet><sheetData>", ' ',
                                size_t{64} << 20, "</sheetData></worksheet>"));
  const std::string why = Refusal(ZipArchive(entries));
  EXPECT_NE(why.find("hostile.xlsx: xl/worksheets/sheet1.xml: the part declares 67,108,910 bytes "
                     "decompressed from "),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("a ratio over the limit of 1,000 to 1: a zip bomb"), std::string::npos) << why;
}

// The same bomb declaring 4 KiB: decompression stops at the first bytes beyond it.
TEST(XlsxHostile, AZipBombThatLiesAboutItsSizeIsStoppedAtTheSizeItDeclares) {
  for (const uint64_t run : {uint64_t{64} << 20, (uint64_t{1} << 30) + (1 << 20)}) {
    std::vector<testing::ZipEntry> entries = WorkbookParts(false, false);
    entries.push_back(DeflatedRun("xl/worksheets/sheet1.xml", SheetXml(kHeader).substr(0, 200), ' ',
                                  run, "</sheetData></worksheet>"));
    entries.back().size = 4096;
    const std::string why = Refusal(ZipArchive(entries));
    EXPECT_NE(
        why.find("hostile.xlsx: xl/worksheets/sheet1.xml: decompresses to more than the 4,096 "
                 "bytes it declares: the workbook is damaged, or a zip bomb"),
        std::string::npos)
        << why;
  }
}

// Entities that expand a thousandfold at each level: refused at the DOCTYPE, before any.
TEST(XlsxHostile, BillionLaughsInTheSharedStringsAreRefused) {
  const std::string laughs = testing::BillionLaughs();
  const std::string sheet =
      SheetXml(Row(1, "<c r=\"A1\" t=\"s\"><v>0</v></c>") + Row(2, "<c r=\"A2\"><v>1</v></c>"));
  const std::string why = Refusal(Workbook(sheet, laughs));
  EXPECT_NE(why.find("hostile.xlsx: xl/sharedStrings.xml: a DOCTYPE declaration, which no "
                     "workbook part has (entities are refused)"),
            std::string::npos)
      << why;
  // An external entity likewise.
  const std::string external =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE sst [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
      "<sst><si><t>&x;</t></si></sst>";
  EXPECT_NE(Refusal(Workbook(sheet, external)).find("a DOCTYPE declaration"), std::string::npos);
}

TEST(XlsxHostile, DeepNestingIsRefused) {
  std::string deep;
  for (int i = 0; i < 300; ++i) deep += "<x>";
  for (int i = 0; i < 300; ++i) deep += "</x>";
  const std::string why = Refusal(Workbook(SheetXml(kHeader), "<sst>" + deep + "</sst>"));
  EXPECT_NE(why.find("hostile.xlsx: xl/sharedStrings.xml: XML elements nested deeper than 256 "
                     "levels, the limit"),
            std::string::npos)
      << why;
}

TEST(XlsxHostile, AHugeTagIsRefused) {
  const std::string tag = "<c r=\"A2\" junk=\"" + std::string(3 << 20, 'x') + "\"><v>1</v></c>";
  const std::string why = Refusal(Workbook(SheetXml(kHeader + Row(2, tag))));
  EXPECT_NE(why.find("an XML tag, comment or declaration longer than 1,048,576 bytes, the limit"),
            std::string::npos)
      << why;
}

// Cells numbered one after another, without references, beyond column XFD.
TEST(XlsxHostile, MoreColumnsThanExcelHasAreRefused) {
  std::string cells;
  for (int i = 0; i < 16385; ++i) cells += "<c><v>" + std::to_string(i) + "</v></c>";
  const std::string why = Refusal(Workbook(SheetXml(kHeader + Row(2, cells))));
  EXPECT_NE(why.find("hostile.xlsx:data row 2: more than 16,384 columns, Excel's own limit"),
            std::string::npos)
      << why;
}

TEST(XlsxHostile, CellReferencesOutOfRangeOrMalformedAreRefused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"XFE2",
       "hostile.xlsx:data row 2: cell reference \"XFE2\" is beyond Excel's last column, "
       "XFD (16,384), or its last row, 1,048,576"},
      {"A1048577", "cell reference \"A1048577\" is beyond"},
      {"ZZZZZZZZZZZZZZ2", "cell reference \"ZZZZZZZZZZZZZZ2\" is beyond"},
      {"A99999999999999999999999", "is beyond"},
      {"B", "hostile.xlsx:data row 2: cell reference \"B\" is not one"},
      {"2B", "cell reference \"2B\" is not one"},
      {"A0", "cell reference \"A0\" is not one"},
      {"A-2", "cell reference \"A-2\" is not one"},
  };
  for (const auto& [ref, expected] : cases) {
    const std::string why =
        Refusal(Workbook(SheetXml(kHeader + Row(2, "<c r=\"" + ref + "\"><v>1</v></c>"))));
    EXPECT_NE(why.find(expected), std::string::npos) << ref << ": " << why;
  }
  const std::string far_row =
      Refusal(Workbook(SheetXml(kHeader + "<row r=\"1048577\"><c><v>1</v></c></row>")));
  EXPECT_NE(far_row.find("hostile.xlsx:data row 1048577: beyond Excel's last row, 1,048,576"),
            std::string::npos)
      << far_row;
  const std::string backwards = Refusal(
      Workbook(SheetXml(kHeader + Row(3, InlineCell("A3", "x")) + Row(2, InlineCell("A2", "y")))));
  EXPECT_NE(
      backwards.find("hostile.xlsx:data row 2: it comes after row 3: the sheet's rows are out "
                     "of order"),
      std::string::npos)
      << backwards;
  std::string with_merge = SheetXml(kHeader);
  with_merge.insert(with_merge.find("</worksheet>"),
                    "<mergeCells><mergeCell ref=\"A1:XFE1\"/></mergeCells>");
  const std::string merged = Refusal(Workbook(with_merge));
  EXPECT_NE(merged.find("merged range \"A1:XFE1\": cell reference \"XFE1\" is beyond"),
            std::string::npos)
      << merged;
}

TEST(XlsxHostile, TextLongerThanExcelsCellsIsRefused) {
  const std::string long_text(32768, 'a');
  const std::string inline_cell =
      Refusal(Workbook(SheetXml(kHeader + Row(2, InlineCell("A2", long_text)))));
  EXPECT_NE(inline_cell.find("hostile.xlsx:data!A2: the cell holds more than 32,767 characters, "
                             "Excel's own limit for a cell"),
            std::string::npos)
      << inline_cell;
  // 32,767 characters of three bytes each are within it.
  std::string chinese;
  for (int i = 0; i < 32767; ++i) chinese += "\xe5\x8c\x97";
  EXPECT_EQ(Refusal(Workbook(SheetXml(kHeader + Row(2, InlineCell("A2", chinese))))), "");
  const std::string shared = Refusal(
      Workbook(SheetXml(kHeader), "<sst><si><t>a</t></si><si><t>" + long_text + "</t></si></sst>"));
  EXPECT_NE(shared.find("hostile.xlsx: xl/sharedStrings.xml: shared string 2: the cell holds more "
                        "than 32,767 characters"),
            std::string::npos)
      << shared;
}

// A short reference to a long shared string, 16,384 times in a row: the row's text is bounded.
TEST(XlsxHostile, ARowOfTooMuchTextIsRefused) {
  std::string cells;
  for (int i = 1; i <= 1000; ++i) {
    cells += "<c r=\"" + ColumnLetters(i) + "2\" t=\"s\"><v>0</v></c>";
  }
  const std::string why =
      Refusal(Workbook(SheetXml(kHeader + Row(2, cells)),
                       "<sst><si><t>" + std::string(30000, 'x') + "</t></si></sst>"));
  EXPECT_NE(why.find("hostile.xlsx:data row 2: the row holds more than 16,777,216 bytes of text, "
                     "the limit of a record"),
            std::string::npos)
      << why;
}

TEST(XlsxHostile, OnlyStoredAndDeflatedPartsAreRead) {
  std::vector<testing::ZipEntry> entries = WorkbookParts(false, false);
  entries.push_back(StoredEntry("xl/worksheets/sheet1.xml", SheetXml(kHeader)));
  entries.back().method = 12;  // bzip2
  const std::string why = Refusal(ZipArchive(entries));
  EXPECT_NE(why.find("hostile.xlsx: xl/worksheets/sheet1.xml: the part is compressed by method 12, "
                     "which Excel does not write"),
            std::string::npos)
      << why;
}

// Every prefix of a real workbook: refused by name, never a crash.
TEST(XlsxHostile, ATruncatedWorkbookIsRefused) {
  std::ifstream in(Fixture("dates1904.xlsx"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t n = 0; n < bytes.size(); n += 97) {
    const std::string why = Refusal(bytes.substr(0, n));
    EXPECT_NE(why.find("hostile.xlsx: "), std::string::npos) << n << ": " << why;
  }
}

}  // namespace
}  // namespace passerelle::data
