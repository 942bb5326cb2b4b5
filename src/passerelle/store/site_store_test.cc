#include "passerelle/store/site_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "passerelle/base/sha256.h"
#include "passerelle/base/test_dir.h"
#include "passerelle/data/gu_test_util.h"
#include "passerelle/data/record_test_util.h"
#include "passerelle/data/synth.h"
#include "passerelle/data/xlsx.h"
#include "passerelle/data/zip_test_util.h"
#include "passerelle/store/cohort_ledger.h"
#include "passerelle/store/sqlite_db.h"

namespace passerelle::store {
namespace {

namespace fs = std::filesystem;

class SiteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = passerelle::testing::FreshTestDir("site");
    auto store = SiteStore::Create(dir_, "wuhan");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  std::string Write(const std::string& name, const std::string& contents) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << contents;
    return path;
  }
  ImportRequest GuRequest(const std::string& path) {
    ImportRequest r;
    r.dataset = "gu_cohort";
    r.file_path = path;
    r.dictionary = data::testing::GuDictionary();
    r.dictionary_source = "builtin";
    return r;
  }
  // Runs statements on the store's file as a custodian with sqlite3 would.
  void ExecInStoreFile(const std::string& sql) {
    auto db = Database::Open(dir_ + "/store.sqlite", false);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)->Exec(sql).ok()) << sql;
  }
  std::string StoreBytes() {
    std::ifstream in(dir_ + "/store.sqlite", std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string dir_;
  std::unique_ptr<SiteStore> store_;
};

TEST_F(SiteStoreTest, InitWritesStoreAndDocumentedPolicy) {
  EXPECT_TRUE(fs::exists(dir_ + "/store.sqlite"));
  auto policy = store_->LoadPolicy();
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  EXPECT_EQ(policy->site, "wuhan");
  EXPECT_EQ(policy->min_cell_count, 5);
  EXPECT_EQ(SiteStore::Create(dir_, "wuhan").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(SiteStore::Open(dir_ + "/nowhere").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(SiteStore::Create(dir_ + "/x", "bad name").status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(SiteStoreTest, ImportsSyntheticCohortAndLoadsIt) {
  std::ostringstream csv;
  data::WriteSyntheticCohort({"wuhan", 300, 3}, csv);
  auto report = store_->Import(GuRequest(Write("wuhan.csv", csv.str())));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->version.version, 1);
  EXPECT_EQ(report->version.rows, 300);
  EXPECT_EQ(report->version.checksum, Sha256Hex(csv.str()));
  EXPECT_EQ(report->version.index_date, "diagnosis");
  DatasetVersion v;
  auto table = store_->LoadTable("gu_cohort", &v);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->rows, 300u);
  EXPECT_EQ(v.dictionary_id, "gu_cohort.v1");
  const data::Column* os = table->Find("os_days");
  ASSERT_NE(os, nullptr);
  EXPECT_FALSE(os->IsMissing(0));
  const data::Column* organ = table->Find("organ");
  EXPECT_EQ(organ->levels.front(), "prostate");
  auto list = store_->ListDatasets();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
}

// Rows reach the table as read, whatever their number (not a multiple of what the writer takes at
// once), missing values, repeated values and a category of more texts than the writer keeps.
TEST_F(SiteStoreTest, EveryValueOfManyRowsIsStoredAsRead) {
  auto d = data::ParseDictionary(
      "name = \"many\"\n[[variable]]\nname = \"id\"\ntype = \"identifier\"\nunique = true\n"
      "[[variable]]\nname = \"code\"\ntype = \"category\"\n"
      "[[variable]]\nname = \"grade\"\ntype = \"category\"\nlevels = [\"low\", "
      "\"intermediate_high\"]\n"
      "[[variable]]\nname = \"n\"\ntype = \"integer\"\n"
      "[[variable]]\nname = \"x\"\ntype = \"number\"\n"
      "[[variable]]\nname = \"note\"\ntype = \"text\"\n",
      "many.toml");
  ASSERT_TRUE(d.ok()) << d.status().message();
  constexpr int kRows = 5003;
  std::string csv = "id,code,grade,n,x,note\n";
  auto code = [](int r) { return r % 3 == 0 ? "" : "c" + std::to_string(r % 700); };
  auto grade = [](int r) { return r % 5 == 0 ? "" : r % 2 ? "low" : "intermediate_high"; };
  for (int r = 0; r < kRows; ++r) {
    csv += "p" + std::to_string(r) + "," + code(r) + "," + grade(r) + "," +
           (r % 7 == 0 ? "" : std::to_string(r % 4)) + "," + (r % 11 == 0 ? "" : "1.5") + "," +
           (r % 2 ? "note " + std::to_string(r) : "") + "\n";
  }
  ImportRequest request;
  request.dataset = "many";
  request.file_path = Write("many.csv", csv);
  request.dictionary = *d;
  auto report = store_->Import(request);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  auto table = store_->LoadTable("many", nullptr);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_EQ(table->rows, static_cast<size_t>(kRows));
  const data::Column* ids = table->Find("id");
  const data::Column* codes = table->Find("code");
  const data::Column* grades = table->Find("grade");
  const data::Column* n = table->Find("n");
  const data::Column* x = table->Find("x");
  const data::Column* notes = table->Find("note");
  for (int r = 0; r < kRows; ++r) {
    SCOPED_TRACE(r);
    EXPECT_EQ(ids->texts[r], "p" + std::to_string(r));
    EXPECT_EQ(codes->IsMissing(r) ? "" : codes->levels[codes->codes[r]], code(r));
    EXPECT_EQ(grades->IsMissing(r) ? "" : grades->levels[grades->codes[r]], grade(r));
    EXPECT_EQ(n->IsMissing(r) ? -1 : n->Number(r), r % 7 == 0 ? -1 : r % 4);
    EXPECT_EQ(x->IsMissing(r) ? -1 : x->Number(r), r % 11 == 0 ? -1 : 1.5);
    EXPECT_EQ(notes->IsMissing(r) ? "" : notes->texts[r], r % 2 ? "note " + std::to_string(r) : "");
  }
}

TEST_F(SiteStoreTest, BadRowNearTheEndLeavesTheStoreUnchanged) {
  std::ostringstream good;
  data::WriteSyntheticCohort({"wuhan", 200, 5}, good);
  ASSERT_TRUE(store_->Import(GuRequest(Write("v1.csv", good.str()))).ok());
  const std::string before = StoreBytes();

  // 100,000 rows; row 90,000 (line 90,001) has a negative PSA.
  std::ostringstream big;
  data::WriteSyntheticCohort({"wuhan", 100000, 9}, big);
  std::string text = big.str();
  size_t pos = 0;
  for (int line = 1; line < 90001; ++line) pos = text.find('\n', pos) + 1;
  const size_t end = text.find('\n', pos);
  std::string row = text.substr(pos, end - pos);
  std::vector<std::string> cells;
  std::stringstream split(row);
  for (std::string cell; std::getline(split, cell, ',');) cells.push_back(cell);
  cells[4] = "prostate";
  cells[5] = "C61";
  cells[6] = "C61.9";
  cells[18] = "-2.0";  // psa_dx
  std::string broken;
  for (size_t i = 0; i < cells.size(); ++i) broken += (i ? "," : "") + cells[i];
  while (std::count(broken.begin(), broken.end(), ',') < 29) broken += ",";
  text.replace(pos, end - pos, broken);

  auto result = store_->Import(GuRequest(Write("big.csv", text)));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  const std::string& message = result.status().message();
  EXPECT_NE(message.find("big.csv:90001:19: psa_dx: must be at least 0 (min), cell \"-2.0\""),
            std::string::npos)
      << message.substr(0, 2000);
  EXPECT_NE(message.find("nothing was imported; the store is unchanged."), std::string::npos);
  EXPECT_EQ(StoreBytes(), before);
  auto list = store_->ListDatasets();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].version, 1);
  EXPECT_EQ((*list)[0].rows, 200);
}

TEST_F(SiteStoreTest, ReimportReplacesAtomicallyWithANewVersion) {
  std::ostringstream first, second;
  data::WriteSyntheticCohort({"wuhan", 50, 1}, first);
  data::WriteSyntheticCohort({"wuhan", 80, 2}, second);
  ASSERT_TRUE(store_->Import(GuRequest(Write("a.csv", first.str()))).ok());
  auto again = store_->Import(GuRequest(Write("b.csv", second.str())));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->version.version, 2);
  auto table = store_->LoadTable("gu_cohort");
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->rows, 80u);
  auto list = store_->ListDatasets();
  EXPECT_EQ((*list)[0].source_file, "b.csv");
}

// Each row's identifier and number in the release ledger ("P1=0"), in the order of their
// ordinals, as a node numbers the rows it reads; `v`: the version read.
std::vector<std::string> LedgerNumbers(SiteStore* store, const std::string& dir,
                                       DatasetVersion* v = nullptr) {
  DatasetVersion read;
  std::vector<uint32_t> ordinals;
  auto table = store->LoadTable("gu_cohort", &read, nullptr, nullptr, &ordinals);
  auto ledger = CohortLedger::Open(dir);
  auto numbers = store->RecordNumbers(read, ledger->get());
  EXPECT_TRUE(numbers.ok()) << numbers.status().ToString();
  if (v) *v = read;
  if (!table.ok() || !numbers.ok()) return {};
  std::vector<std::string> out(table->rows);
  const data::Column& id = *table->Find("patient_id");
  for (size_t r = 0; r < table->rows; ++r) {
    out.at(ordinals[r]) = id.texts[r] + "=" + std::to_string((*numbers)[ordinals[r]]);
  }
  return out;
}

TEST_F(SiteStoreTest, AnImportNumbersItsRowsInTheLedgerOnceAndKeepsTheNumbers) {
  ASSERT_TRUE(store_->Import(GuRequest(Write("a.csv", data::testing::GuCsv({{}, {}, {}})))).ok());
  {
    const DatasetVersion v = store_->ListDatasets()->at(0);
    auto ledger = CohortLedger::Open(dir_);
    auto kept = (*ledger)->Kept("gu_cohort", 1, v.checksum + " " + v.imported_at + " 3");
    ASSERT_TRUE(kept.ok() && kept->has_value());
    EXPECT_EQ(**kept, (std::vector<uint32_t>{0, 1, 2}));
  }
  using Numbers = std::vector<std::string>;
  EXPECT_EQ(LedgerNumbers(store_.get(), dir_), (Numbers{"P1=0", "P2=1", "P3=2"}));
  // A new import: the same patients keep their numbers, in any order; a new one takes the next.
  const std::string second = data::testing::GuCsv(
      {{{"patient_id", "P3"}}, {{"patient_id", "P9"}}, {{"patient_id", "P1"}}});
  ASSERT_TRUE(store_->Import(GuRequest(Write("b.csv", second))).ok());
  EXPECT_EQ(LedgerNumbers(store_.get(), dir_), (Numbers{"P3=2", "P9=3", "P1=0"}));
  // Numbers the ledger lost are found again from the rows, the same, and kept.
  {
    auto db = Database::Open(dir_ + "/ledger.sqlite", false);
    ASSERT_TRUE((*db)->Exec("DELETE FROM numbering").ok());
  }
  EXPECT_EQ(LedgerNumbers(store_.get(), dir_), (Numbers{"P3=2", "P9=3", "P1=0"}));
  auto db = Database::Open(dir_ + "/ledger.sqlite", false);
  auto count = (*db)->Prepare("SELECT count(*) FROM numbering");
  ASSERT_TRUE(count.ok() && *(*count)->Step());
  EXPECT_EQ((*count)->Int(0), 1);
  // Under a dictionary that lets an identifier repeat, a patient given twice is told apart by
  // the order of the rows: the first keeps the number.
  ImportRequest repeats = GuRequest(Write(
      "c.csv",
      data::testing::GuCsv({{{"patient_id", "P9"}}, {{"patient_id", "P9"}, {"psa_dx", "8"}}})));
  repeats.dictionary->variables[0].unique = false;
  ASSERT_EQ(repeats.dictionary->variables[0].name, "patient_id");
  auto twice = store_->Import(repeats);
  ASSERT_TRUE(twice.ok()) << twice.status().ToString();
  DatasetVersion v;
  EXPECT_EQ(LedgerNumbers(store_.get(), dir_, &v), (Numbers{"P9=3", "P9=4"}));
  // A version replaced meanwhile is not numbered.
  ASSERT_TRUE(store_->Import(GuRequest(Write("d.csv", data::testing::GuCsv({{}})))).ok());
  auto ledger = CohortLedger::Open(dir_);
  EXPECT_EQ(store_->RecordNumbers(v, ledger->get()).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(SiteStoreTest, ReservedNamesAreRefusedInAnyCase) {
  for (const char* name : {"site", "Site", "DATASET", "Dataset_Version", "Data_x", "SQLITE_x"}) {
    ImportRequest r = GuRequest(Write("x.csv", "patient_id\n"));
    r.dataset = name;
    const auto report = store_->Import(r);
    EXPECT_EQ(report.status().code(), StatusCode::kInvalidArgument) << name;
  }
}

// A custodian's own table in the store's file, named as a dataset's view would be: kept, and
// the import refused by its rule (SQLite's names in any case).
TEST_F(SiteStoreTest, AnImportLeavesATableItDidNotMakeAsItWas) {
  ExecInStoreFile("CREATE TABLE Gu_Cohort (note TEXT); INSERT INTO Gu_Cohort VALUES ('mine')");
  auto refused = store_->Import(GuRequest(Write("a.csv", data::testing::GuCsv({{}}))));
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("rule dataset_name"), std::string::npos)
      << refused.status().message();
  auto db = Database::Open(dir_ + "/store.sqlite", false);
  ASSERT_TRUE(db.ok());
  auto kept = (*db)->Prepare("SELECT note FROM gu_cohort");
  ASSERT_TRUE(kept.ok() && *(*kept)->Step());
  EXPECT_EQ((*kept)->Text(0), "mine");
  EXPECT_TRUE(store_->ListDatasets()->empty());
}

TEST_F(SiteStoreTest, RowsOfAnotherSiteAreRefused) {
  auto result =
      store_->Import(GuRequest(Write("x.csv", data::testing::GuCsv({{{"site", "lyon"}}}))));
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find(
                "x.csv:2:2: site: rule site_matches_store: this store belongs to site 'wuhan', "
                "cell \"lyon\""),
            std::string::npos);
}

TEST_F(SiteStoreTest, InfersAndStoresADictionaryWhenNoneIsGiven) {
  ImportRequest r;
  r.dataset = "lung";
  r.file_path = Write("lung.csv", "inst,time,status,sex,ph.ecog\n3,306,2,1,1\n3,455,2,1,\n");
  auto report = store_->Import(r);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->version.dictionary_source, "inferred");
  data::Dictionary stored;
  auto table = store_->LoadTable("lung", nullptr, &stored);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(stored.variables[stored.IndexOf("ph.ecog")].type, data::VarType::kInteger);
  EXPECT_TRUE(table->Find("ph.ecog")->IsMissing(1));
}

TEST_F(SiteStoreTest, FrenchExcelExport) {
  ImportRequest r = GuRequest("");
  std::string csv = data::testing::GuCsv({{{"psa_dx", "7,4"},
                                           {"diagnosis_date", "01/03/2018"},
                                           {"treatment_date", "01/04/2018"},
                                           {"last_followup_date", "01/03/2023"}}},
                                         ';');
  r.file_path = Write("lyon.csv", "\xEF\xBB\xBF" + csv);
  r.cells.decimal_comma = true;
  r.cells.date_format = DateFormat::Parse("dd/mm/yyyy").value();
  auto report = store_->Import(r);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  auto table = store_->LoadTable("gu_cohort");
  EXPECT_DOUBLE_EQ(table->Find("psa_dx")->Number(0), 7.4);
  EXPECT_DOUBLE_EQ(table->Find("diagnosis_date")->Number(0), DaysFromCivil(2018, 3, 1));
}

}  // namespace
}  // namespace passerelle::store

namespace passerelle::store {
namespace {

TEST_F(SiteStoreTest, ViewShowsTheCurrentVersionWithIsoDates) {
  ASSERT_TRUE(store_->Import(GuRequest(Write("a.csv", data::testing::GuCsv({{}})))).ok());
  ASSERT_TRUE(store_->Import(GuRequest(Write("b.csv", data::testing::GuCsv({{}, {}})))).ok());
  auto db = Database::Open(dir_ + "/store.sqlite", false);
  ASSERT_TRUE(db.ok());
  auto query = (*db)->Prepare("SELECT count(*), min(diagnosis_date) FROM gu_cohort");
  ASSERT_TRUE(query.ok());
  ASSERT_TRUE(*(*query)->Step());
  EXPECT_EQ((*query)->Int(0), 2);
  EXPECT_EQ((*query)->Text(1), "2018-03-01");
}

TEST_F(SiteStoreTest, AStoreOfTheFirstLayoutIsOpenedAndKeepsItsDatasets) {
  ASSERT_TRUE(store_->Import(GuRequest(Write("a.csv", data::testing::GuCsv({{}, {}})))).ok());
  store_.reset();
  // the layout before datasets could be attached
  ExecInStoreFile(
      "ALTER TABLE dataset_version DROP COLUMN attached; UPDATE site SET value = '1' WHERE key "
      "= 'schema_version'");
  auto reopened = SiteStore::Open(dir_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  auto table = (*reopened)->LoadTable("gu_cohort");
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->rows, 2u);
  auto again = (*reopened)->Import(GuRequest(Write("b.csv", data::testing::GuCsv({{}}))));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->version.version, 2);
  auto db = Database::Open(dir_ + "/store.sqlite", false);
  auto version = (*db)->Prepare("SELECT value FROM site WHERE key = 'schema_version'");
  ASSERT_TRUE(version.ok() && *(*version)->Step());
  EXPECT_EQ((*version)->Text(0), "2");
}

TEST_F(SiteStoreTest, ReservedDatasetNamesAreRefused) {
  for (const char* name : {"site", "dataset", "data_x", "sqlite_master", "bad name"}) {
    ImportRequest r = GuRequest(Write("a.csv", data::testing::GuCsv({{}})));
    r.dataset = name;
    EXPECT_EQ(store_->Import(r).status().code(), StatusCode::kInvalidArgument) << name;
  }
}

// Every kind of file holding gu_lyon.csv's cohort stores the very rows the CSV stores.
TEST(SiteStoreFiles, EveryKindOfFileStoresTheCsvsRows) {
  const std::string dir = passerelle::testing::FreshTestDir("files");
  auto load = [&](const std::string& name) -> Result<data::Table> {
    const std::string site = dir + "/" + name;
    ASSIGN_OR_RETURN(auto store, SiteStore::Create(site, "lyon"));
    ImportRequest r;
    r.dataset = "gu_cohort";
    r.file_path = data::testing::Fixture(name);
    r.dictionary = data::testing::GuDictionary();
    ASSIGN_OR_RETURN(ImportReport report, store->Import(r));
    EXPECT_EQ(report.version.rows, 40);
    EXPECT_EQ(report.version.source_file, name);
    return store->LoadTable("gu_cohort");
  };
  auto csv = load("gu_lyon.csv");
  ASSERT_TRUE(csv.ok()) << csv.status().message();
  for (const std::string name : {"gu_lyon.sav", "gu_lyon.zsav", "gu_lyon.dta", "gu_lyon.xpt",
                                 "gu_lyon.sas7bdat", "gu_lyon.xlsx"}) {
    SCOPED_TRACE(name);
    auto table = load(name);
    ASSERT_TRUE(table.ok()) << table.status().message();
    ASSERT_EQ(table->rows, csv->rows);
    ASSERT_EQ(table->columns.size(), csv->columns.size());
    for (size_t c = 0; c < csv->columns.size(); ++c) {
      const data::Column& want = csv->columns[c];
      const data::Column& got = table->columns[c];
      SCOPED_TRACE(want.variable.name);
      EXPECT_EQ(got.codes, want.codes);
      EXPECT_EQ(got.levels, want.levels);
      EXPECT_EQ(got.texts, want.texts);
      EXPECT_EQ(got.text_missing, want.text_missing);
      ASSERT_EQ(got.Numbers().size(), want.Numbers().size());
      for (size_t r = 0; r < want.Numbers().size(); ++r) {
        if (std::isnan(want.Number(r))) {
          EXPECT_TRUE(std::isnan(got.Number(r))) << "row " << r + 1;
        } else {
          EXPECT_EQ(got.Number(r), want.Number(r)) << "row " << r + 1;
        }
      }
    }
  }
}

// A bad value in a statistics file: refused with file, row, variable and rule; nothing stored,
// the version imported before it intact.
TEST(SiteStoreFiles, ABadValueInAStatisticsFileChangesNothing) {
  const std::string dir = passerelle::testing::FreshTestDir("files");
  auto store = SiteStore::Create(dir, "lyon");
  ASSERT_TRUE(store.ok()) << store.status().message();
  ImportRequest r;
  r.dataset = "gu_cohort";
  r.file_path = data::testing::Fixture("gu_lyon.sav");
  r.dictionary = data::testing::GuDictionary();
  ASSERT_TRUE((*store)->Import(r).ok());
  std::ifstream before_in(dir + "/store.sqlite", std::ios::binary);
  const std::string before((std::istreambuf_iterator<char>(before_in)),
                           std::istreambuf_iterator<char>());
  r.file_path = data::testing::Fixture("gu_lyon_bad.sav");
  auto bad = (*store)->Import(r);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find(
                "gu_lyon_bad.sav:row 5: psa_dx: must be at least 0 (min), cell \"-2\""),
            std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("1 problem in"), std::string::npos);
  std::ifstream after_in(dir + "/store.sqlite", std::ios::binary);
  const std::string after((std::istreambuf_iterator<char>(after_in)),
                          std::istreambuf_iterator<char>());
  EXPECT_EQ(after, before);
  auto datasets = (*store)->ListDatasets();
  ASSERT_TRUE(datasets.ok());
  ASSERT_EQ(datasets->size(), 1u);
  EXPECT_EQ((*datasets)[0].version, 1);
  EXPECT_EQ((*datasets)[0].source_file, "gu_lyon.sav");
}

// Header problems of typed files name their place: no line in a statistics file, the cell in a
// sheet.
TEST(SiteStoreFiles, HeaderProblemsNameTheirPlace) {
  const std::string dir = passerelle::testing::FreshTestDir("files");
  auto store = SiteStore::Create(dir, "lyon");
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto d = data::ParseDictionary(
      "name = \"small\"\n[[variable]]\nname = \"id\"\ntype = \"identifier\"\n"
      "[[variable]]\nname = \"flag\"\ntype = \"category\"\nrequired = true\n",
      "small.toml");
  ASSERT_TRUE(d.ok()) << d.status().message();
  ImportRequest r;
  r.dataset = "small";
  r.dictionary = *d;
  r.file_path = data::testing::Fixture("cells.sav");
  auto sav = (*store)->Import(r);
  ASSERT_FALSE(sav.ok());
  EXPECT_NE(sav.status().message().find("cells.sav: grade: column not in dictionary small.v1"),
            std::string::npos)
      << sav.status().message();
  EXPECT_NE(sav.status().message().find("cells.sav: flag: required column is missing"),
            std::string::npos)
      << sav.status().message();
  r.file_path = data::testing::Fixture("gu_lyon.xlsx");
  r.reading.sheet = "types";
  auto xlsx = (*store)->Import(r);
  ASSERT_FALSE(xlsx.ok());
  EXPECT_NE(xlsx.status().message().find("gu_lyon.xlsx:types!D3: x: column not in dictionary"),
            std::string::npos)
      << xlsx.status().message();
}

// Hostile files (zip bombs, entity expansion, references beyond Excel's sheets, statistics
// files cut short): each refused with its reason and place, the store byte for byte as it was.
TEST(SiteStoreFiles, HostileFilesAreRefusedAndChangeNothing) {
  namespace t = data::testing;
  const std::string dir = passerelle::testing::FreshTestDir("files");
  auto store = SiteStore::Create(dir + "/site", "lyon");
  ASSERT_TRUE(store.ok()) << store.status().message();
  ImportRequest r;
  r.dataset = "gu_cohort";
  r.file_path = data::testing::Fixture("gu_lyon.sav");
  r.dictionary = data::testing::GuDictionary();
  ASSERT_TRUE((*store)->Import(r).ok());
  auto bytes_of = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  const std::string before = bytes_of(dir + "/site/store.sqlite");

  // The header of gu_lyon.csv, for the dictionary to accept it: the problems are in the rows.
  std::string names = bytes_of(data::testing::Fixture("gu_lyon.csv"));
  names = names.substr(0, names.find_first_of("\r\n"));
  std::string header = "<row r=\"1\">";
  for (size_t from = 0, column = 1; from <= names.size(); ++column) {
    const size_t comma = std::min(names.find(',', from), names.size());
    header += "<c r=\"" + data::ColumnLetters(column) + "1\" t=\"inlineStr\"><is><t>" +
              names.substr(from, comma - from) + "</t></is></c>";
    from = comma + 1;
  }
  header += "</row>";
  const std::string open_sheet =
      t::SheetXml(header).substr(0, t::SheetXml(header).find("</sheetData>"));
  auto bomb = [&](bool lying) {
    std::vector<t::ZipEntry> entries = t::WorkbookParts(false, false);
    entries.push_back(t::DeflatedRun("xl/worksheets/sheet1.xml", open_sheet, ' ',
                                     (uint64_t{1} << 30) + (1 << 20), "</sheetData></worksheet>"));
    if (lying) entries.back().size = 100000;
    return t::ZipArchive(entries);
  };
  const std::string laughs = t::BillionLaughs();
  std::string wide;
  for (int i = 0; i < 16385; ++i) wide += "<c><v>1</v></c>";
  const std::string sav = bytes_of(data::testing::Fixture("gu_lyon.sav"));
  const std::string dta = bytes_of(data::testing::Fixture("gu_lyon.dta"));

  const std::vector<std::tuple<std::string, std::string, std::string>> files = {
      {"bomb.xlsx", bomb(false), "bomb.xlsx: xl/worksheets/sheet1.xml: the part declares 1,074,7"},
      {"lying_bomb.xlsx", bomb(true),
       "lying_bomb.xlsx: xl/worksheets/sheet1.xml: decompresses to more than the 100,000 bytes it "
       "declares"},
      {"laughs.xlsx", t::Workbook(t::SheetXml(header), laughs),
       "laughs.xlsx: xl/sharedStrings.xml: a DOCTYPE declaration"},
      {"wide.xlsx", t::Workbook(t::SheetXml(header + "<row r=\"2\">" + wide + "</row>")),
       "wide.xlsx:data row 2: more than 16,384 columns, Excel's own limit"},
      {"far.xlsx",
       t::Workbook(t::SheetXml(header + "<row r=\"2\"><c r=\"XFE2\"><v>1</v></c></row>")),
       "far.xlsx:data row 2: cell reference \"XFE2\" is beyond Excel's last column"},
      {"cut.sav", sav.substr(0, sav.size() - 1000), "cut.sav: "},
      {"cut.dta", dta.substr(0, dta.size() / 2), "cut.dta: cannot read it as a Stata file: "},
  };
  for (const auto& [name, contents, expected] : files) {
    SCOPED_TRACE(name);
    const std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << contents;
    r.file_path = path;
    auto imported = (*store)->Import(r);
    ASSERT_FALSE(imported.ok());
    EXPECT_EQ(imported.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(imported.status().message().find(expected), std::string::npos)
        << imported.status().message();
    EXPECT_EQ(bytes_of(dir + "/site/store.sqlite"), before);
  }
  auto datasets = (*store)->ListDatasets();
  ASSERT_TRUE(datasets.ok());
  ASSERT_EQ(datasets->size(), 1u);
  EXPECT_EQ((*datasets)[0].version, 1);
  EXPECT_EQ((*datasets)[0].source_file, "gu_lyon.sav");
}

TEST(SiteStorePermissions, TheFolderAndItsRecordsAreTheSitesAccountsOnly) {
  const std::string dir = passerelle::testing::FreshTestDir("site_permissions");
  fs::remove_all(dir);
  const mode_t old = ::umask(022);
  auto store = SiteStore::Create(dir, "lyon");
  auto ledger = OpenRecordFile(dir, "audit.sqlite", "CREATE TABLE IF NOT EXISTS t (x);", true);
  ::umask(old);
  ASSERT_TRUE(store.ok() && ledger.ok());
  EXPECT_EQ(fs::status(dir).permissions(), fs::perms::owner_all);
  for (const char* file : {"store.sqlite", "audit.sqlite"}) {
    EXPECT_EQ(fs::status(dir + "/" + file).permissions(),
              fs::perms::owner_read | fs::perms::owner_write)
        << file;
  }
}

}  // namespace
}  // namespace passerelle::store
