#include "passerelle/base/radix_sort.h"

#include <array>
#include <cstddef>
#include <utility>

namespace passerelle {

void RadixSort(std::vector<KeyedRow>* rows) {
  // Digits of 11 bits (six passes at most); the counts of one digit fit in the first cache.
  constexpr int kBits = 11, kDigits = (64 + kBits - 1) / kBits;
  constexpr size_t kBuckets = size_t{1} << kBits;
  const size_t n = rows->size();
  if (n < 2) return;
  std::vector<std::array<size_t, kBuckets>> count(kDigits);
  for (const KeyedRow& r : *rows) {
    for (int d = 0; d < kDigits; ++d) ++count[d][(r.key >> (kBits * d)) & (kBuckets - 1)];
  }
  std::vector<KeyedRow> other(n);
  std::vector<KeyedRow>* from = rows;
  std::vector<KeyedRow>* to = &other;
  for (int d = 0; d < kDigits; ++d) {
    std::array<size_t, kBuckets>& at = count[d];
    bool shared = false;
    for (size_t v = 0; v < kBuckets; ++v) shared = shared || at[v] == n;
    if (shared) continue;  // every row has the same digit here
    size_t sum = 0;
    for (size_t v = 0; v < kBuckets; ++v) sum += std::exchange(at[v], sum);
    const int shift = kBits * d;
    for (const KeyedRow& r : *from) (*to)[at[(r.key >> shift) & (kBuckets - 1)]++] = r;
    std::swap(from, to);
  }
  if (from != rows) *rows = std::move(*from);
}

}  // namespace passerelle
