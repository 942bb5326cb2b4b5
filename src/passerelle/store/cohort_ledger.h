// The site's release ledger: every population its node has released from a dataset, over all
// its versions, so a later release whose population differs from one of them by 1 to
// min_cohort_difference - 1 records is refused whoever asks (privacy/differencing.h); and every
// set whose count was released, so a release that would let released counts be combined into a
// count of 1 to min_cell_count - 1 records is refused (privacy/count_audit.h). Records are
// known by a keyed hash of their identity (the dataset's identifier, or the row's values when it
// has none), numbered once: the same patient keeps their number in every import, so a re-import
// does not start an empty ledger. The key never leaves the site folder. Read into memory once per
// dataset. A dataset version's numbers, once found, are kept with the ledger (by the rows'
// ordinals in the version), so that reading the version again hashes nothing.
//
//   DIR/ledger.sqlite    this ledger (created at the first Open)
//   DIR/ledger.key       the key of the records' hashes (0600, created at the first Open)
#ifndef PASSERELLE_STORE_COHORT_LEDGER_H_
#define PASSERELLE_STORE_COHORT_LEDGER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "passerelle/base/sha256.h"
#include "passerelle/base/status.h"
#include "passerelle/privacy/differencing.h"
#include "passerelle/privacy/policy.h"
#include "passerelle/privacy/released_sets.h"

namespace passerelle::store {

class Database;

// The ledger's keys of a table's rows, taken one row at a time as the rows are read: 16 bytes
// a row (the first 12 bytes of the record's keyed hash, and the row), where the identities
// themselves would take their strings. Made by CohortLedger::Keys, used by Number.
class RecordKeys {
 public:
  // The next row's identity, as data::RecordIdentities writes it.
  void Add(std::string_view identity);
  // The next row's identifier (its identity is "id:" and the identifier).
  void AddIdentifier(std::string_view identifier);
  // The next row has no identifier: the ledger needs its values, and these keys cannot be
  // numbered (complete() is false).
  void AddMissing() { complete_ = false; }
  bool complete() const { return complete_; }
  size_t size() const { return keys_.size(); }

 private:
  friend class CohortLedger;
  struct Key {
    uint64_t high = 0;
    uint32_t low = 0;
    uint32_t row = 0;
    bool SameKey(const Key& o) const { return high == o.high && low == o.low; }
    bool Before(const Key& o) const { return high != o.high ? high < o.high : low < o.low; }
    bool operator<(const Key& o) const { return Before(o) || (SameKey(o) && row < o.row); }
  };
  RecordKeys(std::string_view prefix, size_t rows);
  void Push(std::string_view identity);  // the key of the next row
  Sha256Prefix hasher_;                  // the ledger's key and the dataset, hashed once
  std::string identity_;
  std::vector<Key> keys_;
  bool complete_ = true;
};

class CohortLedger {
 public:
  // Opens DIR/ledger.sqlite, creating it (and DIR/ledger.key) when absent.
  static Result<std::unique_ptr<CohortLedger>> Open(const std::string& dir);
  ~CohortLedger();

  // Keys for the rows of `dataset` (`rows`: about how many).
  RecordKeys Keys(const std::string& dataset, size_t rows) const;
  // The ledger's number of each row, from the rows' keys (complete ones). A record seen in an
  // earlier import keeps its number; new ones take the next numbers in the order of their rows;
  // rows with the same identity get one number, and `repeated` (when given) says whether any
  // did.
  Result<std::vector<uint32_t>> Number(const std::string& dataset, RecordKeys keys,
                                       bool* repeated = nullptr);
  // The same from the rows' identities (data::RecordIdentities: distinct within the table).
  Result<std::vector<uint32_t>> Number(const std::string& dataset,
                                       const std::vector<std::string>& identities);
  // The numbers of a dataset version's rows, by their ordinals in the version, as Keep kept them
  // for the same `version` and `source` (what tells this import from another that took the
  // same version number: its checksum and time); nullopt when none are.
  Result<std::optional<std::vector<uint32_t>>> Kept(const std::string& dataset, int64_t version,
                                                    const std::string& source);
  // Keeps them, in place of any kept for the dataset's earlier versions.
  Status Keep(const std::string& dataset, int64_t version, const std::string& source,
              std::span<const uint32_t> numbers);
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
