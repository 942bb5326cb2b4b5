#include "passerelle/data/postgres.h"

#include <libpq-fe.h>

#include "passerelle/base/text.h"

namespace passerelle::data::pg {
namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// A message of libpq or the server, its first line only (the lines after it may quote the
// query and so its values).
std::string FirstLine(const char* message) {
  std::string line = message ? message : "";
  line = line.substr(0, line.find('\n'));
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

// Splits `connection` at its schema=NAME parameter.
Target SplitSchema(const std::string& connection) {
  Target target;
  const bool uri = connection.starts_with("postgresql://") || connection.starts_with("postgres://");
  const size_t start = uri ? connection.find('?') : 0;
  if (uri) target.conninfo = connection.substr(0, start);
  if (start == std::string::npos) return target;
  const char separator = uri ? '&' : ' ';
  std::string kept;
  for (size_t at = uri ? start + 1 : 0; at <= connection.size();) {
    size_t end = connection.find(separator, at);
    if (end == std::string::npos) end = connection.size();
    const std::string part = connection.substr(at, end - at);
    if (part.starts_with("schema=")) {
      target.schema = part.substr(7);
    } else if (!part.empty()) {
      kept += kept.empty() ? (uri ? "?" : "") : std::string(1, separator);
      kept += part;
    }
    at = end + 1;
  }
  target.conninfo += kept;
  return target;
}

}  // namespace

Result<Target> ParseTarget(const std::string& connection, std::string_view what) {
  Target target = SplitSchema(connection);
  if (!IsValidName(target.schema) || target.schema.find('.') != std::string::npos) {
    return InvalidArgument(std::string(what) + "'s schema '" + target.schema +
                           "' must be a letter, then letters, digits or '_'");
  }
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(target.conninfo.c_str(), &error);
  if (!options) {
    // libpq quotes the string, or a part of it, in its message: the parts go (a password may
    // be among them), the quoted characters ("=", "]") stay.
    std::string message = error ? FirstLine(error) : "out of memory";
    if (error) PQfreemem(error);
    std::string shown;
    for (size_t at = 0; at < message.size();) {
      const size_t open = message.find('"', at);
      const size_t close = open == std::string::npos ? open : message.find('"', open + 1);
      if (close == std::string::npos) {
        shown += message.substr(at);
        break;
      }
      shown += message.substr(at, open - at);
      shown += close - open <= 2 ? message.substr(open, close - open + 1) : "\"...\"";
      at = close + 1;
    }
    return InvalidArgument(std::string(what) + " string cannot be read: " + shown);
  }
  // The secrets libpq takes from a connection string: the password, and the one of a client
  // certificate's key.
  bool password = false;
  for (PQconninfoOption* o = options; o->keyword; ++o) {
    const std::string_view keyword = o->keyword;
    if ((keyword == "password" || keyword == "sslpassword") && o->val && *o->val) password = true;
  }
  PQconninfoFree(options);
  if (password) {
    return InvalidArgument(
        std::string(what) +
        " string holds a password: a password never goes on the command line; put it in "
        "~/.pgpass (or the file PGPASSFILE names, readable by the site's account only) or use a "
        "service=NAME of pg_service.conf, and give the string without it");
  }
  return target;
}

std::string Quote(std::string_view name) { return "\"" + std::string(name) + "\""; }

int Row::size() const { return PQnfields(result_); }
bool Row::null(int column) const { return PQgetisnull(result_, 0, column); }
std::string_view Row::text(int column) const {
  return std::string_view(PQgetvalue(result_, 0, column),
                          static_cast<size_t>(PQgetlength(result_, 0, column)));
}

Connection::Connection(PGconn* connection, std::string what, std::string schema)
    : connection_(connection), what_(std::move(what)), schema_(std::move(schema)) {
  database_ = PQdb(connection_);
}

Connection::~Connection() { PQfinish(connection_); }

Result<std::unique_ptr<Connection>> Connection::Open(const Target& target, std::string what) {
  PGconn* c = PQconnectdb(target.conninfo.c_str());
  if (!c) return Unavailable("cannot connect to " + what + ": out of memory");
  if (PQstatus(c) != CONNECTION_OK) {
    const std::string reason = FirstLine(PQerrorMessage(c));
    PQfinish(c);
    return Unavailable("cannot connect to " + what + ": " + reason);
  }
  // The server's notices ("view ... does not exist, skipping") are not the user's business.
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  std::unique_ptr<Connection> connection(new Connection(c, std::move(what), target.schema));
  RETURN_IF_ERROR(connection->Configure());
  return connection;
}

Status Connection::Configure() {
  // Dates as yyyy-mm-dd, and every double written with the digits that read it back exactly.
  RETURN_IF_ERROR(Exec("SET datestyle = 'ISO, YMD'"));
  return Exec("SET extra_float_digits = 3");
}

Status Connection::Reconnect() {
  // libpq learns that the server went away only when it next uses the connection.
  if (PQstatus(connection_) == CONNECTION_OK) {
    PgResult probe(PQexec(connection_, ""));
    if (PQresultStatus(probe.get()) == PGRES_EMPTY_QUERY) return Status::Ok();
  }
  PQreset(connection_);
  if (PQstatus(connection_) != CONNECTION_OK) return Failed("connecting again");
  return Configure();
}

std::string Connection::Table(std::string_view name) const {
  return Quote(schema_) + "." + Quote(name);
}

Status Connection::Failed(std::string_view doing) const {
  return Unavailable(what_ + ": " + std::string(doing) + ": " +
                     FirstLine(PQerrorMessage(connection_)));
}

Status Connection::Exec(const std::string& sql) {
  PgResult result(PQexec(connection_, sql.c_str()));
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK &&
      PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return Unavailable(what_ + ": " + FirstLine(PQresultErrorMessage(result.get())));
  }
  return Status::Ok();
}

Status Connection::Query(std::string_view doing, const std::string& sql,
                         const std::vector<std::string>& params,
                         const std::function<Status(const Row&)>& row) {
  std::vector<const char*> values;
  for (const std::string& p : params) values.push_back(p.c_str());
  if (!PQsendQueryParams(connection_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                         values.data(), nullptr, nullptr, 0) ||
      !PQsetSingleRowMode(connection_)) {
    return Failed(doing);
  }
  Status status;
  for (;;) {
    PgResult result(PQgetResult(connection_));
    if (!result) break;
    const ExecStatusType state = PQresultStatus(result.get());
    if (state == PGRES_TUPLES_OK || state == PGRES_COMMAND_OK) continue;  // the end
    if (state != PGRES_SINGLE_TUPLE) {
      if (status.ok()) {
        status = Unavailable(what_ + ": " + std::string(doing) + ": " +
                             FirstLine(PQresultErrorMessage(result.get())));
      }
      continue;
    }
    if (status.ok()) status = row(Row(result.get()));  // after an error, drain the rest
  }
  return status;
}

Status Connection::CopyBegin(const std::string& sql) {
  PgResult result(PQexec(connection_, sql.c_str()));
  if (PQresultStatus(result.get()) != PGRES_COPY_IN) {
    return Unavailable(what_ + ": " + FirstLine(PQresultErrorMessage(result.get())));
  }
  return Status::Ok();
}

Status Connection::CopyPut(std::string_view data) {
  if (PQputCopyData(connection_, data.data(), static_cast<int>(data.size())) != 1) {
    return Failed("writing rows");
  }
  return Status::Ok();
}

Status Connection::CopyEnd() {
  if (PQputCopyEnd(connection_, nullptr) != 1) return Failed("writing rows");
  Status status;
  for (;;) {
    PgResult result(PQgetResult(connection_));
    if (!result) break;
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK && status.ok()) {
      status =
          Unavailable(what_ + ": writing rows: " + FirstLine(PQresultErrorMessage(result.get())));
    }
  }
  return status;
}

}  // namespace passerelle::data::pg
