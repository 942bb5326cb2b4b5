#include "passerelle/store/site_store.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "passerelle/base/date.h"
#include "passerelle/base/text.h"
#include "passerelle/data/infer.h"
#include "passerelle/store/row_writer.h"
#include "passerelle/store/sqlite_db.h"

namespace passerelle::store {
namespace {

namespace fs = std::filesystem;

constexpr int kSchemaVersion = 1;

constexpr char kSchema[] = R"sql(
CREATE TABLE site (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE dataset_version (
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
  PRIMARY KEY (dataset, version));
CREATE TABLE dataset (
  name TEXT PRIMARY KEY,
  current_version INTEGER NOT NULL,
  FOREIGN KEY (name, current_version) REFERENCES dataset_version (dataset, version));
)sql";

std::string StorePath(const std::string& dir) { return (fs::path(dir) / "store.sqlite").string(); }
std::string PolicyPath(const std::string& dir) { return (fs::path(dir) / "policy.toml").string(); }

// Dates are stored as days since 1970-01-01; the dataset's view shows them as yyyy-mm-dd.
const char* SqlType(data::VarType type) {
  switch (type) {
    case data::VarType::kInteger:
    case data::VarType::kDate:
      return "INTEGER";
    case data::VarType::kNumber:
      return "REAL";
    default:
      return "TEXT";
  }
}

// Names the store uses for itself; a dataset may not take them, in any case (SQLite's names are
// not case-sensitive: "Site" is the table "site").
bool IsReservedName(const std::string& name) {
  std::string lower = name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "site" || lower == "dataset" || lower == "dataset_version" ||
         lower.starts_with("data_") || lower.starts_with("sqlite_");
}

// Rolls back unless committed: a failed import leaves the store exactly as it was.
class Transaction {
 public:
  explicit Transaction(Database* db) : db_(db) {}
  ~Transaction() {
    if (open_) (void)db_->Exec("ROLLBACK");
  }
  Status Begin() {
    RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
    open_ = true;
    return Status::Ok();
  }
  Status Commit() {
    RETURN_IF_ERROR(db_->Exec("COMMIT"));
    open_ = false;
    return Status::Ok();
  }

 private:
  Database* db_;
  bool open_ = false;
};

}  // namespace

SiteStore::SiteStore(std::string dir, std::unique_ptr<Database> db)
    : dir_(std::move(dir)), db_(std::move(db)) {}
SiteStore::~SiteStore() = default;

Result<std::unique_ptr<SiteStore>> SiteStore::Create(const std::string& dir,
                                                     const std::string& site_name) {
  if (!IsValidName(site_name)) {
    return InvalidArgument("site name '" + site_name +
                           "' must be a letter, then letters, digits, '_' or '.'");
  }
  if (fs::exists(StorePath(dir))) {
    return AlreadyExists(dir + " already holds a site store");
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
  RETURN_IF_ERROR(db->Exec(kSchema));
  ASSIGN_OR_RETURN(auto insert, db->Prepare("INSERT INTO site (key, value) VALUES (?, ?)"));
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"name", site_name},
                                   {"schema_version", std::to_string(kSchemaVersion)},
                                   {"created_at", UtcNowIso()}}) {
    insert->BindText(1, key);
    insert->BindText(2, value);
    RETURN_IF_ERROR(insert->Run());
  }
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
  ASSIGN_OR_RETURN(auto query, db->Prepare("SELECT value FROM site WHERE key = 'name'"));
  ASSIGN_OR_RETURN(bool found, query->Step());
  if (!found) return FailedPrecondition(StorePath(dir) + ": the store has no site name");
  std::string name(query->Text(0));
  query.reset();
  std::unique_ptr<SiteStore> store(new SiteStore(dir, std::move(db)));
  store->site_name_ = std::move(name);
  return store;
}

Result<privacy::Policy> SiteStore::LoadPolicy(std::span<const std::string> analyses) const {
  std::ifstream in(PolicyPath(dir_));
  if (!in) return NotFound(PolicyPath(dir_) + ": cannot read the policy file");
  std::stringstream text;
  text << in.rdbuf();
  return privacy::ParsePolicy(text.str(), PolicyPath(dir_), analyses);
}

Result<ImportReport> SiteStore::Import(const ImportRequest& request) {
  if (!IsValidName(request.dataset) || IsReservedName(request.dataset)) {
    return InvalidArgument("dataset name '" + request.dataset +
                           "' must be a letter, then letters, digits, '_' or '.', and not one of "
                           "site, dataset, dataset_version, data_*");
  }
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
    const std::string name = data::BuiltinDictionaryText(request.dataset + ".v1")
                                 ? request.dataset + "_inferred"
                                 : request.dataset;
    ASSIGN_OR_RETURN(report.dictionary,
                     data::InferDictionary(first_pass.get(), request.cells, name));
  } else {
    report.dictionary = *request.dictionary;
  }
  const data::Dictionary& dictionary = report.dictionary;

  ASSIGN_OR_RETURN(auto reader,
                   request.open_records
                       ? request.open_records()
                       : data::OpenRecordReader(request.file_path, request.reading, request.cells));
  const std::string& label = reader->label();
  const std::string kNothingWritten = "nothing was imported; the store is unchanged.";
  const data::ProblemList::Where where = [&reader](size_t line, size_t column) {
    return reader->Where(line, column);
  };
  data::ProblemList problems;
  ASSIGN_OR_RETURN(auto validator,
                   data::RowValidator::Make(dictionary, reader->header(), request.cells,
                                            request.index_date, &problems, reader->header_line()));
  RETURN_IF_ERROR(problems.ToStatus(label, kNothingWritten, where));
  report.absent_optional = validator->absent_optional();
  // A dataset's site column must name this store's site: rows of another hospital never mix in.
  const int site_var = dictionary.IndexOf("site");
  const bool check_site =
      site_var >= 0 && dictionary.variables[site_var].type == data::VarType::kCategory;
  int site_column = -1;
  for (size_t c = 0; check_site && c < reader->header().size(); ++c) {
    if (reader->header()[c] == "site") site_column = static_cast<int>(c);
  }

  Transaction transaction(db_.get());
  RETURN_IF_ERROR(transaction.Begin());
  std::string old_table;
  std::string unused_toml;
  ASSIGN_OR_RETURN(auto previous, CurrentVersion(request.dataset, &old_table, &unused_toml));
  DatasetVersion& v = report.version;
  v.dataset = request.dataset;
  v.version = previous ? previous->version + 1 : 1;
  const std::string table = "data_" + request.dataset + "_v" + std::to_string(v.version);

  std::string create = "CREATE TABLE " + QuoteIdentifier(table) + " (";
  std::string insert_sql = "INSERT INTO " + QuoteIdentifier(table) + " VALUES (";
  for (size_t i = 0; i < dictionary.variables.size(); ++i) {
    const data::Variable& var = dictionary.variables[i];
    create += (i ? ", " : "") + QuoteIdentifier(var.name) + " " + SqlType(var.type);
    insert_sql += i ? ", ?" : "?";
  }
  RETURN_IF_ERROR(db_->Exec(create + ")"));
  // A view named after the dataset always shows its current version, dates as yyyy-mm-dd, for
  // custodians who look at the store with sqlite3.
  std::string view = "CREATE VIEW " + QuoteIdentifier(request.dataset) + " AS SELECT ";
  for (size_t i = 0; i < dictionary.variables.size(); ++i) {
    const data::Variable& var = dictionary.variables[i];
    const std::string column = QuoteIdentifier(var.name);
    view += i ? ", " : "";
    view += var.type == data::VarType::kDate
                ? "date(" + column + " * 86400, 'unixepoch') AS " + column
                : column;
  }
  RETURN_IF_ERROR(db_->Exec("DROP VIEW IF EXISTS " + QuoteIdentifier(request.dataset)));
  RETURN_IF_ERROR(db_->Exec(view + " FROM " + QuoteIdentifier(table)));
  ASSIGN_OR_RETURN(auto insert, db_->Prepare(insert_sql + ")"));

  data::Record record;
  std::vector<data::VarType> types;
  for (const data::Variable& var : dictionary.variables) types.push_back(var.type);
  RowWriter writer(insert.get(), std::move(types));
  int64_t rows = 0;
  for (;;) {
    auto more = reader->Next(&record);
    if (!more.ok()) {
      // A broken file (bad quoting, not UTF-8) ends the import; earlier problems are kept.
      if (problems.empty()) return more.status();
      problems.Add({0, 0, "", more.status().message(), "", false});
      break;
    }
    if (!*more) break;
    if (++rows % 100000 == 0 && request.progress) request.progress(rows);
    const std::span<data::Value> row = writer.Slot();
    if (!validator->Check(record, row, &problems)) continue;
    if (site_column >= 0 && !row[site_var].missing && row[site_var].text != site_name_) {
      problems.Add({record.line(site_column), static_cast<size_t>(site_column + 1), "site",
                    "rule site_matches_store: this store belongs to site '" + site_name_ + "'",
                    std::string(row[site_var].text), true});
      continue;
    }
    if (!problems.empty()) continue;  // keep checking, stop writing
    RETURN_IF_ERROR(writer.Commit());
  }
  RETURN_IF_ERROR(writer.Finish());
  RETURN_IF_ERROR(problems.ToStatus(label, kNothingWritten, where));
  if (rows == 0) {
    return InvalidArgument(label +
                           (request.open_records ? ": there are no rows to import; "
                                                 : ": the file has a header but no data rows; ") +
                           kNothingWritten);
  }
  insert.reset();

  v.rows = rows;
  v.checksum = reader->ChecksumHex();
  v.dictionary_id = dictionary.Id();
  v.dictionary_source = inferred ? "inferred" : request.dictionary_source;
  v.index_date =
      dictionary.derivation.empty() ? "" : std::string(IndexDateName(request.index_date));
  v.source_file = request.open_records
                      ? request.file_path
                      : std::filesystem::path(request.file_path).filename().string();
  v.imported_at = UtcNowIso();

  if (!old_table.empty()) {
    RETURN_IF_ERROR(db_->Exec("DROP TABLE " + QuoteIdentifier(old_table)));
    ASSIGN_OR_RETURN(
        auto retire,
        db_->Prepare(
            "UPDATE dataset_version SET table_name = NULL WHERE dataset = ? AND table_name = ?"));
    retire->BindText(1, request.dataset);
    retire->BindText(2, old_table);
    RETURN_IF_ERROR(retire->Run());
  }
  ASSIGN_OR_RETURN(
      auto add_version,
      db_->Prepare(
          "INSERT INTO dataset_version (dataset, version, rows, checksum, dictionary_id, "
          "dictionary_source, dictionary_toml, index_date, source_file, imported_at, table_name) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  add_version->BindText(1, v.dataset);
  add_version->BindInt(2, v.version);
  add_version->BindInt(3, v.rows);
  add_version->BindText(4, v.checksum);
  add_version->BindText(5, v.dictionary_id);
  add_version->BindText(6, v.dictionary_source);
  add_version->BindText(7, data::DictionaryToToml(dictionary));
  add_version->BindText(8, v.index_date);
  add_version->BindText(9, v.source_file);
  add_version->BindText(10, v.imported_at);
  add_version->BindText(11, table);
  RETURN_IF_ERROR(add_version->Run());
  ASSIGN_OR_RETURN(
      auto set_current,
      db_->Prepare("INSERT INTO dataset (name, current_version) VALUES (?, ?) "
                   "ON CONFLICT (name) DO UPDATE SET current_version = excluded.current_version"));
  set_current->BindText(1, v.dataset);
  set_current->BindInt(2, v.version);
  RETURN_IF_ERROR(set_current->Run());
  RETURN_IF_ERROR(transaction.Commit());
  return report;
}

namespace {

constexpr char kVersionColumns[] =
    "v.dataset, v.version, v.rows, v.checksum, v.dictionary_id, v.dictionary_source, "
    "v.index_date, v.source_file, v.imported_at, v.table_name, v.dictionary_toml";

DatasetVersion ReadVersion(const Statement& s) {
  DatasetVersion v;
  v.dataset = s.Text(0);
  v.version = static_cast<int>(s.Int(1));
  v.rows = s.Int(2);
  v.checksum = s.Text(3);
  v.dictionary_id = s.Text(4);
  v.dictionary_source = s.Text(5);
  v.index_date = s.Text(6);
  v.source_file = s.Text(7);
  v.imported_at = s.Text(8);
  return v;
}

}  // namespace

Result<std::optional<DatasetVersion>> SiteStore::CurrentVersion(const std::string& dataset,
                                                                std::string* table_name,
                                                                std::string* dictionary_toml) {
  ASSIGN_OR_RETURN(auto query,
                   db_->Prepare(std::string("SELECT ") + kVersionColumns +
                                " FROM dataset d JOIN dataset_version v ON v.dataset = d.name "
                                "AND v.version = d.current_version WHERE d.name = ?"));
  query->BindText(1, dataset);
  ASSIGN_OR_RETURN(bool found, query->Step());
  if (!found) return std::optional<DatasetVersion>();
  *table_name = query->Text(9);
  *dictionary_toml = query->Text(10);
  return std::optional<DatasetVersion>(ReadVersion(*query));
}

Result<std::vector<DatasetVersion>> SiteStore::ListDatasets() {
  ASSIGN_OR_RETURN(auto query,
                   db_->Prepare(std::string("SELECT ") + kVersionColumns +
                                " FROM dataset d JOIN dataset_version v ON v.dataset = d.name "
                                "AND v.version = d.current_version ORDER BY d.name"));
  std::vector<DatasetVersion> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    out.push_back(ReadVersion(*query));
  }
  return out;
}

Result<data::Dictionary> SiteStore::Dictionary(const std::string& dataset) {
  std::string table_name, dictionary_toml;
  ASSIGN_OR_RETURN(auto current, CurrentVersion(dataset, &table_name, &dictionary_toml));
  if (!current) return NotFound("site " + site_name_ + " has no dataset '" + dataset + "'");
  return data::ParseDictionary(dictionary_toml, "stored dictionary of " + dataset);
}

Result<data::Table> SiteStore::LoadTable(const std::string& dataset, DatasetVersion* version,
                                         data::Dictionary* dictionary_out) {
  std::string table_name, dictionary_toml;
  ASSIGN_OR_RETURN(auto current, CurrentVersion(dataset, &table_name, &dictionary_toml));
  if (!current) return NotFound("site " + site_name_ + " has no dataset '" + dataset + "'");
  ASSIGN_OR_RETURN(data::Dictionary dictionary,
                   data::ParseDictionary(dictionary_toml, "stored dictionary of " + dataset));
  std::vector<data::ColumnBuilder> builders;
  for (const data::Variable& var : dictionary.variables) builders.emplace_back(var);
  ASSIGN_OR_RETURN(auto query, db_->Prepare("SELECT * FROM " + QuoteIdentifier(table_name)));
  data::Table table;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    ++table.rows;
    for (size_t i = 0; i < builders.size(); ++i) {
      const int col = static_cast<int>(i);
      if (query->IsNull(col)) {
        builders[i].AddMissing();
        continue;
      }
      switch (dictionary.variables[i].type) {
        case data::VarType::kInteger:
        case data::VarType::kDate:
          builders[i].AddNumber(static_cast<double>(query->Int(col)));
          break;
        case data::VarType::kNumber:
          builders[i].AddNumber(query->Double(col));
          break;
        default:
          builders[i].AddText(query->Text(col));
          break;
      }
    }
  }
  for (auto& builder : builders) table.columns.push_back(builder.Finish());
  if (version) *version = *current;
  if (dictionary_out) *dictionary_out = std::move(dictionary);
  return table;
}

}  // namespace passerelle::store
