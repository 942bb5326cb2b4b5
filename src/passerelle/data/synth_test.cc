#include "passerelle/data/synth.h"

#include <gtest/gtest.h>

#include <sstream>

#include "passerelle/data/csv.h"
#include "passerelle/data/gu_test_util.h"
#include "passerelle/data/validator.h"

namespace passerelle::data {
namespace {

std::string Generate(const std::string& site, int64_t n, uint64_t seed) {
  std::ostringstream out;
  WriteSyntheticCohort({site, n, seed}, out);
  return out.str();
}

TEST(Synth, SameSeedSameBytes) {
  EXPECT_EQ(Generate("wuhan", 500, 7), Generate("wuhan", 500, 7));
  EXPECT_NE(Generate("wuhan", 500, 7), Generate("wuhan", 500, 8));
  EXPECT_NE(Generate("wuhan", 500, 7), Generate("lyon", 500, 7));
}

struct Shares {
  double metastatic = 0, upper_tract = 0, dead = 0;
  size_t rows = 0;
};

// Validates every row against gu_cohort.v1 and returns a few shares.
Shares ValidateAll(const std::string& csv) {
  const Dictionary d = testing::GuDictionary();
  auto reader = CsvReader::FromString(csv, "synth.csv", {});
  EXPECT_TRUE(reader.ok());
  ProblemList problems;
  auto v = RowValidator::Make(d, (*reader)->header(), {}, IndexDate::kDiagnosis, &problems);
  EXPECT_TRUE(v.ok());
  Shares s;
  Record record;
  std::vector<Value> row;
  while (*(*reader)->Next(&record)) {
    ++s.rows;
    if (!(*v)->Check(record, &row, &problems)) continue;
    s.metastatic += row[d.IndexOf("m_stage")].text != "M0";
    s.upper_tract += row[d.IndexOf("organ")].text == "upper_tract";
    s.dead += row[d.IndexOf("os_event")].integer;
  }
  EXPECT_EQ(problems.total(), 0u) << problems.Format("synth.csv", "");
  s.metastatic /= static_cast<double>(s.rows);
  s.upper_tract /= static_cast<double>(s.rows);
  s.dead /= static_cast<double>(s.rows);
  return s;
}

TEST(Synth, EveryRowPassesTheDictionaryAndSitesDiffer) {
  const Shares wuhan = ValidateAll(Generate("wuhan", 4000, 1));
  const Shares lyon = ValidateAll(Generate("lyon", 4000, 1));
  EXPECT_EQ(wuhan.rows, 4000u);
  // Later stage at presentation and more upper-tract cancers in the Chinese profile.
  EXPECT_GT(wuhan.metastatic, lyon.metastatic + 0.04);
  EXPECT_GT(wuhan.upper_tract, lyon.upper_tract + 0.05);
  EXPECT_GT(wuhan.dead, 0.1);
  EXPECT_LT(wuhan.dead, 0.9);
}

}  // namespace
}  // namespace passerelle::data
