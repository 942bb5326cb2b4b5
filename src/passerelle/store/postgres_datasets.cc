// A site's datasets in a schema of a PostgreSQL database (dataset_db.h): the catalog and each
// version's table there, rows written with COPY and read a row at a time, and a warehouse
// table read in place through a cursor.
#include <charconv>
#include <deque>
#include <memory>

#include "passerelle/base/sha256.h"
#include "passerelle/base/text.h"
#include "passerelle/data/postgres.h"
#include "passerelle/store/dataset_db.h"

namespace passerelle::store {
namespace {

constexpr size_t kCopyChunk = 1 << 20;
constexpr int kFetchRows = 4096;

// `sql` with each `?` outside quotes numbered $1, $2, ... as PostgreSQL writes parameters.
std::string Numbered(const std::string& sql) {
  std::string out;
  int n = 0;
  char quote = 0;
  for (char c : sql) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '?') {
      out += "$" + std::to_string(++n);
      continue;
    }
    out += c;
  }
  return out;
}

// A value in COPY's text format.
void AppendCopyText(std::string_view text, std::string* out) {
  for (char c : text) {
    switch (c) {
      case '\\':
        *out += "\\\\";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      default:
        *out += c;
    }
  }
}

template <typename T>
void AppendNumber(T value, std::string* out) {
  char buffer[32];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  out->append(buffer, end);
}

// A field into an attached table's checksum, framed by its length (a NULL by a length no text
// has), so that no byte can pass from one field into the next unnoticed.
void HashField(Sha256* hasher, std::string_view field, bool null) {
  const uint64_t length = null ? UINT64_MAX : field.size();
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(length >> (8 * i) & 0xff);
  hasher->Update(std::string_view(bytes, sizeof bytes));
  hasher->Update(field);
}

// A table of the database read in place: its rows in the order of their values, a cursor's
// FETCH at a time. Record lines number the rows from 1.
class ExternalTableReader : public data::RecordReader {
 public:
  ExternalTableReader(data::pg::Connection* connection, std::string label,
                      std::vector<std::string> header)
      : connection_(connection), label_(std::move(label)), header_(std::move(header)) {
    // The columns' number, names and order are part of what was checked: two columns whose
    // names were swapped hold each other's values, and without their number a column fewer
    // could shift the names into the rows and the rows' fields along.
    HashField(&hasher_, std::to_string(header_.size()), false);
    for (const std::string& name : header_) HashField(&hasher_, name, false);
  }
  ~ExternalTableReader() override { (void)connection_->Exec("CLOSE passerelle_rows"); }

  const std::vector<std::string>& header() const override { return header_; }
  const std::string& label() const override { return label_; }
  size_t header_line() const override { return 0; }
  std::string Where(size_t line, size_t) const override {
    return line ? "row " + std::to_string(line) : "";
  }

  Result<bool> Next(data::Record* record) override {
    if (rows_.empty() && !done_) {
      RETURN_IF_ERROR(connection_->Query(
          "reading " + label_, "FETCH " + std::to_string(kFetchRows) + " FROM passerelle_rows", {},
          [this](const data::pg::Row& row) {
            std::vector<std::string> fields;
            for (int c = 0; c < row.size(); ++c) {
              fields.emplace_back(row.text(c));
              HashField(&hasher_, fields.back(), row.null(c));
            }
            rows_.push_back(std::move(fields));
            return Status::Ok();
          }));
      done_ = rows_.size() < static_cast<size_t>(kFetchRows);
    }
    if (rows_.empty()) return false;
    record->Clear();
    ++line_;
    for (const std::string& field : rows_.front()) record->Add(field, line_);
    rows_.pop_front();
    return true;
  }

  // SHA-256 of the columns' number and names, then of the rows as read, each field framed by
  // its length.
  std::string ChecksumHex() override { return hasher_.FinishHex(); }

 private:
  data::pg::Connection* connection_;
  std::string label_;
  std::vector<std::string> header_;
  std::deque<std::vector<std::string>> rows_;
  bool done_ = false;
  size_t line_ = 0;
  Sha256 hasher_;
};

class PostgresDatasetDb : public DatasetDb {
 public:
  explicit PostgresDatasetDb(std::unique_ptr<data::pg::Connection> connection)
      : connection_(std::move(connection)),
        label_("postgresql database " + connection_->database() + ", schema " +
               connection_->schema()) {}

  const std::string& label() const override { return label_; }
  std::string Name(const std::string& table) const override { return connection_->Table(table); }
  const char* ColumnType(data::VarType type) const override {
    switch (type) {
      case data::VarType::kInteger:
      case data::VarType::kDate:
        return "BIGINT";
      case data::VarType::kNumber:
        return "DOUBLE PRECISION";
      default:
        return "TEXT";
    }
  }
  std::string DateShown(const std::string& column) const override {
    return "DATE '1970-01-01' + " + column + "::integer";
  }
  std::string OrdinalColumn() const override { return ", \"_row\" BIGINT NOT NULL"; }
  Status Ready() override { return connection_->Reconnect(); }
  Status BeginWrite() override { return connection_->Exec("BEGIN"); }
  Status Exec(const std::string& sql) override { return connection_->Exec(sql); }

  Status Run(const std::string& sql, const Params& params,
             const std::function<void(const std::vector<std::string>&)>& row) override {
    std::vector<std::string> fields;
    return connection_->Query("the site's catalog", Numbered(sql), params,
                              [&](const data::pg::Row& r) {
                                if (!row) return Status::Ok();
                                fields.clear();
                                for (int c = 0; c < r.size(); ++c) fields.emplace_back(r.text(c));
                                row(fields);
                                return Status::Ok();
                              });
  }

  std::unique_ptr<RowWriter> WriteRows(const std::string& table,
                                       std::vector<data::VarType> types) override {
    data::pg::Connection* connection = connection_.get();
    Status begun = connection->CopyBegin("COPY " + Name(table) + " FROM STDIN");
    auto buffer = std::make_shared<std::string>();
    auto written = std::make_shared<int64_t>(0);
    auto write = [connection, types, buffer, written, begun](const PackedRows& rows) {
      if (!begun.ok()) return begun;
      std::string& out = *buffer;
      for (size_t r = 0; r < rows.rows(); ++r) {
        for (size_t i = 0; i < types.size(); ++i) {
          if (i) out += '\t';
          if (rows.missing(r, i)) {
            out += "\\N";
            continue;
          }
          switch (types[i]) {
            case data::VarType::kInteger:
            case data::VarType::kDate:
              AppendNumber(rows.integer(r, i), &out);
              break;
            case data::VarType::kNumber:
              AppendNumber(rows.number(r, i), &out);
              break;
            default:
              AppendCopyText(rows.text(r, i), &out);
              break;
          }
        }
        out += '\t';
        AppendNumber((*written)++, &out);  // the ordinal column
        out += '\n';
        if (out.size() < kCopyChunk) continue;
        RETURN_IF_ERROR(connection->CopyPut(out));
        out.clear();
      }
      return Status::Ok();
    };
    auto finish = [connection, buffer, begun]() -> Status {
      RETURN_IF_ERROR(begun);
      if (!buffer->empty()) RETURN_IF_ERROR(connection->CopyPut(*buffer));
      return connection->CopyEnd();
    };
    return std::make_unique<RowWriter>(std::move(types), std::move(write), std::move(finish));
  }

  Status ReadRows(const std::string& table, const std::vector<data::Variable>& variables,
                  RowSink* sink, std::vector<uint32_t>* ordinals) override {
    std::string columns;
    for (const data::Variable& var : variables) columns += data::pg::Quote(var.name) + ", ";
    columns += "\"_row\"";
    const int ordinal = static_cast<int>(variables.size());
    return connection_->Query(
        "reading " + Name(table), "SELECT " + columns + " FROM " + Name(table), {},
        [&](const data::pg::Row& row) -> Status {
          const std::span<data::Value> values = sink->Slot();
          for (size_t i = 0; i < variables.size(); ++i) {
            const int col = static_cast<int>(i);
            if (row.null(col)) {
              values[i] = data::Value::Missing();
              continue;
            }
            const std::string_view text = row.text(col);
            const char* begin = text.data();
            const char* end = begin + text.size();
            bool parsed = true;
            switch (variables[i].type) {
              case data::VarType::kInteger:
              case data::VarType::kDate: {
                int64_t value = 0;
                parsed = std::from_chars(begin, end, value).ptr == end;
                values[i] = data::Value::Integer(value);
                break;
              }
              case data::VarType::kNumber: {
                double value = 0;
                parsed = std::from_chars(begin, end, value).ptr == end;
                values[i] = data::Value::Number(value);
                break;
              }
              default:
                values[i] = data::Value::Text(text);
                break;
            }
            if (!parsed) {
              return Internal(label_ + ": " + Name(table) +
                              " holds a value that is not a number in column " + variables[i].name);
            }
          }
          if (ordinals) {
            uint32_t value = 0;
            const std::string_view text = row.text(ordinal);
            if (std::from_chars(text.data(), text.data() + text.size(), value).ptr !=
                text.data() + text.size()) {
              return Internal(label_ + ": " + Name(table) + " holds a row without its ordinal");
            }
            ordinals->push_back(value);
          }
          return sink->Commit();
        });
  }

  Result<bool> Holds(const std::string& name) override {
    bool held = false;
    RETURN_IF_ERROR(Run(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = ? AND c.relname = ?",
        {connection_->schema(), name}, [&held](const std::vector<std::string>&) { held = true; }));
    return held;
  }

  Result<std::unique_ptr<data::RecordReader>> ReadExternal(const std::string& table) override {
    const size_t dot = table.find('.');
    const std::string schema = dot == std::string::npos ? "" : table.substr(0, dot);
    const std::string name = dot == std::string::npos ? "" : table.substr(dot + 1);
    if (!IsValidName(schema) || !IsValidName(name) || name.find('.') != std::string::npos) {
      return InvalidArgument("the table '" + table +
                             "' must be written SCHEMA.TABLE, each a letter, then letters, "
                             "digits or '_'");
    }
    if (schema == connection_->schema()) {
      return InvalidArgument("the table '" + table +
                             "' is in the schema that holds the site's "
                             "own datasets; attach a table of the warehouse's schemas");
    }
    std::vector<std::string> header;
    RETURN_IF_ERROR(connection_->Query(
        "reading the columns of " + table,
        "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND "
        "table_name = $2 ORDER BY ordinal_position",
        {schema, name}, [&](const data::pg::Row& row) {
          header.emplace_back(row.text(0));
          return Status::Ok();
        }));
    const std::string label = label_.substr(0, label_.find(',')) + ", table " + table;
    if (header.empty()) return NotFound(label + ": there is no such table or view");
    std::string select = "SELECT ";
    std::string order = " ORDER BY ";
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i].find('"') != std::string::npos) {
        return InvalidArgument(label + ": the column name '" + header[i] +
                               "' is not a variable name");
      }
      select += (i ? ", " : "") + data::pg::Quote(header[i]) + "::text";
      order += (i ? ", " : "") + std::to_string(i + 1);
    }
    RETURN_IF_ERROR(connection_->Exec("DECLARE passerelle_rows NO SCROLL CURSOR FOR " + select +
                                      " FROM " + data::pg::Quote(schema) + "." +
                                      data::pg::Quote(name) + order));
    return std::unique_ptr<data::RecordReader>(
        new ExternalTableReader(connection_.get(), label, std::move(header)));
  }

 private:
  std::unique_ptr<data::pg::Connection> connection_;
  std::string label_;
};

}  // namespace

Result<std::unique_ptr<DatasetDb>> PostgresDatasets(const std::string& connection, bool create) {
  ASSIGN_OR_RETURN(data::pg::Target target,
                   data::pg::ParseTarget(connection, "the store's connection"));
  ASSIGN_OR_RETURN(auto pg, data::pg::Connection::Open(target, "the dataset database"));
  if (create) {
    RETURN_IF_ERROR(pg->Exec("CREATE SCHEMA IF NOT EXISTS " + data::pg::Quote(target.schema)));
  }
  return std::unique_ptr<DatasetDb>(new PostgresDatasetDb(std::move(pg)));
}

}  // namespace passerelle::store
