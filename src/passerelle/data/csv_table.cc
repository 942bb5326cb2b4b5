#include "passerelle/data/csv_table.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>

namespace passerelle::data {
namespace {

// A column being read: numbers until a cell is not one, then text for every row. A missing
// cell is NaN among numbers (no number read is NaN) and empty among texts (an empty cell is
// missing).
struct PendingColumn {
  std::string name;
  bool numeric = true;
  std::vector<double> numbers;
  std::vector<std::string> texts;

  bool Missing(size_t row) const { return numeric ? std::isnan(numbers[row]) : texts[row].empty(); }

  void Add(std::string_view cell, bool decimal_comma) {
    if (IsMissingCell(cell)) {
      if (numeric) {
        numbers.push_back(std::numeric_limits<double>::quiet_NaN());
      } else {
        texts.emplace_back();
      }
      return;
    }
    if (numeric) {
      if (auto x = ParseNumber(cell, decimal_comma)) {
        numbers.push_back(*x);
        return;
      }
      // The first text cell: earlier numbers become text as R would print them.
      numeric = false;
      texts.reserve(std::max(numbers.capacity(), numbers.size() + 1));
      for (double number : numbers) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.15g", number);
        texts.emplace_back(std::isnan(number) ? "" : buf);
      }
      numbers = {};
    }
    texts.emplace_back(cell);
  }
};

// The rows a file of `file_bytes` likely holds, from the bytes of its first records: columns
// are reserved once rather than grown by doubling (which holds up to twice the memory).
size_t EstimatedRows(const std::vector<Record>& first, size_t count, uintmax_t file_bytes) {
  size_t bytes = 0;
  for (size_t r = 0; r < count; ++r) {
    const Record& record = first[r];
    bytes += record.size();  // separators and the line's end
    for (size_t c = 0; c < record.size(); ++c) bytes += record.field(c).size();
  }
  if (count == 0 || bytes == 0) return 0;
  const double per_row = static_cast<double>(bytes) / static_cast<double>(count);
  return static_cast<size_t>(static_cast<double>(file_bytes) / per_row * 1.02) + 1024;
}

// Two batches of records passed between the thread that reads them and the threads that convert
// them: one is filled while the other is converted. Every converter takes every batch (each
// converts its own columns); a batch is filled again once all of them are done with it.
class BatchPipe {
 public:
  static constexpr size_t kBatch = 4096;
  static constexpr size_t kConverters = 2;
  BatchPipe() : batches_{std::vector<Record>(kBatch), std::vector<Record>(kBatch)} {}

  // The batch to fill next (waits until every converter has finished with it).
  std::vector<Record>& Filling() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return converting_[next_fill_] == 0; });
    return batches_[next_fill_];
  }
  // Hands the filled batch (its first `size` records) over.
  void Hand(size_t size) {
    std::lock_guard<std::mutex> lock(mutex_);
    sizes_[next_fill_] = size;
    converting_[next_fill_] = kConverters;
    for (bool& waiting : waiting_[next_fill_]) waiting = true;
    next_fill_ ^= 1;
    changed_.notify_all();
  }
  // No more batches.
  void Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    changed_.notify_all();
  }
  // Converter c's next batch; false once closed and converted.
  bool Take(size_t c, std::vector<Record>** batch, size_t* size) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return waiting_[next_take_[c]][c] || closed_; });
    if (!waiting_[next_take_[c]][c]) return false;
    *batch = &batches_[next_take_[c]];
    *size = sizes_[next_take_[c]];
    return true;
  }
  // Converter c is done with the batch it took.
  void Done(size_t c) {
    std::lock_guard<std::mutex> lock(mutex_);
    waiting_[next_take_[c]][c] = false;
    --converting_[next_take_[c]];
    next_take_[c] ^= 1;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Record> batches_[2];
  size_t sizes_[2] = {0, 0};
  size_t converting_[2] = {0, 0};  // converters not done with the batch
  bool waiting_[2][kConverters] = {};
  size_t next_fill_ = 0;
  size_t next_take_[kConverters] = {};
  bool closed_ = false;
};

}  // namespace

std::map<std::string, std::vector<std::string>> LevelOrders(const Dictionary& dictionary) {
  std::map<std::string, std::vector<std::string>> out;
  for (const Variable& v : dictionary.variables) {
    if (v.type == VarType::kCategory && !v.levels.empty()) out[v.name] = v.levels;
  }
  return out;
}

Result<Table> ReadCsvTable(const std::vector<std::string>& paths, const CsvTableOptions& options) {
  if (paths.empty()) return InvalidArgument("no data file given");
  std::vector<PendingColumn> columns;
  std::vector<std::string> header;  // the first file's
  std::vector<int> kept;            // its column -> table column, -1 when not kept
  size_t rows = 0;
  for (const std::string& path : paths) {
    CsvOptions reading = options.csv;
    reading.checksum = false;  // analysis data: no version to record
    ASSIGN_OR_RETURN(auto reader, CsvReader::Open(path, reading));
    std::vector<int> slot;  // file column -> table column
    if (header.empty()) {
      header = reader->header();
      for (const std::string& name : header) {
        if (!options.only.empty() && !options.only.count(name)) {
          kept.push_back(-1);
          continue;
        }
        kept.push_back(static_cast<int>(columns.size()));
        columns.emplace_back();
        columns.back().name = name;
      }
      slot = kept;
    } else {
      if (reader->header().size() != header.size()) {
        return InvalidArgument(path + ": has " + std::to_string(reader->header().size()) +
                               " columns but " + paths[0] + " has " +
                               std::to_string(header.size()) +
                               "; stacked files need the same "
                               "columns");
      }
      for (size_t c = 0; c < reader->header().size(); ++c) {
        const auto it = std::find(header.begin(), header.end(), reader->header()[c]);
        if (it == header.end()) {
          return InvalidArgument(path + ":1:" + std::to_string(c + 1) + ": column '" +
                                 reader->header()[c] + "' is not in " + paths[0]);
        }
        slot.push_back(kept[it - header.begin()]);
      }
    }
    // This thread splits the file into records; two more convert them into the columns (each
    // its half of them), a batch at a time, in the file's order.
    BatchPipe pipe;
    // Converter c converts every other kept column, from the c-th on.
    const auto convert = [&](size_t c) {
      std::vector<std::pair<size_t, PendingColumn*>> mine;  // (file column, its column)
      for (size_t f = 0, k = 0; f < slot.size(); ++f) {
        if (slot[f] >= 0 && k++ % BatchPipe::kConverters == c) {
          mine.emplace_back(f, &columns[slot[f]]);
        }
      }
      std::vector<Record>* batch = nullptr;
      size_t size = 0;
      bool first = true;
      while (pipe.Take(c, &batch, &size)) {
        if (first && paths.size() == 1) {
          std::error_code ec;
          const uintmax_t bytes = std::filesystem::file_size(path, ec);
          const size_t rows_expected = ec ? 0 : EstimatedRows(*batch, size, bytes);
          for (auto& [f, column] : mine) column->numbers.reserve(rows_expected);
        }
        first = false;
        for (size_t r = 0; r < size; ++r) {
          const Record& record = (*batch)[r];
          for (auto& [f, column] : mine) {
            column->Add(record.field(f), options.cells.decimal_comma);
          }
        }
        pipe.Done(c);
      }
    };
    std::thread converters[BatchPipe::kConverters];
    for (size_t c = 0; c < BatchPipe::kConverters; ++c) converters[c] = std::thread(convert, c);
    Status read = [&]() -> Status {
      for (;;) {
        std::vector<Record>& batch = pipe.Filling();
        size_t size = 0;
        for (; size < batch.size(); ++size) {
          ASSIGN_OR_RETURN(bool more, reader->Next(&batch[size]));
          if (!more) break;
          const Record& record = batch[size];
          if (record.size() != slot.size()) {
            return InvalidArgument(path + ":" + std::to_string(record.first_line()) +
                                   ": record has " + std::to_string(record.size()) +
                                   " fields but the header has " + std::to_string(slot.size()));
          }
        }
        rows += size;
        pipe.Hand(size);
        if (size < batch.size()) return Status::Ok();
      }
    }();
    pipe.Close();
    for (std::thread& converter : converters) converter.join();
    RETURN_IF_ERROR(read);
  }
  Table table;
  table.rows = rows;
  for (PendingColumn& pending : columns) {
    Variable v;
    v.name = pending.name;
    const auto order = options.levels.find(v.name);
    const bool categorical = !pending.numeric || order != options.levels.end();
    v.type = categorical ? VarType::kCategory : VarType::kNumber;
    if (order != options.levels.end()) v.levels = order->second;
    if (!categorical) {
      // A numeric column moves over as it is, missing cells as NaN: no copy.
      Column column;
      column.variable = std::move(v);
      column.numbers = std::move(pending.numbers);
      table.columns.push_back(std::move(column));
      continue;
    }
    ColumnBuilder builder(v);
    for (size_t i = 0; i < rows; ++i) {
      if (pending.Missing(i)) {
        builder.AddMissing();
      } else if (pending.numeric) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.15g", pending.numbers[i]);
        builder.AddText(buf);
      } else {
        builder.AddText(pending.texts[i]);
      }
    }
    pending = PendingColumn{};  // release the text as soon as the column is built
    Column column = builder.Finish();
    if (order != options.levels.end()) {
      // Values outside the given levels are missing, as R's factor(levels = ...) makes them.
      for (int32_t& code : column.codes) {
        if (code >= static_cast<int32_t>(order->second.size())) code = -1;
      }
      column.levels.resize(order->second.size());
    }
    table.columns.push_back(std::move(column));
  }
  return table;
}

}  // namespace passerelle::data
