#include "passerelle/data/omop.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
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
// Five persons with grades, margins, episodes, metastases and concept_ancestor rows.
const std::string kOncoCdm = std::string(PASSERELLE_SOURCE_DIR) + "/tests/fixtures/omop/cdm_onco";

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
  // This CDM records no grade, margin, episode or metastasis: left missing.
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

// The dictionary's problems with the cohort of `reader`, formatted; "" when there are none.
std::string Problems(RecordReader* reader) {
  ProblemList problems;
  auto validator = RowValidator::Make(testing::GuDictionary(), reader->header(), CellFormat{},
                                      IndexDate::kDiagnosis, &problems, 0);
  EXPECT_TRUE(validator.ok());
  Record record;
  std::vector<Value> row;
  while (*reader->Next(&record)) (*validator)->Check(record, &row, &problems);
  if (problems.empty()) return "";
  return problems.Format(reader->label(), "nothing was imported",
                         [reader](size_t l, size_t c) { return reader->Where(l, c); });
}

size_t ColumnIndex(RecordReader* reader, std::string_view name) {
  const auto& header = reader->header();
  return static_cast<size_t>(std::find(header.begin(), header.end(), name) - header.begin());
}

TEST(OmopTest, GradesAndMarginsAreTheRowsNearestTheDiagnosis) {
  auto reader = OpenOmopCsv(kOncoCdm, {.site = "lyon", .mapping_file = ""});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const std::map<std::string, Row> rows = ReadCohort(reader->get());
  ASSERT_EQ(rows.size(), 5u);
  // Person 1: the biopsy's pair (5 days before diagnosis) rather than the prostatectomy's (77
  // days after); a primary pattern alone, one day before, is no pair. The ISUP grade group of
  // the pair's day, from a LOINC answer concept. The margin of the resection, from a NAACCR
  // value concept; a margin coded 9 (unknown), nearer, is no value.
  const Row& p1 = rows.at("1");
  EXPECT_EQ(p1.at("gleason_primary"), "3");
  EXPECT_EQ(p1.at("gleason_secondary"), "4");
  EXPECT_EQ(p1.at("isup_grade"), "2");
  EXPECT_EQ(p1.at("margin_status"), "positive");
  EXPECT_EQ(p1.at("psa_dx"), "7.2");
  EXPECT_EQ(p1.at("urothelial_grade"), "");
  // Person 2: a pair 200 days before diagnosis is outside the 180-day window; the pair 150 days
  // after is in the observation table, by source values (a value_as_string too). A urothelial
  // grade is not a prostate cancer's.
  const Row& p2 = rows.at("2");
  EXPECT_EQ(p2.at("gleason_primary"), "4");
  EXPECT_EQ(p2.at("gleason_secondary"), "5");
  EXPECT_EQ(p2.at("isup_grade"), "5");
  EXPECT_EQ(p2.at("urothelial_grade"), "");
  // Person 3, bladder: the nearer of two urothelial grades; a Gleason pattern is not a bladder
  // cancer's; a margin by its source code and residual-tumour class.
  const Row& p3 = rows.at("3");
  EXPECT_EQ(p3.at("urothelial_grade"), "low");
  EXPECT_EQ(p3.at("gleason_primary"), "");
  EXPECT_EQ(p3.at("margin_status"), "negative");
  EXPECT_EQ(rows.at("4").at("margin_status"), "");

  // The rows pass the dictionary (ISUP matches the patterns, events after the treatment).
  auto again = OpenOmopCsv(kOncoCdm, {.site = "lyon", .mapping_file = ""});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Problems(again->get()), "");
  // A value names its CDM row.
  EXPECT_EQ((*again)->Where(1, ColumnIndex(again->get(), "gleason_primary") + 1),
            "cdm person 1 (measurement 101)");
  EXPECT_EQ((*again)->Where(2, ColumnIndex(again->get(), "isup_grade") + 1),
            "cdm person 2 (observation 303)");
  EXPECT_EQ((*again)->Where(1, ColumnIndex(again->get(), "bcr_date") + 1),
            "cdm person 1 (episode 3)");
  EXPECT_EQ((*again)->Where(1, ColumnIndex(again->get(), "metastasis_date") + 1),
            "cdm person 1 (condition_occurrence 3)");
}

TEST(OmopTest, AGradeTheDictionaryRefusesNamesItsRow) {
  // Person 1's pair nearest the diagnosis has a primary pattern of 7: refused, named by its CDM
  // row. Person 3 gains a recurrence before the TURBT and one after the last follow-up.
  const std::string dir = passerelle::testing::FreshTestDir("omop_bad_grade");
  for (const auto& entry : std::filesystem::directory_iterator(kOncoCdm)) {
    std::filesystem::copy_file(entry.path(), dir + "/" + entry.path().filename().string());
  }
  std::ofstream(dir + "/measurement.csv", std::ios::app)
      << "111,1,2100000001,2020-01-16,,,32817,,7,,,,,,,,,,,,,,\n"
         "112,1,2100000002,2020-01-16,,,32817,,4,,,,,,,,,,,,,,\n";
  std::ofstream(dir + "/episode.csv", std::ios::app) << "8,3,32529,2024-06-01,,,,,,0,32809,,\n"
                                                        "9,3,32529,2020-01-01,,,,,,0,32809,,\n";
  auto reader = OpenOmopCsv(dir, {.site = "lyon", .mapping_file = ""});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const std::string message = Problems(reader->get());
  EXPECT_NE(message.find(":cdm person 1 (measurement 111): gleason_primary: must be at most 5"),
            std::string::npos)
      << message;
  // The one before the TURBT is not a recurrence after it; the 2020-06-01 one stays the first,
  // so neither is in a problem.
  EXPECT_EQ(message.find("episode 8"), std::string::npos) << message;
  EXPECT_EQ(message.find("episode 9"), std::string::npos) << message;
}

// Person 1's prostate cancer (2018-03-10) is treated by prostatectomy on 2018-05-02; a
// cystectomy on 2018-04-01 treats no prostate cancer, and is not its primary treatment.
TEST(OmopTest, ATreatmentOfAnotherOrgansCancerIsNotThePrimaryOne) {
  const std::string dir = passerelle::testing::FreshTestDir("omop_other_organ");
  for (const auto& entry : std::filesystem::directory_iterator(kCdm)) {
    std::filesystem::copy_file(entry.path(), dir + "/" + entry.path().filename().string());
  }
  std::ofstream(dir + "/procedure_occurrence.csv", std::ios::app)
      << "9001,1,0,2018-04-01,,,,32817,,,,,,51570,0,\n";
  auto reader = OpenOmopCsv(dir, {.site = "lyon", .mapping_file = ""});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const std::map<std::string, Row> rows = ReadCohort(reader->get());
  EXPECT_EQ(rows.at("1").at("primary_treatment"), "radical_prostatectomy");
  EXPECT_EQ(rows.at("1").at("treatment_date"), "2018-05-02");
  // A mapping whose treatment names an organ it does not have is refused.
  std::ofstream(dir + "/site.toml") << "name = \"omop_gu_lyon\"\n[[treatment]]\n"
                                       "level = \"radical_cystectomy\"\norgans = [\"lung\"]\n";
  auto refused = OpenOmopCsv(dir, {.site = "lyon", .mapping_file = dir + "/site.toml"});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("organs: 'lung' is not one of the mapping's organs"),
            std::string::npos)
      << refused.status().message();
}

TEST(OmopTest, APersonInThePersonTableTwiceIsRefused) {
  const std::string dir = passerelle::testing::FreshTestDir("omop_person_twice");
  for (const auto& entry : std::filesystem::directory_iterator(kCdm)) {
    std::filesystem::copy_file(entry.path(), dir + "/" + entry.path().filename().string());
  }
  std::ofstream(dir + "/person.csv", std::ios::app) << "1,8532,1961,,,,0,0,,,,IPP00001,F,,,,,\n";
  auto reader = OpenOmopCsv(dir, {.site = "lyon", .mapping_file = ""});
  ASSERT_FALSE(reader.ok());
  const std::string message = reader.status().message();
  EXPECT_NE(message.find("person.csv:"), std::string::npos) << message;
  EXPECT_NE(message.find("person_id: person 1 is in the person table twice (rule person_unique)"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("1961"), std::string::npos) << message;
  // Nor is a person_id that is no whole number passed over.
  std::filesystem::copy_file(kCdm + "/person.csv", dir + "/person.csv",
                             std::filesystem::copy_options::overwrite_existing);
  std::ofstream(dir + "/person.csv", std::ios::app)
      << "140.0,8532,1961,,,,0,0,,,,IPP00140,F,,,,,\n";
  auto malformed = OpenOmopCsv(dir, {.site = "lyon", .mapping_file = ""});
  ASSERT_FALSE(malformed.ok());
  EXPECT_NE(malformed.status().message().find("person_id: not a whole number, cell \"140.0\""),
            std::string::npos)
      << malformed.status().message();
}

TEST(OmopTest, RecurrencesComeFromEpisodesAndMetastasesFromConditions) {
  auto reader = OpenOmopCsv(kOncoCdm, {.site = "lyon", .mapping_file = ""});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_TRUE((*reader)->Notes().empty());
  const std::map<std::string, Row> rows = ReadCohort(reader->get());
  // Person 1: a Disease Recurrence before the prostatectomy is not a recurrence after it; the
  // one the source marks BCR is the biochemical recurrence; a C78 condition before the
  // diagnosis is not a metastasis, a C79.51 one after it is.
  const Row& p1 = rows.at("1");
  EXPECT_EQ(p1.at("treatment_date"), "2020-04-01");
  EXPECT_EQ(p1.at("bcr_date"), "2021-06-01");
  EXPECT_EQ(p1.at("recurrence_date"), "2022-02-01");
  EXPECT_EQ(p1.at("metastasis_date"), "2022-05-01");
  // Person 2: a Disease Progression episode is not in the built-in mapping.
  EXPECT_EQ(rows.at("2").at("recurrence_date"), "");
  // Person 3, bladder: a recurrence; a biochemical recurrence is a prostate cancer's only.
  EXPECT_EQ(rows.at("3").at("recurrence_date"), "2020-06-01");
  EXPECT_EQ(rows.at("3").at("bcr_date"), "");
  // Person 4: a metastasis recorded by a standard concept alone: not listed by the built-in
  // mapping.
  EXPECT_EQ(rows.at("4").at("metastasis_date"), "");
  // Person 5: a recurrence of another disease (its episode_object_concept_id, 4112853, is not
  // the concept of the person's prostate cancer) is not this cancer's; the next one, of that
  // concept, is.
  EXPECT_EQ(rows.at("5").at("recurrence_date"), "2022-01-01");
}

TEST(OmopTest, TheDescendantsOfAListedConceptCountToo) {
  // Person 5's condition is a concept that concept_ancestor.csv puts under 200962 (prostate).
  auto reader = OpenOmopCsv(kOncoCdm, {.site = "lyon", .mapping_file = ""});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const std::map<std::string, Row> rows = ReadCohort(reader->get());
  ASSERT_EQ(rows.count("5"), 1u);
  EXPECT_EQ(rows.at("5").at("organ"), "prostate");
  EXPECT_EQ(rows.at("5").at("icd10"), "C61");

  // A site's mapping lists an ancestor of secondary malignancies: person 4's condition, its
  // descendant, is a metastasis; Disease Progression is a recurrence.
  const std::string dir = passerelle::testing::FreshTestDir("omop_ancestor");
  std::ofstream(dir + "/site.toml") << "name = \"omop_gu_site\"\n"
                                       "[[event]]\n"
                                       "variable = \"metastasis_date\"\n"
                                       "condition_concepts = [2100000099]\n"
                                       "[[event]]\n"
                                       "variable = \"recurrence_date\"\n"
                                       "episode_concepts = [32677]\n";
  auto site = OpenOmopCsv(kOncoCdm, {.site = "lyon", .mapping_file = dir + "/site.toml"});
  ASSERT_TRUE(site.ok()) << site.status().ToString();
  const std::map<std::string, Row> site_rows = ReadCohort(site->get());
  EXPECT_EQ(site_rows.at("4").at("metastasis_date"), "2019-03-03");
  EXPECT_EQ(site_rows.at("2").at("recurrence_date"), "2021-01-01");

  // The expansion itself: descendants join each list once; the organ's keep its ICD-10 code.
  auto mapping = LoadOmopMapping("");
  ASSERT_TRUE(mapping.ok());
  const std::vector<int64_t> ancestors = OmopAncestorConcepts(*mapping);
  EXPECT_TRUE(std::binary_search(ancestors.begin(), ancestors.end(), int64_t{200962}));
  EXPECT_TRUE(std::binary_search(ancestors.begin(), ancestors.end(), int64_t{32529}));
  AddOmopDescendants({{200962, 200962}, {200962, 7}, {3013603, 8}, {3013603, 8}}, &*mapping);
  EXPECT_EQ(mapping->organs[0].concepts.back().id, 7);
  EXPECT_EQ(mapping->organs[0].concepts.back().icd10, "C61");
  EXPECT_EQ(mapping->psa_concepts, (std::vector<int64_t>{3013603, 8}));
}

TEST(OmopTest, ACdmWithoutEpisodesImportsAndSaysSoOnce) {
  const std::string dir = passerelle::testing::FreshTestDir("omop_no_episode");
  for (const auto& entry : std::filesystem::directory_iterator(kOncoCdm)) {
    if (entry.path().filename() == "episode.csv") continue;
    std::filesystem::copy_file(entry.path(), dir + "/" + entry.path().filename().string());
  }
  auto reader = OpenOmopCsv(dir, {.site = "lyon", .mapping_file = ""});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const std::map<std::string, Row> rows = ReadCohort(reader->get());
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows.at("1").at("recurrence_date"), "");
  EXPECT_EQ(rows.at("1").at("bcr_date"), "");
  EXPECT_EQ(rows.at("1").at("metastasis_date"), "2022-05-01");  // from conditions
  EXPECT_EQ(rows.at("1").at("gleason_primary"), "3");
  const std::vector<std::string> notes = (*reader)->Notes();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("no episode table"), std::string::npos) << notes[0];
  EXPECT_EQ(notes[0].find("person"), std::string::npos) << notes[0];

  // The 30-person CDM has neither observation nor episode: two notes, the rows as before.
  auto plain = OpenOmopCsv(kCdm, {.site = "lyon", .mapping_file = ""});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(ReadCohort(plain->get()).size(), 20u);
  EXPECT_EQ((*plain)->Notes().size(), 2u);
}

TEST(OmopTest, PathologyAndEventEntriesAreChecked) {
  const std::string dir = passerelle::testing::FreshTestDir("omop_bad_entries");
  std::ofstream(dir + "/a.toml") << "[[pathology]]\nvariable = \"psa_dx\"\n";
  EXPECT_NE(LoadOmopMapping(dir + "/a.toml")
                .status()
                .message()
                .find("pathology: 'variable' is missing or not one of gleason_primary"),
            std::string::npos)
      << LoadOmopMapping(dir + "/a.toml").status().message();
  std::ofstream(dir + "/b.toml") << "[[event]]\nvariable = \"death_date\"\n";
  EXPECT_EQ(LoadOmopMapping(dir + "/b.toml").status().code(), StatusCode::kInvalidArgument);
  std::ofstream(dir + "/c.toml") << "[[pathology]]\nvariable = \"margin_status\"\n"
                                    "values = [{ level = \"positive\", codes = [\"R1\"] }]\n";
  EXPECT_NE(LoadOmopMapping(dir + "/c.toml").status().message().find("is not VOCABULARY:CODE"),
            std::string::npos);
  // A site's entry adds to the built-in one of its variable.
  std::ofstream(dir + "/d.toml") << "[[pathology]]\nvariable = \"margin_status\"\n"
                                    "window_days = 30\n"
                                    "values = [{ level = \"positive\", source_values = "
                                    "[\"marges envahies\"] }]\n";
  auto mapping = LoadOmopMapping(dir + "/d.toml");
  ASSERT_TRUE(mapping.ok()) << mapping.status().ToString();
  const auto margin = std::find_if(mapping->pathology.begin(), mapping->pathology.end(),
                                   [](const auto& p) { return p.variable == "margin_status"; });
  ASSERT_NE(margin, mapping->pathology.end());
  EXPECT_EQ(margin->window_days, 30);
  ASSERT_EQ(margin->values.size(), 2u);
  EXPECT_EQ(margin->values[1].source_values.back(), "MARGES ENVAHIES");
}

TEST(OmopTest, AConnectionStringWithAPasswordIsRefused) {
  for (const std::string& connection :
       {std::string("postgresql://lyon:s3cret@db.example/warehouse?schema=cdm"),
        std::string("postgresql:///warehouse?host=/run/postgresql&password=s3cret&schema=cdm"),
        std::string("host=/run/postgresql dbname=warehouse password=s3cret schema=cdm"),
        std::string(
            "postgresql:///warehouse?host=/run/postgresql&sslpassword=s3cret&schema=cdm")}) {
    const Status checked = pg::ParseTarget(connection, "the OMOP connection").status();
    EXPECT_EQ(checked.code(), StatusCode::kInvalidArgument) << connection;
    EXPECT_NE(checked.message().find("holds a password"), std::string::npos) << checked.message();
    EXPECT_EQ(checked.message().find("s3cret"), std::string::npos) << checked.message();
    const auto opened = OpenOmopPostgres(connection, {.site = "lyon", .mapping_file = ""});
    EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument) << connection;
  }
  // A string libpq cannot read: its message says why, without the string.
  for (const std::string& malformed :
       {std::string("postgresql://lyon:s3cret@[db/warehouse?schema=cdm"),
        std::string("host=/run/postgresql s3cret schema=cdm")}) {
    const Status unread = pg::ParseTarget(malformed, "the OMOP connection").status();
    EXPECT_EQ(unread.code(), StatusCode::kInvalidArgument) << malformed;
    EXPECT_NE(unread.message().find("cannot be read"), std::string::npos) << unread.message();
    EXPECT_EQ(unread.message().find("s3cret"), std::string::npos) << unread.message();
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
