// Every task's way out of the site: the hub's signature and a fresh nonce, the protocol (scope
// "protocol"), the analysis' step under the site's rules, the ledger (differencing and the count
// audit), the audit chain, and the custodian when approval is manual. Nothing leaves otherwise.
#include "passerelle/analysis/registry.h"
#include "passerelle/federation/node/node_impl.h"

namespace passerelle::federation {

// The answer when the audit log or the ledger cannot be written: a failure, nothing released.
json Node::Impl::Unlogged(int64_t id, const Status& why, const std::string& consequence) {
  Log("node: task " + std::to_string(id) + ": the audit log or the ledger cannot be written (" +
      why.message() + "); " + consequence);
  return json{{"v", 1},
              {"id", id},
              {"status", "failed"},
              {"code", "unavailable"},
              {"message", "the site's audit log or ledger cannot be written"}};
}

// Runs one task as the hub signed it; the answer to send back. The task as received, and then
// the decision (the released aggregate's digest, or the rule or cause), go to the audit log
// before the answer leaves; if the log cannot be written, nothing is released.
json Node::Impl::Answer(const json& message) {
  const int64_t id = message.value("id", int64_t{0});
  const std::string payload = message.value("payload", "");
  json task;
  try {
    task = json::parse(payload);
  } catch (const json::exception&) {
    task = json::object();
  }
  store::AuditEntry received;
  received.kind = "task";
  received.task = id;
  if (task.is_object() && task.contains("study") && task["study"].is_number_integer()) {
    received.study = task["study"].get<int64_t>();
  }
  if (task.is_object() && task.contains("researcher") && task["researcher"].is_string()) {
    received.researcher = task["researcher"].get<std::string>();
  }
  received.signature = message.value("signature", "");
  // A task is one analysis: a larger one is refused, and the log keeps its digest, not its
  // text, so no one grows every site's audit log with a few large tasks.
  const bool too_large = payload.size() > kMaxTaskBytes;
  if (too_large) {
    received.digest = Sha256Hex(payload);
  } else {
    received.detail = payload;
  }
  auto decide = [&](const std::string& status, const std::string& why, const std::string& result) {
    return Conclude(received, status, why, result);
  };
  if (const Result<store::AuditEntry> logged = audit->Append(received); !logged.ok()) {
    return Unlogged(id, logged.status(), "not run");
  }
  auto refuse = [&](const std::string& why) {
    Log("node: refused task " + std::to_string(id) + ": " + why);
    return decide("refused", why, "");
  };
  if (too_large) {
    return refuse("rule task_size: the task has " + std::to_string(payload.size()) +
                  " bytes; this site takes at most " + std::to_string(kMaxTaskBytes));
  }
  const Status signature = net::VerifySignature(payload, received.signature, config.hub_public_key);
  if (!signature.ok()) {
    return refuse("rule hub_signature: the task is not signed by the hub key this site pins");
  }
  if (!task.is_object() || task.empty()) return refuse("the task is not JSON");
  try {
    return RunSigned(task, id, received, decide, refuse);
  } catch (const json::exception&) {  // signed, but not a task this node understands
    return refuse("the task is malformed");
  }
}

// The decision on a task, in the audit log, then the answer that says it: "done" (released:
// the aggregate's digest is logged), "held" (for the custodian: its digest too), "refused" or
// "failed" (the rule or the cause). Nothing but a failure if the log cannot be written.
json Node::Impl::Conclude(const store::AuditEntry& received, const std::string& status,
                          const std::string& why, const std::string& result) {
  store::AuditEntry decision = received;
  decision.kind = status == "done" ? "released" : status;
  decision.detail = why;
  decision.signature.clear();
  if (status == "done" || status == "held") decision.digest = Sha256Hex(result);
  const Result<store::AuditEntry> logged = audit->Append(decision);
  if (!logged.ok()) return Unlogged(received.task, logged.status(), "nothing released");
  // The head of the chain goes with the answer: the hub notices a log that went back.
  json answer = {{"v", 1},
                 {"id", received.task},
                 {"status", status},
                 {"audit", {{"seq", logged->seq}, {"hash", logged->hash}}}};
  if (status == "done") answer["result"] = json::parse(result);
  if (status == "refused" || status == "failed") answer["message"] = why;
  return answer;
}

// A release that passed the rules, kept for the custodian (approval = "manual"): in the queue
// with the exact aggregate, and "held" in the audit log and to the hub.
template <typename Decide>
json Node::Impl::Hold(store::HeldRelease held, const std::string& head, Decide& decide) {
  if (Status s = approvals->Hold(held); !s.ok()) {
    Log(head + "failed, the release cannot be held: " + s.message());
    return decide("failed", "the site cannot hold the release for its custodian", "");
  }
  Log(head + "held for the custodian (passerelle node pending)");
  return decide("held", "", held.aggregate);
}

// Releases or refuses what the custodian decided on since the last call (the approvals
// thread): the answers to send to the hub. REQUIRES: `work` held.
std::vector<json> Node::Impl::TakeDecisions() {
  std::vector<json> answers;
  Result<std::vector<store::HeldRelease>> decided = approvals->Decided();
  if (!decided.ok()) {
    Log("node: cannot read the approval queue: " + decided.status().message());
    return answers;
  }
  for (const store::HeldRelease& r : *decided) {
    store::AuditEntry base;
    base.task = r.task;
    base.study = r.study;
    base.researcher = r.researcher;
    const std::string head = "node: task " + std::to_string(r.task) + " (study " +
                             std::to_string(r.study) + ", researcher " + r.researcher +
                             "): " + r.what + ": ";
    json answer;
    if (r.decision == "approved") {
      // The ledger again: other releases may have left while this one waited.
      Status rules = [&]() -> Status {
        ASSIGN_OR_RETURN(privacy::Policy policy, store->LoadPolicy(analysis::AnalysisNames()));
        return ledger->Check(r.dataset, r.cohorts, r.counts, policy);
      }();
      if (rules.ok())
        rules = ledger->Record(r.dataset, r.dataset_version, r.cohorts, r.counts, r.task);
      if (rules.ok()) {
        Log(head + "approved by the custodian, released");
        answer = Conclude(base, "done", "", r.aggregate);
        answer["dataset"] = DatasetRef(r.dataset, r.dataset_version);
      } else {
        Log(head + "approved by the custodian, refused, " + rules.message());
        answer = Conclude(base, "refused", rules.message(), "");
        if (answer.value("status", "") == "refused") {
          answer["message"] = privacy::PublicRefusal(rules.message());
        }
      }
    } else {
      Log(head + "denied by the custodian");
      answer = Conclude(base, "refused",
                        "rule approval: the custodian of site " + store->site_name() +
                            " denied this release: " + r.reason,
                        "");
    }
    if (Status s = approvals->MarkAnswered(r.task); !s.ok()) {
      Log("node: cannot mark task " + std::to_string(r.task) + " answered: " + s.message());
    }
    answers.push_back(std::move(answer));
  }
  return answers;
}

// The checks and the local step of a signed task (Answer() has logged its arrival).
template <typename Decide, typename Refuse>
json Node::Impl::RunSigned(const json& task, int64_t id, const store::AuditEntry& received,
                           Decide& decide, Refuse& refuse) {
  if (task.value("v", 0) != 1) return refuse("protocol version not supported (this node: 1)");
  if (task.value("site", "") != store->site_name()) {
    return refuse("rule task_site: the task is addressed to another site");
  }
  const std::string nonce = task.value("nonce", "");
  if (nonce.empty() || !nonces.insert(nonce).second) {
    return refuse("rule replay: this task was already run");
  }
  const json step = task.value("task", json::object());
  const std::string what = step.value("analysis", "?") + " " + step.value("step", "");
  const std::string who =
      "study " + std::to_string(received.study) + ", researcher " + received.researcher;
  const std::string dataset = task.value("dataset", "");
  int64_t version = 0;
  analysis::LocalRelease release;
  privacy::Policy policy;
  Result<std::string> result = [&]() -> Result<std::string> {
    ASSIGN_OR_RETURN(policy, store->LoadPolicy(analysis::AnalysisNames()));
    if (policy.scope == "protocol") {
      RETURN_IF_ERROR(InProtocol(task, step.dump(), received.researcher, dataset));
    }
    ASSIGN_OR_RETURN(Loaded * loaded, Table(dataset, analysis::TaskNames(step)));
    version = loaded->version;
    ASSIGN_OR_RETURN(release,
                     analysis::RunParsedLocalStep(step, loaded->table, policy, &loaded->models));
    release.cohorts = loaded->Numbered(release.cohorts);
    release.counts = loaded->Numbered(release.counts);
    RETURN_IF_ERROR(ledger->Check(dataset, release.cohorts, release.counts, policy));
    return release.aggregate;
  }();
  const std::string head = "node: task " + std::to_string(id) + " (" + who + "): " + what + ": ";
  if (result.ok() && policy.approval == "manual") {
    store::HeldRelease held;
    held.task = id;
    held.study = received.study;
    held.researcher = received.researcher;
    held.dataset = dataset;
    held.dataset_version = version;
    held.what = what;
    held.task_json = step.dump();
    held.aggregate = *result;
    held.cohorts = std::move(release.cohorts);
    held.counts = std::move(release.counts);
    return Hold(std::move(held), head, decide);
  }
  if (result.ok()) {
    // The cohorts go to the ledger before the release leaves; if they cannot, nothing does.
    if (Status s = ledger->Record(dataset, version, release.cohorts, release.counts, id); !s.ok()) {
      return Unlogged(id, s, "nothing released");
    }
    Log(head + "released");
    json answer = decide("done", "", *result);
    if (answer.value("status", "") == "done") answer["dataset"] = DatasetRef(dataset, version);
    return answer;
  }
  if (result.status().code() == StatusCode::kPermissionDenied) {
    // The rule goes to this site's log and audit log; the researcher hears it only when it
    // was decided on the request alone (privacy::PublicRefusal).
    Log(head + "refused, " + result.status().message());
    json refused = decide("refused", result.status().message(), "");
    if (refused.value("status", "") == "refused") {
      refused["message"] = privacy::PublicRefusal(result.status().message());
    }
    return refused;
  }
  Log(head + "failed, " + result.status().message());
  json failed = decide("failed", result.status().message(), "");
  if (failed.value("status", "") == "failed" && !failed.contains("code")) {
    failed["code"] = std::string(StatusCodeName(result.status().code()));
  }
  return failed;
}

// scope = "protocol": the task must be one of the analyses of a protocol this site's custodian
// approved, for a researcher it names, before it expires. Each refusal names what is missing
// (all of it is in the request, none in the data).
Status Node::Impl::InProtocol(const json& task, const std::string& step,
                              const std::string& researcher, const std::string& dataset) {
  const std::string site = store->site_name();
  const int64_t id = task.value("protocol", int64_t{0});
  if (id <= 0) {
    return PermissionDenied("rule protocol: site " + site +
                            " answers only the analyses of protocols its custodian approved");
  }
  ASSIGN_OR_RETURN(std::optional<store::ProtocolRecord> record, protocols->Get(id));
  if (!record) {
    return PermissionDenied("rule protocol: site " + site + " has not received protocol " +
                            std::to_string(id));
  }
  const std::string named =
      "protocol " + record->name + " version " + std::to_string(record->version);
  if (record->status != "approved") {
    return PermissionDenied(
        "rule protocol: " + named + " is " +
        (record->status == "pending" ? "waiting for the custodian" : record->status) + " at site " +
        site);
  }
  // A protocol's text never changes (a new version has a new number): parsed once, not at
  // every round of a fit. Its status is read afresh above.
  auto parsed = parsed_protocols.find(id);
  if (parsed == parsed_protocols.end()) {
    ASSIGN_OR_RETURN(Protocol text, ParseProtocol(record->text, "protocol"));
    parsed = parsed_protocols.emplace(id, std::move(text)).first;
  }
  const Protocol& p = parsed->second;
  if (UtcNowIso().substr(0, 10) > p.expires) {
    return PermissionDenied("rule protocol: " + named + " expired on " + p.expires);
  }
  if (std::find(p.researchers.begin(), p.researchers.end(), researcher) == p.researchers.end()) {
    return PermissionDenied("rule protocol: " + named + " does not name researcher " + researcher);
  }
  if (!p.study.sites.empty() &&
      std::find(p.study.sites.begin(), p.study.sites.end(), site) == p.study.sites.end()) {
    return PermissionDenied("rule protocol: " + named + " is not for site " + site);
  }
  if (p.study.dataset != dataset) {
    return PermissionDenied("rule protocol: " + named + " is about dataset " + p.study.dataset);
  }
  if (!ProtocolAnalysisOf(p, step).ok()) {
    return PermissionDenied("rule protocol: the task is not one of the analyses of " + named +
                            " as approved");
  }
  return Status::Ok();
}

}  // namespace passerelle::federation
