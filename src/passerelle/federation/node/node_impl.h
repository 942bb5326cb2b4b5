// Internal to the node (federation/node/): its state, shared by the files that serve it — the
// poll loop (node.cc), the catalog and the tables in memory (catalog.cc), every task's way out
// (release_gate.cc), protocols (protocols.cc).
#ifndef PASSERELLE_FEDERATION_NODE_NODE_IMPL_H_
#define PASSERELLE_FEDERATION_NODE_NODE_IMPL_H_

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
#include "passerelle/federation/node/node.h"
#include "passerelle/federation/study.h"
#include "passerelle/net/signing.h"
#include "passerelle/privacy/disclosure.h"
#include "passerelle/store/approval_queue.h"
#include "passerelle/store/audit_log.h"
#include "passerelle/store/cohort_ledger.h"
#include "passerelle/store/protocol_book.h"
#include "passerelle/store/site_store.h"

namespace passerelle::federation {

using nlohmann::json;

// The largest task a node takes: one analysis, its formula, subset and options (a study's own
// limits keep each well under it).
inline constexpr size_t kMaxTaskBytes = 256 << 10;

// The dataset a release was computed on, for the hub's provenance.
inline json DatasetRef(const std::string& dataset, int64_t version) {
  return {{"name", dataset}, {"version", version}};
}

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
  std::unique_ptr<net::HttpsClient> client;       // polls, answers and receipts
  std::unique_ptr<net::HttpsClient> poll_client;  // the poll that waits while a task is answered
  std::atomic<bool> stopping{false};
  std::atomic<bool> running{false};  // Run() is in its loop
  std::mutex mu;
  std::condition_variable cv;    // wakes a retry pause on Stop()
  std::set<std::string> nonces;  // tasks already received (this run and, from the audit log,
                                 // earlier ones): a replay is refused
  // The dataset tables in memory, by name, with the version they were loaded at and the models
  // built on them between rounds. A table holds the variables the tasks so far have named
  // (analysis::TaskNames), or all of them; `records` numbers its rows in the release ledger.
  struct Loaded {
    int64_t version = 0;
    data::Table table;
    std::set<std::string> unread;   // the dataset's variables the table does not hold
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

  // The last catalog in the audit log (each distinct catalog is logged once, before it leaves).
  std::string logged_catalog;
  // The catalog's variables of each dataset, with the version they were read at.
  std::map<std::string, std::pair<int64_t, json>> catalog_variables;

  // Sending to the hub, and pausing (node.cc).
  // Posts an answer to the hub; a refusal of it goes to the log.
  void Send(net::HttpsClient& to, const json& answer);
  void Pause(std::chrono::seconds d);

  // What the hub may know of the site's data, and the tables in memory (catalog.cc).
  // What the hub may know of this site's data (docs/protocol.md, the node's poll): each
  // dataset's name, version, import date and dictionary, with its variables' names, types, units,
  // descriptions and the levels the dictionary declares. Nothing is read from the records: no
  // counts, no ranges, no levels inferred from the data. REQUIRES: `work` held.
  json Catalog();
  static json DatasetEntry(const store::DatasetVersion& v, json variables);
  // The current version of `dataset` in memory with the variables `names` (empty: all of
  // them) among those it holds: read again, with the ones held before, when it lacks one.
  Result<Loaded*> Table(const std::string& dataset, const std::set<std::string>& names);

  // Every task's way out: signature, protocol, rules, ledger, audit, custodian (release_gate.cc).
  // The answer when the audit log or the ledger cannot be written: a failure, nothing released.
  json Unlogged(int64_t id, const Status& why, const std::string& consequence);
  // Runs one task as the hub signed it; the answer to send back. The task as received, and then
  // the decision (the released aggregate's digest, or the rule or cause), go to the audit log
  // before the answer leaves; if the log cannot be written, nothing is released.
  json Answer(const json& message);
  // The decision on a task, in the audit log, then the answer that says it: "done" (released:
  // the aggregate's digest is logged), "held" (for the custodian: its digest too), "refused" or
  // "failed" (the rule or the cause). Nothing but a failure if the log cannot be written.
  json Conclude(const store::AuditEntry& received, const std::string& status,
                const std::string& why, const std::string& result);
  // A release that passed the rules, kept for the custodian (approval = "manual"): in the queue
  // with the exact aggregate, and "held" in the audit log and to the hub.
  template <typename Decide>
  json Hold(store::HeldRelease held, const std::string& head, Decide& decide);
  // Releases or refuses what the custodian decided on since the last call (the approvals
  // thread): the answers to send to the hub. REQUIRES: `work` held.
  std::vector<json> TakeDecisions();
  // The checks and the local step of a signed task (Answer() has logged its arrival).
  template <typename Decide, typename Refuse>
  json RunSigned(const json& task, int64_t id, const store::AuditEntry& received, Decide& decide,
                 Refuse& refuse);
  // scope = "protocol": the task must be one of the analyses of a protocol this site's custodian
  // approved, for a researcher it names, before it expires. Each refusal names what is missing
  // (all of it is in the request, none in the data).
  Status InProtocol(const json& task, const std::string& step, const std::string& researcher,
                    const std::string& dataset);

  // Protocols received, reviewed and decided (protocols.cc).
  // A protocol the hub handed over with a poll: verified, reviewed against the site's data,
  // kept for the custodian and logged. Returns what to tell the hub: received, or rejected with
  // a reason that says nothing of the data (the flags themselves stay here).
  json ReceiveProtocol(const json& message);
  // The custodian's decisions on protocols the hub has not heard yet. REQUIRES: `work` held.
  void ReportProtocolDecisions(net::HttpsClient& to);
};

}  // namespace passerelle::federation

#endif  // PASSERELLE_FEDERATION_NODE_NODE_IMPL_H_
