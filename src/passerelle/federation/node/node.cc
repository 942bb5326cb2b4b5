// The node: its stores, its poll loop (tasks and protocols from the hub, answers back), the
// approvals thread that sends the custodian's decisions, and stopping.
#include <future>

#include "passerelle/base/memory.h"
#include "passerelle/federation/node/node_impl.h"

namespace passerelle::federation {

// Posts an answer to the hub; a refusal of it goes to the log.
void Node::Impl::Send(net::HttpsClient& to, const json& answer) {
  Result<net::HttpResponse> sent = to.Post("/v1/node/result", answer.dump());
  if (!sent.ok() || sent->status != 200) {
    Log("node: the answer to task " + std::to_string(answer.value("id", int64_t{0})) +
        " was not accepted: " + (sent.ok() ? sent->body : sent.status().message()));
  }
}

void Node::Impl::Pause(std::chrono::seconds d) {
  std::unique_lock<std::mutex> lock(mu);
  const Clock::TimePoint until = config.clock->Now() + d;
  while (!stopping && !config.clock->WaitUntil(cv, lock, until)) {
  }
}

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
  for (auto* client : {&impl->client, &impl->poll_client, &impl->approvals_client}) {
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
  auto poll_for = [&](int64_t seconds, int64_t working_on) {
    json body = {{"v", 1}, {"site", n.store->site_name()}, {"wait_seconds", seconds}};
    if (working_on > 0) body["working_on"] = working_on;
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
  // While a task is answered, the next poll already waits at the hub (on its own connection,
  // naming the task being answered so that the hub does not hand it out again): the next round's
  // task comes as soon as the hub has it, and a round costs one round trip, not two. The other
  // polls and the answers go on the node's first connection, open since it connected.
  std::future<Result<net::HttpResponse>> ahead;
  auto poll = [read_timeout](net::HttpsClient* via, std::string body) {
    return via->Post("/v1/node/poll", body, read_timeout);
  };
  while (!n.stopping) {
    Result<net::HttpResponse> r =
        ahead.valid()
            ? ahead.get()
            : poll(n.client.get(), poll_for(connected ? n.config.poll_wait.count() : 0, 0));
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
    if (!message.contains("task") || message.at("task").is_null()) {
      ReturnFreedMemory();  // idle: no task came during the whole poll
      continue;
    }
    const json& task = message.at("task");
    const int64_t id = task.is_object() && task.contains("id") && task.at("id").is_number_integer()
                           ? task.at("id").get<int64_t>()
                           : 0;
    ahead = std::async(std::launch::async, poll, n.poll_client.get(),
                       poll_for(n.config.poll_wait.count(), id));
    // Answered and sent under `work`, so the hub receives the audit heads in order. No task
    // ends the node: one that throws is logged and left unanswered (the hub times it out).
    std::lock_guard<std::mutex> lock(n.work);
    try {
      n.Send(*n.client, n.Answer(message.at("task")));
    } catch (const std::exception& e) {
      n.Log(std::string("node: a task could not be answered: ") + e.what());
    }
  }
  if (ahead.valid()) (void)ahead.get();  // Stop() interrupts it
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
    impl_->poll_client->Stop();
    impl_->approvals_client->Stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace passerelle::federation
