// The site's differencing ledger: every cohort its node has released, per dataset version, so a
// later release whose cohort differs from one of them by 1 to min_cohort_difference - 1 records
// is refused whoever asks (privacy/differencing.h). Kept in its own SQLite file, read into memory
// once per dataset version.
//
//   DIR/ledger.sqlite    this ledger (created at the first Open)
#ifndef PASSERELLE_STORE_COHORT_LEDGER_H_
#define PASSERELLE_STORE_COHORT_LEDGER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "passerelle/base/status.h"
#include "passerelle/privacy/differencing.h"
#include "passerelle/privacy/policy.h"

namespace passerelle::store {

class Database;

class CohortLedger {
 public:
  // Opens DIR/ledger.sqlite, creating it when absent.
  static Result<std::unique_ptr<CohortLedger>> Open(const std::string& dir);
  ~CohortLedger();

  // The differencing rule for a release of `dataset` at `version` (see DifferencingIndex::Check).
  Status Check(const std::string& dataset, int64_t version,
               std::span<const privacy::Cohort> release, const privacy::Policy& policy);
  // Remembers the cohorts of a release that has left, with the task that released them.
  Status Record(const std::string& dataset, int64_t version,
                std::span<const privacy::Cohort> release, int64_t task);
  // Cohorts remembered for a dataset version.
  Result<size_t> Count(const std::string& dataset, int64_t version);

 private:
  explicit CohortLedger(std::unique_ptr<Database> db);
  Result<privacy::DifferencingIndex*> Index(const std::string& dataset, int64_t version);
  std::unique_ptr<Database> db_;
  std::map<std::pair<std::string, int64_t>, privacy::DifferencingIndex> indexes_;
};

}  // namespace passerelle::store

#endif  // PASSERELLE_STORE_COHORT_LEDGER_H_
