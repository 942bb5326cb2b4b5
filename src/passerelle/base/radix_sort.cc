#include "passerelle/base/radix_sort.h"

#include <array>
#include <cstddef>
#include <utility>

namespace passerelle {

void RadixSort(std::vector<KeyedRow>* rows) {
  const size_t n = rows->size();
  if (n < 2) return;
  std::array<std::array<size_t, 256>, 8> count{};
  for (const KeyedRow& r : *rows) {
    for (size_t b = 0; b < 8; ++b) ++count[b][(r.key >> (8 * b)) & 0xff];
  }
  std::vector<KeyedRow> other(n);
  std::vector<KeyedRow>* from = rows;
  std::vector<KeyedRow>* to = &other;
  for (size_t b = 0; b < 8; ++b) {
    std::array<size_t, 256>& at = count[b];
    bool shared = false;
    for (size_t v = 0; v < 256; ++v) shared = shared || at[v] == n;
    if (shared) continue;  // every row has the same byte here
    size_t sum = 0;
    for (size_t v = 0; v < 256; ++v) sum += std::exchange(at[v], sum);
    const int shift = static_cast<int>(8 * b);
    for (const KeyedRow& r : *from) (*to)[at[(r.key >> shift) & 0xff]++] = r;
    std::swap(from, to);
  }
  if (from != rows) *rows = std::move(*from);
}

}  // namespace passerelle
