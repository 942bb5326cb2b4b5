// A site store whose datasets live in PostgreSQL, against a real PostgreSQL 15 server (a
// cluster made for the test in a temporary folder, on a Unix socket, stopped at the end): the
// same rows as a store in SQLite, versions replacing each other, refusals that change nothing,
// and a warehouse table attached, checked and read in place.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "passerelle/base/test_dir.h"
#include "passerelle/data/gu_test_util.h"
#include "passerelle/store/cohort_ledger.h"
#include "passerelle/store/postgres_cluster_test_util.h"
#include "passerelle/store/site_store.h"

namespace passerelle::store {
namespace {

using data::testing::GuCsv;
using data::testing::GuDictionary;
using passerelle::testing::PostgresCluster;

// Every row of `table` as text, sorted: the rows whatever their order.
std::vector<std::string> Rows(const data::Table& table) {
  std::vector<std::string> rows(table.rows);
  for (const data::Column& c : table.columns) {
    for (size_t r = 0; r < table.rows; ++r) {
      std::string& out = rows[r];
      out += c.variable.name + "=";
      if (c.IsMissing(r)) {
        out += "NA;";
      } else if (c.is_numeric()) {
        char buffer[40];
        std::snprintf(buffer, sizeof buffer, "%.17g;", c.Number(r));
        out += buffer;
      } else if (c.variable.type == data::VarType::kCategory) {
        out += c.levels[c.codes[r]] + ";";
      } else {
        out += c.texts[r] + ";";
      }
    }
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::vector<data::testing::Changes> Patients() {
  using data::testing::Changes;
  return {Changes{{"site", "lyon"}},
          Changes{{"site", "lyon"}, {"psa_dx", "12.25"}, {"margin_status", ""}},
          Changes{{"site", "lyon"},
                  {"vital_status", "dead"},
                  {"death_date", "2021-06-30"},
                  {"death_cause", "gu_cancer"},
                  {"last_followup_date", "2021-06-30"},
                  {"psa_dx", "0.1"}},
          Changes{{"site", "lyon"}, {"birth_year", "1961"}, {"treatment_date", "2018-05-02"}}};
}

ImportRequest CsvImport(const std::string& path) {
  ImportRequest request;
  request.dataset = "gu_cohort";
  request.file_path = path;
  request.dictionary = GuDictionary();
  request.dictionary_source = "builtin";
  return request;
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = passerelle::testing::FreshTestDir("pg_store");
    cluster_ = std::make_unique<PostgresCluster>(dir_ + "/pg");
    ASSERT_EQ(cluster_->Start(), "");
    ASSERT_EQ(cluster_->Psql("postgres", "CREATE DATABASE warehouse;\n"), "");
  }

  // The GU cohort CSV of `patients` written to DIR/NAME.
  std::string WriteCsv(const std::string& name,
                       const std::vector<data::testing::Changes>& patients) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << GuCsv(patients);
    return path;
  }

  std::string dir_;
  std::unique_ptr<PostgresCluster> cluster_;
};

TEST_F(PostgresStoreTest, ItHoldsTheRowsAStoreInSqliteHolds) {
  const std::string csv = WriteCsv("cohort.csv", Patients());
  auto in_sqlite = SiteStore::Create(dir_ + "/sqlite", "lyon");
  ASSERT_TRUE(in_sqlite.ok()) << in_sqlite.status().ToString();
  auto in_pg = SiteStore::Create(dir_ + "/site", "lyon", cluster_->Connection("warehouse", "lyon"));
  ASSERT_TRUE(in_pg.ok()) << in_pg.status().ToString();
  EXPECT_EQ((*in_pg)->datasets_label(), "postgresql database warehouse, schema lyon");

  auto sqlite_import = (*in_sqlite)->Import(CsvImport(csv));
  ASSERT_TRUE(sqlite_import.ok()) << sqlite_import.status().ToString();
  auto pg_import = (*in_pg)->Import(CsvImport(csv));
  ASSERT_TRUE(pg_import.ok()) << pg_import.status().ToString();
  EXPECT_EQ(pg_import->version.rows, 4);
  EXPECT_EQ(pg_import->version.checksum, sqlite_import->version.checksum);

  // Opened again (as a node does), the same rows to the last bit, in the same order.
  auto reopened = SiteStore::Open(dir_ + "/site");
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  auto from_pg = (*reopened)->LoadTable("gu_cohort");
  auto from_sqlite = (*in_sqlite)->LoadTable("gu_cohort");
  ASSERT_TRUE(from_pg.ok()) << from_pg.status().ToString();
  ASSERT_TRUE(from_sqlite.ok());
  ASSERT_EQ(from_pg->columns.size(), from_sqlite->columns.size());
  for (size_t c = 0; c < from_pg->columns.size(); ++c) {
    const data::Column& a = from_pg->columns[c];
    const data::Column& b = from_sqlite->columns[c];
    EXPECT_EQ(a.codes, b.codes) << a.variable.name;
    EXPECT_EQ(a.levels, b.levels) << a.variable.name;
    EXPECT_EQ(a.texts, b.texts) << a.variable.name;
    ASSERT_EQ(a.Numbers().size(), b.Numbers().size());
    for (size_t r = 0; r < a.Numbers().size(); ++r) {
      EXPECT_TRUE(a.Number(r) == b.Number(r) ||
                  (std::isnan(a.Number(r)) && std::isnan(b.Number(r))))
          << a.variable.name << " row " << r;
    }
  }
  // Some of the variables (a node reads those its task names), in the dictionary's order, as in
  // the whole table, from either store.
  const std::set<std::string> some = {"psa_dx", "organ", "patient_id", "no_such_variable"};
  for (SiteStore* store : {reopened->get(), in_sqlite->get()}) {
    auto part = store->LoadTable("gu_cohort", nullptr, nullptr, &some);
    ASSERT_TRUE(part.ok()) << part.status().ToString();
    std::vector<std::string> names;
    for (const data::Column& c : part->columns) names.push_back(c.variable.name);
    EXPECT_EQ(names, (std::vector<std::string>{"patient_id", "organ", "psa_dx"}));
    EXPECT_EQ(part->rows, from_sqlite->rows);
    EXPECT_EQ(part->Find("organ")->codes, from_sqlite->Find("organ")->codes);
    EXPECT_EQ(part->Find("patient_id")->texts, from_sqlite->Find("patient_id")->texts);
    const std::set<std::string> none = {"no_such_variable"};  // its rows alone
    auto rows = store->LoadTable("gu_cohort", nullptr, nullptr, &none);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    EXPECT_TRUE(rows->columns.empty());
    EXPECT_EQ(rows->rows, from_sqlite->rows);
  }
  // Each row comes with its ordinal, by which the ledger numbered it at the import: the same
  // numbers from either store (each its own ledger), whatever order PostgreSQL's scan takes
  // (a row written again moves to the end of its table).
  ASSERT_EQ(cluster_->Psql("warehouse",
                           "UPDATE lyon.data_gu_cohort_v1 SET psa_dx = psa_dx WHERE "
                           "patient_id = 'P1';\n"),
            "");
  for (const auto& [store, dir] : {std::pair{reopened->get(), dir_ + "/site"},
                                   std::pair{in_sqlite->get(), dir_ + "/sqlite"}}) {
    DatasetVersion v;
    std::vector<uint32_t> ordinals;
    const std::set<std::string> ids = {"patient_id"};
    auto rows = store->LoadTable("gu_cohort", &v, nullptr, &ids, &ordinals);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    auto ledger = CohortLedger::Open(dir);
    ASSERT_TRUE(ledger.ok());
    auto numbers = store->RecordNumbers(v, ledger->get());
    ASSERT_TRUE(numbers.ok()) << numbers.status().ToString();
    EXPECT_EQ(*numbers, (std::vector<uint32_t>{0, 1, 2, 3}));
    ASSERT_EQ(ordinals.size(), 4u);
    EXPECT_EQ(ordinals, store == in_sqlite->get() ? (std::vector<uint32_t>{0, 1, 2, 3})
                                                  : (std::vector<uint32_t>{1, 2, 3, 0}));
    for (size_t r = 0; r < ordinals.size(); ++r) {
      EXPECT_EQ(rows->Find("patient_id")->texts[r],
                from_sqlite->Find("patient_id")->texts[ordinals[r]]);
    }
  }
  // The custodian sees the dataset in psql, dates as dates.
  ASSERT_EQ(cluster_->Psql("warehouse",
                           "DO $$ BEGIN IF (SELECT count(*) FROM lyon.gu_cohort WHERE "
                           "diagnosis_date = DATE '2018-03-01') <> 4 THEN RAISE 'view'; END IF; "
                           "END $$;\n"),
            "");

  // A file with a broken row: refused, the store as it was (no new version, no new table).
  auto broken = Patients();
  broken[2]["psa_dx"] = "-3";
  const auto refused = (*reopened)->Import(CsvImport(WriteCsv("broken.csv", broken)));
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("broken.csv:4:"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("nothing was imported"), std::string::npos);
  ASSERT_EQ(cluster_->Psql("warehouse",
                           "DO $$ BEGIN IF to_regclass('lyon.data_gu_cohort_v2') IS NOT NULL "
                           "THEN RAISE 'left behind'; END IF; END $$;\n"),
            "");
  // On the same connection, right after the refused one, a second import replaces the first:
  // version 2, its table, the first one's dropped.
  auto second = (*reopened)->Import(CsvImport(csv));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->version.version, 2);
  ASSERT_EQ(cluster_->Psql("warehouse",
                           "DO $$ BEGIN IF to_regclass('lyon.data_gu_cohort_v1') IS NOT NULL "
                           "THEN RAISE 'kept'; END IF; END $$;\n"),
            "");
  // The server closes the store's connection (a restart, an idle timeout): the next operation
  // connects again.
  ASSERT_EQ(cluster_->Psql("warehouse",
                           "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                           "datname = 'warehouse' AND pid <> pg_backend_pid();\n"),
            "");
  auto list = (*reopened)->ListDatasets();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].version, 2);
  EXPECT_FALSE((*list)[0].attached);
}

TEST_F(PostgresStoreTest, AStoreIsMadeOnlyWhereItCanBeAndWithoutAPassword) {
  const std::string with_password =
      "postgresql://cdm_owner:s3cret@localhost/warehouse?host=" + dir_ + "/pg/run&schema=lyon";
  auto refused = SiteStore::Create(dir_ + "/a", "lyon", with_password);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("holds a password"), std::string::npos);
  EXPECT_EQ(refused.status().message().find("s3cret"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/a"));

  auto unreachable =
      SiteStore::Create(dir_ + "/b", "lyon", "postgresql:///warehouse?host=" + dir_ + "/nowhere");
  EXPECT_EQ(unreachable.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/b"));

  // One schema, one site's datasets.
  ASSERT_TRUE(SiteStore::Create(dir_ + "/c", "lyon", cluster_->Connection("warehouse", "s")).ok());
  auto twice = SiteStore::Create(dir_ + "/d", "wuhan", cluster_->Connection("warehouse", "s"));
  EXPECT_EQ(twice.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/d"));
}

// The schema may hold the warehouse's own tables and views: an import never replaces one, and
// a dataset's name leaves its versions' tables room in PostgreSQL's 63 bytes.
TEST_F(PostgresStoreTest, AnImportLeavesWhatItDidNotMakeAsItWas) {
  ASSERT_EQ(cluster_->Psql("warehouse",
                           "CREATE SCHEMA mixed; CREATE TABLE mixed.src (a integer);\n"
                           "CREATE VIEW mixed.gu_cohort AS SELECT a FROM mixed.src;\n"),
            "");
  auto store =
      SiteStore::Create(dir_ + "/site", "lyon", cluster_->Connection("warehouse", "mixed"));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const std::string csv = WriteCsv("cohort.csv", Patients());
  auto refused = (*store)->Import(CsvImport(csv));
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("rule dataset_name"), std::string::npos)
      << refused.status().message();
  ASSERT_EQ(cluster_->Psql("warehouse",
                           "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_views WHERE schemaname = "
                           "'mixed' AND viewname = 'gu_cohort' AND definition LIKE '%src%') THEN "
                           "RAISE 'replaced'; END IF; END $$;\n"),
            "");
  EXPECT_TRUE((*store)->ListDatasets()->empty());

  ImportRequest long_name = CsvImport(csv);
  long_name.dataset = std::string(41, 'a');
  auto too_long = (*store)->Import(long_name);
  EXPECT_EQ(too_long.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_long.status().message().find("at most 40 characters"), std::string::npos);
  long_name.dataset = std::string(40, 'a');
  ASSERT_TRUE((*store)->Import(long_name).ok());
  auto second = (*store)->Import(long_name);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->version.version, 2);
}

// A table rebuilt with a column fewer, its rows written so that the names and fields read in a
// row run the same as before: the columns' number and the rows' count tell it apart.
TEST_F(PostgresStoreTest, AnAttachedTableRebuiltWithAColumnFewerIsRefused) {
  ASSERT_EQ(
      cluster_->Psql("warehouse",
                     "CREATE SCHEMA research; CREATE TABLE research.t (id text, a text, b "
                     "text, grp text);\n"
                     "INSERT INTO research.t VALUES ('p1','q','h','x'), ('p2','z','w','y');\n"),
      "");
  auto store = SiteStore::Create(dir_ + "/site", "lyon", cluster_->Connection("warehouse", "lyon"));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto dictionary = data::ParseDictionary(
      "name = \"t\"\nversion = 1\n"
      "[[variable]]\nname = \"id\"\ntype = \"identifier\"\n"
      "[[variable]]\nname = \"a\"\ntype = \"text\"\n"
      "[[variable]]\nname = \"b\"\ntype = \"text\"\n"
      "[[variable]]\nname = \"grp\"\ntype = \"text\"\n",
      "t.toml");
  ASSERT_TRUE(dictionary.ok()) << dictionary.status().ToString();
  AttachRequest attach{.dataset = "t",
                       .table = "research.t",
                       .dictionary = *dictionary,
                       .dictionary_source = "file",
                       .progress = nullptr};
  ASSERT_TRUE((*store)->Attach(attach).ok());
  ASSERT_TRUE((*store)->LoadTable("t").ok());
  ASSERT_EQ(cluster_->Psql("warehouse",
                           "DROP TABLE research.t; CREATE TABLE research.t (id text, a text, b "
                           "text);\n"
                           "INSERT INTO research.t VALUES ('grp','p1','q'), ('h','x','p2'), "
                           "('z','w','y');\n"),
            "");
  auto shifted = (*store)->LoadTable("t");
  EXPECT_EQ(shifted.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(shifted.status().message().find("rule attached_unchanged"), std::string::npos)
      << shifted.status().message();
  // A byte moved from the end of one field to the start of the next (0x1F, which once ended
  // each field in the checksum), and a NULL made an empty text: each field is framed by its
  // length, a NULL by none.
  for (const std::string& change :
       {std::string("UPDATE research.t SET a = 'q', b = E'\\x1fh' WHERE id = 'p1';\n"),
        std::string("UPDATE research.t SET b = '' WHERE id = 'p2';\n")}) {
    ASSERT_EQ(cluster_->Psql("warehouse",
                             "DROP TABLE research.t; CREATE TABLE research.t (id text, a text, b "
                             "text);\nINSERT INTO research.t VALUES ('p1', E'q\\x1f', 'h'), "
                             "('p2', 'z', NULL);\n"),
              "");
    ASSERT_TRUE((*store)->Attach(attach).ok());
    ASSERT_TRUE((*store)->LoadTable("t").ok());
    ASSERT_EQ(cluster_->Psql("warehouse", change), "");
    auto moved = (*store)->LoadTable("t");
    EXPECT_EQ(moved.status().code(), StatusCode::kFailedPrecondition) << change;
  }
}

// The warehouse's table as a hospital keeps it: typed columns, filled from the cohort's CSV.
std::string WarehouseTable(const std::string& name, const std::string& csv) {
  std::string create = "CREATE TABLE research." + name + " (";
  std::string columns;
  bool first = true;
  for (const data::Variable& v : GuDictionary().variables) {
    if (v.derived) continue;
    const char* type = v.type == data::VarType::kInteger  ? "integer"
                       : v.type == data::VarType::kNumber ? "double precision"
                       : v.type == data::VarType::kDate   ? "date"
                                                          : "text";
    create += (first ? "" : ", ") + v.name + " " + type;
    columns += (first ? "" : ", ") + v.name;
    first = false;
  }
  return create + ");\n\\copy research." + name + " (" + columns + ") FROM '" + csv +
         "' WITH (FORMAT csv, HEADER true)\n";
}

TEST_F(PostgresStoreTest, AWarehouseTableIsAttachedCheckedAndReadWhereItIs) {
  const std::string csv = WriteCsv("cohort.csv", Patients());
  ASSERT_EQ(cluster_->Psql("warehouse", "CREATE SCHEMA research;\n" + WarehouseTable("gu", csv)),
            "");
  auto store = SiteStore::Create(dir_ + "/site", "lyon", cluster_->Connection("warehouse", "lyon"));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  AttachRequest attach{.dataset = "gu_cohort",
                       .table = "research.gu",
                       .dictionary = GuDictionary(),
                       .dictionary_source = "builtin",
                       .progress = nullptr};
  auto attached = (*store)->Attach(attach);
  ASSERT_TRUE(attached.ok()) << attached.status().ToString();
  EXPECT_EQ(attached->version.rows, 4);
  EXPECT_TRUE(attached->version.attached);
  EXPECT_EQ(attached->version.source_file, "research.gu");

  // Its rows are the rows the CSV imports into SQLite.
  auto in_sqlite = SiteStore::Create(dir_ + "/sqlite", "lyon");
  ASSERT_TRUE(in_sqlite.ok());
  ASSERT_TRUE((*in_sqlite)->Import(CsvImport(csv)).ok());
  auto expected = (*in_sqlite)->LoadTable("gu_cohort");
  auto read = (*store)->LoadTable("gu_cohort");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(Rows(*read), Rows(*expected));
  // Read for some of its variables, it is checked whole all the same, and keeps those.
  const std::set<std::string> some = {"os_days"};
  auto part = (*store)->LoadTable("gu_cohort", nullptr, nullptr, &some);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  ASSERT_EQ(part->columns.size(), 1u);
  EXPECT_EQ(part->columns[0].variable.name, "os_days");
  EXPECT_EQ(part->columns[0].Numbers(), expected->Find("os_days")->Numbers());
  // Nothing was copied: the schema holds the catalog only.
  ASSERT_EQ(cluster_->Psql("warehouse",
                           "DO $$ BEGIN IF (SELECT count(*) FROM pg_tables WHERE schemaname = "
                           "'lyon') <> 2 THEN RAISE 'copied'; END IF; END $$;\n"),
            "");

  // The warehouse changes a value: the dataset is refused, by its rule, without the value.
  ASSERT_EQ(cluster_->Psql("warehouse",
                           "UPDATE research.gu SET psa_dx = 99.5 WHERE "
                           "patient_id = 'P2';\n"),
            "");
  auto changed = (*store)->LoadTable("gu_cohort");
  EXPECT_EQ(changed.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(changed.status().message().find("rule attached_unchanged"), std::string::npos)
      << changed.status().message();
  EXPECT_EQ(changed.status().message().find("99.5"), std::string::npos);
  // Attached again, it is checked again: version 2.
  auto again = (*store)->Attach(attach);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->version.version, 2);
  ASSERT_TRUE((*store)->LoadTable("gu_cohort").ok());
  // Two columns' names swapped: each holds the other's values, and every value read is one the
  // table held. Refused all the same; swapped back, read again.
  const std::string swap =
      "ALTER TABLE research.gu RENAME COLUMN ct_stage TO swapping;\n"
      "ALTER TABLE research.gu RENAME COLUMN pt_stage TO ct_stage;\n"
      "ALTER TABLE research.gu RENAME COLUMN swapping TO pt_stage;\n";
  ASSERT_EQ(cluster_->Psql("warehouse", swap), "");
  auto swapped = (*store)->LoadTable("gu_cohort");
  EXPECT_EQ(swapped.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(swapped.status().message().find("rule attached_unchanged"), std::string::npos);
  ASSERT_EQ(cluster_->Psql("warehouse", swap), "");
  ASSERT_TRUE((*store)->LoadTable("gu_cohort").ok());
  // Numbered in the ledger as it was attached, its rows by the order they are read in (that of
  // their values): the patients keep the numbers the first version gave them.
  {
    DatasetVersion v;
    std::vector<uint32_t> ordinals;
    const std::set<std::string> ids = {"patient_id"};
    auto rows = (*store)->LoadTable("gu_cohort", &v, nullptr, &ids, &ordinals);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    EXPECT_EQ(ordinals, (std::vector<uint32_t>{0, 1, 2, 3}));
    auto ledger = CohortLedger::Open(dir_ + "/site");
    ASSERT_TRUE(ledger.ok());
    auto numbers = (*store)->RecordNumbers(v, ledger->get());
    ASSERT_TRUE(numbers.ok()) << numbers.status().ToString();
    std::vector<std::string> by_number(4);
    for (size_t r = 0; r < 4; ++r) by_number.at((*numbers)[r]) = rows->columns[0].texts[r];
    EXPECT_EQ(by_number, (std::vector<std::string>{"P1", "P2", "P3", "P4"}));
  }

  // A table with a row the dictionary refuses: named by row and variable, nothing attached.
  ASSERT_EQ(cluster_->Psql("warehouse",
                           "UPDATE research.gu SET birth_year = 1850 WHERE "
                           "patient_id = 'P3';\n"),
            "");
  auto refused = (*store)->Attach(attach);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("table research.gu:row 3: birth_year:"),
            std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("nothing was attached"), std::string::npos);
  auto list = (*store)->ListDatasets();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)[0].version, 2);
  // No table of that name, and no table at all on a store in SQLite.
  attach.table = "research.nothing";
  EXPECT_EQ((*store)->Attach(attach).status().code(), StatusCode::kNotFound);
  attach.table = "lyon.gu_cohort";  // the store's own view
  EXPECT_EQ((*store)->Attach(attach).status().code(), StatusCode::kInvalidArgument);
  attach.table = "research.gu; drop table research.gu";
  EXPECT_EQ((*store)->Attach(attach).status().code(), StatusCode::kInvalidArgument);
  attach.table = "research.gu";
  EXPECT_EQ((*in_sqlite)->Attach(attach).status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace passerelle::store
