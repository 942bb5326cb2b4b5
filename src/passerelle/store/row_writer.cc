#include "passerelle/store/row_writer.h"

#include <pthread.h>

#include <algorithm>

namespace passerelle::store {

int CategoryTexts::FindOrAdd(const Key& key, size_t hash, std::string_view text) {
  static_assert(kMaxTexts == 256);  // Hash's range
  for (size_t id = 0; id < keys_.size(); ++id) {
    if (Is(id, key, text)) {
      last_[hash] = static_cast<int16_t>(id);
      return static_cast<int>(id);
    }
  }
  if (texts_.size() == kMaxTexts) return -1;
  texts_.emplace_back(text);
  keys_.push_back(key);
  last_[hash] = static_cast<int16_t>(texts_.size() - 1);
  return static_cast<int>(texts_.size() - 1);
}

RowWriter::RowWriter(std::vector<data::VarType> types, WriteRows write,
                     std::function<Status()> finish)
    : types_(std::move(types)), write_(std::move(write)), finish_(std::move(finish)) {
  mask_words_ = (types_.size() + 63) / 64;
  row_words_ = PackedRows::RowWords(types_.size());
  slot_.resize(types_.size());
  for (data::VarType type : types_) {
    categories_.push_back(type == data::VarType::kCategory ? std::make_unique<CategoryTexts>()
                                                           : nullptr);
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
  batch->words.resize(kBatchRows * row_words_);
  return batch;
}

std::span<data::Value> RowWriter::Slot() { return slot_; }

Status RowWriter::Commit() {
  Batch& b = *filling_;
  uint64_t* mask = &b.words[b.rows * row_words_];
  uint64_t* word = mask + mask_words_;
  std::fill(mask, word, 0);
  for (size_t i = 0; i < types_.size(); ++i) {
    const data::Value& v = slot_[i];
    if (v.missing) {
      mask[i / 64] |= uint64_t{1} << (i % 64);
      word[i] = 0;
      continue;
    }
    switch (types_[i]) {
      case data::VarType::kInteger:
      case data::VarType::kDate:
        word[i] = static_cast<uint64_t>(v.integer);
        break;
      case data::VarType::kNumber:
        std::memcpy(&word[i], &v.number, sizeof(double));
        break;
      case data::VarType::kCategory:
        // Most categories have a few texts: each kept once, then given by its number.
        if (const int id = categories_[i]->Find(v.text); id >= 0) {
          word[i] = PackedRows::kCategoryText | static_cast<uint64_t>(id);
          break;
        }
        [[fallthrough]];
      default:
        word[i] = static_cast<uint64_t>(b.text.size()) << 32 | v.text.size();
        b.text.append(v.text);
        break;
    }
  }
  if (++b.rows == kBatchRows || b.text.size() >= kMaxBatchText) Send();
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
  return write_(
      PackedRows(batch.words.data(), batch.rows, types_.size(), batch.text, &categories_));
}

}  // namespace passerelle::store
