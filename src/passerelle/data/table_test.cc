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

// An integer or date column is held in 4 bytes a row while its values fit 32 bits, and reads
// back the same numbers; a value that does not fit turns the column into doubles, unchanged.
TEST(Column, IntegersAreHeldInThirtyTwoBitsAndReadBackTheSame) {
  Variable v;
  v.name = "days", v.type = VarType::kInteger;
  ColumnBuilder small(v), large(v);
  const std::vector<double> values = {0, -3, 2147483647, -2147483647, 42};
  for (ColumnBuilder* b : {&small, &large}) {
    for (double x : values) b->AddNumber(x);
    b->AddMissing();
  }
  large.AddNumber(4294967296.0);  // 2^32
  const Column a = small.Finish(), b = large.Finish();
  EXPECT_TRUE(a.integral);
  EXPECT_TRUE(a.numbers.empty());
  EXPECT_FALSE(b.integral);
  for (size_t r = 0; r < values.size(); ++r) {
    EXPECT_EQ(a.Number(r), values[r]);
    EXPECT_EQ(b.Number(r), values[r]);
    EXPECT_FALSE(a.IsMissing(r));
  }
  EXPECT_TRUE(a.IsMissing(5) && b.IsMissing(5));
  EXPECT_TRUE(std::isnan(a.Number(5)) && std::isnan(b.Number(5)));
  EXPECT_EQ(b.Number(6), 4294967296.0);
  // Sliced, and stacked under a column held as doubles.
  Table ta, tb;
  ta.rows = 6, tb.rows = 7;
  ta.columns = {a}, tb.columns = {b};
  const Table slice = SliceRows(ta, 1, 3);
  EXPECT_TRUE(slice.columns[0].integral);
  EXPECT_EQ(slice.columns[0].Numbers(),
            std::vector<double>(values.begin() + 1, values.begin() + 3));
  Result<Table> both = StackTables(ta, tb);
  ASSERT_TRUE(both.ok());
  EXPECT_FALSE(both->columns[0].integral);
  EXPECT_EQ(both->rows, 13u);
  EXPECT_EQ(both->columns[0].Number(12), 4294967296.0);
  EXPECT_EQ(both->columns[0].Number(2), 2147483647);
  EXPECT_TRUE(both->columns[0].IsMissing(5) && both->columns[0].IsMissing(11));
  Result<Table> twice = StackTables(ta, ta);
  ASSERT_TRUE(twice.ok());
  EXPECT_TRUE(twice->columns[0].integral);
  EXPECT_EQ(twice->columns[0].Number(9), -2147483647);
}

}  // namespace
}  // namespace passerelle::data
