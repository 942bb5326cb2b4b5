// The GU cohort imported from an OMOP CDM: from CSV files and from a real PostgreSQL 15 server
// (a cluster made for the test in a temporary folder, on a Unix socket, stopped at the end), the
// two storing the same rows; a CDM with values the dictionary refuses leaves the store unchanged.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "passerelle/base/test_dir.h"
#include "passerelle/data/gu_test_util.h"
#include "passerelle/data/omop.h"
#include "passerelle/store/postgres_cluster_test_util.h"
#include "passerelle/store/site_store.h"
#include "passerelle/store/sqlite_db.h"

namespace passerelle::store {
namespace {

namespace fs = std::filesystem;

const std::string kFixtures = std::string(PASSERELLE_SOURCE_DIR) + "/tests/fixtures/omop/";

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ImportRequest OmopRequest(const std::string& source, bool postgres, const std::string& site) {
  ImportRequest r;
  r.dataset = "gu_cohort";
  r.file_path = source;
  r.dictionary = data::testing::GuDictionary();
  r.dictionary_source = "builtin";
  const data::OmopOptions options{.site = site, .mapping_file = ""};
  r.open_records = [source, postgres, options] {
    return postgres ? data::OpenOmopPostgres(source, options) : data::OpenOmopCsv(source, options);
  };
  return r;
}

// Every stored row of gu_cohort as text, in patient_id order.
std::vector<std::string> StoredRows(const std::string& dir) {
  auto db = Database::Open(dir + "/store.sqlite", /*create=*/false);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return {};
  std::string select;
  for (const data::Variable& v : data::testing::GuDictionary().variables) {
    select += (select.empty() ? "" : " || '|' || ") + std::string("quote(") + v.name + ")";
  }
  auto query = (*db)->Prepare("SELECT " + select + " FROM gu_cohort ORDER BY patient_id + 0");
  EXPECT_TRUE(query.ok()) << query.status().ToString();
  std::vector<std::string> rows;
  while (query.ok() && *(*query)->Step()) rows.emplace_back((*query)->Text(0));
  return rows;
}

TEST(OmopImportTest, ACdmWithAValueTheDictionaryRefusesLeavesTheStoreUnchanged) {
  const std::string dir = passerelle::testing::FreshTestDir("omop_store");
  auto store = SiteStore::Create(dir, "lyon");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto first = (*store)->Import(OmopRequest(kFixtures + "cdm", false, "lyon"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->version.rows, 20);
  EXPECT_EQ(first->version.source_file, kFixtures + "cdm");
  const std::string before = ReadBytes(dir + "/store.sqlite");
  const std::vector<std::string> rows_before = StoredRows(dir);
  ASSERT_EQ(rows_before.size(), 20u);
  EXPECT_NE(rows_before[0].find("'lyon'|'male'|1950|'prostate'|'C61'"), std::string::npos)
      << rows_before[0];

  auto refused = (*store)->Import(OmopRequest(kFixtures + "cdm_bad", false, "lyon"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  const std::string& message = refused.status().message();
  EXPECT_NE(message.find("cdm_bad:cdm person 14 (measurement 14): psa_dx: must be at least 0 "
                         "(min), cell \"-2\""),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("cdm_bad:cdm person 20 (person): sex: rule organ_sex: prostate cancer "
                         "requires sex male, cell \"female\""),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("2 problems in " + kFixtures +
                         "cdm_bad; nothing was imported; the store is unchanged."),
            std::string::npos)
      << message;
  EXPECT_EQ(ReadBytes(dir + "/store.sqlite"), before);
  auto list = (*store)->ListDatasets();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].version, 1);

  // Rows of another site's store are refused: the site column is the store's name.
  const std::string other = passerelle::testing::FreshTestDir("omop_store_wuhan");
  auto wuhan = SiteStore::Create(other, "wuhan");
  ASSERT_TRUE(wuhan.ok());
  EXPECT_TRUE((*wuhan)->Import(OmopRequest(kFixtures + "cdm", false, "wuhan")).ok());
}

// The CDM's tables created by the 5.4 DDL and filled from the fixture's CSV files with COPY.
std::string LoadCdm(passerelle::testing::PostgresCluster* cluster, const std::string& database,
                    const std::string& folder) {
  std::string error = cluster->Psql("postgres", "CREATE DATABASE " + database + ";\n");
  if (!error.empty()) return error;
  std::string script = ReadBytes(kFixtures + "cdm54_postgresql.sql") + "\n";
  // The optional episode table only when the folder has one.
  if (fs::exists(folder + "/episode.csv")) {
    script += ReadBytes(kFixtures + "cdm54_episode_postgresql.sql") + "\n";
  }
  for (const char* table : {"person", "observation_period", "condition_occurrence", "drug_exposure",
                            "procedure_occurrence", "measurement", "death", "concept",
                            "observation", "concept_ancestor", "episode"}) {
    const std::string path = folder + "/" + table + ".csv";
    if (!fs::exists(path)) continue;
    std::ifstream in(path);
    std::string header;
    std::getline(in, header);
    script += "\\copy cdm." + std::string(table) + " (" + header + ") FROM '" + path +
              "' WITH (FORMAT csv, HEADER true)\n";
  }
  return cluster->Psql(database, script);
}

TEST(OmopPostgresTest, ACdmInPostgresqlStoresTheRowsOfItsCsvFiles) {
  const std::string dir = passerelle::testing::FreshTestDir("omop_pg");
  passerelle::testing::PostgresCluster cluster(dir + "/pg");
  const std::string started = cluster.Start();
  ASSERT_EQ(started, "");
  ASSERT_EQ(LoadCdm(&cluster, "warehouse", kFixtures + "cdm"), "");
  ASSERT_EQ(LoadCdm(&cluster, "warehouse_bad", kFixtures + "cdm_bad"), "");

  auto from_csv = SiteStore::Create(dir + "/csv", "lyon");
  auto from_pg = SiteStore::Create(dir + "/pg_store", "lyon");
  ASSERT_TRUE(from_csv.ok() && from_pg.ok());
  auto csv = (*from_csv)->Import(OmopRequest(kFixtures + "cdm", false, "lyon"));
  ASSERT_TRUE(csv.ok()) << csv.status().ToString();
  auto pg = (*from_pg)->Import(OmopRequest(cluster.Connection("warehouse"), true, "lyon"));
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  EXPECT_EQ(pg->version.rows, 20);
  // The same records, so the same checksum, and the same stored rows to the last value.
  EXPECT_EQ(pg->version.checksum, csv->version.checksum);
  const std::vector<std::string> csv_rows = StoredRows(dir + "/csv");
  const std::vector<std::string> pg_rows = StoredRows(dir + "/pg_store");
  ASSERT_EQ(pg_rows.size(), 20u);
  EXPECT_EQ(pg_rows, csv_rows);

  // The refusal names the person, the variable and the rule from PostgreSQL too.
  const std::string before = ReadBytes(dir + "/pg_store/store.sqlite");
  auto refused = (*from_pg)->Import(OmopRequest(cluster.Connection("warehouse_bad"), true, "lyon"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find(
                "postgresql database warehouse_bad, schema cdm:cdm person 14 (measurement 14): "
                "psa_dx: must be at least 0 (min), cell \"-2\""),
            std::string::npos)
      << refused.status().message();
  EXPECT_EQ(ReadBytes(dir + "/pg_store/store.sqlite"), before);

  // A schema the database does not have: the server's error, nothing stored.
  auto missing = (*from_pg)->Import(
      OmopRequest("postgresql:///warehouse?host=" + dir + "/pg/run&user=cdm_owner&schema=nowhere",
                  true, "lyon"));
  EXPECT_EQ(missing.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(missing.status().message().find(
                "reading \"nowhere\".\"condition_occurrence\": ERROR:  relation "
                "\"nowhere.condition_occurrence\" does not exist"),
            std::string::npos)
      << missing.status().message();
  EXPECT_EQ(ReadBytes(dir + "/pg_store/store.sqlite"), before);
}

// Grades, margins, episodes, metastases and concept_ancestor: the same rows from PostgreSQL as
// from the CSV files; without the episode table, the import says so and stores the rest.
TEST(OmopPostgresTest, GradesAndEpisodesFromPostgresqlAreThoseOfTheCsvFiles) {
  const std::string dir = passerelle::testing::FreshTestDir("omop_pg_onco");
  const std::string no_episode = dir + "/cdm_no_episode";
  fs::create_directories(no_episode);
  for (const auto& entry : fs::directory_iterator(kFixtures + "cdm_onco")) {
    if (entry.path().filename() == "episode.csv") continue;
    fs::copy_file(entry.path(), no_episode + "/" + entry.path().filename().string());
  }
  passerelle::testing::PostgresCluster cluster(dir + "/pg");
  ASSERT_EQ(cluster.Start(), "");
  ASSERT_EQ(LoadCdm(&cluster, "onco", kFixtures + "cdm_onco"), "");
  ASSERT_EQ(LoadCdm(&cluster, "onco_no_episode", no_episode), "");

  for (const auto& [folder, database] : {std::pair{kFixtures + "cdm_onco", std::string("onco")},
                                         std::pair{no_episode, std::string("onco_no_episode")}}) {
    auto from_csv = SiteStore::Create(dir + "/csv_" + database, "lyon");
    auto from_pg = SiteStore::Create(dir + "/pg_" + database, "lyon");
    ASSERT_TRUE(from_csv.ok() && from_pg.ok());
    auto csv = (*from_csv)->Import(OmopRequest(folder, false, "lyon"));
    ASSERT_TRUE(csv.ok()) << csv.status().ToString();
    auto pg = (*from_pg)->Import(OmopRequest(cluster.Connection(database), true, "lyon"));
    ASSERT_TRUE(pg.ok()) << pg.status().ToString();
    EXPECT_EQ(pg->version.rows, 5);
    EXPECT_EQ(pg->version.checksum, csv->version.checksum) << database;
    const std::vector<std::string> pg_rows = StoredRows(dir + "/pg_" + database);
    EXPECT_EQ(pg_rows, StoredRows(dir + "/csv_" + database)) << database;
    ASSERT_EQ(pg_rows.size(), 5u);
    EXPECT_EQ(pg->notes, csv->notes) << database;
    if (database == "onco") {
      // Person 1: Gleason 3+4, ISUP 2, PSA, positive margin, BCR, recurrence, metastasis.
      EXPECT_NE(pg_rows[0].find("3|4|2|7.2|NULL|'radical_prostatectomy'|'2020-04-01'|'positive'"),
                std::string::npos)
          << pg_rows[0];
      EXPECT_NE(pg_rows[0].find("'2022-02-01'|'2021-06-01'|'2022-05-01'"), std::string::npos)
          << pg_rows[0];
      EXPECT_NE(pg_rows[2].find("'low'"), std::string::npos) << pg_rows[2];       // bladder
      EXPECT_NE(pg_rows[4].find("'prostate'"), std::string::npos) << pg_rows[4];  // descendant
      EXPECT_TRUE(pg->notes.empty());
    } else {
      ASSERT_EQ(pg->notes.size(), 1u);
      EXPECT_NE(pg->notes[0].find("no episode table"), std::string::npos) << pg->notes[0];
      EXPECT_NE(pg_rows[0].find("NULL|NULL|'2022-05-01'"), std::string::npos) << pg_rows[0];
    }
  }
}

}  // namespace
}  // namespace passerelle::store
