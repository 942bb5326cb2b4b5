// Writes validated rows to an INSERT statement on a second thread, so that parsing and
// validating the next rows overlaps with SQLite's work on the previous ones. Rows are
// validated straight into a slot of the batch being filled; a batch owns copies of its text.
// Order is kept, so the table is the same whatever the timing. Internal to store/.
#ifndef PASSERELLE_STORE_ROW_WRITER_H_
#define PASSERELLE_STORE_ROW_WRITER_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/data/value.h"
#include "passerelle/store/sqlite_db.h"

namespace passerelle::store {

class RowWriter {
 public:
  // `insert` has one parameter per entry of `types`, in order; dates are bound as days since
  // 1970-01-01. It is used by the writer thread only, until Finish() returns.
  RowWriter(Statement* insert, std::vector<data::VarType> types);
  // Joins the writer thread, discarding unwritten rows when Finish() was not called.
  ~RowWriter();
  RowWriter(const RowWriter&) = delete;
  RowWriter& operator=(const RowWriter&) = delete;

  // The slot for the next row: fill it, then Commit() it or leave it for the next row.
  std::span<data::Value> Slot();
  // Queues the filled slot (copying its text). Returns the writer's error once there is one.
  Status Commit();
  // Writes everything queued, stops the thread and returns the first error.
  Status Finish();

 private:
  struct Batch {
    size_t rows = 0;
    // kBatchRows x width. A text value's bytes are text.substr(value.integer, value.text.size()).
    std::vector<data::Value> values;
    std::string text;
  };
  static constexpr size_t kBatchRows = 4096;
  static constexpr size_t kMaxQueued = 4;

  std::unique_ptr<Batch> NewBatch() const;
  void Send();
  void WriterLoop();
  Status WriteBatch(const Batch& batch);

  Statement* insert_;
  std::vector<data::VarType> types_;
  std::vector<size_t> text_columns_;  // category, identifier and text columns
  std::unique_ptr<Batch> filling_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::unique_ptr<Batch>> queue_;  // guarded by mutex_
  std::vector<std::unique_ptr<Batch>> free_;  // guarded by mutex_
  bool closing_ = false;                      // guarded by mutex_
  Status error_;                              // guarded by mutex_
  std::atomic<bool> failed_ = false;          // error_ is set; read without the lock
  std::thread thread_;
};

}  // namespace passerelle::store

#endif  // PASSERELLE_STORE_ROW_WRITER_H_
