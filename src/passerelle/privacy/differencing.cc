#include "passerelle/privacy/differencing.h"

#include <algorithm>
#include <bit>

#include "passerelle/base/sha256.h"

namespace passerelle::privacy {
namespace {

std::string DigestOf(const std::vector<uint64_t>& bits) {
  return Sha256Hex(
      std::string_view(reinterpret_cast<const char*>(bits.data()), bits.size() * sizeof(uint64_t)));
}

}  // namespace

namespace {

template <typename Row>
Cohort OfRows(std::span<const Row> rows, size_t table_rows) {
  std::vector<uint64_t> bits((table_rows + 63) / 64, 0);
  for (Row r : rows) bits[r / 64] |= uint64_t{1} << (r % 64);
  return Cohort::FromBits(std::move(bits));
}

}  // namespace

Cohort Cohort::FromRows(std::span<const size_t> rows, size_t table_rows) {
  return OfRows(rows, table_rows);
}
Cohort Cohort::FromRows(std::span<const uint32_t> rows, size_t table_rows) {
  return OfRows(rows, table_rows);
}

Cohort Cohort::FromBits(std::vector<uint64_t> bits) {
  // Trailing empty words say nothing: equal sets have equal digests whatever the table's size.
  while (!bits.empty() && bits.back() == 0) bits.pop_back();
  Cohort c;
  for (uint64_t word : bits) c.size += static_cast<size_t>(std::popcount(word));
  c.digest = DigestOf(bits);
  c.bits = std::move(bits);
  return c;
}

Cohort Cohort::Renumbered(std::span<const uint32_t> index) const {
  // Each member's new number, twice: the largest sizes the bits, then each is set.
  const auto each = [&](auto&& take) {
    for (size_t w = 0; w < bits.size(); ++w) {
      for (uint64_t word = bits[w]; word != 0; word &= word - 1) {
        take(index[w * 64 + static_cast<size_t>(std::countr_zero(word))]);
      }
    }
  };
  size_t words = 0;
  each([&words](uint32_t r) { words = std::max(words, size_t{r} / 64 + 1); });
  std::vector<uint64_t> out(words, 0);
  each([&out](uint32_t r) { out[r / 64] |= uint64_t{1} << (r % 64); });
  return FromBits(std::move(out));
}

size_t CohortDifference(const Cohort& a, const Cohort& b, size_t limit) {
  const size_t words = std::max(a.bits.size(), b.bits.size());
  size_t difference = 0;
  for (size_t w = 0; w < words && difference < limit; ++w) {
    const uint64_t x = w < a.bits.size() ? a.bits[w] : 0;
    const uint64_t y = w < b.bits.size() ? b.bits[w] : 0;
    difference += static_cast<size_t>(std::popcount(x ^ y));
  }
  return difference;
}

void DifferencingIndex::Add(Cohort cohort) {
  if (!digests_.insert(cohort.digest).second) return;
  by_size_.emplace(cohort.size, cohorts_.size());
  cohorts_.push_back(std::move(cohort));
}

Status DifferencingIndex::Check(std::span<const Cohort> release, const Policy& policy) const {
  const size_t k = static_cast<size_t>(policy.min_cohort_difference);
  auto too_close = [k](const Cohort& a, const Cohort& b) {
    const size_t d = CohortDifference(a, b, k);
    return d > 0 && d < k;
  };
  const Status refused = PermissionDenied(
      "rule min_cohort_difference: site " + policy.site +
      " has released a cohort of this dataset that differs from this one by fewer than " +
      std::to_string(k) + " records");
  for (size_t i = 0; i < release.size(); ++i) {
    const Cohort& c = release[i];
    for (size_t j = 0; j < i; ++j) {
      if (too_close(c, release[j])) return refused;
    }
    if (Contains(c.digest)) continue;
    // |a xor b| >= ||a| - |b||: only cohorts of a size within k can be too close.
    const size_t low = c.size >= k ? c.size - k + 1 : 0;
    for (auto it = by_size_.lower_bound(low); it != by_size_.end() && it->first < c.size + k;
         ++it) {
      if (too_close(c, cohorts_[it->second])) return refused;
    }
  }
  return Status::Ok();
}

}  // namespace passerelle::privacy
