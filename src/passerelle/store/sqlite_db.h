// A thin RAII layer over SQLite for the store: statements that report failures as Status.
// Internal to store/: the only module that includes sqlite3.h.
#ifndef PASSERELLE_STORE_SQLITE_DB_H_
#define PASSERELLE_STORE_SQLITE_DB_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "passerelle/base/status.h"

namespace passerelle::store {

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void BindNull(int i) { sqlite3_bind_null(stmt_, i); }
  void BindInt(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void BindDouble(int i, double v) { sqlite3_bind_double(stmt_, i, v); }
  // The text is copied by SQLite only when `transient`; otherwise it must outlive Step().
  void BindText(int i, std::string_view v, bool transient = true) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()),
                      transient ? SQLITE_TRANSIENT : SQLITE_STATIC);
  }
  void BindBlob(int i, const void* data, size_t bytes) {
    static const char kEmpty = 0;  // an empty blob, not NULL
    sqlite3_bind_blob64(stmt_, i, bytes ? data : &kEmpty, bytes, SQLITE_TRANSIENT);
  }
  // True when a row is available, false when done.
  Result<bool> Step();
  // Step() for statements that return no row, then Reset(). Bindings are kept: a caller that
  // reuses the statement binds every parameter again.
  Status Run();
  void Reset() { sqlite3_reset(stmt_); }

  int Columns() const { return sqlite3_column_count(stmt_); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string_view Blob(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p ? std::string_view(p, sqlite3_column_bytes(stmt_, col)) : std::string_view();
  }
  std::string_view Text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string_view(p, sqlite3_column_bytes(stmt_, col)) : std::string_view();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Database {
 public:
  // Opens (and with `create`, creates) the SQLite file at `path`.
  static Result<std::unique_ptr<Database>> Open(const std::string& path, bool create);
  ~Database() { sqlite3_close(db_); }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Status Exec(const std::string& sql);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t Changes() const { return sqlite3_changes64(db_); }
  Result<std::unique_ptr<Statement>> Prepare(const std::string& sql);
  // Registers a virtual table module under `name` (replacing one of that name), `client` given
  // to its xCreate and xConnect.
  Status AddModule(const char* name, const sqlite3_module* module, void* client) {
    if (sqlite3_create_module(db_, name, module, client) != SQLITE_OK)
      return Internal(std::string("store: ") + sqlite3_errmsg(db_));
    return Status::Ok();
  }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// A node's record file DIR/NAME (audit log, ledger, approval queue), created with `schema` when
// absent, in WAL mode; `durable`: every commit on disk before it returns (what is recorded there
// must be on disk before the release it records leaves the node).
Result<std::unique_ptr<Database>> OpenRecordFile(const std::string& dir, const std::string& name,
                                                 const char* schema, bool durable);

// "name" quoted as an SQL identifier. REQUIRES: IsValidName(name) (no quote inside).
std::string QuoteIdentifier(std::string_view name);

}  // namespace passerelle::store

#endif  // PASSERELLE_STORE_SQLITE_DB_H_
