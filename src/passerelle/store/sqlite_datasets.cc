// A site's datasets in its SQLite file (dataset_db.h).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
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
  std::string OrdinalColumn() const override { return ""; }  // rowid - 1
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
    // One statement stores a whole batch: SQLite reads the batch's rows as those of a virtual
    // table (BatchTable below), each value handed over as it builds the row, with no statement
    // parameters to bind and unbind. The virtual table lives in the connection's temporary
    // schema, within the import's transaction.
    batch_.types = types;
    batch_.rows = nullptr;
    Status ready = db_->AddModule(BatchTable::kModule, BatchTable::Module(), &batch_);
    if (ready.ok()) {
      ready = db_->Exec(std::string("DROP TABLE IF EXISTS temp.") + BatchTable::kTable +
                        "; CREATE VIRTUAL TABLE temp." + BatchTable::kTable + " USING " +
                        BatchTable::kModule);
    }
    auto insert = ready.ok() ? db_->Prepare("INSERT INTO " + Name(table) + " SELECT * FROM temp." +
                                            BatchTable::kTable)
                             : ready;
    if (!insert.ok()) {
      return std::make_unique<RowWriter>(std::move(types),
                                         [status = insert.status()](auto) { return status; });
    }
    insert_ = std::move(*insert);
    writeback_ = std::make_unique<Writeback>(label_);
    auto write = [this](const PackedRows& rows) {
      batch_.rows = &rows;
      Status status = insert_->Run();
      batch_.rows = nullptr;
      writeback_->Batch();
      return status;
    };
    // The statement finalized and the virtual table dropped once the rows are in: a table is
    // dropped only with no statement pending.
    return std::make_unique<RowWriter>(std::move(types), std::move(write), [this] {
      insert_.reset();
      writeback_.reset();
      return db_->Exec(std::string("DROP TABLE temp.") + BatchTable::kTable);
    });
  }

  Status ReadRows(const std::string& table, const std::vector<data::Variable>& variables,
                  RowSink* sink, std::vector<uint32_t>* ordinals) override {
    std::string columns;
    for (const data::Variable& var : variables) columns += QuoteIdentifier(var.name) + ", ";
    ASSIGN_OR_RETURN(auto query, db_->Prepare("SELECT " + columns + "rowid - 1 FROM " +
                                              Name(table) + " ORDER BY rowid"));
    const int ordinal = static_cast<int>(variables.size());
    for (;;) {
      ASSIGN_OR_RETURN(bool row, query->Step());
      if (!row) break;
      const std::span<data::Value> values = sink->Slot();
      for (size_t i = 0; i < variables.size(); ++i) {
        const int col = static_cast<int>(i);
        if (query->IsNull(col)) {
          values[i] = data::Value::Missing();
          continue;
        }
        switch (variables[i].type) {
          case data::VarType::kInteger:
          case data::VarType::kDate:
            values[i] = data::Value::Integer(query->Int(col));
            break;
          case data::VarType::kNumber:
            values[i] = data::Value::Number(query->Double(col));
            break;
          default:
            values[i] = data::Value::Text(query->Text(col));
            break;
        }
      }
      if (ordinals) ordinals->push_back(static_cast<uint32_t>(query->Int(ordinal)));
      RETURN_IF_ERROR(sink->Commit());
    }
    return Status::Ok();
  }

  Result<bool> Holds(const std::string& name) override {
    bool held = false;
    // SQLite's names are not case-sensitive.
    RETURN_IF_ERROR(
        Run("SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ? "
            "COLLATE NOCASE",
            {name}, [&held](const std::vector<std::string>&) { held = true; }));
    return held;
  }

  Result<std::unique_ptr<data::RecordReader>> ReadExternal(const std::string&) override {
    return FailedPrecondition(
        "a dataset is attached from a site store in PostgreSQL (passerelle site init DIR --name "
        "N --store 'postgresql://...'); this store keeps its datasets in " +
        label_);
  }

 private:
  // Hands the pages SQLite wrote to the store's file (those its cache could not keep) over to
  // the disk as the import goes, waiting for none of them: the commit's fsync, which makes the
  // import durable, then has only the last ones to wait for. Linux only; elsewhere, and when the
  // file cannot be opened, the commit writes them all.
  class Writeback {
   public:
    explicit Writeback(const std::string& path) {
#if defined(__linux__)
      fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
#else
      (void)path;
#endif
    }
    ~Writeback() {
      if (fd_ >= 0) ::close(fd_);
    }
    Writeback(const Writeback&) = delete;
    Writeback& operator=(const Writeback&) = delete;
    // Called after each batch; every 16th starts the writing of what is dirty.
    void Batch() {
#if defined(__linux__)
      if (fd_ >= 0 && ++batches_ % 16 == 0)
        (void)::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
    }

   private:
    int fd_ = -1;
    size_t batches_ = 0;
  };

  // The batch being written, as the virtual table shows it.
  struct Batch {
    std::vector<data::VarType> types;  // one column each
    const PackedRows* rows = nullptr;  // set while the batch's INSERT runs
  };

  // The virtual table of the batch being written: one column per value of a row, each value
  // handed to SQLite with the type of its column in the dataset's table (an integer, a real or
  // a text; a missing value is NULL).
  class BatchTable {
   public:
    static constexpr char kModule[] = "passerelle_batch";
    static constexpr char kTable[] = "passerelle_import_batch";
    static const sqlite3_module* Module() {
      static const sqlite3_module module = [] {
        sqlite3_module m;
        std::memset(&m, 0, sizeof m);
        m.xCreate = Create;  // not eponymous: xCreate differs from xConnect
        m.xConnect = Connect;
        m.xBestIndex = BestIndex;
        m.xDisconnect = Disconnect;
        m.xDestroy = Disconnect;
        m.xOpen = Open;
        m.xClose = Close;
        m.xFilter = Filter;
        m.xNext = Next;
        m.xEof = Eof;
        m.xColumn = Column;
        m.xRowid = Rowid;
        return m;
      }();
      return &module;
    }

   private:
    struct Table {
      sqlite3_vtab base;
      const Batch* batch;
    };
    // The current row: its packed words, and where the batch's rows are.
    struct Cursor {
      sqlite3_vtab_cursor base;
      const Batch* batch;
      const data::VarType* types;  // the batch's, while it is read
      const PackedRows* rows;
      std::vector<const std::string*> category_texts;  // by column, from `rows`
      size_t row;
      const uint64_t* words;   // the row's, missing bits first
      const uint64_t* values;  // its values' words
    };
    static int Connect(sqlite3* db, void* batch, int, const char* const*, sqlite3_vtab** out,
                       char**) {
      const auto* b = static_cast<const Batch*>(batch);
      std::string declare = "CREATE TABLE x (";
      for (size_t i = 0; i < b->types.size(); ++i) declare += (i ? ", c" : "c") + std::to_string(i);
      if (const int rc = sqlite3_declare_vtab(db, (declare + ")").c_str()); rc != SQLITE_OK)
        return rc;
      auto* table = new Table{};
      table->batch = b;
      *out = &table->base;
      return SQLITE_OK;
    }
    static int Create(sqlite3* db, void* batch, int argc, const char* const* argv,
                      sqlite3_vtab** out, char** error) {
      return Connect(db, batch, argc, argv, out, error);
    }
    static int BestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
      info->estimatedCost = 1;
      return SQLITE_OK;
    }
    static int Disconnect(sqlite3_vtab* table) {
      delete reinterpret_cast<Table*>(table);
      return SQLITE_OK;
    }
    static int Open(sqlite3_vtab* table, sqlite3_vtab_cursor** out) {
      auto* cursor = new Cursor{};
      cursor->batch = reinterpret_cast<Table*>(table)->batch;
      *out = &cursor->base;
      return SQLITE_OK;
    }
    static int Close(sqlite3_vtab_cursor* cursor) {
      delete reinterpret_cast<Cursor*>(cursor);
      return SQLITE_OK;
    }
    // Points the cursor at row `row` of the batch, and fetches the row after next meanwhile
    // (the rows were packed by the reading thread: they come from its core's cache).
    static void At(Cursor* cursor, size_t row) {
      cursor->row = row;
      const PackedRows* rows = cursor->rows;
      if (!rows || row >= rows->rows()) return;
      cursor->words = rows->words(row);
      cursor->values = rows->values(row);
      if (row + 2 < rows->rows()) {
        const auto* ahead = reinterpret_cast<const char*>(rows->words(row + 2));
        const auto* end = reinterpret_cast<const char*>(rows->words(row + 3));
        for (const char* line = ahead; line < end; line += 64) __builtin_prefetch(line);
      }
    }
    static int Filter(sqlite3_vtab_cursor* cursor, int, const char*, int, sqlite3_value**) {
      auto* c = reinterpret_cast<Cursor*>(cursor);
      c->types = c->batch->types.data();
      c->rows = c->batch->rows;
      c->category_texts.resize(c->batch->types.size());
      for (size_t i = 0; c->rows && i < c->category_texts.size(); ++i)
        c->category_texts[i] = c->rows->category_texts(i);
      At(c, 0);
      return SQLITE_OK;
    }
    static int Next(sqlite3_vtab_cursor* cursor) {
      auto* c = reinterpret_cast<Cursor*>(cursor);
      At(c, c->row + 1);
      return SQLITE_OK;
    }
    static int Eof(sqlite3_vtab_cursor* cursor) {
      const auto* c = reinterpret_cast<Cursor*>(cursor);
      return !c->rows || c->row >= c->rows->rows();
    }
    static int Rowid(sqlite3_vtab_cursor* cursor, sqlite3_int64* rowid) {
      *rowid = static_cast<sqlite3_int64>(reinterpret_cast<Cursor*>(cursor)->row);
      return SQLITE_OK;
    }
    // Column i of the current row; a missing value is left NULL.
    static int Column(sqlite3_vtab_cursor* cursor, sqlite3_context* context, int column) {
      const auto* c = reinterpret_cast<Cursor*>(cursor);
      const auto i = static_cast<size_t>(column);
      if (PackedRows::Missing(c->words, i)) return SQLITE_OK;
      const uint64_t word = c->values[i];
      switch (c->types[i]) {
        case data::VarType::kInteger:
        case data::VarType::kDate:
          sqlite3_result_int64(context, PackedRows::Integer(word));
          break;
        case data::VarType::kNumber:
          sqlite3_result_double(context, PackedRows::Number(word));
          break;
        default: {
          // The text stays while the batch is being written: SQLite copies it into the row. A
          // category's is looked up here (PackedRows::Text, without its indirections).
          const std::string_view text =
              word & PackedRows::kCategoryText
                  ? std::string_view(c->category_texts[i][word & ~PackedRows::kCategoryText])
                  : c->rows->Text(i, word);
          sqlite3_result_text(context, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
          break;
        }
      }
      return SQLITE_OK;
    }
  };

  Database* db_;
  std::string label_;
  // The last WriteRows' batch and statement.
  Batch batch_;
  std::unique_ptr<Statement> insert_;
  std::unique_ptr<Writeback> writeback_;
};

}  // namespace

std::unique_ptr<DatasetDb> SqliteDatasets(Database* db, std::string label) {
  return std::make_unique<SqliteDatasetDb>(db, std::move(label));
}

}  // namespace passerelle::store
