// A site's store: a folder holding the SQLite file with its datasets (typed tables, one
// version per import, each with its dictionary and checksum) and the site's policy file. The
// datasets may live in a schema of a PostgreSQL database instead (the site's warehouse): the
// folder then keeps everything else, and the connection string (never a password).
//
//   DIR/store.sqlite   the site's name; datasets, dataset versions, data tables (or where they are)
//   DIR/policy.toml    disclosure policy (privacy/policy.h), edited by the custodian
#ifndef PASSERELLE_STORE_SITE_STORE_H_
#define PASSERELLE_STORE_SITE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/data/dictionary.h"
#include "passerelle/data/gu_cohort.h"
#include "passerelle/data/record_reader.h"
#include "passerelle/data/table.h"
#include "passerelle/data/validator.h"
#include "passerelle/privacy/policy.h"

namespace passerelle::store {

class CohortLedger;
class Database;
class DatasetDb;
class RecordKeys;
class RowSink;

struct DatasetVersion {
  std::string dataset;
  int version = 0;
  int64_t rows = 0;
  std::string checksum;           // SHA-256 of the imported file's bytes
  std::string dictionary_id;      // e.g. "gu_cohort.v1"
  std::string dictionary_source;  // "builtin", "file", or "inferred"
  std::string index_date;         // endpoint index date, for dictionaries with a derivation
  std::string source_file;        // file name as given to import; SCHEMA.TABLE when attached
  std::string imported_at;        // UTC, ISO 8601
  bool attached = false;          // a warehouse table read where it is, never copied
};

struct ImportRequest {
  std::string dataset;
  // The file: any kind data::OpenRecordReader reads (CSV, statistics file, Excel workbook).
  // With `open_records`, the name of the source as the version records it.
  std::string file_path;
  // When set, the records come from it instead of a file (an OMOP CDM: data/omop.h). Called
  // once; a dictionary is then required.
  std::function<Result<std::unique_ptr<data::RecordReader>>()> open_records;
  // nullopt: infer one from the file (and store it as "inferred").
  std::optional<data::Dictionary> dictionary;
  std::string dictionary_source = "file";
  data::RecordOptions reading;  // separator, encoding, sheet
  data::CellFormat cells;
  data::IndexDate index_date = data::IndexDate::kDiagnosis;
  // Called every 100,000 rows with the rows read so far (for a progress line); may be empty.
  std::function<void(int64_t rows)> progress;
};

// A table of the store's PostgreSQL database analysed where it is.
struct AttachRequest {
  std::string dataset;
  std::string table;  // SCHEMA.TABLE (or a view)
  data::Dictionary dictionary;
  std::string dictionary_source = "file";
  data::IndexDate index_date = data::IndexDate::kDiagnosis;
  std::function<void(int64_t rows)> progress;
};

struct ImportReport {
  DatasetVersion version;
  data::Dictionary dictionary;  // as stored (inferred or given)
  std::vector<std::string> absent_optional;
  std::vector<std::string> notes;  // the source's own (data::RecordReader::Notes)
};

class SiteStore {
 public:
  // Creates DIR (which must not hold a store yet) with an empty store and the default policy.
  // AlreadyExists when DIR/store.sqlite exists; InvalidArgument for a bad site name. With
  // `datasets` (postgresql://HOST[:PORT]/DB?schema=S, or libpq's key=value words with
  // schema=S), the datasets live in that schema, created when absent; a password in the string
  // is refused (it goes in ~/.pgpass, PGPASSFILE or a pg_service entry).
  static Result<std::unique_ptr<SiteStore>> Create(const std::string& dir,
                                                   const std::string& site_name,
                                                   const std::string& datasets = "");
  // Opens an existing store. NotFound when DIR holds none.
  static Result<std::unique_ptr<SiteStore>> Open(const std::string& dir);
  ~SiteStore();

  const std::string& site_name() const { return site_name_; }
  const std::string& dir() const { return dir_; }
  // Where the datasets are, for people: "DIR/store.sqlite", "postgresql database D, schema S".
  const std::string& datasets_label() const;

  // Validates every row of the file and, only when all pass, stores them as a new version of
  // the dataset that replaces the previous one, in one transaction. On any problem nothing is
  // written and InvalidArgument lists the first 20 problems (file:place: variable: rule, cell,
  // the place as the file's reader names it) and their total. The message may quote cells: show it
  // at the site only, never log it. The rows are numbered in the site's release ledger
  // (DIR/ledger.sqlite) before the version commits (RecordNumbers); so are an attached table's.
  Result<ImportReport> Import(const ImportRequest& request);
  // Makes a table of the store's PostgreSQL database the new version of a dataset: every row is
  // validated as an import's, nothing is copied. Its rows are read again, and checked again,
  // each time the dataset is loaded; a table that changed since is refused (rule
  // attached_unchanged) until it is attached again. FailedPrecondition on a SQLite store.
  Result<ImportReport> Attach(const AttachRequest& request);

  // Current version of every dataset, by name.
  Result<std::vector<DatasetVersion>> ListDatasets();
  // The current version of `dataset` in memory, with its dictionary. `only`: the variables
  // to read (nullptr: all of them), in the dictionary's order. `ordinals`: each row's ordinal
  // in the version (its place among the rows as they were imported, or as an attached table's
  // are read), by which RecordNumbers numbers it.
  // NotFound when absent; FailedPrecondition when an attached table no longer holds the rows it
  // was attached with.
  Result<data::Table> LoadTable(const std::string& dataset, DatasetVersion* version = nullptr,
                                data::Dictionary* dictionary = nullptr,
                                const std::set<std::string>* only = nullptr,
                                std::vector<uint32_t>* ordinals = nullptr);
  // The release ledger's number of each row of a dataset's `version` (as LoadTable gave it),
  // by ordinal. Found once, at its import or attachment, and kept with the ledger; found again
  // (its identifiers read, or every value) and kept when the ledger keeps none for it.
  // FailedPrecondition when the dataset has a newer version.
  Result<std::vector<uint32_t>> RecordNumbers(const DatasetVersion& version, CohortLedger* ledger);
  // The dictionary stored with the current version of `dataset`. NotFound when absent.
  Result<data::Dictionary> Dictionary(const std::string& dataset);
  // The site's policy file, parsed and checked.
  // `analyses`: the names of the analyses this version runs (an allowed one outside them is an
  // error); empty: not checked.
  Result<privacy::Policy> LoadPolicy(std::span<const std::string> analyses = {}) const;

 private:
  struct Stored;
  SiteStore(std::string dir, std::unique_ptr<Database> db);
  Result<std::vector<Stored>> Current(const std::string& dataset);
  Status CheckDatasetName(const std::string& dataset) const;
  // Validates every record of `reader` into `sink`; InvalidArgument with the problems (and
  // `outcome`) when any row breaks a rule. The number of rows.
  Result<int64_t> CheckRows(data::RecordReader* reader, const data::Dictionary& dictionary,
                            const data::CellFormat& cells, data::IndexDate index_date,
                            const std::function<void(int64_t)>& progress,
                            const std::string& outcome, RowSink* sink,
                            std::vector<std::string>* absent_optional);
  // The rows of a stored version (inside the caller's transaction); with `keys`, the first
  // identifier goes to them (a column too only when `only` names it).
  Result<data::Table> Read(const Stored& stored, const data::Dictionary& dictionary,
                           const std::set<std::string>* only, RecordKeys* keys,
                           std::vector<uint32_t>* ordinals);
  // The ledger's numbers of a stored version's rows by ordinal, found and kept; from the keys
  // of the rows as they were `written` or attached (in the order of their ordinals), or read.
  Result<std::vector<uint32_t>> Number(const Stored& stored, CohortLedger* ledger,
                                       RecordKeys* written = nullptr);
  // What tells a version's rows from another import's that took the same version number.
  static std::string NumberingSource(const DatasetVersion& v);
  // Writes `v` as the dataset's current version (its rows in `table`), retiring `previous`.
  // Fills in the version's dictionary and time.
  Status Record(DatasetVersion* v, const data::Dictionary& dictionary, const std::string& table,
                const std::optional<Stored>& previous);

  std::string dir_;
  std::string site_name_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<DatasetDb> datasets_;
};

}  // namespace passerelle::store

#endif  // PASSERELLE_STORE_SITE_STORE_H_
