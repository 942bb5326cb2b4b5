// A site's store: a folder holding the SQLite file with its datasets (typed tables, one
// version per import, each with its dictionary and checksum) and the site's policy file.
//
//   DIR/store.sqlite   datasets, dataset versions, data tables
//   DIR/policy.toml    disclosure policy (privacy/policy.h), edited by the custodian
#ifndef PASSERELLE_STORE_SITE_STORE_H_
#define PASSERELLE_STORE_SITE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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

class Database;

struct DatasetVersion {
  std::string dataset;
  int version = 0;
  int64_t rows = 0;
  std::string checksum;           // SHA-256 of the imported file's bytes
  std::string dictionary_id;      // e.g. "gu_cohort.v1"
  std::string dictionary_source;  // "builtin", "file", or "inferred"
  std::string index_date;         // endpoint index date, for dictionaries with a derivation
  std::string source_file;        // file name as given to import
  std::string imported_at;        // UTC, ISO 8601
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

struct ImportReport {
  DatasetVersion version;
  data::Dictionary dictionary;  // as stored (inferred or given)
  std::vector<std::string> absent_optional;
};

class SiteStore {
 public:
  // Creates DIR (which must not hold a store yet) with an empty store and the default policy.
  // AlreadyExists when DIR/store.sqlite exists; InvalidArgument for a bad site name.
  static Result<std::unique_ptr<SiteStore>> Create(const std::string& dir,
                                                   const std::string& site_name);
  // Opens an existing store. NotFound when DIR holds none.
  static Result<std::unique_ptr<SiteStore>> Open(const std::string& dir);
  ~SiteStore();

  const std::string& site_name() const { return site_name_; }
  const std::string& dir() const { return dir_; }

  // Validates every row of the file and, only when all pass, stores them as a new version of
  // the dataset that replaces the previous one, in one transaction. On any problem nothing is
  // written and InvalidArgument lists the first 20 problems (file:place: variable: rule, cell,
  // the place as the file's reader names it) and their total. The message may quote cells: show it
  // at the site only, never log it.
  Result<ImportReport> Import(const ImportRequest& request);

  // Current version of every dataset, by name.
  Result<std::vector<DatasetVersion>> ListDatasets();
  // The current version of `dataset` in memory, with its dictionary. NotFound when absent.
  Result<data::Table> LoadTable(const std::string& dataset, DatasetVersion* version = nullptr,
                                data::Dictionary* dictionary = nullptr);
  // The dictionary stored with the current version of `dataset`. NotFound when absent.
  Result<data::Dictionary> Dictionary(const std::string& dataset);
  // The site's policy file, parsed and checked.
  // `analyses`: the names of the analyses this version runs (an allowed one outside them is an
  // error); empty: not checked.
  Result<privacy::Policy> LoadPolicy(std::span<const std::string> analyses = {}) const;

 private:
  SiteStore(std::string dir, std::unique_ptr<Database> db);
  Result<std::optional<DatasetVersion>> CurrentVersion(const std::string& dataset,
                                                       std::string* table_name,
                                                       std::string* dictionary_toml);

  std::string dir_;
  std::string site_name_;
  std::unique_ptr<Database> db_;
};

}  // namespace passerelle::store

#endif  // PASSERELLE_STORE_SITE_STORE_H_
