// Writes validated rows to an INSERT statement on a second thread, so that parsing and
// validating the next rows overlaps with SQLite's work on the previous ones. Rows travel in
// batches that own copies of their text; order is kept, so the table is the same whatever the
// timing. Internal to store/.
#ifndef PASSERELLE_STORE_ROW_WRITER_H_
#define PASSERELLE_STORE_ROW_WRITER_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/data/value.h"
#include "passerelle/store/sqlite_db.h"

namespace passerelle::store {

class RowWriter {
 public:
  // `insert` has one parameter per entry of `types`, in order. It is used by the writer thread
  // only, until Finish() returns.
  RowWriter(Statement* insert, std::vector<data::VarType> types);
  // Joins the writer thread (discarding unwritten rows when Finish was not called).
  ~RowWriter();
  RowWriter(const RowWriter&) = delete;
  RowWriter& operator=(const RowWriter&) = delete;

  // Queues a copy of `row`. Returns the writer's error as soon as one has happened.
  Status Add(const std::vector<data::Value>& row);
  // Writes everything queued, stops the thread and returns the first error.
  Status Finish();

 private:
  struct Batch {
    size_t rows = 0;
    std::vector<data::Value> values;  // rows x width; text views point into `text`
    std::vector<uint32_t> text_offset;
    std::string text;
    void Clear() {
      rows = 0;
      values.clear();
      text_offset.clear();
      text.clear();
    }
  };
  static constexpr size_t kBatchRows = 4096;
  static constexpr size_t kMaxQueued = 4;

  void Send();
  void WriterLoop();
  Status WriteBatch(Batch* batch);

  Statement* insert_;
  std::vector<data::VarType> types_;
  std::vector<bool> is_text_;  // by column: category, identifier or text
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
