// Releases held for the site's custodian (policy approval = "manual"): the node puts each
// release that passed the rules here, with the exact aggregate that would leave, and sends
// nothing; `passerelle node pending | approve | deny` shows it and records the decision with
// its reason; the running node then releases or refuses it. Kept in its own SQLite file, which
// the node and the custodian's commands open side by side.
//
//   DIR/approvals.sqlite    this queue (created at the first Open)
#ifndef PASSERELLE_STORE_APPROVAL_QUEUE_H_
#define PASSERELLE_STORE_APPROVAL_QUEUE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/privacy/differencing.h"

namespace passerelle::store {

class Database;

struct HeldRelease {
  int64_t task = 0;  // the hub's task id
  int64_t study = 0;
  std::string researcher, dataset;
  int64_t dataset_version = 0;
  std::string what;                      // "coxph evaluate"
  std::string task_json;                 // the local step asked for (formula, subset, ...)
  std::string held_at;                   // UTC, ISO 8601
  std::string aggregate;                 // exactly what would leave, JSON
  std::vector<privacy::Cohort> cohorts;  // its populations, for the release ledger
  std::vector<privacy::Cohort> counts;   // the sets whose counts it states, for the count audit
  std::string decision;                  // "", approved, denied
  std::string reason, decided_by, decided_at;
  bool answered = false;  // the node has sent the decision's outcome to the hub
};

class ApprovalQueue {
 public:
  // Opens DIR/approvals.sqlite, creating it when absent.
  static Result<std::unique_ptr<ApprovalQueue>> Open(const std::string& dir);
  ~ApprovalQueue();

  Status Hold(const HeldRelease& release);
  // Releases waiting for a decision, oldest first.
  Result<std::vector<HeldRelease>> Pending();
  // Decided releases the node has not answered yet.
  Result<std::vector<HeldRelease>> Decided();
  Result<HeldRelease> Get(int64_t task);
  // Records the custodian's decision. FailedPrecondition when the task is not held or is decided.
  Status Decide(int64_t task, bool approve, const std::string& reason, const std::string& by);
  Status MarkAnswered(int64_t task);

 private:
  explicit ApprovalQueue(std::unique_ptr<Database> db);
  Result<std::vector<HeldRelease>> Select(const std::string& where);
  std::unique_ptr<Database> db_;
};

}  // namespace passerelle::store

#endif  // PASSERELLE_STORE_APPROVAL_QUEUE_H_
