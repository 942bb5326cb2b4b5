#include "passerelle/store/site_store.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>

#include "passerelle/base/date.h"
#include "passerelle/base/text.h"
#include "passerelle/data/infer.h"
#include "passerelle/store/cohort_ledger.h"
#include "passerelle/store/dataset_db.h"
#include "passerelle/store/row_writer.h"
#include "passerelle/store/sqlite_db.h"

namespace passerelle::store {
namespace {

namespace fs = std::filesystem;

// 2: a dataset version may be attached (a warehouse table read in place).
constexpr int kSchemaVersion = 2;

constexpr char kSiteSchema[] = "CREATE TABLE site (key TEXT PRIMARY KEY, value TEXT NOT NULL)";

// The catalog of datasets, in the database that holds them.
std::string CatalogSchema(const DatasetDb& db) {
  return "CREATE TABLE " + db.Name("dataset_version") + R"sql( (
  dataset TEXT NOT NULL,
  version INTEGER NOT NULL,
  rows INTEGER NOT NULL,
  checksum TEXT NOT NULL,
  dictionary_id TEXT NOT NULL,
  dictionary_source TEXT NOT NULL,
  dictionary_toml TEXT NOT NULL,
  index_date TEXT NOT NULL,
  source_file TEXT NOT NULL,
  imported_at TEXT NOT NULL,
  table_name TEXT,  -- NULL once a newer version replaced this one
  attached INTEGER NOT NULL DEFAULT 0,  -- 1: table_name is SCHEMA.TABLE, read in place
  PRIMARY KEY (dataset, version));
CREATE TABLE )sql" +
         db.Name("dataset") + R"sql( (
  name TEXT PRIMARY KEY,
  current_version INTEGER NOT NULL,
  FOREIGN KEY (name, current_version) REFERENCES )sql" +
         db.Name("dataset_version") + " (dataset, version))";
}

const std::string kNothingImported = "nothing was imported; the store is unchanged.";
const std::string kNothingAttached = "nothing was attached; the store is unchanged.";

std::string StorePath(const std::string& dir) { return (fs::path(dir) / "store.sqlite").string(); }
std::string PolicyPath(const std::string& dir) { return (fs::path(dir) / "policy.toml").string(); }

// A dataset's name leaves room for its versions' tables, data_NAME_vN, in 63 bytes.
constexpr size_t kMaxDatasetName = 40;

// Names the store uses for itself; a dataset may not take them, in any case (SQLite's names are
// not case-sensitive: "Site" is the table "site").
bool IsReservedName(const std::string& name) {
  const std::string lower = AsciiLower(name);
  return lower == "site" || lower == "dataset" || lower == "dataset_version" ||
         lower.starts_with("data_") || lower.starts_with("sqlite_");
}

// Rolls back unless committed: a failed import leaves the store exactly as it was.
class Transaction {
 public:
  explicit Transaction(DatasetDb* db) : db_(db) {}
  ~Transaction() {
    if (open_) (void)db_->Exec("ROLLBACK");
  }
  Status Begin() {
    RETURN_IF_ERROR(db_->BeginWrite());
    open_ = true;
    return Status::Ok();
  }
  Status Commit() {
    RETURN_IF_ERROR(db_->Exec("COMMIT"));
    open_ = false;
    return Status::Ok();
  }

 private:
  DatasetDb* db_;
  bool open_ = false;
};

// Rows read into a table in memory (a stored version's, or an attached table's as it is
// validated): the variables `only` names as columns (nullptr: all of them).
class TableSink : public RowSink {
 public:
  TableSink(const std::vector<data::Variable>& variables, const std::set<std::string>* only,
            size_t rows)
      : variables_(variables) {
    for (size_t i = 0; i < variables.size(); ++i) {
      const data::Variable& var = variables[i];
      column_.push_back(only && !only->count(var.name) ? -1 : static_cast<int>(builders_.size()));
      if (column_.back() >= 0) builders_.emplace_back(var, rows);
    }
    row_.resize(variables.size());
  }
  std::span<data::Value> Slot() override { return row_; }
  Status Commit() override {
    ++rows_;
    for (size_t i = 0; i < row_.size(); ++i) {
      if (column_[i] < 0) continue;
      const data::Value& v = row_[i];
      data::ColumnBuilder& builder = builders_[static_cast<size_t>(column_[i])];
      if (v.missing) {
        builder.AddMissing();
        continue;
      }
      switch (variables_[i].type) {
        case data::VarType::kInteger:
        case data::VarType::kDate:
          builder.AddNumber(static_cast<double>(v.integer));
          break;
        case data::VarType::kNumber:
          builder.AddNumber(v.number);
          break;
        default:
          builder.AddText(v.text);
          break;
      }
    }
    return Status::Ok();
  }
  data::Table Finish() {
    data::Table table;
    table.rows = rows_;
    for (auto& builder : builders_) table.columns.push_back(builder.Finish());
    return table;
  }

 private:
  const std::vector<data::Variable>& variables_;
  std::vector<int> column_;  // each variable's builder, or -1
  std::vector<data::ColumnBuilder> builders_;
  std::vector<data::Value> row_;
  int64_t rows_ = 0;
};

// Rows on their way to `sink`, each one's first identifier (variable `identifier`) added to
// the ledger's `keys` as it is committed: in the order of the rows' ordinals. Without keys or
// an identifier (-1), nothing is keyed: `rows()` is then `sink` itself.
class KeyedSink : public RowSink {
 public:
  KeyedSink(RowSink* sink, int identifier, RecordKeys* keys)
      : sink_(sink),
        identifier_(static_cast<size_t>(identifier)),
        keys_(keys),
        keying_(keys && identifier >= 0) {}
  // Where the rows go: here, or straight to the sink.
  RowSink* rows() { return keying_ ? this : sink_; }
  // The keys taken, or null when none are.
  RecordKeys* keys() const { return keying_ ? keys_ : nullptr; }
  std::span<data::Value> Slot() override { return slot_ = sink_->Slot(); }
  Status Commit() override {
    const data::Value& id = slot_[identifier_];
    if (id.missing) {
      keys_->AddMissing();
    } else {
      keys_->AddIdentifier(id.text);
    }
    return sink_->Commit();
  }

 private:
  RowSink* sink_;
  size_t identifier_;
  RecordKeys* keys_;
  bool keying_;
  std::span<data::Value> slot_;
};

// The place of the first identifier among `variables`, or -1.
int FirstIdentifier(const std::vector<data::Variable>& variables) {
  for (size_t i = 0; i < variables.size(); ++i) {
    if (variables[i].type == data::VarType::kIdentifier) return static_cast<int>(i);
  }
  return -1;
}

// Rows validated and let go (an attached table's, as it is attached).
class CheckedOnly : public RowSink {
 public:
  explicit CheckedOnly(size_t width) : row_(width) {}
  std::span<data::Value> Slot() override { return row_; }
  Status Commit() override { return Status::Ok(); }

 private:
  std::vector<data::Value> row_;
};

}  // namespace

struct SiteStore::Stored {
  DatasetVersion version;
  std::string table;  // the rows' table; SCHEMA.TABLE when attached
  std::string dictionary_toml;
};

SiteStore::SiteStore(std::string dir, std::unique_ptr<Database> db)
    : dir_(std::move(dir)), db_(std::move(db)) {}
SiteStore::~SiteStore() = default;

const std::string& SiteStore::datasets_label() const { return datasets_->label(); }

Result<std::unique_ptr<SiteStore>> SiteStore::Create(const std::string& dir,
                                                     const std::string& site_name,
                                                     const std::string& datasets) {
  if (!IsValidName(site_name)) {
    return InvalidArgument("site name '" + site_name + "' must be " + kValidNameRule);
  }
  if (fs::exists(StorePath(dir))) {
    return AlreadyExists(dir + " already holds a site store");
  }
  std::unique_ptr<DatasetDb> elsewhere;
  if (!datasets.empty()) {
    // Reached, and its catalog made, before the folder exists: a failure leaves nothing.
    ASSIGN_OR_RETURN(elsewhere, PostgresDatasets(datasets, /*create=*/true));
    const Status catalog = elsewhere->Exec(CatalogSchema(*elsewhere));
    if (!catalog.ok()) {
      return FailedPrecondition(elsewhere->label() +
                                ": cannot hold this site's datasets (a site's datasets may "
                                "already be there): " +
                                catalog.message());
    }
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Unavailable(dir + ": cannot create the folder: " + ec.message());
  // The folder holds every patient row: the site's account only, whatever the umask.
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return Unavailable(dir + ": cannot make the folder private: " + ec.message());
  ASSIGN_OR_RETURN(auto db, Database::Open(StorePath(dir), /*create=*/true));
  fs::permissions(StorePath(dir), fs::perms::owner_read | fs::perms::owner_write,
                  fs::perm_options::replace, ec);
  if (ec) return Unavailable(StorePath(dir) + ": cannot make the store private: " + ec.message());
  RETURN_IF_ERROR(db->Exec("PRAGMA page_size = 65536"));
  RETURN_IF_ERROR(db->Exec(kSiteSchema));
  if (datasets.empty()) RETURN_IF_ERROR(db->Exec(CatalogSchema(*SqliteDatasets(db.get(), ""))));
  ASSIGN_OR_RETURN(auto insert, db->Prepare("INSERT INTO site (key, value) VALUES (?, ?)"));
  std::vector<std::pair<std::string, std::string>> keys = {
      {"name", site_name},
      {"schema_version", std::to_string(kSchemaVersion)},
      {"created_at", UtcNowIso()}};
  if (!datasets.empty()) keys.emplace_back("datasets", datasets);
  for (const auto& [key, value] : keys) {
    insert->BindText(1, key);
    insert->BindText(2, value);
    RETURN_IF_ERROR(insert->Run());
  }
  insert.reset();
  if (!fs::exists(PolicyPath(dir))) {
    std::ofstream policy(PolicyPath(dir));
    policy << privacy::PolicyToToml(privacy::DefaultPolicy(site_name));
    if (!policy) return Unavailable(PolicyPath(dir) + ": cannot write the policy file");
  }
  return Open(dir);
}

Result<std::unique_ptr<SiteStore>> SiteStore::Open(const std::string& dir) {
  if (!fs::exists(StorePath(dir))) {
    return NotFound(dir + " holds no site store (create one with: passerelle site init " + dir +
                    " --name NAME)");
  }
  ASSIGN_OR_RETURN(auto db, Database::Open(StorePath(dir), /*create=*/false));
  std::map<std::string, std::string> keys;
  {
    ASSIGN_OR_RETURN(auto query, db->Prepare("SELECT key, value FROM site"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, query->Step());
      if (!row) break;
      keys[std::string(query->Text(0))] = query->Text(1);
    }
  }
  if (!keys.count("name"))
    return FailedPrecondition(StorePath(dir) + ": the store has no site name");
  if (keys["schema_version"] == "1") {
    // A store made before datasets could be attached: its catalog gains the column.
    RETURN_IF_ERROR(db->Exec(
        "BEGIN IMMEDIATE; ALTER TABLE dataset_version ADD COLUMN attached INTEGER NOT NULL "
        "DEFAULT 0; UPDATE site SET value = '2' WHERE key = 'schema_version'; COMMIT"));
  }
  std::unique_ptr<SiteStore> store(new SiteStore(dir, std::move(db)));
  store->site_name_ = keys["name"];
  if (keys.count("datasets")) {
    ASSIGN_OR_RETURN(store->datasets_, PostgresDatasets(keys["datasets"], /*create=*/false));
  } else {
    store->datasets_ = SqliteDatasets(store->db_.get(), StorePath(dir));
  }
  return store;
}

Result<privacy::Policy> SiteStore::LoadPolicy(std::span<const std::string> analyses) const {
  std::ifstream in(PolicyPath(dir_));
  if (!in) return NotFound(PolicyPath(dir_) + ": cannot read the policy file");
  std::stringstream text;
  text << in.rdbuf();
  return privacy::ParsePolicy(text.str(), PolicyPath(dir_), analyses);
}

Status SiteStore::CheckDatasetName(const std::string& dataset) const {
  if (!IsValidName(dataset) || IsReservedName(dataset) || dataset.size() > kMaxDatasetName) {
    return InvalidArgument("dataset name '" + dataset +
                           "' must be a letter, then letters, digits, '_' or '.', at most " +
                           std::to_string(kMaxDatasetName) +
                           " characters (its tables' names are longer), and not one of site, "
                           "dataset, dataset_version, data_*");
  }
  return Status::Ok();
}

Result<int64_t> SiteStore::CheckRows(data::RecordReader* reader, const data::Dictionary& dictionary,
                                     const data::CellFormat& cells, data::IndexDate index_date,
                                     const std::function<void(int64_t)>& progress,
                                     const std::string& outcome, RowSink* sink,
                                     std::vector<std::string>* absent_optional) {
  const std::string& label = reader->label();
  const data::ProblemList::Where where = [reader](size_t line, size_t column) {
    return reader->Where(line, column);
  };
  data::ProblemList problems;
  ASSIGN_OR_RETURN(auto validator,
                   data::RowValidator::Make(dictionary, reader->header(), cells, index_date,
                                            &problems, reader->header_line()));
  RETURN_IF_ERROR(problems.ToStatus(label, outcome, where));
  if (absent_optional) *absent_optional = validator->absent_optional();
  // A dataset's site column must name this store's site: rows of another hospital never mix in.
  const int site_var = dictionary.IndexOf("site");
  const bool check_site =
      site_var >= 0 && dictionary.variables[site_var].type == data::VarType::kCategory;
  int site_column = -1;
  for (size_t c = 0; check_site && c < reader->header().size(); ++c) {
    if (reader->header()[c] == "site") site_column = static_cast<int>(c);
  }
  // One record is read ahead, so that its checks' data is fetched while this one is checked.
  data::Record records[2];
  size_t current = 0;
  Result<bool> more = reader->Next(&records[current]);
  int64_t rows = 0;
  for (;;) {
    if (!more.ok()) {
      // A broken file (bad quoting, not UTF-8) ends the reading; earlier problems are kept.
      if (problems.empty()) return more.status();
      problems.Add({0, 0, "", more.status().message(), "", false});
      break;
    }
    if (!*more) break;
    const data::Record& record = records[current];
    current ^= 1;
    more = reader->Next(&records[current]);
    if (more.ok() && *more) validator->Prefetch(records[current]);
    if (++rows % 100000 == 0 && progress) progress(rows);
    const std::span<data::Value> row = sink->Slot();
    if (!validator->Check(record, row, &problems)) continue;
    if (site_column >= 0 && !row[site_var].missing && row[site_var].text != site_name_) {
      problems.Add({record.line(site_column), static_cast<size_t>(site_column + 1), "site",
                    "rule site_matches_store: this store belongs to site '" + site_name_ + "'",
                    std::string(row[site_var].text), true});
      continue;
    }
    if (!problems.empty()) continue;  // keep checking, stop keeping
    RETURN_IF_ERROR(sink->Commit());
  }
  RETURN_IF_ERROR(problems.ToStatus(label, outcome, where));
  if (rows == 0) {
    return InvalidArgument(label +
                           (reader->header_line() ? ": the file has a header but no data rows; "
                                                  : ": there are no rows to import; ") +
                           outcome);
  }
  return rows;
}

Result<ImportReport> SiteStore::Import(const ImportRequest& request) {
  RETURN_IF_ERROR(CheckDatasetName(request.dataset));
  ImportReport report;
  const bool inferred = !request.dictionary.has_value();
  if (inferred && request.open_records) {
    return InvalidArgument("an import from a database needs a dictionary (--dictionary)");
  }
  if (inferred) {
    ASSIGN_OR_RETURN(auto first_pass,
                     data::OpenRecordReader(request.file_path, request.reading, request.cells));
    // Named after the dataset, never after a built-in dictionary (a dataset gu_cohort imported
    // without one has the dictionary gu_cohort_inferred.v1, not gu_cohort.v1).
    ASSIGN_OR_RETURN(report.dictionary,
                     data::InferDictionary(first_pass.get(), request.cells,
                                           data::InferredDictionaryName(request.dataset)));
  } else {
    report.dictionary = *request.dictionary;
  }
  const data::Dictionary& dictionary = report.dictionary;
  ASSIGN_OR_RETURN(auto reader,
                   request.open_records
                       ? request.open_records()
                       : data::OpenRecordReader(request.file_path, request.reading, request.cells));

  RETURN_IF_ERROR(datasets_->Ready());
  Transaction transaction(datasets_.get());
  RETURN_IF_ERROR(transaction.Begin());
  ASSIGN_OR_RETURN(std::vector<Stored> previous, Current(request.dataset));
  DatasetVersion& v = report.version;
  v.dataset = request.dataset;
  v.version = previous.empty() ? 1 : previous[0].version.version + 1;
  const std::string table = "data_" + request.dataset + "_v" + std::to_string(v.version);
  std::string create = "CREATE TABLE " + datasets_->Name(table) + " (";
  std::vector<data::VarType> types;
  for (size_t i = 0; i < dictionary.variables.size(); ++i) {
    const data::Variable& var = dictionary.variables[i];
    create += (i ? ", " : "") + QuoteIdentifier(var.name) + " " + datasets_->ColumnType(var.type);
    types.push_back(var.type);
  }
  RETURN_IF_ERROR(datasets_->Exec(create + datasets_->OrdinalColumn() + ")"));
  auto writer = datasets_->WriteRows(table, std::move(types));
  // The ledger's keys of the rows taken as they are written, for their numbers.
  ASSIGN_OR_RETURN(auto ledger, CohortLedger::Open(dir_));
  RecordKeys keys = ledger->Keys(request.dataset, 0);
  KeyedSink keyed(writer.get(), FirstIdentifier(dictionary.variables), &keys);
  ASSIGN_OR_RETURN(
      v.rows, CheckRows(reader.get(), dictionary, request.cells, request.index_date,
                        request.progress, kNothingImported, keyed.rows(), &report.absent_optional));
  RETURN_IF_ERROR(writer->Finish());
  writer.reset();
  v.checksum = reader->ChecksumHex();
  report.notes = reader->Notes();
  v.dictionary_source = inferred ? "inferred" : request.dictionary_source;
  v.index_date =
      dictionary.derivation.empty() ? "" : std::string(IndexDateName(request.index_date));
  v.source_file = request.open_records
                      ? request.file_path
                      : std::filesystem::path(request.file_path).filename().string();
  RETURN_IF_ERROR(
      Record(&v, dictionary, table, previous.empty() ? std::nullopt : std::optional(previous[0])));
  RETURN_IF_ERROR(
      Number({v, table, data::DictionaryToToml(dictionary)}, ledger.get(), keyed.keys()).status());
  RETURN_IF_ERROR(transaction.Commit());
  return report;
}

Result<ImportReport> SiteStore::Attach(const AttachRequest& request) {
  RETURN_IF_ERROR(CheckDatasetName(request.dataset));
  ImportReport report;
  report.dictionary = request.dictionary;
  const data::Dictionary& dictionary = report.dictionary;
  RETURN_IF_ERROR(datasets_->Ready());
  Transaction transaction(datasets_.get());
  RETURN_IF_ERROR(transaction.Begin());
  ASSIGN_OR_RETURN(auto reader, datasets_->ReadExternal(request.table));
  ASSIGN_OR_RETURN(std::vector<Stored> previous, Current(request.dataset));
  DatasetVersion& v = report.version;
  v.dataset = request.dataset;
  v.version = previous.empty() ? 1 : previous[0].version.version + 1;
  CheckedOnly rows(dictionary.variables.size());  // the rows stay where they are
  ASSIGN_OR_RETURN(auto ledger, CohortLedger::Open(dir_));
  RecordKeys keys = ledger->Keys(request.dataset, 0);
  KeyedSink keyed(&rows, FirstIdentifier(dictionary.variables), &keys);
  ASSIGN_OR_RETURN(v.rows,
                   CheckRows(reader.get(), dictionary, {}, request.index_date, request.progress,
                             kNothingAttached, keyed.rows(), &report.absent_optional));
  v.checksum = reader->ChecksumHex();
  reader.reset();
  v.dictionary_source = request.dictionary_source;
  v.index_date =
      dictionary.derivation.empty() ? "" : std::string(IndexDateName(request.index_date));
  v.source_file = request.table;
  v.attached = true;
  RETURN_IF_ERROR(Record(&v, dictionary, request.table,
                         previous.empty() ? std::nullopt : std::optional(previous[0])));
  RETURN_IF_ERROR(
      Number({v, request.table, data::DictionaryToToml(dictionary)}, ledger.get(), keyed.keys())
          .status());
  RETURN_IF_ERROR(transaction.Commit());
  return report;
}

Status SiteStore::Record(DatasetVersion* version, const data::Dictionary& dictionary,
                         const std::string& table, const std::optional<Stored>& previous) {
  DatasetVersion& v = *version;
  v.dictionary_id = dictionary.Id();
  v.imported_at = UtcNowIso();
  DatasetDb& db = *datasets_;
  // A view named after the dataset always shows its current version, dates as yyyy-mm-dd, for
  // custodians who look at the store with sqlite3 or psql. Only the view this store made is
  // replaced: a table or view of that name made by someone else stays, and the import fails.
  if (previous && !previous->version.attached) {
    RETURN_IF_ERROR(db.Exec("DROP VIEW IF EXISTS " + db.Name(v.dataset)));
  }
  if (!v.attached) {
    ASSIGN_OR_RETURN(const bool taken, db.Holds(v.dataset));
    if (taken) {
      return FailedPrecondition(db.label() + " already holds a table or view named " + v.dataset +
                                " that is not this dataset's (rule dataset_name): rename it, or "
                                "give the dataset another name");
    }
    std::string view = "CREATE VIEW " + db.Name(v.dataset) + " AS SELECT ";
    for (size_t i = 0; i < dictionary.variables.size(); ++i) {
      const data::Variable& var = dictionary.variables[i];
      const std::string column = QuoteIdentifier(var.name);
      view += i ? ", " : "";
      view += var.type == data::VarType::kDate ? db.DateShown(column) + " AS " + column : column;
    }
    RETURN_IF_ERROR(db.Exec(view + " FROM " + db.Name(table)));
  }
  if (previous && !previous->table.empty()) {
    if (!previous->version.attached)
      RETURN_IF_ERROR(db.Exec("DROP TABLE " + db.Name(previous->table)));
    RETURN_IF_ERROR(db.Run("UPDATE " + db.Name("dataset_version") +
                               " SET table_name = NULL WHERE dataset = ? AND version = ?",
                           {v.dataset, std::to_string(previous->version.version)}));
  }
  RETURN_IF_ERROR(
      db.Run("INSERT INTO " + db.Name("dataset_version") +
                 " (dataset, version, rows, checksum, dictionary_id, dictionary_source, "
                 "dictionary_toml, index_date, source_file, imported_at, table_name, attached) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
             {v.dataset, std::to_string(v.version), std::to_string(v.rows), v.checksum,
              v.dictionary_id, v.dictionary_source, data::DictionaryToToml(dictionary),
              v.index_date, v.source_file, v.imported_at, table, v.attached ? "1" : "0"}));
  return db.Run("INSERT INTO " + db.Name("dataset") +
                    " (name, current_version) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET "
                    "current_version = excluded.current_version",
                {v.dataset, std::to_string(v.version)});
}

Result<std::vector<SiteStore::Stored>> SiteStore::Current(const std::string& dataset) {
  DatasetDb& db = *datasets_;
  std::vector<Stored> out;
  Status status = db.Run(
      "SELECT v.dataset, v.version, v.rows, v.checksum, v.dictionary_id, v.dictionary_source, "
      "v.index_date, v.source_file, v.imported_at, v.attached, v.table_name, v.dictionary_toml "
      "FROM " +
          db.Name("dataset") + " d JOIN " + db.Name("dataset_version") +
          " v ON v.dataset = d.name AND v.version = d.current_version" +
          (dataset.empty() ? "" : " WHERE d.name = ?") + " ORDER BY d.name",
      dataset.empty() ? DatasetDb::Params{} : DatasetDb::Params{dataset},
      [&out](const std::vector<std::string>& f) {
        Stored s;
        DatasetVersion& v = s.version;
        v.dataset = f[0];
        v.version = std::stoi(f[1]);
        v.rows = std::stoll(f[2]);
        v.checksum = f[3];
        v.dictionary_id = f[4];
        v.dictionary_source = f[5];
        v.index_date = f[6];
        v.source_file = f[7];
        v.imported_at = f[8];
        v.attached = f[9] == "1";
        s.table = f[10];
        s.dictionary_toml = f[11];
        out.push_back(std::move(s));
      });
  RETURN_IF_ERROR(status);
  return out;
}

Result<std::vector<DatasetVersion>> SiteStore::ListDatasets() {
  RETURN_IF_ERROR(datasets_->Ready());
  ASSIGN_OR_RETURN(std::vector<Stored> current, Current(""));
  std::vector<DatasetVersion> out;
  for (Stored& s : current) out.push_back(std::move(s.version));
  return out;
}

Result<data::Dictionary> SiteStore::Dictionary(const std::string& dataset) {
  RETURN_IF_ERROR(datasets_->Ready());
  ASSIGN_OR_RETURN(std::vector<Stored> current, Current(dataset));
  if (current.empty()) return NotFound("site " + site_name_ + " has no dataset '" + dataset + "'");
  return data::ParseDictionary(current[0].dictionary_toml, "stored dictionary of " + dataset);
}

Result<data::Table> SiteStore::LoadTable(const std::string& dataset, DatasetVersion* version,
                                         data::Dictionary* dictionary_out,
                                         const std::set<std::string>* only,
                                         std::vector<uint32_t>* ordinals) {
  RETURN_IF_ERROR(datasets_->Ready());
  ASSIGN_OR_RETURN(std::vector<Stored> current, Current(dataset));
  if (current.empty()) return NotFound("site " + site_name_ + " has no dataset '" + dataset + "'");
  const Stored& stored = current[0];
  ASSIGN_OR_RETURN(
      data::Dictionary dictionary,
      data::ParseDictionary(stored.dictionary_toml, "stored dictionary of " + dataset));
  // An attached table is read in one snapshot of the warehouse.
  Transaction snapshot(datasets_.get());
  if (stored.version.attached) RETURN_IF_ERROR(snapshot.Begin());
  ASSIGN_OR_RETURN(data::Table table, Read(stored, dictionary, only, nullptr, ordinals));
  if (version) *version = stored.version;
  if (dictionary_out) *dictionary_out = std::move(dictionary);
  return table;
}

Result<data::Table> SiteStore::Read(const Stored& stored, const data::Dictionary& dictionary,
                                    const std::set<std::string>* only, RecordKeys* keys,
                                    std::vector<uint32_t>* ordinals) {
  const size_t rows = static_cast<size_t>(stored.version.rows);
  if (stored.version.attached) {
    // Read, and checked, again: the warehouse's table is the custodian's to change, and a
    // changed table is a new version to attach, never rows slipped under an old one. Its rows
    // come in the order of their values: their ordinals are the order they are read in.
    const DatasetVersion& v = stored.version;
    ASSIGN_OR_RETURN(data::IndexDate index_date,
                     v.index_date.empty() ? Result<data::IndexDate>(data::IndexDate::kDiagnosis)
                                          : data::IndexDateFromName(v.index_date));
    ASSIGN_OR_RETURN(auto reader, datasets_->ReadExternal(stored.table));
    TableSink table(dictionary.variables, only, rows);
    KeyedSink keyed(&table, FirstIdentifier(dictionary.variables), keys);
    const std::string changed =
        "rule attached_unchanged: " + v.dataset + " version " + std::to_string(v.version) +
        " was attached from " + stored.table +
        ", which changed since; attach it again (passerelle site attach) to check its rows";
    Result<int64_t> read = CheckRows(reader.get(), dictionary, {}, index_date, nullptr,
                                     "nothing was read.", keyed.rows(), nullptr);
    if (!read.ok() || *read != v.rows || reader->ChecksumHex() != v.checksum) {
      return FailedPrecondition(changed);
    }
    if (ordinals) {
      ordinals->resize(static_cast<size_t>(*read));
      std::iota(ordinals->begin(), ordinals->end(), 0);
    }
    return table.Finish();
  }
  // The variables read: those asked for, and the first identifier when it keys the rows.
  std::vector<data::Variable> read;
  int identifier = -1;
  for (const data::Variable& var : dictionary.variables) {
    const bool key = keys && identifier < 0 && var.type == data::VarType::kIdentifier;
    if (key) identifier = static_cast<int>(read.size());
    if (key || !only || only->count(var.name)) read.push_back(var);
  }
  TableSink table(read, only, rows);
  KeyedSink keyed(&table, identifier, keys);
  if (ordinals) ordinals->reserve(rows);
  RETURN_IF_ERROR(datasets_->ReadRows(stored.table, read, keyed.rows(), ordinals));
  return table.Finish();
}

Result<std::vector<uint32_t>> SiteStore::RecordNumbers(const DatasetVersion& version,
                                                       CohortLedger* ledger) {
  const std::string source = NumberingSource(version);
  ASSIGN_OR_RETURN(std::optional<std::vector<uint32_t>> kept,
                   ledger->Kept(version.dataset, version.version, source));
  if (kept && kept->size() == static_cast<size_t>(version.rows)) return std::move(*kept);
  RETURN_IF_ERROR(datasets_->Ready());
  ASSIGN_OR_RETURN(std::vector<Stored> current, Current(version.dataset));
  if (current.empty() || NumberingSource(current[0].version) != source ||
      current[0].version.version != version.version) {
    return FailedPrecondition("dataset " + version.dataset +
                              " has a new version since it was read; ask again");
  }
  Transaction snapshot(datasets_.get());
  if (version.attached) RETURN_IF_ERROR(snapshot.Begin());
  return Number(current[0], ledger);
}

std::string SiteStore::NumberingSource(const DatasetVersion& v) {
  return v.checksum + " " + v.imported_at + " " + std::to_string(v.rows);
}

Result<std::vector<uint32_t>> SiteStore::Number(const Stored& stored, CohortLedger* ledger,
                                                RecordKeys* written) {
  const DatasetVersion& v = stored.version;
  ASSIGN_OR_RETURN(
      data::Dictionary dictionary,
      data::ParseDictionary(stored.dictionary_toml, "stored dictionary of " + v.dataset));
  // A record is known by the dataset's first identifier; or, in a dataset without one, with a
  // row missing it or an identifier given twice, by all its values and its occurrence
  // (data::RecordIdentities): such a dataset is read whole.
  const bool identified = FirstIdentifier(dictionary.variables) >= 0;
  std::vector<uint32_t> ordinals;
  std::vector<uint32_t> numbers;
  bool whole = !identified;
  if (identified) {
    RecordKeys keys =
        written ? std::move(*written) : ledger->Keys(v.dataset, static_cast<size_t>(v.rows));
    if (!written) {  // written keys are in the order of the rows' ordinals already
      const std::set<std::string> none;
      ASSIGN_OR_RETURN(data::Table unused, Read(stored, dictionary, &none, &keys, &ordinals));
    }
    bool repeated = false;
    whole = !keys.complete();
    if (!whole) {
      ASSIGN_OR_RETURN(numbers, ledger->Number(v.dataset, std::move(keys), &repeated));
    }
    whole = whole || repeated;
  }
  const bool read = !written || whole;  // the rows read, with their ordinals
  if (whole) {
    ordinals.clear();
    ASSIGN_OR_RETURN(data::Table table, Read(stored, dictionary, nullptr, nullptr, &ordinals));
    ASSIGN_OR_RETURN(numbers, ledger->Number(v.dataset, data::RecordIdentities(table)));
  }
  // By ordinal: the rows of a PostgreSQL table come in the order of its scan.
  constexpr uint32_t kUnread = UINT32_MAX;
  const size_t rows = static_cast<size_t>(v.rows);
  std::vector<uint32_t> by_ordinal = read ? std::vector<uint32_t>(rows, kUnread) : numbers;
  bool complete = numbers.size() == rows && (!read || ordinals.size() == rows);
  for (size_t r = 0; read && complete && r < ordinals.size(); ++r) {
    complete = ordinals[r] < rows && by_ordinal[ordinals[r]] == kUnread;
    if (complete) by_ordinal[ordinals[r]] = numbers[r];
  }
  if (!complete) {
    return Internal(datasets_->label() + ": the rows of " + v.dataset + " version " +
                    std::to_string(v.version) + " are not those it was imported with");
  }
  RETURN_IF_ERROR(ledger->Keep(v.dataset, v.version, NumberingSource(v), by_ordinal));
  return by_ordinal;
}

}  // namespace passerelle::store
