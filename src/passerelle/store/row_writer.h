// Writes validated rows to a dataset's table on a second thread, so that parsing and validating
// the next rows overlaps with the database's work on the previous ones (an INSERT statement of
// SQLite, a COPY of PostgreSQL). Rows are validated straight into a slot of the batch being
// filled; a batch owns copies of its text. Order is kept, so the table is the same whatever the
// timing. Internal to store/.
#ifndef PASSERELLE_STORE_ROW_WRITER_H_
#define PASSERELLE_STORE_ROW_WRITER_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/data/value.h"

namespace passerelle::store {

// Where validated rows go: a slot to fill, then Commit() to keep it.
class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual std::span<data::Value> Slot() = 0;
  virtual Status Commit() = 0;
};

class RowWriter : public RowSink {
 public:
  // Called on the writer thread with each row, in order (one value per entry of `types`; dates
  // as days since 1970-01-01), then `finish` once after the last.
  using WriteRow = std::function<Status(std::span<const data::Value> row)>;
  RowWriter(std::vector<data::VarType> types, WriteRow write,
            std::function<Status()> finish = nullptr);
  // Joins the writer thread, discarding unwritten rows when Finish() was not called.
  ~RowWriter();
  RowWriter(const RowWriter&) = delete;
  RowWriter& operator=(const RowWriter&) = delete;

  // The slot for the next row: fill it, then Commit() it or leave it for the next row.
  std::span<data::Value> Slot() override;
  // Queues the filled slot (copying its text). Returns the writer's error once there is one.
  Status Commit() override;
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
  Status WriteBatch(Batch& batch);

  std::vector<data::VarType> types_;
  WriteRow write_;
  std::function<Status()> finish_;
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
