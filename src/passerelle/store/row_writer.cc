#include "passerelle/store/row_writer.h"

#include <array>

#include "passerelle/base/date.h"

namespace passerelle::store {

RowWriter::RowWriter(Statement* insert, std::vector<data::VarType> types)
    : insert_(insert), types_(std::move(types)), filling_(std::make_unique<Batch>()) {
  for (data::VarType type : types_) {
    is_text_.push_back(type == data::VarType::kCategory || type == data::VarType::kIdentifier ||
                       type == data::VarType::kText);
  }
  thread_ = std::thread([this] { WriterLoop(); });
}

RowWriter::~RowWriter() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
    if (error_.ok()) error_ = Internal("row writer stopped before Finish");
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status RowWriter::Add(const std::vector<data::Value>& row) {
  Batch& b = *filling_;
  for (size_t i = 0; i < row.size(); ++i) {
    data::Value v = row[i];
    b.text_offset.push_back(static_cast<uint32_t>(b.text.size()));
    if (!v.missing && is_text_[i]) {
      b.text.append(v.text);
      v.text = {};
      v.integer = static_cast<int64_t>(row[i].text.size());  // length, restored in Send()
    }
    b.values.push_back(v);
  }
  if (++b.rows == kBatchRows) Send();
  if (!failed_.load(std::memory_order_relaxed)) return Status::Ok();
  std::lock_guard lock(mutex_);
  return error_;
}

void RowWriter::Send() {
  Batch& b = *filling_;
  // The arena no longer grows: point text values into it.
  const size_t width = types_.size();
  for (size_t k = 0; k < b.values.size(); k += width) {
    for (size_t i = 0; i < width; ++i) {
      data::Value& v = b.values[k + i];
      if (!v.missing && is_text_[i]) {
        v.text =
            std::string_view(b.text).substr(b.text_offset[k + i], static_cast<size_t>(v.integer));
      }
    }
  }
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return queue_.size() < kMaxQueued || !error_.ok(); });
  queue_.push_back(std::move(filling_));
  if (!free_.empty()) {
    filling_ = std::move(free_.back());
    free_.pop_back();
  } else {
    filling_ = std::make_unique<Batch>();
  }
  filling_->Clear();
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
      if (queue_.empty() || !error_.ok()) return;
      batch = std::move(queue_.front());
      queue_.pop_front();
    }
    changed_.notify_all();
    Status status = WriteBatch(batch.get());
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

Status RowWriter::WriteBatch(Batch* batch) {
  const size_t width = types_.size();
  std::vector<std::array<char, 10>> dates(width);
  for (size_t r = 0; r < batch->rows; ++r) {
    const data::Value* row = &batch->values[r * width];
    for (size_t i = 0; i < width; ++i) {
      const data::Value& value = row[i];
      const int param = static_cast<int>(i) + 1;
      if (value.missing) {
        insert_->BindNull(param);
        continue;
      }
      switch (types_[i]) {
        case data::VarType::kInteger:
          insert_->BindInt(param, value.integer);
          break;
        case data::VarType::kNumber:
          insert_->BindDouble(param, value.number);
          break;
        case data::VarType::kDate:
          FormatIsoDate(static_cast<int32_t>(value.integer), dates[i].data());
          insert_->BindText(param, std::string_view(dates[i].data(), 10), /*transient=*/false);
          break;
        default:
          insert_->BindText(param, value.text, /*transient=*/false);
          break;
      }
    }
    RETURN_IF_ERROR(insert_->Run());
  }
  return Status::Ok();
}

}  // namespace passerelle::store
