// Analysis data read from CSV files: records split on one thread and converted on another, a
// batch at a time, give the file's rows in its order.
#include "passerelle/data/csv_table.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "passerelle/base/test_dir.h"

namespace passerelle::data {
namespace {

TEST(CsvTable, ManyBatchesKeepTheFilesOrder) {
  const std::string dir = testing::FreshTestDir("csv_table");
  const size_t n = 10000;  // more than two batches
  {
    std::ofstream out(dir + "/a.csv");
    out << "x,group,y\n";
    for (size_t i = 0; i < n; ++i) {
      out << i << "," << (i < 6000 ? std::to_string(i % 3) : "c") << "," << (i % 7 ? "" : "NA")
          << (i % 7 ? std::to_string(i * 0.5) : "") << "\n";
    }
  }
  auto table = ReadCsvTable({dir + "/a.csv", dir + "/a.csv"}, {});
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_EQ(table->rows, 2 * n);
  const Column* x = table->Find("x");
  const Column* group = table->Find("group");
  const Column* y = table->Find("y");
  ASSERT_TRUE(x && group && y);
  ASSERT_TRUE(x->is_numeric());
  EXPECT_FALSE(group->is_numeric());  // text from row 6001 on: a category
  for (size_t i = 0; i < 2 * n; ++i) {
    const size_t r = i % n;
    EXPECT_EQ(x->Number(i), static_cast<double>(r)) << i;
    if (r % 7 == 0) {
      EXPECT_TRUE(std::isnan(y->Number(i))) << i;
    } else {
      EXPECT_EQ(y->Number(i), static_cast<double>(r) * 0.5) << i;
    }
    const std::string expected = r < 6000 ? std::to_string(r % 3) : "c";
    EXPECT_EQ(group->levels[group->codes[i]], expected) << i;
  }
}

TEST(CsvTable, OnlyTheColumnsNamedAreKept) {
  const std::string dir = testing::FreshTestDir("csv_table_only");
  std::ofstream(dir + "/a.csv") << "a,b,c\n1,x,3\nNA,y,\n";
  std::ofstream(dir + "/b.csv") << "c,b,a\n6,z,4\n";  // the same columns, in another order
  CsvTableOptions options;
  options.only = {"a", "c", "log"};  // a name no column has is no error
  auto table = ReadCsvTable({dir + "/a.csv", dir + "/b.csv"}, options);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_EQ(table->columns.size(), 2u);
  EXPECT_EQ(table->Find("b"), nullptr);
  ASSERT_EQ(table->rows, 3u);
  const Column* a = table->Find("a");
  const Column* c = table->Find("c");
  ASSERT_TRUE(a && c);
  EXPECT_EQ(a->Number(0), 1);
  EXPECT_TRUE(std::isnan(a->Number(1)));
  EXPECT_EQ(a->Number(2), 4);
  EXPECT_EQ(c->Number(0), 3);
  EXPECT_TRUE(std::isnan(c->Number(1)));
  EXPECT_EQ(c->Number(2), 6);
}

TEST(CsvTable, ABrokenRecordFarInNamesItsLine) {
  const std::string dir = testing::FreshTestDir("csv_table");
  {
    std::ofstream out(dir + "/b.csv");
    out << "x,y\n";
    for (int i = 0; i < 9000; ++i) out << i << "," << i << "\n";
    out << "1,2,3\n";
    for (int i = 0; i < 100; ++i) out << i << "," << i << "\n";
  }
  auto table = ReadCsvTable({dir + "/b.csv"}, {});
  ASSERT_FALSE(table.ok());
  EXPECT_NE(table.status().message().find("b.csv:9002: record has 3 fields"), std::string::npos)
      << table.status().message();
}

}  // namespace
}  // namespace passerelle::data
