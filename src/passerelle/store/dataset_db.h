// Where a site's datasets live (internal to store/): the catalog of versions and each version's
// table, in the site's SQLite file or in a schema of a PostgreSQL database. The site store
// writes one set of statements for both (`?` marks a parameter); what differs between the two —
// names, column types, the view's dates, how rows are written and read — is here.
#ifndef PASSERELLE_STORE_DATASET_DB_H_
#define PASSERELLE_STORE_DATASET_DB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/data/dictionary.h"
#include "passerelle/data/record_reader.h"
#include "passerelle/data/table.h"
#include "passerelle/store/row_writer.h"

namespace passerelle::store {

class Database;

class DatasetDb {
 public:
  virtual ~DatasetDb() = default;

  // Names the place in messages: "DIR/store.sqlite", "postgresql database D, schema S".
  virtual const std::string& label() const = 0;
  // A table of the store's own, quoted (and qualified by its schema).
  virtual std::string Name(const std::string& table) const = 0;
  // The column type of a variable: dates are days since 1970-01-01.
  virtual const char* ColumnType(data::VarType type) const = 0;
  // A date column of a version table shown as yyyy-mm-dd in the dataset's view.
  virtual std::string DateShown(const std::string& quoted_column) const = 0;
  // What a version table's definition adds after its variables' columns: the column that
  // numbers its rows 0, 1, ... in the order they were written (SQLite's rowid numbers them
  // already: nothing; PostgreSQL's `_row`, which WriteRows fills in). A variable's name starts
  // with a letter: it never takes that name.
  virtual std::string OrdinalColumn() const = 0;
  // Called as each of the site store's operations starts, outside any transaction: a server
  // that closed the connection meanwhile is connected to again.
  virtual Status Ready() = 0;
  // Starts the transaction of an import (the writer's lock taken at once).
  virtual Status BeginWrite() = 0;

  virtual Status Exec(const std::string& sql) = 0;
  // A statement with text parameters; `row` gets each row's fields as text.
  using Params = std::vector<std::string>;
  virtual Status Run(const std::string& sql, const Params& params,
                     const std::function<void(const std::vector<std::string>&)>& row = {}) = 0;

  // Writes rows into `table` (created, empty, with the ordinal column) in `types`, on a second
  // thread.
  virtual std::unique_ptr<RowWriter> WriteRows(const std::string& table,
                                               std::vector<data::VarType> types) = 0;
  // Every row of a version table once, as the dictionary types the `variables` read (all of
  // the table's, or some): each row's values in `sink`'s slot, then its Commit. A value's text
  // lasts until the Commit returns. SQLite gives the rows in the order they were written;
  // PostgreSQL in the order of its scan, which two reads need not share: what belongs to a row
  // (its columns, its ledger key, its ordinal) is taken in the one read. `ordinals`, when
  // given, gets each row's ordinal as it is committed.
  virtual Status ReadRows(const std::string& table, const std::vector<data::Variable>& variables,
                          RowSink* sink, std::vector<uint32_t>* ordinals) = 0;

  // Whether a table or view of the store's own place (its file, or its schema) has this name,
  // as the store's statements would name it (Name).
  virtual Result<bool> Holds(const std::string& name) = 0;

  // A table of the database itself, SCHEMA.TABLE, read where it is (PostgreSQL only): its
  // columns as the header, its rows in a fixed order as records, inside the current
  // transaction. Unimplemented for SQLite.
  virtual Result<std::unique_ptr<data::RecordReader>> ReadExternal(const std::string& table) = 0;
};

// The SQLite file's catalog and tables (`db` outlives the result).
std::unique_ptr<DatasetDb> SqliteDatasets(Database* db, std::string label);
// A PostgreSQL schema's, over `connection` (postgresql://...?schema=S, no password). Creates
// the schema and its catalog when `create`.
Result<std::unique_ptr<DatasetDb>> PostgresDatasets(const std::string& connection, bool create);

}  // namespace passerelle::store

#endif  // PASSERELLE_STORE_DATASET_DB_H_
