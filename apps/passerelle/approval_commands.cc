// `passerelle node pending | approve | deny`: the custodian's side of approval = "manual". The
// node holds each release that passed the rules; these commands show the exact aggregate and
// record the decision, with its reason, in the audit log and the approval queue
// (federation/custodian.h). The running node then releases or refuses it.
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/passerelle/commands.h"
#include "passerelle/federation/node/custodian.h"

namespace passerelle::cli {

Status NodePending(const ApprovalOptions& options) {
  ASSIGN_OR_RETURN(std::string json, federation::HeldReleasesJson(options.dir));
  if (options.json) {
    std::cout << json << "\n";
    return Status::Ok();
  }
  const nlohmann::ordered_json held = nlohmann::ordered_json::parse(json);
  for (const auto& r : held) {
    std::cout << "task " << r["task"] << ": " << r["asked"].get<std::string>() << " for study "
              << r["study"] << ", researcher " << r["researcher"].get<std::string>() << ", dataset "
              << r["dataset"].get<std::string>() << " (version " << r["dataset_version"]
              << "), held since " << r["held_at"].get<std::string>()
              << "\n  asked: " << r["step"].dump() << "\n  would release (sha256 "
              << r["sha256"].get<std::string>() << "):\n"
              << r["would_release"].dump(2) << "\n\n";
  }
  if (held.empty()) {
    std::cout << "no release is waiting for a decision\n";
  } else {
    std::cout << held.size() << " release(s) waiting: passerelle node approve|deny " << options.dir
              << " TASK --reason \"...\"\n";
  }
  return Status::Ok();
}

Status NodeDecide(const ApprovalOptions& options, bool approve) {
  if (options.reason.empty()) return InvalidArgument("--reason: say why");
  const std::string by = federation::SystemAccount();
  RETURN_IF_ERROR(
      federation::DecideRelease(options.dir, options.task, approve, options.reason, by));
  std::cout << "task " << options.task << ": " << (approve ? "approved" : "denied") << " by " << by
            << (approve ? "; the node releases it" : "; the node refuses it")
            << " (within a second if it is running, else when it starts)\n";
  return Status::Ok();
}

}  // namespace passerelle::cli
