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
