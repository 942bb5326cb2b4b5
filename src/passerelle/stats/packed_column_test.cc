#include "passerelle/stats/packed_column.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace passerelle::stats {
namespace {

// Rows read back bit for bit, whatever the width the column ends at and however the rows
// came in pieces; -0.0 and 0.0, and NaNs of other bits, stay apart.
TEST(PackedColumn, ReadsBackEachRowsBitsAtEveryWidth) {
  for (size_t distinct : {1, 2, 256, 257, 65536, 65537, 200000}) {
    for (size_t piece : {1, 1000, 1 << 20}) {
      std::vector<double> rows;
      for (size_t k = 0; k < 300000; ++k) {
        const size_t v = (k * 7919) % distinct;
        rows.push_back(v == 0 ? -0.0 : v == 1 ? 0.0 : static_cast<double>(v) / 3);
      }
      rows[5] = std::bit_cast<double>(0x7ff8000000000001ull);  // a NaN with a payload
      PackedColumn column;
      column.Reserve(rows.size());
      for (size_t at = 0; at < rows.size(); at += piece) {
        column.Append(std::span<const double>(rows).subspan(at, std::min(piece, rows.size() - at)));
      }
      column.Seal();
      ASSERT_EQ(column.size(), rows.size());
      EXPECT_EQ(column.coded(), distinct + 1 <= 65536) << distinct;
      for (size_t k = 0; k < rows.size(); ++k) {
        ASSERT_EQ(std::bit_cast<uint64_t>(column[k]), std::bit_cast<uint64_t>(rows[k]))
            << "distinct " << distinct << ", piece " << piece << ", row " << k;
      }
    }
  }
}

TEST(PackedColumn, PermutesAndShiftsItsRows) {
  for (size_t distinct : {3, 1000, 100000}) {
    std::vector<double> rows;
    for (size_t k = 0; k < 250000; ++k) rows.push_back(static_cast<double>((k * 31) % distinct));
    PackedColumn column;
    column.Append(rows);
    column.Seal();
    std::vector<uint32_t> order(rows.size());
    for (size_t k = 0; k < order.size(); ++k) {
      order[k] = static_cast<uint32_t>((k * 104729) % order.size());
    }
    column.Permute(order);
    column.Shift(0.25);
    for (size_t k = 0; k < rows.size(); ++k) ASSERT_EQ(column[k], rows[order[k]] - 0.25) << k;
  }
}

}  // namespace
}  // namespace passerelle::stats
