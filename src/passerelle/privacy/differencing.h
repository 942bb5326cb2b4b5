// The differencing rule (min_cohort_difference): two releases whose cohorts differ by a few
// records describe those records, whatever each release shows on its own. A node remembers every
// cohort it has released from a dataset version and refuses a release whose cohort differs from
// any of them by 1 <= delta < min_cohort_difference records (delta: the size of the symmetric
// difference), whoever asks. Pure and in memory; store/cohort_ledger.h keeps it on disk.
#ifndef PASSERELLE_PRIVACY_DIFFERENCING_H_
#define PASSERELLE_PRIVACY_DIFFERENCING_H_

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/privacy/policy.h"

namespace passerelle::privacy {

// The records behind a release, as a bit set over the rows of the dataset version.
struct Cohort {
  std::vector<uint64_t> bits;
  size_t size = 0;     // records in the cohort
  std::string digest;  // SHA-256 of the bits: equal cohorts have equal digests

  // `rows`: indices into a table of `table_rows` rows (any order, no repeats).
  static Cohort FromRows(std::span<const size_t> rows, size_t table_rows);
  static Cohort FromRows(std::span<const uint32_t> rows, size_t table_rows);
  // A cohort read back from its bits (as stored).
  static Cohort FromBits(std::vector<uint64_t> bits);
  // The same records renumbered: bit r becomes bit index[r]. REQUIRES: index covers every bit
  // set, and maps distinct rows to distinct numbers.
  Cohort Renumbered(std::span<const uint32_t> index) const;
};

// |a xor b|, or any number >= `limit` once it is clear the difference reaches it.
size_t CohortDifference(const Cohort& a, const Cohort& b, size_t limit);

// The cohorts released from one dataset version. Check() costs a hash lookup for a cohort
// released before (every round of a model fit) and, for a new one, a comparison with the
// released cohorts whose size is within min_cohort_difference of its own.
class DifferencingIndex {
 public:
  bool Contains(const std::string& digest) const { return digests_.contains(digest); }
  void Add(Cohort cohort);
  size_t size() const { return cohorts_.size(); }

  // OK when every cohort of `release` is already known or differs from each known cohort, and
  // from each other, by 0 or at least min_cohort_difference records. PermissionDenied
  // "rule min_cohort_difference: ..." otherwise, never saying by how much.
  Status Check(std::span<const Cohort> release, const Policy& policy) const;

 private:
  std::vector<Cohort> cohorts_;
  std::multimap<size_t, size_t> by_size_;  // size -> index in cohorts_
  std::set<std::string> digests_;
};

}  // namespace passerelle::privacy

#endif  // PASSERELLE_PRIVACY_DIFFERENCING_H_
