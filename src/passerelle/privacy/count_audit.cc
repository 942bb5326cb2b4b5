// The count audit: released sets as 0/1 rows over atoms, their span kept in reduced row echelon
// form modulo the prime 2^61 - 1, and the part of the span that involves only small atoms (of
// 1 to k - 1 records) searched for a 0/1 combination of fewer than k records. Rows are pivoted on
// large atoms whenever they can be, so the rows pivoted on small atoms span exactly that part.
#include "passerelle/privacy/count_audit.h"

#include <algorithm>
#include <bit>
#include <numeric>

namespace passerelle::privacy {
namespace {

constexpr uint64_t kPrime = (uint64_t{1} << 61) - 1;
// Past this many independent combinations of small atoms, the 2^n subsets are not searched.
constexpr size_t kMaxRelated = 16;

uint64_t AddMod(uint64_t a, uint64_t b) {
  const uint64_t s = a + b;
  return s >= kPrime ? s - kPrime : s;
}
uint64_t SubMod(uint64_t a, uint64_t b) { return a >= b ? a - b : a + kPrime - b; }
uint64_t MulMod(uint64_t a, uint64_t b) {
  __extension__ typedef unsigned __int128 Wide;  // GCC's 128-bit product, exact
  const Wide t = static_cast<Wide>(a) * b;
  return AddMod(static_cast<uint64_t>(t) & kPrime, static_cast<uint64_t>(t >> 61));
}
uint64_t InverseMod(uint64_t a) {  // a^(p-2), a != 0
  uint64_t result = 1;
  for (uint64_t e = kPrime - 2; e != 0; e >>= 1, a = MulMod(a, a)) {
    if (e & 1) result = MulMod(result, a);
  }
  return result;
}

bool Has(std::span<const uint64_t> bits, size_t record) {
  return record / 64 < bits.size() && (bits[record / 64] >> (record % 64)) & 1;
}

template <typename F>
void ForEachRecord(std::span<const uint64_t> bits, F&& f) {
  for (size_t w = 0; w < bits.size(); ++w) {
    for (uint64_t word = bits[w]; word != 0; word &= word - 1) {
      f(w * 64 + static_cast<size_t>(std::countr_zero(word)));
    }
  }
}

// The span of the rows inserted so far, in reduced row echelon form: row i is 1 at column
// pivots[i] and every other row is 0 there. A row is pivoted on a large atom when it has one, so
// a row pivoted on a small atom is 0 on every large atom (rows pivoted later on a large atom are
// 0 where it is nonzero; rows pivoted on small atoms add nothing on large ones).
class Echelon {
 public:
  explicit Echelon(std::vector<bool> small) : small_(std::move(small)) {}

  // Adds v to the span. Dense rows; updates skip the zeros of the row subtracted.
  void Insert(std::vector<uint64_t> v) {
    for (size_t i = 0; i < rows_.size(); ++i) {
      const uint64_t f = v[pivots_[i]];  // other rows are 0 there: this is v's coefficient
      if (f == 0) continue;
      const std::vector<uint64_t>& row = rows_[i];
      for (size_t c = 0; c < v.size(); ++c) {
        if (row[c] != 0) v[c] = SubMod(v[c], MulMod(f, row[c]));
      }
    }
    size_t pivot = v.size();
    for (size_t c = 0; c < v.size(); ++c) {
      if (v[c] == 0) continue;
      if (pivot == v.size()) pivot = c;
      if (!small_[c]) {
        pivot = c;
        break;
      }
    }
    if (pivot == v.size()) return;  // already in the span
    const uint64_t inverse = InverseMod(v[pivot]);
    std::vector<uint32_t> nonzero;
    for (size_t c = 0; c < v.size(); ++c) {
      if (v[c] == 0) continue;
      v[c] = MulMod(v[c], inverse);
      nonzero.push_back(static_cast<uint32_t>(c));
    }
    for (std::vector<uint64_t>& row : rows_) {
      const uint64_t f = row[pivot];
      if (f == 0) continue;
      for (uint32_t c : nonzero) row[c] = SubMod(row[c], MulMod(f, v[c]));
    }
    related_ += small_[pivot];
    rows_.push_back(std::move(v));
    pivots_.push_back(static_cast<uint32_t>(pivot));
  }

  // dim V': V' = span ∩ span(small atoms), spanned by the rows pivoted on small atoms.
  size_t related() const { return related_; }

  // Whether some 0/1 vector of V' has a total size of 1 to k - 1. A vector of V' is the sum of
  // the V' rows weighted by its own entries at their pivots, so a 0/1 one is the plain sum of a
  // subset of them. The subsets are walked in Gray-code order with their total size mod p; only
  // totals of 1 to k - 1 are summed out in full. REQUIRES: related() <= kMaxRelated.
  bool DeterminesSmallCount(std::span<const uint32_t> sizes, uint64_t k) const {
    std::vector<const std::vector<uint64_t>*> basis;
    std::vector<uint64_t> totals;
    for (size_t i = 0; i < rows_.size(); ++i) {
      if (!small_[pivots_[i]]) continue;
      basis.push_back(&rows_[i]);
      uint64_t total = 0;
      for (size_t c = 0; c < sizes.size(); ++c) {
        total = AddMod(total, MulMod(rows_[i][c], sizes[c]));
      }
      totals.push_back(total);
    }
    std::vector<size_t> columns;  // the small atoms (V' is 0 elsewhere)
    for (size_t c = 0; c < small_.size(); ++c) {
      if (small_[c]) columns.push_back(c);
    }
    uint64_t total = 0;
    uint32_t subset = 0;
    for (uint32_t g = 1; g < (uint32_t{1} << basis.size()); ++g) {
      const int i = std::countr_zero(g);
      subset ^= uint32_t{1} << i;
      total = (subset >> i) & 1 ? AddMod(total, totals[i]) : SubMod(total, totals[i]);
      if (total == 0 || total >= k) continue;
      bool zero_one = true;
      for (size_t c : columns) {
        uint64_t x = 0;
        for (uint32_t s = subset; s != 0; s &= s - 1) {
          x = AddMod(x, (*basis[std::countr_zero(s)])[c]);
        }
        if (x > 1) {
          zero_one = false;
          break;
        }
      }
      // 0/1 entries: the total mod p is the true total, 1 to k - 1.
      if (zero_one) return true;
    }
    return false;
  }

 private:
  std::vector<bool> small_;  // per column (atom)
  std::vector<std::vector<uint64_t>> rows_;
  std::vector<uint32_t> pivots_;
  size_t related_ = 0;
};

}  // namespace

void CountAudit::Atoms::Split(std::span<const uint64_t> bits) {
  size_t words = bits.size();
  while (words > 0 && bits[words - 1] == 0) --words;
  if (of_record.size() < words * 64) of_record.resize(words * 64, kNoAtom);
  const size_t before = size.size();  // index `before`: the records in no atom
  auto slot = [before](uint32_t atom) { return atom == kNoAtom ? before : size_t{atom}; };
  std::vector<uint32_t> inside(before + 1, 0);
  ForEachRecord(bits.first(words), [&](size_t r) { ++inside[slot(of_record[r])]; });
  std::vector<uint32_t> part(before + 1, kNoAtom);  // the new atom a ∩ S
  for (size_t a = 0; a <= before; ++a) {
    if (inside[a] == 0 || (a < before && inside[a] == size[a])) continue;
    part[a] = static_cast<uint32_t>(size.size());
    size.push_back(inside[a]);
    if (a < before) size[a] -= inside[a];
  }
  ForEachRecord(bits.first(words), [&](size_t r) {
    const uint32_t p = part[slot(of_record[r])];
    if (p != kNoAtom) of_record[r] = p;
  });
}

void CountAudit::Add(std::span<const Cohort> released) {
  for (const Cohort& c : released) {
    if (!digests_.insert(c.digest).second) continue;
    atoms_.Split(c.bits);
    sets_.push_back(c);
  }
}

Status CountAudit::Check(std::span<const Cohort> release, const Policy& policy) const {
  if (policy.min_cell_count <= 1) return Status::Ok();  // no count of 1 to k - 1 records
  const uint64_t k = static_cast<uint64_t>(policy.min_cell_count);
  const std::string site = "site " + policy.site;
  const Status disclosed = PermissionDenied(
      "rule count_audit: this release from " + site +
      " would let the site's released counts be combined into a count of fewer than " +
      std::to_string(k) + " records of this dataset");
  const Status too_many_atoms = PermissionDenied(
      "rule count_audit: " + site +
      " has released counts of too many distinct populations to verify another release of "
      "this dataset");

  std::vector<const Cohort*> sets;
  for (const Cohort& c : sets_) sets.push_back(&c);
  std::set<std::string_view> fresh;
  Atoms atoms = atoms_;
  if (atoms.size.size() > kMaxAtoms) return too_many_atoms;
  for (const Cohort& c : release) {
    if (digests_.contains(c.digest) || !fresh.insert(c.digest).second) continue;
    if (c.size >= 1 && c.size < k) return disclosed;
    atoms.Split(c.bits);
    if (atoms.size.size() > kMaxAtoms) return too_many_atoms;
    sets.push_back(&c);
  }

  // A set is a union of atoms: it holds atom a iff it holds a's representative record.
  const size_t n = atoms.size.size();
  std::vector<uint32_t> representative(n);
  for (size_t r = 0; r < atoms.of_record.size(); ++r) {
    if (atoms.of_record[r] != Atoms::kNoAtom) {
      representative[atoms.of_record[r]] = static_cast<uint32_t>(r);
    }
  }
  std::vector<bool> small(n);
  for (size_t a = 0; a < n; ++a) small[a] = atoms.size[a] < k;
  // Smaller sets first: a larger one is then mostly reduced by sets it contains (little fill).
  std::stable_sort(sets.begin(), sets.end(),
                   [](const Cohort* x, const Cohort* y) { return x->size < y->size; });
  Echelon echelon(std::move(small));
  for (const Cohort* s : sets) {
    std::vector<uint64_t> row(n, 0);
    for (size_t a = 0; a < n; ++a) row[a] = Has(s->bits, representative[a]) ? 1 : 0;
    echelon.Insert(std::move(row));
    if (echelon.related() > kMaxRelated) {
      return PermissionDenied("rule count_audit: too many related releases to verify at " + site +
                              " for this dataset");
    }
  }
  if (echelon.DeterminesSmallCount(atoms.size, k)) return disclosed;
  return Status::Ok();
}

}  // namespace passerelle::privacy
