#include "passerelle/federation/node.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "passerelle/analysis/local_step.h"
#include "passerelle/analysis/review.h"
#include "passerelle/base/date.h"
#include "passerelle/base/sha256.h"
#include "passerelle/base/text.h"
#include "passerelle/federation/study.h"
#include "passerelle/net/signing.h"
#include "passerelle/privacy/disclosure.h"
#include "passerelle/store/approval_queue.h"
#include "passerelle/store/audit_log.h"
#include "passerelle/store/cohort_ledger.h"
#include "passerelle/store/protocol_book.h"
#include "passerelle/store/site_store.h"

namespace passerelle::federation {
namespace {

using nlohmann::json;

// The largest task a node takes: one analysis, its formula, subset and options (a study's own
// limits keep each well under it).
constexpr size_t kMaxTaskBytes = 256 << 10;

// The dataset a release was computed on, for the hub's provenance.
json DatasetRef(const std::string& dataset, int64_t version) {
  return {{"name", dataset}, {"version", version}};
}

}  // namespace

struct Node::Impl {
  NodeConfig config;
  std::unique_ptr<store::SiteStore> store;
  std::unique_ptr<store::AuditLog> audit;              // DIR/audit.sqlite
  std::unique_ptr<store::CohortLedger> ledger;         // DIR/ledger.sqlite
  std::unique_ptr<store::ApprovalQueue> approvals;     // DIR/approvals.sqlite
  std::unique_ptr<store::ProtocolBook> protocols;      // DIR/protocols.sqlite
  std::map<int64_t, Protocol> parsed_protocols;        // by number, as InProtocol read them
  std::unique_ptr<net::HttpsClient> approvals_client;  // sends the custodian's decisions
  std::mutex work;  // one task or decision at a time (the poll loop and the approvals thread)
  std::unique_ptr<net::HttpsClient> client;
  std::atomic<bool> stopping{false};
  std::atomic<bool> running{false};  // Run() is in its loop
  std::mutex mu;
  std::condition_variable cv;    // wakes a retry pause on Stop()
  std::set<std::string> nonces;  // tasks already received (this run and, from the audit log,
                                 // earlier ones): a replay is refused
  // The dataset tables in memory, by name, with the version they were loaded at and the models
  // built on them between rounds.
  struct Loaded {
    int64_t version = 0;
    data::Table table;
    std::vector<uint32_t> records;  // the ledger's number of each row
    analysis::LocalStepCache models;

    // Cohorts over the table's rows as the ledger numbers them.
    std::vector<privacy::Cohort> Numbered(const std::vector<privacy::Cohort>& rows) const {
      std::vector<privacy::Cohort> out;
      for (const privacy::Cohort& c : rows) out.push_back(c.Renumbered(records));
      return out;
    }
  };
  std::map<std::string, Loaded> tables;

  void Log(const std::string& line) const { config.log(line); }

  // What the hub may know of this site's data (docs/protocol.md, the node's poll): each
  // dataset's name, version, import date and dictionary, with its variables' names, types, units,
  // descriptions and the levels the dictionary declares. Nothing is read from the records: no
  // counts, no ranges, no levels inferred from the data. REQUIRES: `work` held.
  json Catalog() {
    json datasets = json::array();
    Result<std::vector<store::DatasetVersion>> versions = store->ListDatasets();
    if (!versions.ok()) return datasets;
    for (const store::DatasetVersion& v : *versions) {
      const auto cached = catalog_variables.try_emplace(v.dataset, -1, json()).first;
      if (cached->second.first == v.version) {
        datasets.push_back(DatasetEntry(v, cached->second.second));
        continue;
      }
      json variables = json::array();
      if (Result<data::Dictionary> d = store->Dictionary(v.dataset); d.ok()) {
        for (const data::Variable& var : d->variables) {
          json j = {{"name", var.name}, {"type", std::string(data::VarTypeName(var.type))}};
          if (!var.description.empty()) j["description"] = var.description;
          if (!var.unit.empty()) j["unit"] = var.unit;
          if (v.dictionary_source != "inferred" && !var.levels.empty()) j["levels"] = var.levels;
          variables.push_back(std::move(j));
        }
      }
      cached->second = {v.version, variables};
      datasets.push_back(DatasetEntry(v, std::move(variables)));
    }
    return datasets;
  }
  static json DatasetEntry(const store::DatasetVersion& v, json variables) {
    return {{"name", v.dataset},
            {"version", v.version},
            {"imported_at", v.imported_at},
            {"dictionary", v.dictionary_id},
            {"variables", std::move(variables)}};
  }
  // The last catalog in the audit log (each distinct catalog is logged once, before it leaves).
  std::string logged_catalog;
  // The catalog's variables of each dataset, with the version they were read at.
  std::map<std::string, std::pair<int64_t, json>> catalog_variables;

  Result<Loaded*> Table(const std::string& dataset) {
    ASSIGN_OR_RETURN(std::vector<store::DatasetVersion> versions, store->ListDatasets());
    for (const auto& v : versions) {
      if (v.dataset != dataset) continue;
      Loaded& loaded = tables[dataset];
      if (loaded.version != v.version) {  // a new import: reload, forget the old models
        ASSIGN_OR_RETURN(loaded.table, store->LoadTable(dataset));
        ASSIGN_OR_RETURN(loaded.records,
                         ledger->Number(dataset, data::RecordIdentities(loaded.table)));
        loaded.version = v.version;
        loaded.models.Clear();
      }
      return &loaded;
    }
    return NotFound("site " + store->site_name() + " has no dataset '" + dataset + "'");
  }

  // The answer when the audit log or the ledger cannot be written: a failure, nothing released.
  json Unlogged(int64_t id, const Status& why, const std::string& consequence) {
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
  json Answer(const json& message) {
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
    auto decide = [&](const std::string& status, const std::string& why,
                      const std::string& result) {
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
    const Status signature =
        net::VerifySignature(payload, received.signature, config.hub_public_key);
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
  json Conclude(const store::AuditEntry& received, const std::string& status,
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
  json Hold(store::HeldRelease held, const std::string& head, Decide& decide) {
    if (Status s = approvals->Hold(held); !s.ok()) {
      Log(head + "failed, the release cannot be held: " + s.message());
      return decide("failed", "the site cannot hold the release for its custodian", "");
    }
    Log(head + "held for the custodian (passerelle node pending)");
    return decide("held", "", held.aggregate);
  }

  // Releases or refuses what the custodian decided on since the last call (the approvals
  // thread): the answers to send to the hub. REQUIRES: `work` held.
  std::vector<json> TakeDecisions() {
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
  json RunSigned(const json& task, int64_t id, const store::AuditEntry& received, Decide& decide,
                 Refuse& refuse) {
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
      ASSIGN_OR_RETURN(Loaded * loaded, Table(dataset));
      version = loaded->version;
      ASSIGN_OR_RETURN(release,
                       analysis::RunLocalStep(step.dump(), loaded->table, policy, &loaded->models));
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
      if (Status s = ledger->Record(dataset, version, release.cohorts, release.counts, id);
          !s.ok()) {
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
  Status InProtocol(const json& task, const std::string& step, const std::string& researcher,
                    const std::string& dataset) {
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
          (record->status == "pending" ? "waiting for the custodian" : record->status) +
          " at site " + site);
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
      return PermissionDenied("rule protocol: " + named + " does not name researcher " +
                              researcher);
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

  // A protocol the hub handed over with a poll: verified, reviewed against the site's data,
  // kept for the custodian and logged. Returns what to tell the hub: received, or rejected with
  // a reason that says nothing of the data (the flags themselves stay here).
  json ReceiveProtocol(const json& message) {
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
    Result<Loaded*> loaded = Table(parsed->study.dataset);
    if (!loaded.ok()) {
      add({"", "cannot_run", loaded.status().message()});
    } else {
      std::vector<std::pair<std::string, analysis::AnalysisRequest>> analyses;
      for (const StudyAnalysis& a : parsed->study.analyses) analyses.emplace_back(a.id, a.request);
      analysis::ProtocolReview review =
          analysis::ReviewProtocol(analyses, (*loaded)->table, *policy);
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
  void ReportProtocolDecisions(net::HttpsClient& to) {
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

  // Posts an answer to the hub; a refusal of it goes to the log.
  void Send(net::HttpsClient& to, const json& answer) {
    Result<net::HttpResponse> sent = to.Post("/v1/node/result", answer.dump());
    if (!sent.ok() || sent->status != 200) {
      Log("node: the answer to task " + std::to_string(answer.value("id", int64_t{0})) +
          " was not accepted: " + (sent.ok() ? sent->body : sent.status().message()));
    }
  }

  void Pause(std::chrono::seconds d) {
    std::unique_lock<std::mutex> lock(mu);
    const Clock::TimePoint until = config.clock->Now() + d;
    while (!stopping && !config.clock->WaitUntil(cv, lock, until)) {
    }
  }
};

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Node::~Node() = default;

Result<std::unique_ptr<Node>> Node::Create(NodeConfig config) {
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(config);
  if (!impl->config.log) impl->config.log = net::StderrLog();
  ASSIGN_OR_RETURN(impl->store, store::SiteStore::Open(impl->config.site_dir));
  ASSIGN_OR_RETURN(impl->audit, store::AuditLog::Open(impl->config.site_dir));
  ASSIGN_OR_RETURN(impl->ledger, store::CohortLedger::Open(impl->config.site_dir));
  ASSIGN_OR_RETURN(impl->approvals, store::ApprovalQueue::Open(impl->config.site_dir));
  ASSIGN_OR_RETURN(impl->protocols, store::ProtocolBook::Open(impl->config.site_dir));
  // Tasks run before a restart stay run: their nonces come back from the audit log.
  ASSIGN_OR_RETURN(std::vector<store::AuditEntry> entries, impl->audit->Entries());
  for (const store::AuditEntry& e : entries) {
    if (e.kind == "catalog") impl->logged_catalog = e.detail;
    if (e.kind != "task") continue;
    const json payload = json::parse(e.detail, nullptr, /*allow_exceptions=*/false);
    if (payload.is_object() && payload.contains("nonce") && payload["nonce"].is_string()) {
      impl->nonces.insert(payload["nonce"].get<std::string>());
    }
  }
  RETURN_IF_ERROR(impl->store->LoadPolicy(analysis::AnalysisNames()).status());
  for (auto* client : {&impl->client, &impl->approvals_client}) {
    ASSIGN_OR_RETURN(*client, net::HttpsClient::Create(impl->config.hub.host, impl->config.hub.port,
                                                       impl->config.identity));
  }
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

void Node::Run() {
  Impl& n = *impl_;
  const std::string where =
      "https://" + n.config.hub.host + ":" + std::to_string(n.config.hub.port);
  // Until connected, polls that return at once, so the node knows (and says) it is connected;
  // then long polls. The site's catalog goes with the first poll after connecting and with the
  // first one after it changed (an import), so the hub shows what the site holds now; each new
  // catalog is in the audit log before it first leaves.
  std::string offered, sent_catalog;
  auto poll_for = [&](int64_t seconds) {
    json body = {{"v", 1}, {"site", n.store->site_name()}, {"wait_seconds", seconds}};
    std::lock_guard<std::mutex> lock(n.work);
    json now = n.Catalog();
    const std::string catalog = now.dump();
    offered = sent_catalog;
    if (catalog == sent_catalog) return body.dump();
    if (catalog != n.logged_catalog) {
      store::AuditEntry entry;
      entry.kind = "catalog";
      entry.detail = catalog;
      entry.digest = Sha256Hex(catalog);
      if (Result<store::AuditEntry> logged = n.audit->Append(entry); !logged.ok()) {
        n.Log("node: the catalog stays here: the audit log cannot be written (" +
              logged.status().message() + ")");
        return body.dump();
      }
      n.logged_catalog = catalog;
    }
    body["catalog"] = std::move(now);
    offered = catalog;
    return body.dump();
  };
  const auto read_timeout = n.config.poll_wait + std::chrono::seconds(15);
  bool connected = false;
  n.running = true;
  // The custodian's decisions (approval = "manual") leave from their own thread and connection,
  // while the poll waits for tasks.
  std::thread decisions([&n] {
    while (!n.stopping) {
      std::unique_lock<std::mutex> lock(n.work);
      for (const json& answer : n.TakeDecisions()) n.Send(*n.approvals_client, answer);
      n.ReportProtocolDecisions(*n.approvals_client);
      lock.unlock();
      n.Pause(std::chrono::seconds(1));
    }
  });
  while (!n.stopping) {
    Result<net::HttpResponse> r = n.client->Post(
        "/v1/node/poll", poll_for(connected ? n.config.poll_wait.count() : 0), read_timeout);
    if (n.stopping) break;
    if (!r.ok() || r->status != 200) {
      const std::string why = !r.ok() ? r.status().message() : "hub answered " + r->body;
      n.Log("node " + n.store->site_name() + ": cannot poll the hub at " + where + ": " + why);
      connected = false;
      sent_catalog.clear();  // the hub may have restarted without it
      n.Pause(std::chrono::seconds(2));
      continue;
    }
    if (!connected) {
      n.Log("node " + n.store->site_name() + ": connected to the hub at " + where);
      connected = true;
    }
    sent_catalog = offered;
    json message;
    try {
      message = json::parse(r->body);
    } catch (const json::exception&) {
      n.Log("node: the hub answered garbage to a poll");
      continue;
    }
    if (message.contains("protocol") && message.at("protocol").is_object()) {
      std::lock_guard<std::mutex> lock(n.work);
      json ack;
      try {
        ack = n.ReceiveProtocol(message.at("protocol"));
      } catch (const std::exception& e) {
        n.Log(std::string("node: a protocol could not be received: ") + e.what());
      }
      if (!ack.is_null()) {
        Result<net::HttpResponse> sent = n.client->Post("/v1/node/protocol", ack.dump());
        if (!sent.ok() || sent->status != 200) {
          n.Log("node: the hub did not take the protocol's receipt: " +
                (sent.ok() ? sent->body : sent.status().message()));
        }
      }
      continue;
    }
    if (!message.contains("task") || message.at("task").is_null()) continue;
    // Answered and sent under `work`, so the hub receives the audit heads in order. No task
    // ends the node: one that throws is logged and left unanswered (the hub times it out).
    std::lock_guard<std::mutex> lock(n.work);
    try {
      n.Send(*n.client, n.Answer(message.at("task")));
    } catch (const std::exception& e) {
      n.Log(std::string("node: a task could not be answered: ") + e.what());
    }
  }
  decisions.join();
  n.Log("node " + n.store->site_name() + ": stopped");
  n.running = false;
}

void Node::Stop() {
  impl_->stopping = true;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->cv.notify_all();
  }
  // Interrupt the poll in progress; again until Run() has left its loop, in case the signal
  // came just before it opened the next poll.
  while (impl_->running) {
    impl_->client->Stop();
    impl_->approvals_client->Stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace passerelle::federation
