#include "passerelle/stats/packed_column.h"

#include <algorithm>
#include <bit>

#include "passerelle/base/parallel.h"

namespace passerelle::stats {

uint32_t PackedColumn::CodeOf(uint64_t bits, double v) {
  const auto slot = [this](uint64_t b) {  // b's slot, or the empty one where it would go
    const size_t mask = slot_code_.size() - 1;
    size_t s = (b * 0x9E3779B97F4A7C15ull) >> (64 - std::countr_zero(slot_code_.size()));
    while (slot_code_[s] != UINT32_MAX && slot_bits_[s] != b) s = (s + 1) & mask;
    return s;
  };
  size_t s = 0;
  if (!slot_code_.empty()) {
    s = slot(bits);
    if (slot_code_[s] != UINT32_MAX) return slot_code_[s];
  }
  if (values_.size() == (width_ == 1 ? 256u : 65536u)) return UINT32_MAX;
  const auto code = static_cast<uint32_t>(values_.size());
  values_.push_back(v);
  if (values_.size() * 2 <= slot_code_.size()) {
    slot_bits_[s] = bits;
    slot_code_[s] = code;
    return code;
  }
  // Twice the slots, every value placed again.
  const size_t slots = std::max<size_t>(1024, 2 * slot_code_.size());
  slot_bits_.assign(slots, 0);
  slot_code_.assign(slots, UINT32_MAX);
  for (uint32_t c = 0; c < values_.size(); ++c) {
    const uint64_t b = std::bit_cast<uint64_t>(values_[c]);
    const size_t at = slot(b);
    slot_bits_[at] = b;
    slot_code_[at] = c;
  }
  return code;
}

void PackedColumn::Append(std::span<const double> rows) {
  size_t i = 0;
  while (width_ != 8 && i < rows.size()) {
    const uint64_t bits = std::bit_cast<uint64_t>(rows[i]);
    if (last_code_ == UINT32_MAX || bits != last_bits_) {
      const uint32_t code = CodeOf(bits, rows[i]);
      if (code == UINT32_MAX) {  // one value too many for the codes: widen, then this row again
        Widen();
        continue;
      }
      last_bits_ = bits;
      last_code_ = code;
    }
    if (width_ == 1) {
      codes8_.push_back(static_cast<uint8_t>(last_code_));
    } else {
      codes16_.push_back(static_cast<uint16_t>(last_code_));
    }
    ++i;
  }
  if (width_ == 8)
    raw_.insert(raw_.end(), rows.begin() + static_cast<std::ptrdiff_t>(i), rows.end());
  rows_ += rows.size();
}

void PackedColumn::Read(size_t from, size_t count, double* out) const {
  if (width_ == 1) {
    for (size_t k = 0; k < count; ++k) out[k] = values_[codes8_[from + k]];
  } else if (width_ == 2) {
    for (size_t k = 0; k < count; ++k) out[k] = values_[codes16_[from + k]];
  } else {
    std::copy_n(raw_.begin() + static_cast<std::ptrdiff_t>(from), count, out);
  }
}

void PackedColumn::Widen() {
  // Wider codes take only the rows so far and grow as rows come: reserved for every row to
  // come, they would be held whole while the model's rows are still being read.
  if (width_ == 1) {
    codes16_.assign(codes8_.begin(), codes8_.end());
    codes8_ = {};
    width_ = 2;
  } else {
    raw_.reserve(codes16_.capacity());
    for (uint16_t code : codes16_) raw_.push_back(values_[code]);
    codes16_ = {};
    values_ = {};
    slot_bits_ = {};
    slot_code_ = {};
    width_ = 8;
  }
  last_code_ = UINT32_MAX;
}

void PackedColumn::Seal() {
  slot_bits_ = {};
  slot_code_ = {};
  last_code_ = UINT32_MAX;
  codes8_.shrink_to_fit();
  codes16_.shrink_to_fit();
  raw_.shrink_to_fit();
}

void PackedColumn::Permute(std::span<const uint32_t> order) {
  auto gather = [&](auto& v) {
    std::remove_reference_t<decltype(v)> out(order.size());
    ParallelParts(order.size(), [&](size_t, size_t begin, size_t end) {
      for (size_t k = begin; k < end; ++k) out[k] = v[order[k]];
    });
    v = std::move(out);
  };
  if (width_ == 1) gather(codes8_);
  if (width_ == 2) gather(codes16_);
  if (width_ == 8) gather(raw_);
}

void PackedColumn::Shift(double shift) {
  for (double& v : width_ == 8 ? raw_ : values_) v -= shift;
}

}  // namespace passerelle::stats
