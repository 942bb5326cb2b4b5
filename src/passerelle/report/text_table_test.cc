#include "passerelle/report/text_table.h"

#include <gtest/gtest.h>

namespace passerelle::report {
namespace {

TEST(TextTable, PadsByCharactersAndRightAlignsNumbers) {
  TextTable t({"variable", "n"});
  t.AddRow({"organ", "12"});
  t.AddRow({"器官", "3"});
  EXPECT_EQ(t.Render(),
            "variable  n\n"
            "------------\n"
            "organ     12\n"
            "器官         3\n");
}

}  // namespace
}  // namespace passerelle::report
