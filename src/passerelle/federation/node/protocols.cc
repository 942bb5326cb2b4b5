// Protocols at the node: each version received from the hub verified, logged and reviewed on the
// site's table (the automatic review), then kept for the custodian; their decisions sent back.
#include "passerelle/analysis/registry.h"
#include "passerelle/federation/node/node_impl.h"

namespace passerelle::federation {

// A protocol the hub handed over with a poll: verified, reviewed against the site's data,
// kept for the custodian and logged. Returns what to tell the hub: received, or rejected with
// a reason that says nothing of the data (the flags themselves stay here).
json Node::Impl::ReceiveProtocol(const json& message) {
  const int64_t id = message.value("id", int64_t{0});
  const std::string payload = message.value("payload", "");
  const std::string signature = message.value("signature", "");
  json answer = {{"v", 1}, {"id", id}, {"status", "rejected"}};
  store::AuditEntry entry;
  entry.kind = "protocol";
  entry.detail = payload;
  entry.signature = signature;
  entry.digest = Sha256Hex(payload);
  if (Result<std::optional<store::ProtocolRecord>> known = protocols->Get(id);
      known.ok() && known->has_value()) {
    answer["status"] = (*known)->status == "rejected" ? "rejected" : "received";
    answer["reason"] = (*known)->reason;
    return answer;
  }
  if (Result<store::AuditEntry> logged = audit->Append(entry); !logged.ok()) {
    Log("node: protocol " + std::to_string(id) +
        " stays with the hub: the audit log cannot be "
        "written (" +
        logged.status().message() + ")");
    return json();
  }
  auto reject = [&](const std::string& why) {
    Log("node: protocol " + std::to_string(id) + " rejected: " + why);
    answer["reason"] = why;
    return answer;
  };
  if (!net::VerifySignature(payload, signature, config.hub_public_key).ok()) {
    return reject("rule hub_signature: the protocol is not signed by the hub key this site pins");
  }
  const json outer = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!outer.is_object() || outer.value("kind", "") != "protocol" ||
      outer.value("site", "") != store->site_name() || !outer.contains("protocol") ||
      !outer["protocol"].is_object()) {
    return reject("the protocol is malformed or addressed to another site");
  }
  const json& inner = outer["protocol"];
  store::ProtocolRecord record;
  record.id = id;
  record.name = inner.value("name", "");
  record.version = inner.value("version", int64_t{0});
  record.researcher = outer.value("researcher", "");
  record.text = inner.value("text", "");
  record.digest = Sha256Hex(record.text);
  if (inner.value("id", int64_t{0}) != id) return reject("the protocol is malformed");
  Result<Protocol> parsed = ParseProtocol(record.text, "protocol");
  if (!parsed.ok()) return reject(parsed.status().message());
  Result<privacy::Policy> policy = store->LoadPolicy(analysis::AnalysisNames());
  if (!policy.ok()) return reject("the site's policy cannot be read");
  // The automatic review, on this site's own records.
  json flags = json::array();
  std::vector<std::string> request_rules;
  auto add = [&](const privacy::ReviewFlag& f) {
    flags.push_back({{"analysis", f.analysis}, {"rule", f.rule}, {"flag", f.flag}});
    // What the researcher may hear: the flags decided on the request alone, and the site's
    // rules a first step broke that are decided on the request (privacy::PublicRefusal).
    std::string rule;
    for (const char* request : {"identifier_or_date", "time_arithmetic", "response_transform",
                                "time_grid", "time_subset"}) {
      if (f.rule == request) rule = f.rule;
    }
    if (f.rule == "refused" && f.flag.rfind("rule ", 0) == 0 &&
        privacy::PublicRefusal(f.flag) == f.flag) {
      rule = f.flag.substr(5, f.flag.find(':') - 5);
    }
    if (!rule.empty() &&
        std::find(request_rules.begin(), request_rules.end(), rule) == request_rules.end()) {
      request_rules.push_back(rule);
    }
  };
  std::set<std::string> names;  // the analyses' variables, or none: all of them
  for (const StudyAnalysis& a : parsed->study.analyses) {
    const std::set<std::string> read = analysis::RequestNames(a.request);
    if (read.empty()) {
      names.clear();
      break;
    }
    names.insert(read.begin(), read.end());
  }
  Result<Loaded*> loaded = Table(parsed->study.dataset, names);
  if (!loaded.ok()) {
    add({"", "cannot_run", loaded.status().message()});
  } else {
    std::vector<std::pair<std::string, analysis::AnalysisRequest>> analyses;
    for (const StudyAnalysis& a : parsed->study.analyses) analyses.emplace_back(a.id, a.request);
    analysis::ProtocolReview review = analysis::ReviewProtocol(analyses, (*loaded)->table, *policy);
    for (const privacy::ReviewFlag& f : review.flags) add(f);
    for (privacy::ReviewedRelease& r : review.releases) {
      r.populations = (*loaded)->Numbered(r.populations);
      r.counts = (*loaded)->Numbered(r.counts);
    }
    if (Result<const privacy::ReleasedSets*> released = ledger->Released(parsed->study.dataset);
        released.ok()) {
      for (const privacy::ReviewFlag& f :
           privacy::ReviewOverlaps(review.releases, (*released)->populations(), *policy)) {
        add(f);
      }
      for (const privacy::ReviewFlag& f :
           privacy::ReviewReleases(review.releases, **released, *policy)) {
        add(f);
      }
    }
  }
  record.review = flags.dump();
  json changes = json::array();
  if (Result<std::optional<store::ProtocolRecord>> before = protocols->Previous(record.name, id);
      before.ok() && before->has_value()) {
    if (Result<Protocol> old = ParseProtocol((*before)->text, "protocol"); old.ok()) {
      changes = ProtocolChanges(*old, *parsed);
    }
  }
  record.changes = changes.dump();
  record.status = "pending";
  if (!flags.empty() && policy->flagged == "refuse") {
    record.status = "rejected";
    // The flags decided on the records stay here: the researcher hears only those decided on
    // the request (and, by the rejection itself, that there was one).
    record.reason = "the site's automatic review flagged it" +
                    (request_rules.empty() ? "" : " (" + Join(request_rules, ", ") + ")") +
                    "; its custodian has the details";
    record.decided_by = "automatic review";
  }
  if (Status s = protocols->Receive(record); !s.ok() && s.code() != StatusCode::kAlreadyExists) {
    Log("node: protocol " + std::to_string(id) + " cannot be kept: " + s.message());
    return json();
  }
  store::AuditEntry decided;
  decided.kind = record.status == "rejected" ? "protocol_rejected" : "protocol_received";
  decided.researcher = record.researcher;
  decided.detail = record.status == "rejected" ? record.reason + "; flags: " + record.review
                                               : "flags: " + record.review;
  decided.digest = record.digest;
  (void)audit->Append(decided);
  Log("node: protocol " + record.name + " version " + std::to_string(record.version) + " (" +
      std::to_string(id) + ") from " + record.researcher + ": " +
      (record.status == "rejected" ? "rejected by the automatic review"
                                   : "waiting for the custodian (passerelle node protocols)"));
  answer["status"] = record.status == "rejected" ? "rejected" : "received";
  if (record.status == "rejected") answer["reason"] = record.reason;
  return answer;
}

// The custodian's decisions on protocols the hub has not heard yet. REQUIRES: `work` held.
void Node::Impl::ReportProtocolDecisions(net::HttpsClient& to) {
  Result<std::vector<store::ProtocolRecord>> decided = protocols->Unreported();
  if (!decided.ok()) return;
  for (const store::ProtocolRecord& p : *decided) {
    const json message = {{"v", 1}, {"id", p.id}, {"status", p.status}, {"reason", p.reason}};
    Result<net::HttpResponse> sent = to.Post("/v1/node/protocol", message.dump());
    if (sent.ok() && (sent->status == 200 || sent->status == 404)) {
      (void)protocols->MarkReported(p.id);
    }
  }
}

}  // namespace passerelle::federation
