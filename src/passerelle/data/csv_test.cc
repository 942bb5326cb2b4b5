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
  Record record;
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
  EXPECT_EQ(ReadAll("a\n1;2\n", {.separator = ',', .encoding = ""}, &sep), (Rows{{"1;2"}}));
}

TEST(Csv, BlankLinesAndMissingFinalNewline) {
  EXPECT_EQ(ReadAll("a\n\n1\n\n2"), (Rows{{"1"}, {"2"}}));
  EXPECT_EQ(ReadAll("a,b\n1,"), (Rows{{"1", ""}}));
}

TEST(Csv, LinesAreTrackedAcrossEmbeddedNewlines) {
  // LF, CRLF, and CR alone (old Mac Excel) end lines inside a quoted field as between records.
  for (const std::string eol : {"\n", "\r\n", "\r"}) {
    auto reader =
        CsvReader::FromString("a,b" + eol + "\"x" + eol + "y\",1" + eol + "2,3" + eol, "t.csv", {});
    ASSERT_TRUE(reader.ok());
    Record record;
    ASSERT_TRUE(*(*reader)->Next(&record));
    EXPECT_EQ(record.field(0), "x" + eol + "y");
    EXPECT_EQ(record.line(0), 2u);
    EXPECT_EQ(record.line(1), 3u);
    ASSERT_TRUE(*(*reader)->Next(&record));
    EXPECT_EQ(record.first_line(), 4u);
  }
}

TEST(Csv, UnterminatedQuoteNamesItsLine) {
  auto reader = CsvReader::FromString("a,b\n1,2\n3,\"open\n", "t.csv", {});
  ASSERT_TRUE(reader.ok());
  Record record;
  ASSERT_TRUE(*(*reader)->Next(&record));
  auto more = (*reader)->Next(&record);
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(more.status().message(), "t.csv:3:2: a quoted field is never closed");
}

TEST(Csv, StrayCharacterAfterQuote) {
  auto reader = CsvReader::FromString("a\n\"x\"y\n", "t.csv", {});
  ASSERT_TRUE(reader.ok());
  Record record;
  auto more = (*reader)->Next(&record);
  ASSERT_FALSE(more.ok());
  EXPECT_NE(more.status().message().find("t.csv:2:1: unexpected character after a closing quote"),
            std::string::npos);
}

TEST(Csv, TextNotInUtf8IsRefusedNamingItsLikelyEncoding) {
  // "武汉" in GBK (and GB18030) is CE E4 BA BA: not UTF-8.
  auto reader = CsvReader::FromString("site,n\n\xCE\xE4\xBA\xBA,1\n", "gbk.csv", {});
  ASSERT_TRUE(reader.ok());
  Record record;
  auto more = (*reader)->Next(&record);
  ASSERT_FALSE(more.ok());
  EXPECT_NE(more.status().message().find("gbk.csv:2:1: the file is not valid UTF-8"),
            std::string::npos);
  EXPECT_NE(more.status().message().find("it reads as gb18030 (Chinese Windows): give --encoding "
                                         "gb18030"),
            std::string::npos)
      << more.status().message();
  // "Hôpital Édouard-Herriot" in Latin-1: single accented letters among ASCII.
  auto french = CsvReader::FromString(
      "site\nH\xF4pital \xC9"
      "douard-Herriot\n",
      "fr.csv", {});
  ASSERT_TRUE(french.ok());
  more = (*french)->Next(&record);
  ASSERT_FALSE(more.ok());
  EXPECT_NE(more.status().message().find("give --encoding windows-1252"), std::string::npos)
      << more.status().message();
  // Two Latin-1 letters inside a word, "Gößmann"; one Chinese character alone, 张; a byte
  // Windows-1252 leaves undefined.
  for (const auto& [field, likely] : std::vector<std::pair<std::string, std::string>>{
           {"G\xF6\xDFmann", "windows-1252"},
           {"\xD5\xC5", "gb18030"},
           {"a\x81z", "latin1"},
           // GB18030's four bytes (U+20000), with ASCII digits among them; French quotes
           // around no-break spaces, a pair that is no common Chinese character.
           {"\x95\x32\x82\x36\x95\x32\x82\x37", "gb18030"},
           {"\xAB\xA0oui\xA0\xBB", "windows-1252"}}) {
    auto one = CsvReader::FromString("name\n" + field + "\n", "one.csv", {});
    ASSERT_TRUE(one.ok());
    more = (*one)->Next(&record);
    ASSERT_FALSE(more.ok());
    EXPECT_NE(more.status().message().find("give --encoding " + likely), std::string::npos)
        << more.status().message();
  }
  auto header = CsvReader::FromString("\xCE\xE4,n\n1,2\n", "gbk.csv", {});
  EXPECT_FALSE(header.ok());
  auto utf16 = CsvReader::FromString(
      "\xFF\xFE"
      "a\0",
      "u.csv", {});
  ASSERT_FALSE(utf16.ok());
  EXPECT_NE(utf16.status().message().find("UTF-16"), std::string::npos);
  for (const auto& [unmarked, form] : std::vector<std::pair<std::string, std::string>>{
           {std::string("i\0d\0,\0x\0\n\0", 10), "iconv -f UTF-16LE"},
           {std::string("\0i\0d\0,\0x\0\n", 10), "iconv -f UTF-16BE"}}) {
    auto read = CsvReader::FromString(unmarked, "u.csv", {});
    ASSERT_FALSE(read.ok());
    EXPECT_NE(read.status().message().find(form), std::string::npos) << read.status().message();
  }
}

TEST(Csv, Gb18030Latin1AndWindows1252AreReadIntoUtf8) {
  CsvOptions gb;
  gb.encoding = "gb18030";
  // 武汉 (GBK's two bytes each) and 𠀀 (U+20000, one of GB18030's four-byte characters).
  EXPECT_EQ(ReadAll("site,n\n\xCE\xE4\xBA\xBA,1\n\x95\x32\x82\x36,2\n", gb),
            (std::vector<std::vector<std::string>>{{"\xE6\xAD\xA6\xE6\xB1\x89", "1"},
                                                   {"\xF0\xA0\x80\x80", "2"}}));
  CsvOptions gbk;
  gbk.encoding = "gbk";
  EXPECT_EQ(ReadAll("site\n\xCE\xE4\xBA\xBA\n", gbk)[0][0], "\xE6\xAD\xA6\xE6\xB1\x89");
  CsvOptions latin1;
  latin1.encoding = "latin1";
  EXPECT_EQ(ReadAll("site\nH\xF4pital\n", latin1)[0][0], "H\xC3\xB4pital");
  CsvOptions cp1252;
  cp1252.encoding = "windows-1252";
  EXPECT_EQ(ReadAll("site\n\x80 \x9C\n", cp1252)[0][0], "\xE2\x82\xAC \xC5\x93");  // € œ
  // Bytes that are not of the encoding named: the line, the byte, the encodings there are.
  auto bad = CsvReader::FromString("site\nok\n\x81\x20\n", "bad.csv", gb);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "bad.csv:3: the file is not gb18030 (byte 0x81); give its encoding with --encoding "
            "(utf-8, gb18030, gbk, latin1, windows-1252)");
  CsvOptions unknown;
  unknown.encoding = "big5";
  auto refused = CsvReader::FromString("a\n1\n", "t.csv", unknown);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("encoding 'big5': use utf-8, gb18030"),
            std::string::npos);
}

// Writes a file of a header "ab" and 349,600 rows of `row`, three bytes each: the row at byte
// 1,048,576, where the first chunk ends, is split after its first byte. Its bytes.
std::string RowsAcrossAChunk(const std::string& path, const std::string& row) {
  std::string bytes = "ab\n";
  for (int i = 0; i < 349600; ++i) bytes += row;
  std::ofstream(path, std::ios::binary) << bytes;
  return bytes;
}

// A UTF-8 file given another encoding would have its text stored as other characters ("中文"
// read as GB18030 is "涓枃"): refused, whether its bytes happen to decode or not, and across the
// chunks of a file.
TEST(Csv, AUtf8FileGivenAnotherEncodingIsRefused) {
  CsvOptions gb;
  gb.encoding = "gb18030";
  for (const std::string& text :
       {std::string("site\n\xE4\xB8\xAD\xE6\x96\x87\n"), std::string("site\n\xE4\xB8\xAD\n"),
        std::string("\xEF\xBB\xBFsite\nWuhan\n")}) {
    auto reader = CsvReader::FromString(text, "u8.csv", gb);
    Status status = reader.status();
    Record record;
    while (status.ok()) {
      auto more = (*reader)->Next(&record);
      if (!more.ok()) status = more.status();
      if (more.ok() && !*more) break;
    }
    ASSERT_FALSE(status.ok()) << text;
    EXPECT_NE(status.message().find("UTF-8"), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("leave --encoding out"), std::string::npos) << status.message();
  }
  // ASCII is ASCII in every encoding; GBK's text is not UTF-8.
  EXPECT_EQ(ReadAll("site\nLyon\n", gb)[0][0], "Lyon");
  // A GB18030 file read as GBK is told of GB18030.
  CsvOptions gbk;
  gbk.encoding = "gbk";
  auto four = CsvReader::FromString("site\n\x95\x32\x82\x36\n", "gb.csv", gbk);
  ASSERT_FALSE(four.ok());
  EXPECT_NE(four.status().message().find("GB18030 holds every character of GBK"), std::string::npos)
      << four.status().message();

  const std::string path = ::testing::TempDir() + "/latin_utf8.csv";
  RowsAcrossAChunk(path, "\xC3\xA9\n");  // é in UTF-8
  CsvOptions latin1;
  latin1.encoding = "latin1";
  auto reader = CsvReader::Open(path, latin1);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  Record record;
  Result<bool> more = true;
  while (more.ok() && *more) more = (*reader)->Next(&record);
  ASSERT_FALSE(more.ok());
  EXPECT_NE(more.status().message().find("the file is UTF-8"), std::string::npos)
      << more.status().message();
}

// A character split by the end of a 1 MiB chunk is read whole; the checksum is of the file's
// own bytes.
TEST(Csv, AnEncodedFileIsReadAcrossChunks) {
  const std::string path = ::testing::TempDir() + "/gb18030.csv";
  const std::string bytes = RowsAcrossAChunk(path, "\xD6\xD0\n");  // 中 in GB18030
  CsvOptions gb;
  gb.encoding = "gb18030";
  auto reader = CsvReader::Open(path, gb);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  Record record;
  int rows = 0;
  for (;;) {
    auto more = (*reader)->Next(&record);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    ASSERT_EQ(record.field(0), "\xE4\xB8\xAD") << "row " << rows;
    ++rows;
  }
  EXPECT_EQ(rows, 349600);
  EXPECT_EQ((*reader)->bytes_read(), bytes.size());
  Sha256 sha;
  sha.Update(bytes);
  EXPECT_EQ((*reader)->ChecksumHex(), sha.FinishHex());
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
  Record record;
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

// Plain lines (split at once), quoted ones, CRLF and LF, long and empty fields, UTF-8 text and
// a trailing empty field, mixed and across the 1 MiB chunks: each record's fields and line as
// written.
TEST(Csv, EveryKindOfLineGivesItsFieldsAcrossChunks) {
  const std::string path = ::testing::TempDir() + "/mixed.csv";
  std::string contents = "a,b,c\n";
  Rows expected;
  std::vector<size_t> lines;
  size_t line = 2;
  for (int i = 0; i < 40000; ++i) {
    std::vector<std::string> row = {std::to_string(i), std::string(i % 37, 'x'), ""};
    std::string text = row[0] + "," + row[1] + ",";
    switch (i % 5) {
      case 0:
        row[2] = "Wǔhàn 武汉";
        text += row[2];
        break;
      case 1:
        row[2] = "a,\"b\"";
        text += "\"a,\"\"b\"\"\"";
        break;
      case 2:
        row[2] = "line\nbreak";
        text += "\"line\nbreak\"";
        break;
      default:
        break;  // an empty last field
    }
    text += i % 3 == 0 ? "\r\n" : "\n";
    contents += text;
    expected.push_back(row);
    lines.push_back(line);
    line += i % 5 == 2 ? 2 : 1;
  }
  std::ofstream(path, std::ios::binary) << contents;
  auto reader = CsvReader::Open(path, {});
  ASSERT_TRUE(reader.ok());
  Record record;
  size_t r = 0;
  for (;; ++r) {
    auto more = (*reader)->Next(&record);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    ASSERT_LT(r, expected.size());
    ASSERT_EQ(record.size(), 3u) << r;
    for (size_t f = 0; f < 3; ++f) ASSERT_EQ(record.field(f), expected[r][f]) << r << " " << f;
    ASSERT_EQ(record.line(0), lines[r]) << r;
  }
  EXPECT_EQ(r, expected.size());
  EXPECT_EQ((*reader)->ChecksumHex(), Sha256Hex(contents));
  // Without a checksum wanted, the same records and no checksum.
  CsvOptions quick;
  quick.checksum = false;
  auto unhashed = CsvReader::Open(path, quick);
  ASSERT_TRUE(unhashed.ok());
  size_t count = 0;
  while (*(*unhashed)->Next(&record)) ++count;
  EXPECT_EQ(count, expected.size());
  EXPECT_EQ((*unhashed)->ChecksumHex(), "");
}

}  // namespace
}  // namespace passerelle::data
