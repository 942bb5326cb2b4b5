// A site's audit log: every task the node receives (as the hub signed it), every decision, the
// rule that refused a release and the SHA-256 digest of every released aggregate, appended to
// a hash chain in its own SQLite file and written before the answer leaves the node. Each entry's
// hash covers its fields and the previous entry's hash, so an edited, removed or reordered entry
// breaks the chain from there on: Verify() names the first broken entry.
//
//   DIR/audit.sqlite    this log (created at the first Open)
#ifndef PASSERELLE_STORE_AUDIT_LOG_H_
#define PASSERELLE_STORE_AUDIT_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "passerelle/base/status.h"

namespace passerelle::store {

class Database;

struct AuditEntry {
  int64_t seq = 0;   // 1, 2, 3, ... (set by Append)
  std::string at;    // UTC, ISO 8601 (set by Append)
  std::string kind;  // task, released, refused, failed, held, approved, denied, catalog
  int64_t task = 0;  // the hub's task id
  int64_t study = 0;
  std::string researcher;
  std::string detail;      // task: the payload as signed; refused/failed: the rule or cause;
                           // catalog: the catalog as sent to the hub
  std::string signature;   // task: the hub's signature (hex)
  std::string digest;      // released, held, catalog: SHA-256 of what left (hex)
  std::string prev, hash;  // the chain (set by Append)
};

class AuditLog {
 public:
  // Opens DIR/audit.sqlite, creating it when absent.
  static Result<std::unique_ptr<AuditLog>> Open(const std::string& dir);
  ~AuditLog();

  // Appends `entry` (seq, at, prev and hash filled in) and returns it once it is on disk.
  Result<AuditEntry> Append(AuditEntry entry);
  // Entries from `first` on, at most `limit`, in order.
  Result<std::vector<AuditEntry>> Entries(int64_t first = 1, int64_t limit = INT64_MAX);
  // The sequence number of the newest entry (0 when the log is empty).
  Result<int64_t> LastSeq();
  // Recomputes the chain. OK with the number of entries checked; FailedPrecondition naming the
  // first entry that does not match ("audit entry 17: its hash does not match its contents").
  Result<int64_t> Verify();

  // The hash of an entry given the previous hash (empty for the first entry).
  static std::string HashOf(const AuditEntry& entry, const std::string& prev);

 private:
  explicit AuditLog(std::unique_ptr<Database> db);
  std::unique_ptr<Database> db_;
};

}  // namespace passerelle::store

#endif  // PASSERELLE_STORE_AUDIT_LOG_H_
