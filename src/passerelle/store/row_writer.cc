#include "passerelle/store/row_writer.h"

#include <pthread.h>

#include <algorithm>

namespace passerelle::store {

RowWriter::RowWriter(std::vector<data::VarType> types, WriteRow write,
                     std::function<Status()> finish)
    : types_(std::move(types)), write_(std::move(write)), finish_(std::move(finish)) {
  for (size_t i = 0; i < types_.size(); ++i) {
    if (types_[i] == data::VarType::kCategory || types_[i] == data::VarType::kIdentifier ||
        types_[i] == data::VarType::kText) {
      text_columns_.push_back(i);
    }
  }
  filling_ = NewBatch();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "store-writer");
    WriterLoop();
  });
}

RowWriter::~RowWriter() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
    if (error_.ok()) error_ = Internal("row writer stopped before Finish");
    failed_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::unique_ptr<RowWriter::Batch> RowWriter::NewBatch() const {
  auto batch = std::make_unique<Batch>();
  batch->values.resize(kBatchRows * types_.size());
  return batch;
}

std::span<data::Value> RowWriter::Slot() {
  return std::span<data::Value>(filling_->values)
      .subspan(filling_->rows * types_.size(), types_.size());
}

Status RowWriter::Commit() {
  Batch& b = *filling_;
  data::Value* row = &b.values[b.rows * types_.size()];
  // Text is copied into the batch's arena. The view keeps its length but may dangle; the
  // value's unused `integer` field holds the offset into the arena (see WriteBatch).
  for (size_t column : text_columns_) {
    data::Value& v = row[column];
    v.integer = static_cast<int64_t>(b.text.size());
    b.text.append(v.text);
  }
  if (++b.rows == kBatchRows) Send();
  if (!failed_.load(std::memory_order_relaxed)) return Status::Ok();
  std::lock_guard lock(mutex_);
  return error_;
}

void RowWriter::Send() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return queue_.size() < kMaxQueued || !error_.ok(); });
  queue_.push_back(std::move(filling_));
  if (!free_.empty()) {
    filling_ = std::move(free_.back());
    free_.pop_back();
  } else {
    filling_ = NewBatch();
  }
  filling_->rows = 0;
  filling_->text.clear();
  changed_.notify_all();
}

Status RowWriter::Finish() {
  if (filling_->rows) Send();
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  changed_.notify_all();
  thread_.join();
  std::lock_guard lock(mutex_);
  return error_;
}

void RowWriter::WriterLoop() {
  for (;;) {
    std::unique_ptr<Batch> batch;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return !queue_.empty() || closing_; });
      if (!error_.ok()) return;
      if (queue_.empty()) {
        lock.unlock();
        Status status = finish_ ? finish_() : Status::Ok();
        lock.lock();
        if (!status.ok()) error_ = std::move(status);
        return;
      }
      batch = std::move(queue_.front());
      queue_.pop_front();
    }
    changed_.notify_all();
    Status status = WriteBatch(*batch);
    std::lock_guard lock(mutex_);
    if (!status.ok()) {
      error_ = std::move(status);
      failed_ = true;
      changed_.notify_all();
      return;
    }
    free_.push_back(std::move(batch));
  }
}

Status RowWriter::WriteBatch(Batch& batch) {
  const size_t width = types_.size();
  const std::string_view arena = batch.text;
  for (size_t r = 0; r < batch.rows; ++r) {
    const std::span<data::Value> row(&batch.values[r * width], width);
    // The text views point into the arena again (the batch is this thread's until it is done).
    for (size_t column : text_columns_) {
      data::Value& v = row[column];
      if (!v.missing) v.text = arena.substr(v.integer, v.text.size());
    }
    RETURN_IF_ERROR(write_(row));
  }
  return Status::Ok();
}

}  // namespace passerelle::store
