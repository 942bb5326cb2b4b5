// A site's datasets in its SQLite file (dataset_db.h).
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

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
    // As many rows a statement as SQLite's limit on parameters allows, up to kRowsPerInsert.
    const size_t per = std::clamp<size_t>(
        static_cast<size_t>(db_->MaxParameters()) / std::max<size_t>(types.size(), 1), 1,
        kRowsPerInsert);
    std::string row_sql = "(";
    for (size_t i = 0; i < types.size(); ++i) row_sql += i ? ", ?" : "?";
    row_sql += ")";
    const std::string into = "INSERT INTO " + Name(table) + " VALUES ";
    std::string many_sql = into;
    for (size_t r = 0; r < per; ++r) many_sql += (r ? ", " : "") + row_sql;
    auto many = db_->Prepare(many_sql);
    auto one = many.ok() ? db_->Prepare(into + row_sql) : many.status();
    if (!one.ok()) {
      return std::make_unique<RowWriter>(std::move(types),
                                         [status = one.status()](auto) { return status; });
    }
    insert_many_ = std::make_unique<Insert>(std::move(*many), types, per);
    insert_one_ = std::make_unique<Insert>(std::move(*one), types, 1);
    auto write = [many = insert_many_.get(), one = insert_one_.get(), per](const PackedRows& rows) {
      size_t r = 0;
      for (; r + per <= rows.rows(); r += per) RETURN_IF_ERROR(many->Run(rows, r));
      for (; r < rows.rows(); ++r) RETURN_IF_ERROR(one->Run(rows, r));
      return Status::Ok();
    };
    // The statements finalized once the rows are in: a table is dropped only with none pending.
    return std::make_unique<RowWriter>(std::move(types), std::move(write), [this] {
      insert_many_.reset();
      insert_one_.reset();
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
  // An INSERT statement of `rows` rows. SQLite keeps a parameter's value from one execution to
  // the next: a value the parameter holds already (NULL, the same number, the same category
  // text) is not bound again. A fresh statement's parameters are NULL.
  class Insert {
   public:
    Insert(std::unique_ptr<Statement> statement, const std::vector<data::VarType>& types,
           size_t rows)
        : statement_(std::move(statement)), types_(types), bound_(rows * types.size()) {}

    // Inserts the rows of `rows` from `first` on, as many as the statement has.
    Status Run(const PackedRows& rows, size_t first) {
      const size_t width = types_.size();
      Bound* bound = bound_.data();
      int index = 1;
      for (size_t r = first; r < first + bound_.size() / width; ++r) {
        const uint64_t* words = rows.words(r);
        const uint64_t* values = rows.values(r);
        for (size_t i = 0; i < width; ++i, ++bound, ++index) {
          if (PackedRows::Missing(words, i)) {
            if (!bound->null) statement_->BindNull(index);
            *bound = {true, false, 0};
            continue;
          }
          const uint64_t word = values[i];
          if (bound->kept && bound->word == word) continue;
          switch (types_[i]) {
            case data::VarType::kInteger:
            case data::VarType::kDate:
              statement_->BindInt(index, PackedRows::Integer(word));
              *bound = {false, true, word};
              break;
            case data::VarType::kNumber:
              statement_->BindDouble(index, PackedRows::Number(word));
              *bound = {false, true, word};
              break;
            default:
              // A category's text stays while the writer lives; other text until the statement
              // has run.
              statement_->BindText(index, rows.Text(i, word), /*transient=*/false);
              *bound = {false, (word & PackedRows::kCategoryText) != 0, word};
              break;
          }
        }
      }
      return statement_->Run();
    }

   private:
    struct Bound {
      bool null = true;   // bound to NULL
      bool kept = false;  // bound to `word`'s value, which stays
      uint64_t word = 0;
    };
    std::unique_ptr<Statement> statement_;
    std::vector<data::VarType> types_;
    std::vector<Bound> bound_;  // by parameter
  };

  // Rows a statement inserts at most: SQLite's own work for each execution is shared by them.
  static constexpr size_t kRowsPerInsert = 16;

  Database* db_;
  std::string label_;
  // The statements of the last WriteRows.
  std::unique_ptr<Insert> insert_many_;
  std::unique_ptr<Insert> insert_one_;
};

}  // namespace

std::unique_ptr<DatasetDb> SqliteDatasets(Database* db, std::string label) {
  return std::make_unique<SqliteDatasetDb>(db, std::move(label));
}

}  // namespace passerelle::store
