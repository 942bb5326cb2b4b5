#include "passerelle/base/radix_sort.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace passerelle {
namespace {

TEST(RadixSort, EqualsStableSortOfDoubles) {
  std::vector<double> values = {3.5, -2.0,  0.0,     -0.0,
                                3.5, 1e300, -1e-300, -std::numeric_limits<double>::infinity(),
                                2.0, 3.5,   -2.0};
  uint64_t state = 7;
  for (int i = 0; i < 5000; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    values.push_back(std::floor(static_cast<double>(state >> 40) / 1000.0) - 5000.0);
  }
  std::vector<KeyedRow> rows;
  for (size_t i = 0; i < values.size(); ++i) {
    rows.push_back({OrderedKey(values[i]), static_cast<uint32_t>(i)});
  }
  RadixSort(&rows);
  std::vector<uint32_t> expected(values.size());
  for (uint32_t i = 0; i < expected.size(); ++i) expected[i] = i;
  std::stable_sort(expected.begin(), expected.end(),
                   [&](uint32_t a, uint32_t b) { return values[a] < values[b]; });
  ASSERT_EQ(rows.size(), expected.size());
  for (size_t k = 0; k < rows.size(); ++k) EXPECT_EQ(rows[k].row, expected[k]) << k;
}

TEST(RadixSort, IntegersAndSharedBytes) {
  std::vector<int32_t> values = {5, -3, 0, 5, -2147483647 - 1, 2147483647, -3, 7};
  std::vector<KeyedRow> rows;
  for (size_t i = 0; i < values.size(); ++i) {
    rows.push_back({OrderedKey(values[i]), static_cast<uint32_t>(i)});
  }
  RadixSort(&rows);
  const std::vector<uint32_t> expected = {4, 1, 6, 2, 0, 3, 7, 5};
  for (size_t k = 0; k < rows.size(); ++k) EXPECT_EQ(rows[k].row, expected[k]) << k;
  std::vector<KeyedRow> same(100, KeyedRow{42, 0});
  for (uint32_t i = 0; i < same.size(); ++i) same[i].row = i;
  RadixSort(&same);
  for (uint32_t i = 0; i < same.size(); ++i) EXPECT_EQ(same[i].row, i);
}

// Pairs sorted by key, then row, as std::sort orders them: keys sharing their upper bytes,
// runs of one key longer than the insertion sort takes, and rows given in no order.
TEST(RadixSort, InPlaceOrdersPairsByKeyThenRow) {
  for (size_t n : {0, 1, 31, 33, 1000, 200000}) {
    std::vector<uint32_t> keys(n), rows(n);
    uint64_t state = n + 1;
    for (size_t i = 0; i < n; ++i) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      const auto draw = static_cast<uint32_t>(state >> 32);
      keys[i] = i % 3 == 0 ? 0x12345600u | (draw & 0xff) : i % 3 == 1 ? draw : 7u;
      rows[i] = static_cast<uint32_t>((i * 7919) % (n ? n : 1));
    }
    std::vector<std::pair<uint32_t, uint32_t>> expected;
    for (size_t i = 0; i < n; ++i) expected.push_back({keys[i], rows[i]});
    std::sort(expected.begin(), expected.end());
    RadixSortInPlace(keys.data(), rows.data(), n);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(keys[i], expected[i].first) << n << " " << i;
      ASSERT_EQ(rows[i], expected[i].second) << n << " " << i;
    }
  }
}

}  // namespace
}  // namespace passerelle
