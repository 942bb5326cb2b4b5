#include "passerelle/stats/packed_column.h"

#include <bit>

namespace passerelle::stats {

void PackedColumn::Push(double v) {
  if (width_ == 8) {
    raw_.push_back(v);
    ++rows_;
    return;
  }
  const uint64_t bits = std::bit_cast<uint64_t>(v);
  uint32_t code = last_code_;
  if (code == UINT32_MAX || bits != last_bits_) {
    const auto [it, added] = index_.try_emplace(bits, static_cast<uint32_t>(values_.size()));
    if (added) values_.push_back(v);
    code = it->second;
    last_bits_ = bits;
    last_code_ = code;
  }
  if (values_.size() > (width_ == 1 ? 256u : 65536u)) {
    Widen();
    Push(v);
    return;
  }
  if (width_ == 1) {
    codes8_.push_back(static_cast<uint8_t>(code));
  } else {
    codes16_.push_back(static_cast<uint16_t>(code));
  }
  ++rows_;
}

void PackedColumn::Widen() {
  // The value that outgrew the codes is pushed again by the caller, once widened.
  values_.pop_back();
  if (width_ == 1) {
    codes16_.assign(codes8_.begin(), codes8_.end());
    codes8_ = {};
    width_ = 2;
    index_.erase(last_bits_);
  } else {
    raw_.reserve(rows_ + 1);
    for (size_t k = 0; k < rows_; ++k) raw_.push_back(values_[codes16_[k]]);
    codes16_ = {};
    values_ = {};
    index_ = {};
    width_ = 8;
  }
  last_code_ = UINT32_MAX;
  rows_ = width_ == 8 ? raw_.size() : codes16_.size();
}

void PackedColumn::Seal() {
  index_ = {};
  last_code_ = UINT32_MAX;
  codes8_.shrink_to_fit();
  codes16_.shrink_to_fit();
  raw_.shrink_to_fit();
}

void PackedColumn::Permute(std::span<const uint32_t> order) {
  auto gather = [&](auto& v) {
    std::remove_reference_t<decltype(v)> out(order.size());
    for (size_t k = 0; k < order.size(); ++k) out[k] = v[order[k]];
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
