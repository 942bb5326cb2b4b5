// What a site has released from one dataset, in memory: the populations its releases described
// (the differencing rule, differencing.h) and every set whose count followed from them (the
// count audit, count_audit.h). The node's ledger (store/cohort_ledger.h) keeps it on disk; tests
// keep it in memory (analysis/test_site.h). Pure.
#ifndef PASSERELLE_PRIVACY_RELEASED_SETS_H_
#define PASSERELLE_PRIVACY_RELEASED_SETS_H_

#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/privacy/count_audit.h"
#include "passerelle/privacy/differencing.h"
#include "passerelle/privacy/policy.h"

namespace passerelle::privacy {

class ReleasedSets {
 public:
  // The differencing rule on `populations`, then the count audit on the populations and
  // `counts` that were not released before (none: the rounds of a fit, which state no new count).
  Status Check(std::span<const Cohort> populations, std::span<const Cohort> counts,
               const Policy& policy) const;
  // The sets of a release not known yet, each with true for a population.
  std::vector<std::pair<Cohort, bool>> Fresh(std::span<const Cohort> populations,
                                             std::span<const Cohort> counts) const;
  // Remembers sets released (as Fresh returns them, or read back from a ledger).
  void Add(const std::vector<std::pair<Cohort, bool>>& sets);

  const DifferencingIndex& populations() const { return populations_; }

 private:
  DifferencingIndex populations_;
  CountAudit counts_;              // of the populations and the counts
  std::set<std::string> digests_;  // of every set in counts_
};

}  // namespace passerelle::privacy

#endif  // PASSERELLE_PRIVACY_RELEASED_SETS_H_
