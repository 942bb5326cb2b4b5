// The count audit (rule count_audit): each count a node releases is the number of records in a
// set, and whoever knows the sets can add and subtract released counts (trackers, differences of
// overlapping cohorts, margins of tables) to learn a count the node never released. The audit
// keeps the released sets of one dataset version as linear constraints over their atoms and
// refuses a release that would let a combination determine a count of 1 to min_cell_count - 1
// records. Pure and in memory, like differencing.h; the cohort ledger replays it at start-up.
#ifndef PASSERELLE_PRIVACY_COUNT_AUDIT_H_
#define PASSERELLE_PRIVACY_COUNT_AUDIT_H_

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/privacy/differencing.h"
#include "passerelle/privacy/policy.h"

namespace passerelle::privacy {

// The released sets of one dataset version. Atoms: the records in at least one set, partitioned
// by their membership across the sets; every set is a union of atoms and its count the sum of
// their sizes. The audit assumes the attacker knows every set and which atoms are empty.
class CountAudit {
 public:
  // Atoms the audit can reason about; past this it refuses new releases (fail closed) rather
  // than release unverified counts.
  static constexpr size_t kMaxAtoms = 8192;

  // Records sets whose counts were released (from the ledger at start-up, then each release
  // that left). Identical sets (same digest) are kept once. Costs O(records of the new sets +
  // atoms) per new set.
  void Add(std::span<const Cohort> released);

  // OK when releasing the counts |s| of every s in `release`, on top of every set Add()ed,
  // determines no count of 1 to policy.min_cell_count - 1 records: no 0/1 combination of atoms
  // with such a total lies in the span of the released sets' rows. PermissionDenied
  // "rule count_audit: ..." otherwise (also, failing closed, when there are more than kMaxAtoms
  // atoms or more than 16 independent combinations of small atoms to verify), never saying
  // which records or how many. Does not modify the audit: Add() the release once it has left.
  // Costs a copy of the partition, O(records of the new sets) to split it, and an elimination
  // over rows (distinct sets) x atoms, with rank x atoms x 8 bytes of dense rows.
  Status Check(std::span<const Cohort> release, const Policy& policy) const;

  size_t atoms() const { return atoms_.size.size(); }  // atoms of the known sets
  size_t known_sets() const { return sets_.size(); }

 private:
  struct Atoms {
    std::vector<uint32_t> of_record;  // the atom of record r, or kNoAtom if r is in no set
    std::vector<uint32_t> size;       // records in each atom (never 0)

    static constexpr uint32_t kNoAtom = UINT32_MAX;
    // Refines the partition by the set with these bits: each atom a becomes a ∩ S and a \ S
    // (keeping its id for a \ S); the records of S in no atom become one new atom.
    void Split(std::span<const uint64_t> bits);
  };

  Atoms atoms_;
  std::vector<Cohort> sets_;
  std::set<std::string> digests_;
};

}  // namespace passerelle::privacy

#endif  // PASSERELLE_PRIVACY_COUNT_AUDIT_H_
