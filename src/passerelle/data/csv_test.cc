#include "passerelle/data/csv.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace passerelle::data {
namespace {

std::vector<std::vector<std::string>> ReadAll(const std::string& text, CsvOptions options = {},
                                              char* separator = nullptr,
                                              std::vector<std::string>* header = nullptr) {
  auto reader = CsvReader::FromString(text, "t.csv", options);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  if (!reader.ok()) return {};
  if (separator) *separator = (*reader)->separator();
  if (header) *header = (*reader)->header();
  std::vector<std::vector<std::string>> rows;
  CsvRecord record;
  for (;;) {
    auto more = (*reader)->Next(&record);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) break;
    std::vector<std::string> row;
    for (size_t i = 0; i < record.size(); ++i) row.emplace_back(record.field(i));
    rows.push_back(row);
  }
  return rows;
}

using Rows = std::vector<std::vector<std::string>>;

TEST(Csv, PlainCommaSeparated) {
  char sep = 0;
  EXPECT_EQ(ReadAll("a,b\n1,2\n3,\n", {}, &sep), (Rows{{"1", "2"}, {"3", ""}}));
  EXPECT_EQ(sep, ',');
}

TEST(Csv, BomAndCrlf) {
  std::vector<std::string> header;
  EXPECT_EQ(ReadAll("\xEF\xBB\xBFid,age\r\n1,70\r\n2,NA\r\n", {}, nullptr, &header),
            (Rows{{"1", "70"}, {"2", "NA"}}));
  EXPECT_EQ(header, (std::vector<std::string>{"id", "age"}));
}

TEST(Csv, QuotedSeparatorsQuotesAndNewlines) {
  EXPECT_EQ(ReadAll("a,b\n\"x, y\",\"say \"\"hi\"\"\"\n\"two\nlines\",3\n"),
            (Rows{{"x, y", "say \"hi\""}, {"two\nlines", "3"}}));
  EXPECT_EQ(ReadAll("a,b\r\n\"two\r\nlines\",3\r\n"), (Rows{{"two\r\nlines", "3"}}));
}

TEST(Csv, SemicolonDetectedForFrenchExcel) {
  char sep = 0;
  EXPECT_EQ(ReadAll("age;psa\n70;4,5\n", {}, &sep), (Rows{{"70", "4,5"}}));
  EXPECT_EQ(sep, ';');
  EXPECT_EQ(ReadAll("a\tb\n1\t2\n", {}, &sep), (Rows{{"1", "2"}}));
  EXPECT_EQ(sep, '\t');
  EXPECT_EQ(ReadAll("a\n1;2\n", {.separator = ','}, &sep), (Rows{{"1;2"}}));
}

TEST(Csv, BlankLinesAndMissingFinalNewline) {
  EXPECT_EQ(ReadAll("a\n\n1\n\n2"), (Rows{{"1"}, {"2"}}));
  EXPECT_EQ(ReadAll("a,b\n1,"), (Rows{{"1", ""}}));
}

TEST(Csv, LinesAreTrackedAcrossEmbeddedNewlines) {
  auto reader = CsvReader::FromString("a,b\n\"x\ny\",1\n2,3\n", "t.csv", {});
  ASSERT_TRUE(reader.ok());
  CsvRecord record;
  ASSERT_TRUE(*(*reader)->Next(&record));
  EXPECT_EQ(record.line(0), 2u);
  EXPECT_EQ(record.line(1), 3u);
  ASSERT_TRUE(*(*reader)->Next(&record));
  EXPECT_EQ(record.first_line(), 4u);
}

TEST(Csv, UnterminatedQuoteNamesItsLine) {
  auto reader = CsvReader::FromString("a,b\n1,2\n3,\"open\n", "t.csv", {});
  ASSERT_TRUE(reader.ok());
  CsvRecord record;
  ASSERT_TRUE(*(*reader)->Next(&record));
  auto more = (*reader)->Next(&record);
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(more.status().message(), "t.csv:3:2: a quoted field is never closed");
}

TEST(Csv, StrayCharacterAfterQuote) {
  auto reader = CsvReader::FromString("a\n\"x\"y\n", "t.csv", {});
  ASSERT_TRUE(reader.ok());
  CsvRecord record;
  auto more = (*reader)->Next(&record);
  ASSERT_FALSE(more.ok());
  EXPECT_NE(more.status().message().find("t.csv:2:1: unexpected character after a closing quote"),
            std::string::npos);
}

TEST(Csv, GbkIsRefusedWithIconvAdvice) {
  // "武汉" in GBK is D0 E4 BA BA: not UTF-8.
  auto reader = CsvReader::FromString("site,n\n\xCE\xE4\xBA\xBA,1\n", "gbk.csv", {});
  ASSERT_TRUE(reader.ok());
  CsvRecord record;
  auto more = (*reader)->Next(&record);
  ASSERT_FALSE(more.ok());
  EXPECT_NE(more.status().message().find("gbk.csv:2:1: the file is not valid UTF-8"),
            std::string::npos);
  EXPECT_NE(more.status().message().find("iconv -f GB18030 -t UTF-8"), std::string::npos);
  auto header = CsvReader::FromString("\xCE\xE4,n\n1,2\n", "gbk.csv", {});
  EXPECT_FALSE(header.ok());
  auto utf16 = CsvReader::FromString(
      "\xFF\xFE"
      "a\0",
      "u.csv", {});
  ASSERT_FALSE(utf16.ok());
  EXPECT_NE(utf16.status().message().find("UTF-16"), std::string::npos);
}

TEST(Csv, HeaderNamesMustBeVariableNames) {
  EXPECT_FALSE(CsvReader::FromString("a,b c\n", "t.csv", {}).ok());
  EXPECT_FALSE(CsvReader::FromString("a,a\n", "t.csv", {}).ok());
  EXPECT_FALSE(CsvReader::FromString("", "t.csv", {}).ok());
  EXPECT_TRUE(CsvReader::FromString("\"ph.ecog\", age \n", "t.csv", {}).ok());
}

TEST(Csv, StreamsFromFileAcrossChunksAndChecksumsBytes) {
  const std::string path = ::testing::TempDir() + "/big.csv";
  std::string contents = "id,note\n";
  for (int i = 0; i < 60000; ++i) {
    contents += std::to_string(i) + ",\"a, \"\"quoted\"\"\nnote " + std::to_string(i) + "\"\n";
  }
  std::ofstream(path, std::ios::binary) << contents;
  auto reader = CsvReader::Open(path, {});
  ASSERT_TRUE(reader.ok());
  CsvRecord record;
  int rows = 0;
  for (;;) {
    auto more = (*reader)->Next(&record);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    ASSERT_EQ(record.field(0), std::to_string(rows));
    ASSERT_EQ(record.field(1), "a, \"quoted\"\nnote " + std::to_string(rows));
    ++rows;
  }
  EXPECT_EQ(rows, 60000);
  EXPECT_EQ((*reader)->ChecksumHex(), Sha256Hex(contents));
  EXPECT_FALSE(CsvReader::Open(path + ".missing", {}).ok());
}

}  // namespace
}  // namespace passerelle::data
