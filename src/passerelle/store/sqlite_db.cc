#include "passerelle/store/sqlite_db.h"

#include <filesystem>

namespace passerelle::store {

Result<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Internal(std::string("store: ") + sqlite3_errmsg(db_));
}

Status Statement::Run() {
  auto stepped = Step();
  Reset();
  return stepped.ok() ? Status::Ok() : stepped.status();
}

Result<std::unique_ptr<Database>> Database::Open(const std::string& path, bool create) {
  sqlite3* db = nullptr;
  // One connection per store object, used by one thread at a time: no SQLite mutexes needed.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Unavailable(path + ": cannot open the site store: " + message);
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<Database> database(new Database(db));
  RETURN_IF_ERROR(database->Exec("PRAGMA foreign_keys = ON; PRAGMA cache_size = -8192"));
  return database;
}

Status Database::Exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return Internal("store: " + message);
  }
  return Status::Ok();
}

Result<std::unique_ptr<Statement>> Database::Prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK) {
    return Internal(std::string("store: ") + sqlite3_errmsg(db_));
  }
  return std::make_unique<Statement>(db_, stmt);
}

Result<std::unique_ptr<Database>> OpenRecordFile(const std::string& dir, const std::string& name,
                                                 const char* schema, bool durable) {
  const std::string path = (std::filesystem::path(dir) / name).string();
  ASSIGN_OR_RETURN(auto db, Database::Open(path, /*create=*/true));
  // Records of the site's releases and decisions: the site's account only, whatever the umask.
  std::error_code ec;
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
      std::filesystem::perm_options::replace, ec);
  if (ec) return Unavailable(path + ": cannot make it private: " + ec.message());
  RETURN_IF_ERROR(db->Exec(durable ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL"
                                   : "PRAGMA journal_mode = WAL"));
  RETURN_IF_ERROR(db->Exec(schema));
  return db;
}

std::string QuoteIdentifier(std::string_view name) { return "\"" + std::string(name) + "\""; }

}  // namespace passerelle::store
