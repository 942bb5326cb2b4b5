#include "passerelle/analysis/describe.h"

#include <gtest/gtest.h>

#include <cmath>

namespace passerelle::analysis {
namespace {

TEST(Describe, SummarisesEachType) {
  data::Variable age, organ, id;
  age.name = "age";
  age.type = data::VarType::kInteger;
  organ.name = "organ";
  organ.type = data::VarType::kCategory;
  organ.levels = {"prostate", "bladder"};
  id.name = "id";
  id.type = data::VarType::kIdentifier;
  data::ColumnBuilder a(age), o(organ), i(id);
  a.AddNumber(60);
  a.AddNumber(70);
  a.AddMissing();
  o.AddText("bladder");
  o.AddText("bladder");
  o.AddMissing();
  i.AddText("x1");
  i.AddText("x2");
  i.AddMissing();
  data::Table table;
  table.columns = {a.Finish(), o.Finish(), i.Finish()};
  table.rows = 3;
  const auto d = Describe(table);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].n, 2u);
  EXPECT_EQ(d[0].missing, 1u);
  EXPECT_DOUBLE_EQ(d[0].mean, 65);
  EXPECT_NEAR(d[0].sd, std::sqrt(50.0), 1e-12);
  ASSERT_EQ(d[1].levels.size(), 2u);
  EXPECT_EQ(d[1].levels[0], (std::pair<std::string, size_t>("prostate", 0)));
  EXPECT_EQ(d[1].levels[1], (std::pair<std::string, size_t>("bladder", 2)));
  EXPECT_EQ(d[2].n, 2u);
  EXPECT_EQ(d[2].missing, 1u);
}

}  // namespace
}  // namespace passerelle::analysis
