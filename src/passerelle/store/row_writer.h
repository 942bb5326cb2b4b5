// Writes validated rows to a dataset's table on a second thread, so that parsing and validating
// the next rows overlaps with the database's work on the previous ones (an INSERT statement of
// SQLite, a COPY of PostgreSQL). A row is validated into one slot, then packed into the batch
// being filled: eight bytes a value and a bit for each missing one, text copied after. Order is
// kept, so the table is the same whatever the timing. Internal to store/.
#ifndef PASSERELLE_STORE_ROW_WRITER_H_
#define PASSERELLE_STORE_ROW_WRITER_H_

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/base/text.h"
#include "passerelle/data/value.h"

namespace passerelle::store {

// Where validated rows go: a slot to fill, then Commit() to keep it.
class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual std::span<data::Value> Slot() = 0;
  virtual Status Commit() = 0;
};

// The texts a category column has had, each kept once, in the order they came; at most
// kMaxTexts a column. Filled by the reading thread, read by the writer thread: an entry never
// moves or changes once there, and a batch is handed over only after the entries it uses.
class CategoryTexts {
 public:
  static constexpr size_t kMaxTexts = 256;
  CategoryTexts() {
    texts_.reserve(kMaxTexts);
    keys_.reserve(kMaxTexts);
    std::fill(std::begin(last_), std::end(last_), int16_t{-1});
  }
  CategoryTexts(const CategoryTexts&) = delete;
  CategoryTexts& operator=(const CategoryTexts&) = delete;

  // The number of `text`, added if new; -1 when new and the column has kMaxTexts already.
  int Find(std::string_view text) {
    const Key key{ShortKey(text), text.size()};
    const size_t hash = Hash(key);
    if (const int id = last_[hash]; id >= 0 && Is(id, key, text)) return id;
    return FindOrAdd(key, hash, text);
  }
  const std::string& text(size_t id) const { return texts_[id]; }
  // The texts by number. They never move: the pointer stays valid while the column lives.
  const std::string* texts() const { return texts_.data(); }

 private:
  // A text's ShortKey and length: most texts are told apart by these.
  struct Key {
    uint64_t key = 0;
    size_t size = 0;
  };
  static size_t Hash(const Key& key) {  // 0 to 255
    return ((key.key ^ key.size) * 0x9E3779B97F4A7C15ULL) >> 56;
  }
  bool Is(size_t id, const Key& key, std::string_view text) const {
    return keys_[id].key == key.key && keys_[id].size == key.size &&
           (key.size <= 8 ||
            std::memcmp(texts_[id].data() + 8, text.data() + 8, key.size - 8) == 0);
  }
  int FindOrAdd(const Key& key, size_t hash, std::string_view text);

  std::vector<std::string> texts_;
  // The reading thread's: the keys of texts_, and where a key's hash last led.
  std::vector<Key> keys_;
  int16_t last_[kMaxTexts];
};

// Rows as the writer thread gets them, packed: row after row, the row's missing values as bits
// (one 64-bit word per 64 values), then one word a value: an integer or a date (days since
// 1970-01-01), a number's bits, a category's text as its number in the column's CategoryTexts
// (with kCategoryText set), or a text's offset in `text` (high 32 bits, below 2^31) and its
// length (low 32 bits).
class PackedRows {
 public:
  static constexpr uint64_t kCategoryText = uint64_t{1} << 63;

  PackedRows(const uint64_t* words, size_t rows, size_t width, std::string_view text,
             const std::vector<std::unique_ptr<CategoryTexts>>* categories)
      : words_(words),
        rows_(rows),
        mask_words_((width + 63) / 64),
        row_words_(mask_words_ + width),
        text_(text),
        categories_(categories) {}
  static size_t RowWords(size_t width) { return (width + 63) / 64 + width; }

  size_t rows() const { return rows_; }
  bool missing(size_t row, size_t i) const { return Missing(words(row), i); }
  int64_t integer(size_t row, size_t i) const { return Integer(values(row)[i]); }
  double number(size_t row, size_t i) const { return Number(values(row)[i]); }
  std::string_view text(size_t row, size_t i) const { return Text(i, values(row)[i]); }

  // The same, a row at a time: its words (missing bits first), then its values' words.
  const uint64_t* words(size_t row) const { return words_ + row * row_words_; }
  const uint64_t* values(size_t row) const { return words(row) + mask_words_; }
  static bool Missing(const uint64_t* words, size_t i) { return (words[i / 64] >> (i % 64)) & 1; }
  static int64_t Integer(uint64_t word) { return static_cast<int64_t>(word); }
  static double Number(uint64_t word) {
    double x;
    std::memcpy(&x, &word, sizeof x);
    return x;
  }
  // Column i's category texts by number (CategoryTexts::texts()), null for other columns.
  const std::string* category_texts(size_t i) const {
    return (*categories_)[i] ? (*categories_)[i]->texts() : nullptr;
  }
  // Column i's text: valid while the writer lives (a category's) or the batch is being written.
  std::string_view Text(size_t i, uint64_t word) const {
    if (word & kCategoryText) return (*categories_)[i]->text(word & ~kCategoryText);
    return text_.substr(word >> 32, word & 0xFFFFFFFFu);
  }

 private:
  const uint64_t* words_;
  size_t rows_;
  size_t mask_words_;
  size_t row_words_;
  std::string_view text_;
  const std::vector<std::unique_ptr<CategoryTexts>>* categories_;
};

class RowWriter : public RowSink {
 public:
  // Called on the writer thread with rows in order, a batch at a time (one value per entry of
  // `types` a row). `finish` is called once after the last.
  using WriteRows = std::function<Status(const PackedRows& rows)>;
  RowWriter(std::vector<data::VarType> types, WriteRows write,
            std::function<Status()> finish = nullptr);
  // Joins the writer thread, discarding unwritten rows when Finish() was not called.
  ~RowWriter();
  RowWriter(const RowWriter&) = delete;
  RowWriter& operator=(const RowWriter&) = delete;

  // The slot for the next row: fill it, then Commit() it or leave it for the next row.
  std::span<data::Value> Slot() override;
  // Queues the filled slot (packing it, copying its text). Returns the writer's error once there
  // is one.
  Status Commit() override;
  // Writes everything queued, stops the thread and returns the first error.
  Status Finish();

 private:
  struct Batch {
    size_t rows = 0;
    std::vector<uint64_t> words;  // PackedRows' words
    std::string text;
  };
  static constexpr size_t kBatchRows = 2048;
  // Batches queued at most: enough for the writer to go on while the reading thread stops for
  // a while (a uniqueness check's table doubling, ~10 ms at half a million rows).
  static constexpr size_t kMaxQueued = 16;
  // A batch is sent early once its text reaches this (offsets stay below 2^31).
  static constexpr size_t kMaxBatchText = size_t{1} << 30;

  std::unique_ptr<Batch> NewBatch() const;
  void Send();
  void WriterLoop();
  Status WriteBatch(Batch& batch);

  std::vector<data::VarType> types_;
  WriteRows write_;
  std::function<Status()> finish_;
  size_t mask_words_ = 0;          // words of missing bits a row
  size_t row_words_ = 0;           // words a packed row
  std::vector<data::Value> slot_;  // the row being validated (the reading thread's)
  std::vector<std::unique_ptr<CategoryTexts>> categories_;  // by column; null but for categories
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
