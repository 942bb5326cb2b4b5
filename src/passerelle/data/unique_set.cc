#include "passerelle/data/unique_set.h"

namespace passerelle::data {
namespace {

// FNV-1a, then a murmur-style finaliser so that sequential identifiers spread over the table.
uint64_t Hash(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
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
