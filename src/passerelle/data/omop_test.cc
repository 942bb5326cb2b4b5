#include "passerelle/data/omop.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "passerelle/base/test_dir.h"
#include "passerelle/data/gu_test_util.h"
#include "passerelle/data/postgres.h"
#include "passerelle/data/validator.h"

namespace passerelle::data {
namespace {

const std::string kCdm = std::string(PASSERELLE_SOURCE_DIR) + "/tests/fixtures/omop/cdm";
const std::string kBadCdm = std::string(PASSERELLE_SOURCE_DIR) + "/tests/fixtures/omop/cdm_bad";

using Row = std::map<std::string, std::string>;

// Every record of the cohort, by patient_id, as column -> text.
std::map<std::string, Row> ReadCohort(RecordReader* reader) {
  std::map<std::string, Row> rows;
  Record record;
  for (;;) {
    auto more = reader->Next(&record);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) break;
    Row row;
    for (size_t i = 0; i < record.size(); ++i) {
      row[reader->header()[i]] = std::string(record.field(i));
    }
    rows[row["patient_id"]] = row;
  }
  return rows;
}

TEST(OmopTest, TheCsvCdmGivesOneRowPerPersonWithAGuCancer) {
  auto reader = OpenOmopCsv(kCdm, {.site = "lyon", .mapping_file = ""});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const std::map<std::string, Row> rows = ReadCohort(reader->get());
  // Persons 1 to 20; 21 to 30 have no GU cancer (lung, breast, colon, a benign prostate, a
  // bladder carcinoma in situ, none at all).
  ASSERT_EQ(rows.size(), 20u);
  EXPECT_EQ(rows.count("26"), 0u);
  EXPECT_EQ(rows.count("27"), 0u);

  const Row& p1 = rows.at("1");
  EXPECT_EQ(p1.at("site"), "lyon");
  EXPECT_EQ(p1.at("sex"), "male");
  EXPECT_EQ(p1.at("birth_year"), "1950");
  EXPECT_EQ(p1.at("organ"), "prostate");
  EXPECT_EQ(p1.at("icd10"), "C61");
  EXPECT_EQ(p1.at("diagnosis_date"), "2018-03-10");
  EXPECT_EQ(p1.at("psa_dx"), "8.4");  // 18 days before diagnosis; the later one is after surgery
  EXPECT_EQ(p1.at("primary_treatment"), "radical_prostatectomy");
  EXPECT_EQ(p1.at("treatment_date"), "2018-05-02");
  EXPECT_EQ(p1.at("ct_stage"), "T2a");
  EXPECT_EQ(p1.at("cn_stage"), "N0");
  EXPECT_EQ(p1.at("cm_stage"), "M0");
  EXPECT_EQ(p1.at("pt_stage"), "T3a");
  EXPECT_EQ(p1.at("pn_stage"), "");
  EXPECT_EQ(p1.at("last_followup_date"), "2023-12-31");
  EXPECT_EQ(p1.at("vital_status"), "alive");
  EXPECT_EQ(p1.at("death_date"), "");

  // ICD-O-3 source concept: topography, morphology, histology; ICD-10 from the topography. The
  // PSA 122 days before diagnosis is outside the window. Death from the cancer.
  const Row& p2 = rows.at("2");
  EXPECT_EQ(p2.at("icd10"), "C61");
  EXPECT_EQ(p2.at("icdo3_topography"), "C61.9");
  EXPECT_EQ(p2.at("icdo3_morphology"), "8140/3");
  EXPECT_EQ(p2.at("histology"), "adenocarcinoma");
  EXPECT_EQ(p2.at("psa_dx"), "");
  EXPECT_EQ(p2.at("primary_treatment"), "androgen_deprivation");
  EXPECT_EQ(p2.at("vital_status"), "dead");
  EXPECT_EQ(p2.at("death_date"), "2021-05-05");
  EXPECT_EQ(p2.at("death_cause"), "gu_cancer");
  EXPECT_EQ(p2.at("last_followup_date"), "2021-05-05");

  // A CPT4 source concept; the cystectomy two months later is not the primary treatment.
  EXPECT_EQ(rows.at("3").at("primary_treatment"), "turbt");
  EXPECT_EQ(rows.at("3").at("icd10"), "C67.9");
  EXPECT_EQ(rows.at("3").at("sex"), "female");

  // Death from another cause after the observation period ends: follow-up to the death.
  const Row& p4 = rows.at("4");
  EXPECT_EQ(p4.at("histology"), "clear_cell");
  EXPECT_EQ(p4.at("icdo3_topography"), "C64.9");
  EXPECT_EQ(p4.at("death_cause"), "other");
  EXPECT_EQ(p4.at("last_followup_date"), "2022-01-01");

  // Two GU cancers: the first is the index tumour; a bladder row has no PSA.
  EXPECT_EQ(rows.at("5").at("organ"), "bladder");
  EXPECT_EQ(rows.at("5").at("diagnosis_date"), "2016-05-05");
  EXPECT_EQ(rows.at("5").at("psa_dx"), "");

  EXPECT_EQ(rows.at("6").at("organ"), "upper_tract");
  EXPECT_EQ(rows.at("7").at("histology"), "seminoma");
  EXPECT_EQ(rows.at("8").at("primary_treatment"), "penile_surgery");
  // A standard concept alone.
  EXPECT_EQ(rows.at("9").at("organ"), "prostate");
  EXPECT_EQ(rows.at("9").at("icd10"), "C61");
  EXPECT_EQ(rows.at("9").at("psa_dx"), "5.1");
  // The nearer PSA; on one day, radiotherapy before androgen deprivation (the mapping's order).
  EXPECT_EQ(rows.at("10").at("psa_dx"), "11");
  EXPECT_EQ(rows.at("10").at("primary_treatment"), "radiotherapy");
  EXPECT_EQ(rows.at("11").at("primary_treatment"), "systemic_therapy");
  EXPECT_EQ(rows.at("11").at("death_cause"), "unknown");
  // A treatment more than a year after diagnosis; a PSA in mg/L.
  EXPECT_EQ(rows.at("12").at("primary_treatment"), "");
  EXPECT_EQ(rows.at("12").at("treatment_date"), "");
  EXPECT_EQ(rows.at("13").at("psa_dx"), "");
  // Not derived from a CDM: left missing.
  for (const auto& [id, row] : rows) {
    EXPECT_EQ(row.at("gleason_primary"), "") << id;
    EXPECT_EQ(row.at("margin_status"), "") << id;
    EXPECT_EQ(row.at("recurrence_date"), "") << id;
  }
}

TEST(OmopTest, TheRowsPassTheDictionaryAndProblemsNameThePerson) {
  for (const std::string& folder : {kCdm, kBadCdm}) {
    auto reader = OpenOmopCsv(folder, {.site = "lyon", .mapping_file = ""});
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    ProblemList problems;
    auto validator = RowValidator::Make(testing::GuDictionary(), (*reader)->header(), CellFormat{},
                                        IndexDate::kDiagnosis, &problems, 0);
    ASSERT_TRUE(validator.ok());
    Record record;
    std::vector<Value> row;
    while (*(*reader)->Next(&record)) (*validator)->Check(record, &row, &problems);
    const std::string message = problems.Format(
        (*reader)->label(), "nothing was imported",
        [&reader](size_t line, size_t column) { return (*reader)->Where(line, column); });
    if (folder == kCdm) {
      EXPECT_TRUE(problems.empty()) << message;
      continue;
    }
    EXPECT_EQ(problems.total(), 2u) << message;
    EXPECT_NE(message.find(":cdm person 14 (measurement 14): psa_dx: must be at least 0 (min), "
                           "cell \"-2\""),
              std::string::npos)
        << message;
    EXPECT_NE(message.find(":cdm person 20 (person): sex: rule organ_sex"), std::string::npos)
        << message;
  }
}

TEST(OmopTest, AConnectionStringWithAPasswordIsRefused) {
  for (const std::string& connection :
       {std::string("postgresql://lyon:s3cret@db.example/warehouse?schema=cdm"),
        std::string("postgresql:///warehouse?host=/run/postgresql&password=s3cret&schema=cdm"),
        std::string("host=/run/postgresql dbname=warehouse password=s3cret schema=cdm")}) {
    const Status checked = pg::ParseTarget(connection, "the OMOP connection").status();
    EXPECT_EQ(checked.code(), StatusCode::kInvalidArgument) << connection;
    EXPECT_NE(checked.message().find("holds a password"), std::string::npos) << checked.message();
    EXPECT_EQ(checked.message().find("s3cret"), std::string::npos) << checked.message();
    const auto opened = OpenOmopPostgres(connection, {.site = "lyon", .mapping_file = ""});
    EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument) << connection;
  }
  EXPECT_TRUE(pg::ParseTarget("postgresql:///warehouse?host=/run/postgresql&schema=cdm", "c").ok());
  EXPECT_TRUE(pg::ParseTarget("service=lyon_cdm schema=cdm", "c").ok());
  EXPECT_EQ(pg::ParseTarget("postgresql:///w?schema=cdm;drop", "c").status().code(),
            StatusCode::kInvalidArgument);
}

TEST(OmopTest, ASiteMappingExtendsTheBuiltInOne) {
  const std::string dir = passerelle::testing::FreshTestDir("omop_mapping");
  std::ofstream(dir + "/lyon.toml") << "name = \"omop_gu_lyon\"\n"
                                       "[[treatment]]\n"
                                       "level = \"radical_prostatectomy\"\n"
                                       "procedure_codes = [\"CCAM:JGFA015\"]\n"
                                       "[psa]\nwindow_days = 30\n";
  auto mapping = LoadOmopMapping(dir + "/lyon.toml");
  ASSERT_TRUE(mapping.ok()) << mapping.status().ToString();
  EXPECT_EQ(mapping->name, "omop_gu");
  EXPECT_EQ(mapping->psa_window_days, 30);
  EXPECT_EQ(mapping->treatments.front().level, "radical_prostatectomy");
  ASSERT_EQ(mapping->treatments.front().procedure_codes.size(), 5u);
  EXPECT_EQ(mapping->treatments.front().procedure_codes.back().vocabulary, "CCAM");
  EXPECT_EQ(mapping->organs.size(), 6u);

  // The site's 30-day window: person 14's PSA, 34 days before diagnosis, is no longer taken.
  auto reader = OpenOmopCsv(kCdm, {.site = "lyon", .mapping_file = dir + "/lyon.toml"});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(ReadCohort(reader->get()).at("14").at("psa_dx"), "");  // 34 days before diagnosis

  std::ofstream(dir + "/bad.toml") << "[[treatment]]\nlevel = \"x\"\nprocedure_code = []\n";
  const auto bad = LoadOmopMapping(dir + "/bad.toml");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("bad.toml:3:18: treatment: unknown key 'procedure_code'"),
            std::string::npos)
      << bad.status().message();
  std::ofstream(dir + "/code.toml") << "[psa]\ncodes = [\"2857-1\"]\n";
  EXPECT_NE(LoadOmopMapping(dir + "/code.toml").status().message().find("is not VOCABULARY:CODE"),
            std::string::npos);
}

TEST(OmopTest, AFolderWithoutATableIsRefusedByName) {
  const std::string dir = passerelle::testing::FreshTestDir("omop_missing");
  const auto reader = OpenOmopCsv(dir, {.site = "lyon", .mapping_file = ""});
  EXPECT_EQ(reader.status().code(), StatusCode::kNotFound);
  EXPECT_NE(reader.status().message().find("has no condition_occurrence.csv"), std::string::npos)
      << reader.status().message();
}

}  // namespace
}  // namespace passerelle::data
