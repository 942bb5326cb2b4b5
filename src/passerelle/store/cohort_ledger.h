// The site's release ledger: every population its node has released from a dataset, over all
// its versions, so a later release whose population differs from one of them by 1 to
// min_cohort_difference - 1 records is refused whoever asks (privacy/differencing.h); and every
// set whose count was released, so a release that would let released counts be combined into a
// count of 1 to min_cell_count - 1 records is refused (privacy/count_audit.h). Records are
// known by a keyed hash of their identity (the dataset's identifier, or the row's values when it
// has none), numbered once: the same patient keeps their number in every import, so a re-import
// does not start an empty ledger. The key never leaves the site folder. Read into memory once per
// dataset.
//
//   DIR/ledger.sqlite    this ledger (created at the first Open)
//   DIR/ledger.key       the key of the records' hashes (0600, created at the first Open)
#ifndef PASSERELLE_STORE_COHORT_LEDGER_H_
#define PASSERELLE_STORE_COHORT_LEDGER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/privacy/differencing.h"
#include "passerelle/privacy/policy.h"
#include "passerelle/privacy/released_sets.h"

namespace passerelle::store {

class Database;

class CohortLedger {
 public:
  // Opens DIR/ledger.sqlite, creating it (and DIR/ledger.key) when absent.
  static Result<std::unique_ptr<CohortLedger>> Open(const std::string& dir);
  ~CohortLedger();

  // The ledger's number of each row of `dataset`, from the rows' identities
  // (data::RecordIdentities: distinct within the table). A record seen in an earlier import keeps
  // its number.
  Result<std::vector<uint32_t>> Number(const std::string& dataset,
                                       const std::vector<std::string>& identities);
  // The differencing rule on a release's populations, then the count audit on its populations
  // and counts (skipped when every set was released before: the rounds of a fit), for a release
  // of `dataset`; sets over the ledger's numbers.
  Status Check(const std::string& dataset, std::span<const privacy::Cohort> populations,
               std::span<const privacy::Cohort> counts, const privacy::Policy& policy);
  // Remembers the sets of a release that has left, with the dataset version and the task.
  Status Record(const std::string& dataset, int64_t version,
                std::span<const privacy::Cohort> populations,
                std::span<const privacy::Cohort> counts, int64_t task);
  // What has been released from a dataset, over all its versions.
  Result<const privacy::ReleasedSets*> Released(const std::string& dataset);
  Result<size_t> Count(const std::string& dataset);

 private:
  CohortLedger(std::unique_ptr<Database> db, std::string key);
  Result<privacy::ReleasedSets*> Index(const std::string& dataset);
  std::unique_ptr<Database> db_;
  std::string key_;
  std::map<std::string, privacy::ReleasedSets> indexes_;
};

}  // namespace passerelle::store

#endif  // PASSERELLE_STORE_COHORT_LEDGER_H_
