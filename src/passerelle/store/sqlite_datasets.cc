// A site's datasets in its SQLite file (dataset_db.h).
#include <memory>

#include "passerelle/store/dataset_db.h"
#include "passerelle/store/sqlite_db.h"

namespace passerelle::store {
namespace {

class SqliteDatasetDb : public DatasetDb {
 public:
  SqliteDatasetDb(Database* db, std::string label) : db_(db), label_(std::move(label)) {}

  const std::string& label() const override { return label_; }
  std::string Name(const std::string& table) const override { return QuoteIdentifier(table); }
  const char* ColumnType(data::VarType type) const override {
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
  std::string DateShown(const std::string& column) const override {
    return "date(" + column + " * 86400, 'unixepoch')";
  }
  Status Ready() override { return Status::Ok(); }
  Status BeginWrite() override { return db_->Exec("BEGIN IMMEDIATE"); }
  Status Exec(const std::string& sql) override { return db_->Exec(sql); }

  Status Run(const std::string& sql, const Params& params,
             const std::function<void(const std::vector<std::string>&)>& row) override {
    ASSIGN_OR_RETURN(auto statement, db_->Prepare(sql));
    for (size_t i = 0; i < params.size(); ++i) {
      statement->BindText(static_cast<int>(i) + 1, params[i]);
    }
    std::vector<std::string> fields;
    for (;;) {
      ASSIGN_OR_RETURN(bool more, statement->Step());
      if (!more) return Status::Ok();
      if (!row) continue;
      fields.clear();
      for (int c = 0; c < statement->Columns(); ++c) fields.emplace_back(statement->Text(c));
      row(fields);
    }
  }

  std::unique_ptr<RowWriter> WriteRows(const std::string& table,
                                       std::vector<data::VarType> types) override {
    std::string sql = "INSERT INTO " + Name(table) + " VALUES (";
    for (size_t i = 0; i < types.size(); ++i) sql += i ? ", ?" : "?";
    auto prepared = db_->Prepare(sql + ")");
    if (!prepared.ok()) {
      return std::make_unique<RowWriter>(std::move(types),
                                         [status = prepared.status()](auto) { return status; });
    }
    insert_ = std::move(*prepared);
    Statement* insert = insert_.get();
    auto write = [insert, types](std::span<const data::Value> row) {
      for (size_t i = 0; i < row.size(); ++i) {
        const data::Value& value = row[i];
        const int param = static_cast<int>(i) + 1;
        if (value.missing) {
          insert->BindNull(param);
          continue;
        }
        switch (types[i]) {
          case data::VarType::kInteger:
          case data::VarType::kDate:
            insert->BindInt(param, value.integer);
            break;
          case data::VarType::kNumber:
            insert->BindDouble(param, value.number);
            break;
          default:
            insert->BindText(param, value.text, /*transient=*/false);
            break;
        }
      }
      return insert->Run();
    };
    // The statement finalized once the rows are in: a table is dropped only with none pending.
    return std::make_unique<RowWriter>(std::move(types), std::move(write), [this] {
      insert_.reset();
      return Status::Ok();
    });
  }

  Result<data::Table> ReadTable(const std::string& table,
                                const data::Dictionary& dictionary) override {
    std::vector<data::ColumnBuilder> builders;
    for (const data::Variable& var : dictionary.variables) builders.emplace_back(var);
    ASSIGN_OR_RETURN(auto query, db_->Prepare("SELECT * FROM " + Name(table)));
    data::Table out;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, query->Step());
      if (!row) break;
      ++out.rows;
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
    for (auto& builder : builders) out.columns.push_back(builder.Finish());
    return out;
  }

  Result<std::unique_ptr<data::RecordReader>> ReadExternal(const std::string&) override {
    return FailedPrecondition(
        "a dataset is attached from a site store in PostgreSQL (passerelle site init DIR --name "
        "N --store 'postgresql://...'); this store keeps its datasets in " +
        label_);
  }

 private:
  Database* db_;
  std::string label_;
  std::unique_ptr<Statement> insert_;  // the statement of the last WriteRows
};

}  // namespace

std::unique_ptr<DatasetDb> SqliteDatasets(Database* db, std::string label) {
  return std::make_unique<SqliteDatasetDb>(db, std::move(label));
}

}  // namespace passerelle::store
