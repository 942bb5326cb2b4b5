// `passerelle audit verify|show --site DIR`: the node's hash-chained audit log.
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/passerelle/commands.h"
#include "passerelle/federation/node/custodian.h"
#include "passerelle/report/text_table.h"
#include "passerelle/store/audit_log.h"
#include "passerelle/store/site_store.h"

namespace passerelle::cli {
namespace {

Result<std::unique_ptr<store::AuditLog>> OpenAudit(const std::string& site) {
  RETURN_IF_ERROR(store::SiteStore::Open(site).status());  // a site store, not any folder
  return store::AuditLog::Open(site);
}

}  // namespace

Status AuditVerify(const AuditOptions& options) {
  ASSIGN_OR_RETURN(auto audit, OpenAudit(options.site));
  ASSIGN_OR_RETURN(int64_t entries, audit->Verify());
  if (!options.expect.empty()) {
    const size_t colon = options.expect.find(':');
    int64_t seq = 0;
    try {
      seq = colon == std::string::npos ? 0 : std::stoll(options.expect.substr(0, colon));
    } catch (const std::exception&) {
    }
    if (seq <= 0) return InvalidArgument("--expect: give SEQ:HASH, as the hub lists it");
    const std::string hash = options.expect.substr(colon + 1);
    ASSIGN_OR_RETURN(auto found, audit->Entries(seq, 1));
    if (found.empty()) {
      return FailedPrecondition("audit: the chain has " + std::to_string(entries) +
                                " entries; entry " + std::to_string(seq) +
                                ", which the hub saw, was removed");
    }
    if (found.front().hash != hash) {
      return FailedPrecondition("audit: entry " + std::to_string(seq) +
                                " is not the one the hub saw: the log was replaced");
    }
  }
  std::cout << "audit: " << entries << " entries, the chain is intact"
            << (options.expect.empty() ? "" : ", and holds the entry the hub saw") << "\n";
  return Status::Ok();
}

Status AuditShow(const AuditOptions& options) {
  ASSIGN_OR_RETURN(auto audit, OpenAudit(options.site));
  ASSIGN_OR_RETURN(auto entries, audit->Entries(options.from, options.limit));
  if (options.json) {
    ASSIGN_OR_RETURN(std::string json,
                     federation::AuditEntriesJson(options.site, options.from, options.limit));
    std::cout << json << "\n";
    return Status::Ok();
  }
  report::TextTable table({"seq", "at", "kind", "task", "study", "researcher", "detail"});
  for (const auto& e : entries) {
    std::string detail = e.kind == "released" || e.kind == "held" ? "sha256 " + e.digest : e.detail;
    if (e.kind == "task" && detail.size() > 60) detail = detail.substr(0, 57) + "...";
    table.AddRow({std::to_string(e.seq), e.at, e.kind, std::to_string(e.task),
                  std::to_string(e.study), e.researcher, detail});
  }
  std::cout << table.Render();
  return Status::Ok();
}

}  // namespace passerelle::cli
