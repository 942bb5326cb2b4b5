#include "passerelle/data/record_reader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "passerelle/base/test_dir.h"
#include "passerelle/data/record_test_util.h"
#include "passerelle/data/value.h"

namespace passerelle::data {
namespace {

using testing::Fixture;
using testing::ReadFile;

TEST(RecordReader, TheExtensionPicksTheReader) {
  const std::string dir = passerelle::testing::FreshTestDir("records");
  std::ofstream(dir + "/a.TSV") << "id\tage\nx\t7\n";
  auto tsv = ReadFile(dir + "/a.TSV");
  ASSERT_TRUE(tsv.ok()) << tsv.status().message();
  EXPECT_EQ(tsv->header, (std::vector<std::string>{"id", "age"}));
  EXPECT_EQ(tsv->rows, (std::vector<std::vector<std::string>>{{"x", "7"}}));
  // Upper case is the same kind.
  std::filesystem::copy_file(Fixture("cells.sav"), dir + "/CELLS.SAV");
  auto sav = ReadFile(dir + "/CELLS.SAV");
  ASSERT_TRUE(sav.ok()) << sav.status().message();
  EXPECT_EQ(sav->rows.size(), 4u);
}

TEST(RecordReader, AnUnknownExtensionListsTheKindsThereAre) {
  auto unknown = OpenRecordReader("export.ods", {}, {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  const std::string& m = unknown.status().message();
  EXPECT_NE(m.find("export.ods: cannot tell the kind of file from its extension '.ods'"),
            std::string::npos)
      << m;
  for (const char* kind : {"CSV (.csv .tsv .txt)", "SPSS (.sav .zsav .por)", "Stata (.dta)",
                           "SAS (.sas7bdat .xpt)", "Excel (.xlsx)"}) {
    EXPECT_NE(m.find(kind), std::string::npos) << kind << " in " << m;
  }
  auto xls = OpenRecordReader("old.xls", {}, {});
  ASSERT_FALSE(xls.ok());
  EXPECT_NE(xls.status().message().find("save an .xls workbook as .xlsx"), std::string::npos);
  EXPECT_FALSE(OpenRecordReader("no_extension", {}, {}).ok());
}

TEST(RecordReader, CsvTakesNoSheetAndADecimalCommaMeansSemicolons) {
  const std::string dir = passerelle::testing::FreshTestDir("records");
  std::ofstream(dir + "/fr.csv") << "id;psa\nx;4,5\n";
  RecordOptions sheet;
  sheet.sheet = "Sheet1";
  EXPECT_FALSE(OpenRecordReader(dir + "/fr.csv", sheet, {}).ok());
  CellFormat comma;
  comma.decimal_comma = true;
  auto read = ReadFile(dir + "/fr.csv", {}, comma);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->rows, (std::vector<std::vector<std::string>>{{"x", "4,5"}}));
  RecordOptions commas;
  commas.separator = ',';
  EXPECT_FALSE(OpenRecordReader(dir + "/fr.csv", commas, comma).ok());
}

TEST(RecordReader, TypedNumbersHaveTheDigitsThatReadBackExactly) {
  const CellFormat point;
  EXPECT_EQ(FormatTypedNumber(0.1, point), "0.1");
  EXPECT_EQ(FormatTypedNumber(13.0, point), "13");
  EXPECT_EQ(FormatTypedNumber(1.0 / 3, point), "0.3333333333333333");
  EXPECT_EQ(FormatTypedNumber(-2.5e-7, point), "-2.5e-07");
  EXPECT_EQ(FormatTypedNumber(123456789012.0, point), "123456789012");
  for (double x : {0.1 + 0.2, 1e300, 6.02214076e23, -0.0001234, 4.35}) {
    EXPECT_EQ(*ParseNumber(FormatTypedNumber(x, point), false), x);
  }
  CellFormat comma;
  comma.decimal_comma = true;
  EXPECT_EQ(FormatTypedNumber(4.5, comma), "4,5");
  EXPECT_EQ(*ParseNumber(FormatTypedNumber(4.35, comma), true), 4.35);
}

TEST(RecordReader, CsvPlacesAreLineAndColumn) {
  const std::string dir = passerelle::testing::FreshTestDir("records");
  std::ofstream(dir + "/a.csv") << "id,age\nx,7\n";
  auto reader = OpenRecordReader(dir + "/a.csv", {}, {});
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->Where(3, 2), "3:2");
  EXPECT_EQ((*reader)->Where(3, 0), "3");
  EXPECT_EQ((*reader)->Where(0, 0), "");
  EXPECT_EQ((*reader)->header_line(), 1u);
}

}  // namespace
}  // namespace passerelle::data
