#include "passerelle/data/validator.h"

#include <gtest/gtest.h>

#include "passerelle/data/csv.h"
#include "passerelle/data/gu_test_util.h"

namespace passerelle::data {
namespace {

using testing::Changes;
using testing::GuCsv;
using testing::GuDictionary;

struct Outcome {
  std::vector<std::vector<Value>> rows;  // valid rows only
  ProblemList problems;
  std::string text;  // the problems as the custodian sees them
};

// Keeps the CSV records alive with the values that point into them.
struct Validation {
  std::vector<Record> records;
  Outcome outcome;
};

Validation Validate(const Dictionary& d, const std::string& csv, CellFormat format = {},
                    IndexDate index = IndexDate::kDiagnosis) {
  Validation run;
  auto reader = CsvReader::FromString(csv, "f.csv", {});
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  auto validator = RowValidator::Make(d, (*reader)->header(), format, index, &run.outcome.problems);
  EXPECT_TRUE(validator.ok()) << validator.status().ToString();
  run.records.reserve(1000);
  for (;;) {
    run.records.emplace_back();
    auto more = (*reader)->Next(&run.records.back());
    EXPECT_TRUE(more.ok());
    if (!*more) break;
    std::vector<Value> row;
    if ((*validator)->Check(run.records.back(), &row, &run.outcome.problems)) {
      run.outcome.rows.push_back(row);
    }
  }
  run.outcome.text = run.outcome.problems.Format("f.csv", "nothing was imported.");
  return run;
}

Dictionary Small() {
  return ParseDictionary(R"(name = "small"
[[variable]]
name = "id"
type = "identifier"
required = true
unique = true
[[variable]]
name = "age"
type = "integer"
min = 0
max = 120
[[variable]]
name = "psa"
type = "number"
min = 0
[[variable]]
name = "dx"
type = "date"
[[variable]]
name = "arm"
type = "category"
levels = ["a", "b"]
)",
                         "small")
      .value();
}

TEST(Validator, ConvertsEveryType) {
  const Validation run = Validate(Small(), "id,age,psa,dx,arm\nx1,70,4.5,2020-01-31,b\nx2,NA,,,\n");
  ASSERT_EQ(run.outcome.rows.size(), 2u) << run.outcome.text;
  const auto& r = run.outcome.rows[0];
  EXPECT_EQ(r[0].text, "x1");
  EXPECT_EQ(r[1].integer, 70);
  EXPECT_DOUBLE_EQ(r[2].number, 4.5);
  EXPECT_EQ(r[3].integer, DaysFromCivil(2020, 1, 31));
  EXPECT_EQ(r[4].level, 1);
  for (int i = 1; i < 5; ++i) EXPECT_TRUE(run.outcome.rows[1][i].missing);
}

TEST(Validator, ProblemsNameFileLineColumnVariableRuleAndCell) {
  using namespace std::string_literals;
  const Validation run = Validate(Small(),
                                  "id,age,psa,dx,arm\n"
                                  "x1,70.5,4.5,2020-01-31,b\n"
                                  "x2,130,-1,2020-02-30,c\n"
                                  ",1,1,2020-01-01,a\n"
                                  "x1,1,1,2020-01-01,a\n"
                                  "x6,1,1,9999-12-31,a\n"
                                  "x\0y,1,1,2020-01-01,a\n"s
                                  "x5,1,1\n");
  EXPECT_TRUE(run.outcome.rows.empty());
  EXPECT_EQ(run.outcome.text,
            "f.csv:2:2: age: not a whole number (type integer), cell \"70.5\"\n"
            "f.csv:3:2: age: must be at most 120 (max), cell \"130\"\n"
            "f.csv:3:3: psa: must be at least 0 (min), cell \"-1\"\n"
            "f.csv:3:4: dx: not a valid date in the layout yyyy-mm-dd (type date), cell "
            "\"2020-02-30\"\n"
            "f.csv:3:5: arm: not one of the levels (a, b), cell \"c\"\n"
            "f.csv:4:1: id: required value is missing, cell \"\"\n"
            "f.csv:5:1: id: value appears on an earlier row (unique), cell \"x1\"\n"
            "f.csv:6:4: dx: a date outside the years 1800 to 2300 (type date); a date not known "
            "is an empty cell, cell \"9999-12-31\"\n"
            "f.csv:7:1: id: a NUL byte in the text (type text), cell \"x\\x00y\"\n"
            "f.csv:8:4: record has 3 fields but the header has 5\n"
            "10 problems in f.csv; nothing was imported.");
}

// Text is UTF-8 whatever file it came from: a statistics file whose text is not in the encoding
// it names hands on other bytes, which are refused as a CSV's are.
TEST(Validator, TextThatIsNotUtf8IsRefusedFromAnySource) {
  const Dictionary d = Small();
  ProblemList problems;
  const std::vector<std::string> header = {"id", "age", "psa", "dx", "arm"};
  auto validator = RowValidator::Make(d, header, {}, IndexDate::kDiagnosis, &problems);
  ASSERT_TRUE(validator.ok()) << validator.status().ToString();
  Record record;
  for (const std::string_view field : {"p\xE9", "1", "1", "2020-01-01", "a"}) record.Add(field, 2);
  std::vector<Value> row;
  EXPECT_FALSE((*validator)->Check(record, &row, &problems));
  EXPECT_NE(problems.Format("f.sav", "nothing was imported.")
                .find("id: text that is not valid UTF-8 (type text), cell \"p\\xe9\""),
            std::string::npos)
      << problems.Format("f.sav", "nothing was imported.");
}

TEST(Validator, DecimalCommaAndFrenchDates) {
  CellFormat format;
  format.decimal_comma = true;
  format.date_format = DateFormat::Parse("dd/mm/yyyy").value();
  auto reader = CsvReader::FromString("id;psa;dx\nx;4,5;31/01/2020\n", "f.csv", {});
  ASSERT_TRUE(reader.ok());
  ProblemList problems;
  auto v =
      RowValidator::Make(Small(), (*reader)->header(), format, IndexDate::kDiagnosis, &problems);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)->absent_optional(), (std::vector<std::string>{"age", "arm"}));
  Record record;
  ASSERT_TRUE(*(*reader)->Next(&record));
  std::vector<Value> row;
  ASSERT_TRUE((*v)->Check(record, &row, &problems)) << problems.Format("f", "");
  EXPECT_DOUBLE_EQ(row[2].number, 4.5);
  EXPECT_EQ(row[3].integer, DaysFromCivil(2020, 1, 31));
}

TEST(Validator, HeaderProblems) {
  ProblemList problems;
  auto v = RowValidator::Make(GuDictionary(), {"patient_id", "os_days", "colour"}, {},
                              IndexDate::kDiagnosis, &problems);
  ASSERT_TRUE(v.ok());
  const std::string text = problems.Format("f.csv", "stop");
  EXPECT_NE(text.find("f.csv:1:2: os_days: derived by Passerelle at import"), std::string::npos);
  EXPECT_NE(text.find("f.csv:1:3: colour: column not in dictionary gu_cohort.v1"),
            std::string::npos);
  EXPECT_NE(text.find("f.csv:1: organ: required column is missing from the header"),
            std::string::npos);
}

TEST(Validator, ShowsTwentyProblemsAndTheTotal) {
  std::string csv = "id,age\n";
  for (int i = 0; i < 25; ++i) csv += "x" + std::to_string(i) + ",old\n";
  const Validation run = Validate(Small(), csv);
  EXPECT_EQ(run.outcome.problems.total(), 25u);
  EXPECT_EQ(run.outcome.problems.shown().size(), 20u);
  EXPECT_NE(run.outcome.text.find("... and 5 more\n25 problems in f.csv"), std::string::npos);
}

// The GU rules, one test per rule: a valid row passes, a broken one names the rule.
std::string GuProblems(const std::vector<Changes>& rows) {
  return Validate(GuDictionary(), GuCsv(rows)).outcome.text;
}

TEST(GuRules, ValidPatientPasses) {
  const Validation run = Validate(GuDictionary(), GuCsv({{}}));
  EXPECT_EQ(run.outcome.problems.total(), 0u) << run.outcome.text;
}

TEST(GuRules, CodesConsistentWithOrgan) {
  EXPECT_NE(
      GuProblems({{{"icd10", "C67.9"}}})
          .find("icd10: rule organ_codes: code does not match organ prostate (expected C61 or a "
                "subsite), cell \"C67.9\""),
      std::string::npos);
  EXPECT_NE(
      GuProblems({{{"icdo3_topography", "C64.9"}}}).find("icdo3_topography: rule organ_codes"),
      std::string::npos);
  EXPECT_EQ(GuProblems({{{"organ", "upper_tract"},
                         {"sex", "female"},
                         {"icd10", "C66"},
                         {"icdo3_topography", "C66.9"},
                         {"gleason_primary", ""},
                         {"gleason_secondary", ""},
                         {"isup_grade", ""},
                         {"psa_dx", ""},
                         {"histology", "urothelial"}}})
                .find("rule"),
            std::string::npos);
  EXPECT_NE(GuProblems({{{"icd10", "C61x"}}}).find("organ_codes"), std::string::npos);
}

TEST(GuRules, SexConsistentWithOrgan) {
  EXPECT_NE(GuProblems({{{"sex", "female"}}})
                .find("sex: rule organ_sex: prostate cancer requires sex male, cell \"female\""),
            std::string::npos);
}

TEST(GuRules, ProstateOnlyFields) {
  EXPECT_NE(GuProblems({{{"organ", "kidney"}, {"icd10", "C64"}, {"icdo3_topography", "C64.9"}}})
                .find("gleason_primary: rule organ_fields: recorded for prostate cancer only"),
            std::string::npos);
  EXPECT_NE(
      GuProblems({{{"urothelial_grade", "high"}}}).find("urothelial_grade: rule organ_fields"),
      std::string::npos);
}

TEST(GuRules, IsupConsistentWithGleason) {
  const struct {
    const char* primary;
    const char* secondary;
    const char* isup;
  } kValid[] = {{"3", "3", "1"}, {"2", "3", "1"}, {"3", "4", "2"}, {"4", "3", "3"},
                {"4", "4", "4"}, {"3", "5", "4"}, {"4", "5", "5"}, {"5", "5", "5"}};
  for (const auto& c : kValid) {
    EXPECT_EQ(GuProblems({{{"gleason_primary", c.primary},
                           {"gleason_secondary", c.secondary},
                           {"isup_grade", c.isup}}}),
              "0 problems in f.csv; nothing was imported.")
        << c.primary << "+" << c.secondary;
  }
  EXPECT_NE(
      GuProblems({{{"gleason_primary", "4"}, {"isup_grade", "2"}, {"gleason_secondary", "3"}}})
          .find("isup_grade: rule isup_gleason: Gleason 4+3 is ISUP grade group 3, cell \"2\""),
      std::string::npos);
  EXPECT_NE(GuProblems({{{"gleason_secondary", ""}}}).find("rule isup_gleason"), std::string::npos);
}

TEST(GuRules, PsaNotNegative) {
  EXPECT_NE(GuProblems({{{"psa_dx", "-0.1"}}}).find("psa_dx: must be at least 0 (min)"),
            std::string::npos);
}

TEST(GuRules, DiagnosisTreatmentFollowUpOrder) {
  EXPECT_NE(GuProblems({{{"treatment_date", "2018-02-01"}}})
                .find("treatment_date: rule date_order: treatment date is before the diagnosis"),
            std::string::npos);
  EXPECT_NE(GuProblems({{{"treatment_date", "2024-01-01"}}})
                .find("treatment_date: rule date_order: treatment date is after the last"),
            std::string::npos);
  EXPECT_NE(GuProblems({{{"birth_year", "2019"}}}).find("birth_year: rule date_order"),
            std::string::npos);
}

TEST(GuRules, DeathAndLastFollowUp) {
  const Changes dead = {{"vital_status", "dead"},
                        {"death_date", "2022-01-10"},
                        {"death_cause", "gu_cancer"},
                        {"last_followup_date", "2022-02-09"}};
  EXPECT_EQ(GuProblems({dead}), "0 problems in f.csv; nothing was imported.");
  Changes late = dead;
  late["last_followup_date"] = "2022-02-10";  // 31 days after death
  EXPECT_NE(GuProblems({late}).find("last_followup_date: rule death_consistency: last follow-up "
                                    "must be between the death date and 30 days after it"),
            std::string::npos);
  Changes before = dead;
  before["last_followup_date"] = "2022-01-09";
  EXPECT_NE(GuProblems({before}).find("rule death_consistency"), std::string::npos);
  EXPECT_NE(GuProblems({{{"vital_status", "dead"}}}).find("death_date: rule death_consistency"),
            std::string::npos);
  EXPECT_NE(GuProblems({{{"death_date", "2022-01-10"}}}).find("death_consistency"),
            std::string::npos);
}

TEST(GuRules, EventsAfterTheIndexDate) {
  EXPECT_NE(GuProblems({{{"metastasis_date", "2018-01-01"}}})
                .find("metastasis_date: rule events_after_index: event date is before the "
                      "diagnosis date"),
            std::string::npos);
  EXPECT_NE(GuProblems({{{"bcr_date", "2018-03-15"}}})
                .find("bcr_date: rule events_after_index: recurrence date is before the primary"),
            std::string::npos);
  EXPECT_NE(GuProblems({{{"bcr_date", "2024-01-01"}}}).find("after the last follow-up"),
            std::string::npos);
}

}  // namespace
}  // namespace passerelle::data
