// PostgreSQL through libpq, for what reads from or keeps data in a PostgreSQL database (the OMOP
// CDM reader, a site store whose datasets live there): a connection string with an optional
// `schema=NAME`, never a password, and a connection whose rows stream one at a time. The one
// place besides omop_postgres.cc that includes libpq-fe.h is postgres.cc. No value of a query is
// ever put in a message: the server's reason is, the query is not.
#ifndef PASSERELLE_DATA_POSTGRES_H_
#define PASSERELLE_DATA_POSTGRES_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "passerelle/base/status.h"

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace passerelle::data::pg {

// A connection string split: what libpq is given, and the schema.
struct Target {
  std::string conninfo;  // without schema=
  std::string schema = "public";
};

// Reads `connection`: a postgresql:// URI (schema=NAME among its parameters) or libpq's
// key=value words (schema=NAME among them). `what` names it in messages ("the OMOP
// connection"). A password is refused: it goes in ~/.pgpass, PGPASSFILE or a pg_service entry.
Result<Target> ParseTarget(const std::string& connection, std::string_view what);

// "name" quoted as an identifier. REQUIRES: no '"' in name.
std::string Quote(std::string_view name);

// One row of a query's answer, as text.
class Row {
 public:
  int size() const;
  bool null(int column) const;
  std::string_view text(int column) const;  // "" for NULL

 private:
  friend class Connection;
  explicit Row(const PGresult* result) : result_(result) {}
  const PGresult* result_;
};

class Connection {
 public:
  // `what` starts every message ("the OMOP database", "the dataset database").
  static Result<std::unique_ptr<Connection>> Open(const Target& target, std::string what);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const std::string& database() const { return database_; }
  const std::string& schema() const { return schema_; }
  // "schema"."name"
  std::string Table(std::string_view name) const;

  // Connects again when the server closed the connection (a restart, an idle timeout); one
  // empty query's round trip to find out. Call only between transactions: a transaction open
  // on the lost connection is gone.
  Status Reconnect();
  // Statements that return no rows.
  Status Exec(const std::string& sql);
  // A query with text parameters ($1, $2, ...): each row is handed to `row` as it arrives
  // (libpq's single-row mode), so no answer is held whole. The first error, the server's
  // ("WHAT: DOING: reason") or `row`'s, is returned once the answer is drained.
  Status Query(std::string_view doing, const std::string& sql,
               const std::vector<std::string>& params,
               const std::function<Status(const Row&)>& row);
  // COPY ... FROM STDIN in text format: Begin, then Put the data in pieces, then End.
  Status CopyBegin(const std::string& sql);
  Status CopyPut(std::string_view data);
  Status CopyEnd();

 private:
  Connection(PGconn* connection, std::string what, std::string schema);
  Status Configure();
  Status Failed(std::string_view doing) const;

  PGconn* connection_;
  std::string what_;
  std::string schema_;
  std::string database_;
};

}  // namespace passerelle::data::pg

#endif  // PASSERELLE_DATA_POSTGRES_H_
