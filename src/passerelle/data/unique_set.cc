#include "passerelle/data/unique_set.h"

#include <cstring>

namespace passerelle::data {
namespace {

// Eight bytes at a time (identifiers are short: one or two words), each word mixed in by a
// multiplication, then a murmur-style finaliser so that sequential identifiers spread over the
// table. The words of a value shorter than 8 bytes are its bytes; a longer value's last word
// overlaps the one before (its length is mixed in too).
uint64_t Hash(std::string_view s) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ULL;
  const char* p = s.data();
  const size_t n = s.size();
  uint64_t h = n * kMul;
  auto mix = [&h](uint64_t word) {
    h = (h ^ word) * kMul;
    h ^= h >> 29;
  };
  if (n < 8) {
    uint64_t word = 0;
    for (size_t i = 0; i < n; ++i) word |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
    mix(word);
  } else {
    uint64_t word;
    for (size_t i = 0; i + 8 < n; i += 8) {
      std::memcpy(&word, p + i, 8);
      mix(word);
    }
    std::memcpy(&word, p + n - 8, 8);
    mix(word);
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h | 1;
}

}  // namespace

void UniqueSet::Grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (!s.hash) continue;
    size_t i = s.hash & mask;
    while (slots_[i].hash) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void UniqueSet::Prefetch(std::string_view value) const {
  if (slots_.empty()) return;
  __builtin_prefetch(&slots_[Hash(value) & (slots_.size() - 1)]);
}

bool UniqueSet::Insert(std::string_view value) {
  if ((size_ + 1) * 2 > slots_.size()) Grow();
  const uint64_t h = Hash(value);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (!s.hash) {
      s = {h, static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(value.size())};
      arena_.append(value);
      ++size_;
      return true;
    }
    if (s.hash == h && std::string_view(arena_).substr(s.offset, s.length) == value) return false;
  }
}

}  // namespace passerelle::data
