// The sites' side of the hub: a node's long poll hands it its next protocol or task (a poll
// waits, holding no thread, until one arrives for its site), its answer completes the task
// (with the head of its audit chain), and a study's driver dispatches each step as a signed task
// and waits for that answer.
#include "passerelle/federation/hub/hub_impl.h"

namespace passerelle::federation {

void Hub::Impl::Poll(const net::HttpRequest& request, net::Responder answer) {
  Result<std::string> site = Node(request);
  if (!site.ok()) {
    refusals("hub: refused a node from " + request.remote_address + ": " + site.status().message());
    return answer.Send(Error(site.status()));
  }
  double wait = static_cast<double>(config.poll_wait.count());
  std::string catalog;
  int64_t working_on = 0;  // the task the node answers while it polls for its next one
  try {
    const json body = json::parse(request.body);
    wait = std::min(wait, body.value("wait_seconds", wait));
    if (body.contains("working_on")) working_on = Integer(body.at("working_on"));
    if (body.contains("catalog") && body.at("catalog").is_array()) {
      catalog = body.at("catalog").dump();
    }
  } catch (const json::exception&) {
    return answer.Send(Error(InvalidArgument("poll: malformed JSON")));
  }
  const auto now = config.clock->Now();
  std::lock_guard<std::mutex> lock(mu);
  if (!catalog.empty() && catalogs[*site] != catalog) {
    if (Status s = store->RecordCatalog(*site, catalog); !s.ok()) return answer.Send(Error(s));
    catalogs[*site] = catalog;
  }
  // A node holds one poll at a time: an older one still waiting belongs to a connection that
  // is gone (a node stopped or killed) and steps aside.
  EndPoll(*site, Reply(200, {{"v", 1}, {"task", nullptr}}));
  heard[*site] = now;
  if (stopping) return answer.Send(Error(Unavailable("the hub is stopping")));
  if (Status s = store->ResendUnanswered(*site, working_on); !s.ok()) {
    return answer.Send(Error(s));
  }
  if (std::optional<net::HttpResponse> work = NextWork(*site)) return answer.Send(*work);
  if (wait <= 0) return answer.Send(Reply(200, {{"v", 1}, {"task", nullptr}}));
  // Nothing yet: the poll waits, holding no thread, until a task or protocol for the site
  // arrives (WakePoll) or its deadline passes (the poll timer).
  const auto deadline =
      now + std::chrono::milliseconds(static_cast<int64_t>(1000 * std::min(wait, 86400.0)));
  waiting_polls.insert_or_assign(*site, WaitingPoll{std::move(answer), deadline});
  polls_cv.notify_all();
}

// REQUIRES: mu held.
std::optional<net::HttpResponse> Hub::Impl::NextWork(const std::string& site) {
  Result<std::optional<store::ProtocolDelivery>> delivery = store->NextProtocolDelivery(site);
  if (!delivery.ok()) return Error(delivery.status());
  if (delivery->has_value()) {
    const store::ProtocolDelivery& d = **delivery;
    return Reply(200, {{"v", 1},
                       {"task", nullptr},
                       {"protocol",
                        {{"id", d.protocol}, {"payload", d.payload}, {"signature", d.signature}}}});
  }
  Result<std::optional<store::TaskRecord>> task = store->NextTask(site);
  if (!task.ok()) return Error(task.status());
  if (!task->has_value()) return std::nullopt;
  const store::TaskRecord& t = **task;
  SetState(t.study, site, "computing");
  return Reply(200, {{"v", 1},
                     {"task", {{"id", t.id}, {"payload", t.payload}, {"signature", t.signature}}}});
}

// REQUIRES: mu held.
void Hub::Impl::WakePoll(const std::string& site) {
  if (!waiting_polls.count(site)) return;
  if (std::optional<net::HttpResponse> work = NextWork(site)) EndPoll(site, std::move(*work));
}

// REQUIRES: mu held.
void Hub::Impl::EndPoll(const std::string& site, net::HttpResponse response) {
  auto it = waiting_polls.find(site);
  if (it == waiting_polls.end()) return;
  heard[site] = config.clock->Now();  // the node polls again at once
  it->second.answer.Send(std::move(response));
  waiting_polls.erase(it);  // `site` may be its key: not used after this
}

void Hub::Impl::TimePolls() {
  std::unique_lock<std::mutex> lock(mu);
  while (!stopping) {
    const auto now = config.clock->Now();
    auto next = now + std::chrono::hours(1);
    std::vector<std::string> due;
    for (const auto& [site, poll] : waiting_polls) {
      if (poll.deadline <= now) {
        due.push_back(site);
      } else {
        next = std::min(next, poll.deadline);
      }
    }
    for (const std::string& site : due) EndPoll(site, Reply(200, {{"v", 1}, {"task", nullptr}}));
    config.clock->WaitUntil(polls_cv, lock, next);
  }
  while (!waiting_polls.empty()) {
    EndPoll(waiting_polls.begin()->first, Error(Unavailable("the hub is stopping")));
  }
}

net::HttpResponse Hub::Impl::Result_(const net::HttpRequest& request) {
  Result<std::string> site = Node(request);
  if (!site.ok()) {
    refusals("hub: refused a node from " + request.remote_address + ": " + site.status().message());
    return Error(site.status());
  }
  int64_t id = 0;
  Answer answer;
  int64_t audit_seq = -1;
  std::string audit_hash;
  try {
    const json j = json::parse(request.body);
    id = Integer(j.at("id"));
    if (j.contains("audit")) {
      audit_seq = Integer(j.at("audit").at("seq"));
      audit_hash = j.at("audit").at("hash").get<std::string>();
    }
    answer.status = j.at("status").get<std::string>();
    answer.message = j.value("message", "");
    answer.code = j.value("code", "");
    if (j.contains("result")) answer.result = j.at("result");
    if (j.contains("dataset")) answer.dataset_version = Integer(j.at("dataset").at("version"));
  } catch (const json::exception&) {
    return Error(InvalidArgument("result: malformed message"));
  }
  std::lock_guard<std::mutex> lock(mu);
  // A site whose audit chain went back (entries removed, the log replaced) is not believed:
  // the task fails, naming why, and the node hears it. The head and the answer are written
  // to disk together.
  Status chain, recorded;
  const Status written = store->InOneWrite([&] {
    chain = audit_seq < 0 ? Status::Ok() : store->RecordAuditHead(*site, audit_seq, audit_hash);
    if (!chain.ok()) {
      answer = Answer();
      answer.status = "failed";
      answer.code = "failed_precondition";
      answer.message = chain.message();
    }
    const std::string stored = answer.status == "done" ? answer.result.dump() : answer.message;
    recorded = store->CompleteTask(id, *site, answer.status, stored);
  });
  if (!written.ok()) return Error(written);
  if (!chain.ok()) Log("hub: site " + *site + ": " + chain.message());
  if (recorded.ok() && answer.status == "held") {
    Log("hub: site " + *site + " holds task " + std::to_string(id) +
        " for its custodian's approval");
    if (auto it = answers.find(id); it != answers.end()) {
      it->second->held = true;
      SetState(it->second->study, *site, "held");
    }
    cv.notify_all();
    return Reply(200, {{"v", 1}, {"accepted", true}});
  }
  if (!recorded.ok()) {
    Log("hub: refused an answer from site " + *site + " to task " + std::to_string(id) + ": " +
        recorded.message());
    return Error(recorded);
  }
  auto it = answers.find(id);
  if (it != answers.end()) {
    *it->second = std::move(answer);
    it->second->done = true;
    cv.notify_all();
  }
  if (!chain.ok()) return Error(chain);
  return Reply(200, {{"v", 1}, {"accepted", true}});
}

// The transport of one site for one study: a signed task in the store, then its answer.
Result<json> Hub::Impl::Dispatch(int64_t study, const std::string& researcher,
                                 const std::string& dataset, int64_t protocol,
                                 const std::string& site, int round, const json& task) {
  const std::string nonce = RandomHex(16);
  if (nonce.empty()) return Internal("no random bytes for a task nonce");
  json payload = {{"v", 1},
                  {"nonce", nonce},
                  {"study", study},
                  {"site", site},
                  {"researcher", researcher},
                  {"dataset", dataset},
                  {"issued_at", UtcNowIso()},
                  {"task", task}};
  if (protocol > 0) payload["protocol"] = protocol;
  store::TaskRecord record;
  record.study = study;
  record.site = site;
  record.round = round;
  record.payload = payload.dump();
  ASSIGN_OR_RETURN(record.signature, net::Sign(record.payload, secret_key));
  auto answer = std::make_shared<Answer>();
  answer->study = study;
  std::unique_lock<std::mutex> lock(mu);
  const auto now = config.clock->Now();
  const auto last = heard.find(site);
  if (now - up_since > config.site_timeout && !waiting_polls.count(site) &&
      (last == heard.end() || now - last->second > config.site_timeout)) {
    SetState(study, site, "failed");
    return Unavailable("not connected to the hub (its node has not polled in the last " +
                       std::to_string(config.site_timeout.count()) + " s)");
  }
  ASSIGN_OR_RETURN(int64_t id, store->AddTask(record));
  answers[id] = answer;
  Progress& watch = progress[study];
  ++watch.sites[site].round;
  watch.sites[site].state = "waiting";
  WakePoll(site);
  // The site answers within task_timeout, or holds the task for its custodian, who then has
  // approval_timeout to decide.
  auto deadline = config.clock->Now() + config.task_timeout;
  bool held = false;
  while (!answer->done && !stopping) {
    if (answer->held && !held) {
      held = true;
      deadline = config.clock->Now() + config.approval_timeout;
    }
    if (config.clock->Now() >= deadline) break;
    config.clock->WaitUntil(cv, lock, deadline);
  }
  answers.erase(id);
  watch.sites[site].state = !answer->done              ? "failed"
                            : answer->status == "done" ? "answered"
                                                       : answer->status;
  if (!answer->done) {
    if (stopping) return Unavailable("the hub stopped before the site answered");
    const std::string why =
        held ? "its custodian did not decide within " +
                   std::to_string(config.approval_timeout.count()) + " s"
             : "did not answer within " + std::to_string(config.task_timeout.count()) + " s";
    // A late answer is refused: nothing arrives after the analysis has moved on.
    (void)store->CompleteTask(id, site, "failed", why);
    return Unavailable(why);
  }
  if (answer->status == "done") {
    // Every release of a study comes from one version of each site's dataset: a site that
    // re-imported its data during the study would mix two populations in one result.
    auto [known, first] = watch.versions.emplace(site, answer->dataset_version);
    if (!first && known->second != answer->dataset_version) {
      watch.sites[site].state = "failed";
      return FailedPrecondition("its dataset changed during the study (version " +
                                std::to_string(known->second) + ", then " +
                                std::to_string(answer->dataset_version) + "); run it again");
    }
    return answer->result;
  }
  if (answer->status == "refused") return PermissionDenied(answer->message);
  const StatusCode code = CodeNamed(answer->code);
  return Status(code == StatusCode::kPermissionDenied ? StatusCode::kInternal : code,
                answer->message);
}

// A node says a protocol reached it, or what its custodian (or its review) decided.
net::HttpResponse Hub::Impl::NodeProtocol(const net::HttpRequest& request) {
  Result<std::string> site = Node(request);
  if (!site.ok()) return Error(site.status());
  int64_t id = 0;
  std::string status, reason;
  try {
    const json j = json::parse(request.body);
    id = Integer(j.at("id"));
    status = j.at("status").get<std::string>();
    reason = j.value("reason", "");
  } catch (const json::exception&) {
    return Error(InvalidArgument("protocol: malformed message"));
  }
  if (status != "received" && status != "approved" && status != "rejected") {
    return Error(InvalidArgument("protocol: status must be received, approved or rejected"));
  }
  std::lock_guard<std::mutex> lock(mu);
  if (Status s = store->RecordProtocolState(id, *site, status, reason); !s.ok()) return Error(s);
  Log("hub: site " + *site + ": protocol " + std::to_string(id) + " " + status);
  return Reply(200, {{"v", 1}, {"accepted", true}});
}

}  // namespace passerelle::federation
