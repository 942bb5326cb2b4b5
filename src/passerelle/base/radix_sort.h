// A stable least-significant-digit radix sort of rows by a 64-bit key: O(n) per 11-bit digit
// of the key that differs between rows (digits every row shares are skipped, so whole-day
// times or a single stratum cost one or two passes). Sorts millions of rows several times faster
// than a comparison sort, and the order is fully determined by the keys and the input order.
#ifndef PASSERELLE_BASE_RADIX_SORT_H_
#define PASSERELLE_BASE_RADIX_SORT_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace passerelle {

struct KeyedRow {
  uint64_t key;
  uint32_t row;
};

// Sorts by key, ascending; rows with equal keys keep their order.
void RadixSort(std::vector<KeyedRow>* rows);

// Sorts n (key, row) pairs held in two arrays by key, then row, in place: no second copy of
// them, for orders that must fit a node's memory (a most-significant-byte-first sort).
void RadixSortInPlace(uint32_t* keys, uint32_t* rows, size_t n);

// A key ascending with x (-0.0 and 0.0 share one key). REQUIRES: x is not NaN.
inline uint64_t OrderedKey(double x) {
  const uint64_t bits = std::bit_cast<uint64_t>(x == 0 ? 0.0 : x);
  return bits >> 63 ? ~bits : bits | (uint64_t{1} << 63);
}

// A key ascending with v.
inline uint64_t OrderedKey(int32_t v) {
  return static_cast<uint64_t>(static_cast<int64_t>(v) + (int64_t{1} << 31));
}

}  // namespace passerelle

#endif  // PASSERELLE_BASE_RADIX_SORT_H_
