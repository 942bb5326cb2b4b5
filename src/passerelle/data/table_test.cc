// Who each row of a table is, for the release ledger.
#include "passerelle/data/table.h"

#include <gtest/gtest.h>

namespace passerelle::data {
namespace {

Table Patients() {
  Variable id_var;
  id_var.name = "id";
  id_var.type = VarType::kIdentifier;
  Variable age_var;
  age_var.name = "age";
  age_var.type = VarType::kInteger;
  ColumnBuilder id(id_var), age(age_var);
  for (const char* value : {"a", "b", "a", "", "a", "c"}) {
    if (*value) {
      id.AddText(value);
    } else {
      id.AddMissing();
    }
  }
  for (double value : {60, 61, 62, 63, 64, 65}) age.AddNumber(value);
  Table t;
  t.rows = 6;
  t.columns.push_back(id.Finish());
  t.columns.push_back(age.Finish());
  return t;
}

// An identifier names its record; a repeat is told apart by its occurrence, in row order; a
// record without one is known by all its values.
TEST(RecordIdentities, AnIdentifierOrTheRowsValuesARepeatByItsOccurrence) {
  const std::vector<std::string> want = {"id:a",
                                         "id:b",
                                         "id:a#2",
                                         "row\x1f\x1f"
                                         "63",
                                         "id:a#3",
                                         "id:c"};
  const Table table = Patients();
  EXPECT_EQ(RecordIdentities(table), want);
}

}  // namespace
}  // namespace passerelle::data

namespace passerelle::data {
namespace {

// An integer or date column is held in as few bytes a row as its values need (1, 2 or 4),
// widened as they come, and reads back the same numbers and missing values; a value 32 bits do
// not hold turns the column into doubles, unchanged.
TEST(Column, IntegersAreHeldInTheBytesTheyNeedAndReadBackTheSame) {
  Variable v;
  v.name = "days", v.type = VarType::kInteger;
  ColumnBuilder narrow(v), small(v), large(v);
  const double kMissing = -1e300;  // stands for a missing value below
  const std::vector<double> values = {kMissing, 0,      -3,         127,         -127, kMissing,
                                      300,      -32767, 2147483647, -2147483647, 42};
  for (ColumnBuilder* b : {&small, &large}) {
    for (double x : values) x == kMissing ? b->AddMissing() : b->AddNumber(x);
  }
  for (double x : {1.0, -128.0, 0.0}) narrow.AddNumber(x);  // -128 needs 2 bytes
  large.AddNumber(4294967296.0);                            // 2^32
  const Column a = small.Finish(), b = large.Finish(), c = narrow.Finish();
  EXPECT_TRUE(a.integral && c.integral);
  EXPECT_TRUE(a.numbers.empty());
  EXPECT_FALSE(b.integral);
  for (size_t r = 0; r < values.size(); ++r) {
    SCOPED_TRACE(r);
    for (const Column* col : {&a, &b}) {
      EXPECT_EQ(col->IsMissing(r), values[r] == kMissing);
      if (values[r] == kMissing) {
        EXPECT_TRUE(std::isnan(col->Number(r)));
      } else {
        EXPECT_EQ(col->Number(r), values[r]);
      }
    }
  }
  EXPECT_EQ(b.Number(values.size()), 4294967296.0);
  EXPECT_EQ(c.Numbers(), std::vector<double>({1, -128, 0}));
  EXPECT_FALSE(c.IsMissing(1));
  // Sliced, stacked on a narrower column, and under a column held as doubles.
  Table ta, tb, tc;
  ta.rows = values.size(), tb.rows = values.size() + 1, tc.rows = 3;
  ta.columns = {a}, tb.columns = {b}, tc.columns = {c};
  const Table slice = SliceRows(ta, 1, 4);
  EXPECT_TRUE(slice.columns[0].integral);
  EXPECT_EQ(slice.columns[0].Numbers(), std::vector<double>({0, -3, 127}));
  Result<Table> wider = StackTables(tc, ta);
  ASSERT_TRUE(wider.ok());
  EXPECT_TRUE(wider->columns[0].integral);
  EXPECT_EQ(wider->columns[0].Number(1), -128);
  EXPECT_TRUE(wider->columns[0].IsMissing(3) && wider->columns[0].IsMissing(8));
  EXPECT_EQ(wider->columns[0].Number(11), 2147483647);
  Result<Table> both = StackTables(ta, tb);
  ASSERT_TRUE(both.ok());
  EXPECT_FALSE(both->columns[0].integral);
  EXPECT_EQ(both->rows, 2 * values.size() + 1);
  EXPECT_EQ(both->columns[0].Number(2 * values.size()), 4294967296.0);
  EXPECT_EQ(both->columns[0].Number(8), 2147483647);
  EXPECT_TRUE(both->columns[0].IsMissing(5) && both->columns[0].IsMissing(values.size() + 5));
}

}  // namespace
}  // namespace passerelle::data
