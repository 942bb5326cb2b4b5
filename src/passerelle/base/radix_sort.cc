#include "passerelle/base/radix_sort.h"

#include <algorithm>
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

namespace {

// The pairs' byte at `shift` of the key, then the next within each byte's range (an American
// flag sort); short ranges by insertion, ranges of one key by row.
void SortFromByte(uint32_t* keys, uint32_t* rows, size_t n, int shift) {
  if (n <= 32) {
    for (size_t i = 1; i < n; ++i) {
      const uint32_t k = keys[i], r = rows[i];
      size_t j = i;
      for (; j > 0 && (keys[j - 1] > k || (keys[j - 1] == k && rows[j - 1] > r)); --j) {
        keys[j] = keys[j - 1];
        rows[j] = rows[j - 1];
      }
      keys[j] = k;
      rows[j] = r;
    }
    return;
  }
  if (shift < 0) {
    std::sort(rows, rows + n);
    return;
  }
  size_t start[257] = {}, next[256];
  for (size_t i = 0; i < n; ++i) ++start[(keys[i] >> shift & 255) + 1];
  for (size_t b = 0; b < 256; ++b) start[b + 1] += start[b];
  std::copy(start, start + 256, next);
  for (size_t b = 0; b < 256; ++b) {
    while (next[b] < start[b + 1]) {  // the pair at next[b] goes where its byte's range is
      uint32_t k = keys[next[b]], r = rows[next[b]];
      for (size_t d = k >> shift & 255; d != b; d = k >> shift & 255) {
        std::swap(k, keys[next[d]]);
        std::swap(r, rows[next[d]]);
        ++next[d];
      }
      keys[next[b]] = k;
      rows[next[b]] = r;
      ++next[b];
    }
  }
  for (size_t b = 0; b < 256; ++b) {
    const size_t count = start[b + 1] - start[b];
    if (count > 1) SortFromByte(keys + start[b], rows + start[b], count, shift - 8);
  }
}

}  // namespace

void RadixSortInPlace(uint32_t* keys, uint32_t* rows, size_t n) { SortFromByte(keys, rows, n, 24); }

}  // namespace passerelle
