// `passerelle node pending | approve | deny`: the custodian's side of approval = "manual". The
// node holds each release that passed the rules; these commands show the exact aggregate and
// record the decision, with its reason, in the approval queue and the audit log. The running
// node then releases or refuses it.
#include <pwd.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/passerelle/commands.h"
#include "passerelle/base/sha256.h"
#include "passerelle/store/approval_queue.h"
#include "passerelle/store/audit_log.h"
#include "passerelle/store/site_store.h"

namespace passerelle::cli {
namespace {

using nlohmann::ordered_json;

Result<std::unique_ptr<store::ApprovalQueue>> OpenQueue(const std::string& dir) {
  RETURN_IF_ERROR(store::SiteStore::Open(dir).status());  // a site store, not any folder
  return store::ApprovalQueue::Open(dir);
}

// Who decides: the operating-system account running the command.
std::string Custodian() {
  if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) return pw->pw_name;
  return "uid " + std::to_string(::geteuid());
}

}  // namespace

Status NodePending(const ApprovalOptions& options) {
  ASSIGN_OR_RETURN(auto queue, OpenQueue(options.dir));
  ASSIGN_OR_RETURN(std::vector<store::HeldRelease> held, queue->Pending());
  ordered_json all = ordered_json::array();
  for (const store::HeldRelease& r : held) {
    ordered_json entry = {{"task", r.task},
                          {"study", r.study},
                          {"researcher", r.researcher},
                          {"dataset", r.dataset},
                          {"dataset_version", r.dataset_version},
                          {"asked", r.what},
                          {"held_at", r.held_at},
                          {"step", ordered_json::parse(r.task_json)},
                          {"sha256", Sha256Hex(r.aggregate)},
                          {"would_release", ordered_json::parse(r.aggregate)}};
    if (!options.json) {
      std::cout << "task " << r.task << ": " << r.what << " for study " << r.study
                << ", researcher " << r.researcher << ", dataset " << r.dataset << " (version "
                << r.dataset_version << "), held since " << r.held_at << "\n"
                << "  asked: " << entry["step"].dump() << "\n"
                << "  would release (sha256 " << entry["sha256"].get<std::string>() << "):\n"
                << entry["would_release"].dump(2) << "\n\n";
    }
    all.push_back(std::move(entry));
  }
  if (options.json) {
    std::cout << all.dump(2) << "\n";
  } else if (held.empty()) {
    std::cout << "no release is waiting for a decision\n";
  } else {
    std::cout << held.size() << " release(s) waiting: passerelle node approve|deny " << options.dir
              << " TASK --reason \"...\"\n";
  }
  return Status::Ok();
}

Status NodeDecide(const ApprovalOptions& options, bool approve) {
  if (options.reason.empty()) return InvalidArgument("--reason: say why");
  ASSIGN_OR_RETURN(auto queue, OpenQueue(options.dir));
  ASSIGN_OR_RETURN(store::HeldRelease held, queue->Get(options.task));
  ASSIGN_OR_RETURN(auto audit, store::AuditLog::Open(options.dir));
  if (!held.decision.empty()) {
    return FailedPrecondition("task " + std::to_string(options.task) + " was already " +
                              held.decision + " by " + held.decided_by);
  }
  const std::string by = Custodian();
  // The audit log first, so the decision precedes the release it lets out.
  store::AuditEntry entry;
  entry.kind = approve ? "approved" : "denied";
  entry.task = held.task;
  entry.study = held.study;
  entry.researcher = held.researcher;
  entry.detail = options.reason + " (by " + by + ")";
  entry.digest = Sha256Hex(held.aggregate);
  RETURN_IF_ERROR(audit->Append(entry).status());
  RETURN_IF_ERROR(queue->Decide(options.task, approve, options.reason, by));
  std::cout << "task " << options.task << ": " << entry.kind << " by " << by
            << (approve ? "; the node releases it" : "; the node refuses it")
            << " (within a second if it is running, else when it starts)\n";
  return Status::Ok();
}

}  // namespace passerelle::cli
