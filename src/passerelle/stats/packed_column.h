// A column of doubles held as codes into its distinct values — 1 byte a row while it has at
// most 256 of them, 2 bytes while at most 65,536 — or, with more, as the values themselves.
// A row reads back the very double it was given (values are told apart by their bits): a
// model's design of indicators, ages and stages takes a few bytes a row instead of 8 a column.
#ifndef PASSERELLE_STATS_PACKED_COLUMN_H_
#define PASSERELLE_STATS_PACKED_COLUMN_H_

#include <cstdint>
#include <span>
#include <vector>

namespace passerelle::stats {

class PackedColumn {
 public:
  size_t size() const { return rows_; }
  double operator[](size_t k) const {
    return width_ == 1 ? values_[codes8_[k]] : width_ == 2 ? values_[codes16_[k]] : raw_[k];
  }
  // Rows [from, from + count) into out.
  void Read(size_t from, size_t count, double* out) const;
  // Whether rows are codes into values() (else each row holds its value).
  bool coded() const { return width_ != 8; }
  // The distinct values, in the order first given (coded columns).
  std::span<const double> values() const { return values_; }
  uint32_t Code(size_t k) const { return width_ == 1 ? codes8_[k] : codes16_[k]; }

  // Room for `rows` rows of one byte.
  void Reserve(size_t rows) { codes8_.reserve(rows); }
  // Appends rows.
  void Append(std::span<const double> rows);
  // The rows given, no more to come: the index of values is let go.
  void Seal();
  // The rows in the order `order` gives (order[k]: the row that becomes row k).
  void Permute(std::span<const uint32_t> order);
  // Each value v becomes v - shift (every distinct value, or every row's).
  void Shift(double shift);

 private:
  // The code of the value with these bits, UINT32_MAX when a new value would not fit the
  // codes (the caller widens them and asks again).
  uint32_t CodeOf(uint64_t bits, double v);
  void Widen();  // to the next width, when the distinct values outgrow the codes

  size_t rows_ = 0;
  int width_ = 1;  // 1 or 2: bytes a code; 8: the values themselves
  std::vector<uint8_t> codes8_;
  std::vector<uint16_t> codes16_;
  std::vector<double> raw_;
  std::vector<double> values_;
  // The index of values_: open addressing on a value's bits, a power of two of slots at most
  // half full, each slot's code (UINT32_MAX: empty) beside its bits.
  std::vector<uint64_t> slot_bits_;
  std::vector<uint32_t> slot_code_;
  uint64_t last_bits_ = 0;  // the last value appended, and its code
  uint32_t last_code_ = UINT32_MAX;
};

}  // namespace passerelle::stats

#endif  // PASSERELLE_STATS_PACKED_COLUMN_H_
