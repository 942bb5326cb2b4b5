#include "passerelle/data/infer.h"

#include <gtest/gtest.h>

#include "passerelle/base/text.h"
#include "passerelle/data/csv.h"
#include "passerelle/data/record_test_util.h"

namespace passerelle::data {
namespace {

TEST(Infer, TypesFromValues) {
  std::string csv = "patient_id,age,psa,dx,organ,note,empty\n";
  const char* organs[] = {"prostate", "bladder", "kidney"};
  for (int i = 0; i < 30; ++i) {
    csv += "P" + std::to_string(i) + "," + std::to_string(50 + i) + "," + std::to_string(i) +
           ".5,2020-01-" + (i % 28 < 9 ? "0" : "") + std::to_string(i % 28 + 1) + "," +
           organs[i % 3] + ",free text " + std::to_string(i) + ",NA\n";
  }
  auto reader = CsvReader::FromString(csv, "t.csv", {});
  ASSERT_TRUE(reader.ok());
  auto d = InferDictionary(reader->get(), {}, "cohort");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  auto type = [&](const char* name) { return d->variables[d->IndexOf(name)].type; };
  EXPECT_EQ(type("patient_id"), VarType::kIdentifier);
  EXPECT_EQ(type("age"), VarType::kInteger);
  EXPECT_EQ(type("psa"), VarType::kNumber);
  EXPECT_EQ(type("dx"), VarType::kDate);
  EXPECT_EQ(type("organ"), VarType::kCategory);
  EXPECT_EQ(d->variables[d->IndexOf("organ")].levels,
            (std::vector<std::string>{"bladder", "kidney", "prostate"}));  // byte order
  EXPECT_EQ(type("note"), VarType::kIdentifier);                           // all distinct
  EXPECT_EQ(type("empty"), VarType::kNumber);
  // The inferred dictionary is a valid dictionary.
  EXPECT_TRUE(ParseDictionary(DictionaryToToml(*d), "again").ok());
}

TEST(Infer, AnInferredDictionarysNameIsValidAndNeverABuiltInOne) {
  EXPECT_EQ(InferredDictionaryName("lyon_export"), "lyon_export");
  EXPECT_EQ(InferredDictionaryName("gu cohort"), "gu_cohort_inferred");
  EXPECT_EQ(InferredDictionaryName("gu-cohort 2024"), "gu_cohort_2024");
  EXPECT_EQ(InferredDictionaryName("gu_cohort.v1"), "gu_cohort.v1_inferred");
  EXPECT_EQ(InferredDictionaryName("2024 export"), "d_2024_export");
  EXPECT_EQ(InferredDictionaryName("随访"), "d_______");
  EXPECT_EQ(InferredDictionaryName(""), "d_");
  EXPECT_EQ(InferredDictionaryName(std::string(100, 'a')).size(), 54u);
  for (const std::string base : {"gu cohort", "2024 export", "随访", "", "x;drop table"}) {
    EXPECT_TRUE(IsValidName(InferredDictionaryName(base))) << base;
    EXPECT_FALSE(IsBuiltinDictionaryName(InferredDictionaryName(base))) << base;
  }
  EXPECT_TRUE(IsBuiltinDictionaryName("gu_cohort"));
  EXPECT_TRUE(IsBuiltinDictionaryName("gu_cohort.v1"));
  EXPECT_FALSE(IsBuiltinDictionaryName("lyon"));
}

// A date column with a code for "no date" (9999-12-31) stays a date, which the import then
// refuses by its rule; dates among other text make a text column. Never a category whose
// levels are dates.
TEST(Infer, AColumnOfDatesIsNeverACategory) {
  std::string csv = "end_date,when\n";
  for (int i = 0; i < 30; ++i) {
    csv += std::string(i % 10 == 0   ? "9999-12-31"
                       : i % 10 == 1 ? "1900-02-29"
                                     : "2020-01-0" + std::to_string(i % 9 + 1)) +
           "," + (i % 10 == 0 ? "unknown" : "2021-05-0" + std::to_string(i % 3 + 1)) + "\n";
  }
  auto reader = CsvReader::FromString(csv, "t.csv", {});
  ASSERT_TRUE(reader.ok());
  auto d = InferDictionary(reader->get(), {}, "cohort");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->variables[0].type, VarType::kDate);
  EXPECT_EQ(d->variables[1].type, VarType::kText);
  EXPECT_TRUE(d->variables[1].levels.empty());
}

// A statistics file's value labels say which columns are categories, and their levels' order.
TEST(Infer, ValueLabelsGiveCategoriesTheirOrder) {
  auto reader = OpenRecordReader(testing::Fixture("gu_lyon.sav"), {}, {});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  auto d = InferDictionary(reader->get(), {}, "gu_lyon");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  const Variable& organ = d->variables[d->IndexOf("organ")];
  EXPECT_EQ(organ.type, VarType::kCategory);
  EXPECT_EQ(organ.levels, (std::vector<std::string>{"prostate", "bladder", "kidney", "upper_tract",
                                                    "testis", "penis"}));
  // Two levels only, both labelled: still in the file's order, not byte order.
  EXPECT_EQ(d->variables[d->IndexOf("sex")].levels, (std::vector<std::string>{"male", "female"}));
  // The user-missing code 999 "not measured" is no level: psa_dx stays a number.
  EXPECT_EQ(d->variables[d->IndexOf("psa_dx")].type, VarType::kNumber);
  EXPECT_EQ(d->variables[d->IndexOf("diagnosis_date")].type, VarType::kDate);
  EXPECT_EQ(d->variables[d->IndexOf("birth_year")].type, VarType::kInteger);
}

TEST(Infer, MixedColumnKeepsNumericLookingLevels) {
  auto reader = CsvReader::FromString("stage\n1\n2\nx\n1\n", "t.csv", {});
  ASSERT_TRUE(reader.ok());
  auto d = InferDictionary(reader->get(), {}, "c");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->variables[0].type, VarType::kCategory);
  EXPECT_EQ(d->variables[0].levels, (std::vector<std::string>{"1", "2", "x"}));
}

TEST(Infer, DecimalCommaAndFrenchDates) {
  CellFormat format;
  format.decimal_comma = true;
  format.date_format = DateFormat::Parse("dd/mm/yyyy").value();
  auto reader = CsvReader::FromString("psa;dx\n4,5;01/02/2020\n3;13/02/2020\n", "t.csv", {});
  ASSERT_TRUE(reader.ok());
  auto d = InferDictionary(reader->get(), format, "c");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->variables[0].type, VarType::kNumber);
  EXPECT_EQ(d->variables[1].type, VarType::kDate);
}

}  // namespace
}  // namespace passerelle::data
