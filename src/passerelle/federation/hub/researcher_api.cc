// The researchers' side of the hub: studies submitted, waited for, listed, reported; protocols
// submitted and read; a study's progress. Each researcher sees only their own.
#include "passerelle/federation/hub/hub_impl.h"

namespace passerelle::federation {

net::HttpResponse Hub::Impl::Submit(const net::HttpRequest& request) {
  Result<std::string> researcher = Researcher(request);
  if (!researcher.ok()) return Error(researcher.status());
  Result<Study> study = ParseStudy(request.body, "study");
  if (!study.ok()) return Error(study.status());
  std::lock_guard<std::mutex> lock(mu);
  if (stopping) return Error(Unavailable("the hub is stopping"));
  if (running_of[*researcher] >= config.studies_per_researcher) {
    return Error(Unavailable("study: " + std::to_string(running_of[*researcher]) +
                             " of your studies are running (limit studies_per_researcher): "
                             "submit this one when one of them has finished"));
  }
  Result<std::vector<store::SiteRecord>> registered = store->Sites();
  if (!registered.ok()) return Error(registered.status());
  std::vector<std::string> sites;
  for (const auto& s : *registered) sites.push_back(s.name);
  if (!study->sites.empty()) {
    for (const std::string& s : study->sites) {
      if (std::find(sites.begin(), sites.end(), s) == sites.end()) {
        return Error(InvalidArgument("study: sites: '" + s + "' is not registered at this hub"));
      }
    }
    sites = study->sites;
  }
  if (sites.empty()) return Error(FailedPrecondition("no site is registered at this hub"));
  // Under a protocol: its newest version, which the researcher must be named in; the sites
  // check the rest (that they approved it, and that every task is one of its analyses).
  int64_t protocol = 0;
  if (!study->protocol.empty()) {
    Result<std::optional<store::ProtocolEntry>> entry = store->LatestProtocol(study->protocol);
    if (!entry.ok()) return Error(entry.status());
    if (!*entry) {
      return Error(NotFound("study: protocol: there is no protocol '" + study->protocol + "'"));
    }
    Result<Protocol> p = ParseProtocol((*entry)->text, "protocol");
    if (!p.ok()) return Error(p.status());
    if (std::find(p->researchers.begin(), p->researchers.end(), *researcher) ==
        p->researchers.end()) {
      return Error(PermissionDenied("study: protocol " + study->protocol +
                                    " does not name researcher " + *researcher));
    }
    if (p->study.dataset != study->dataset) {
      return Error(InvalidArgument("study: dataset: protocol " + study->protocol +
                                   " is about dataset " + p->study.dataset));
    }
    if (study->sites.empty() && !p->study.sites.empty()) sites = p->study.sites;
    if (study->analyses.empty()) study->analyses = p->study.analyses;
    protocol = (*entry)->id;
  }
  Result<int64_t> id = store->AddStudy(*researcher, study->title, request.body);
  if (!id.ok()) return Error(id.status());
  Log("hub: study " + std::to_string(*id) + " from " + *researcher + ": " +
      std::to_string(study->analyses.size()) + " analyses over " + std::to_string(sites.size()) +
      " sites");
  ++running_studies;
  ++running_of[*researcher];
  std::thread([this, id = *id, who = *researcher, s = std::move(*study), sites,
               protocol]() mutable {
    // No failure ends the hub: a study that throws is recorded as failed.
    try {
      RunStudy(id, who, s, std::move(sites), protocol);
    } catch (const std::exception& e) {
      Log("hub: study " + std::to_string(id) + " failed: " + e.what());
      std::lock_guard<std::mutex> guard(mu);
      progress.erase(id);
      (void)store->AbandonTasks(id);
      (void)store->FinishStudy(
          id, "failed", json{{"study", id}, {"error", "the hub could not run the study"}}.dump());
      StudyEnded(who);
    }
  }).detach();
  return Reply(202, {{"v", 1}, {"study", *id}});
}

// A protocol (or a new version of one) from a researcher it names: kept, signed for each of
// its sites, and handed to their nodes with their next polls (docs/protocols.md).
net::HttpResponse Hub::Impl::SubmitProtocol(const net::HttpRequest& request) {
  Result<std::string> researcher = Researcher(request);
  if (!researcher.ok()) return Error(researcher.status());
  // Every node keeps each version in its audit log and protocol book: a protocol is a page of
  // analyses, not megabytes.
  if (request.body.size() > kMaxProtocolBytes) {
    return Error(InvalidArgument("protocol: " + std::to_string(request.body.size()) +
                                 " bytes; at most " + std::to_string(kMaxProtocolBytes) +
                                 " (limit protocol_size)"));
  }
  Result<Protocol> protocol = ParseProtocol(request.body, "protocol");
  if (!protocol.ok()) return Error(protocol.status());
  if (std::find(protocol->researchers.begin(), protocol->researchers.end(), *researcher) ==
      protocol->researchers.end()) {
    return Error(InvalidArgument("protocol: researchers: must name you (" + *researcher + ")"));
  }
  std::lock_guard<std::mutex> lock(mu);
  Result<std::vector<store::SiteRecord>> registered = store->Sites();
  if (!registered.ok()) return Error(registered.status());
  std::vector<std::string> sites;
  for (const auto& s : *registered) sites.push_back(s.name);
  for (const std::string& s : protocol->study.sites) {
    if (std::find(sites.begin(), sites.end(), s) == sites.end()) {
      return Error(InvalidArgument("protocol: sites: '" + s + "' is not registered at this hub"));
    }
  }
  // Every node reviews each version on its records as it arrives: a researcher has a few
  // waiting for the sites at a time.
  Result<int64_t> unreceived = store->UnreceivedProtocols(*researcher, sites);
  if (!unreceived.ok()) return Error(unreceived.status());
  if (*unreceived >= config.protocols_per_researcher) {
    return Error(Unavailable(
        "protocol: " + std::to_string(*unreceived) +
        " of your protocol versions have not reached every site yet (limit "
        "protocols_per_researcher): submit this one when the sites have received them"));
  }
  if (!protocol->study.sites.empty()) sites = protocol->study.sites;
  if (sites.empty()) return Error(FailedPrecondition("no site is registered at this hub"));
  ordered_json answer;
  const Status written = store->InOneWrite([&] {
    Result<store::ProtocolEntry> entry =
        store->AddProtocol(protocol->name, *researcher, request.body);
    if (!entry.ok()) {
      answer = {{"error", entry.status().message()}};
      return;
    }
    for (const std::string& site : sites) {
      const json payload = {{"v", 1},
                            {"kind", "protocol"},
                            {"nonce", RandomHex(16)},
                            {"site", site},
                            {"researcher", *researcher},
                            {"issued_at", UtcNowIso()},
                            {"protocol",
                             {{"id", entry->id},
                              {"name", entry->name},
                              {"version", entry->version},
                              {"text", entry->text}}}};
      store::ProtocolDelivery d;
      d.protocol = entry->id;
      d.site = site;
      d.payload = payload.dump();
      Result<std::string> signature = net::Sign(d.payload, secret_key);
      if (signature.ok()) d.signature = *signature;
      if (!signature.ok() || !store->AddProtocolDelivery(d).ok()) {
        answer = {{"error", "the protocol could not be signed for site " + site}};
        return;
      }
    }
    answer = {{"v", 1},
              {"protocol", entry->id},
              {"name", entry->name},
              {"version", entry->version},
              {"sites", sites}};
  });
  if (!written.ok()) return Error(written);
  if (answer.contains("error")) return Error(Internal(answer["error"].get<std::string>()));
  Log("hub: protocol " + protocol->name + " version " +
      std::to_string(answer["version"].get<int64_t>()) + " from " + *researcher + " for " +
      std::to_string(sites.size()) + " sites");
  for (const std::string& site : sites) WakePoll(site);
  return {201, answer.dump(), "application/json"};
}

// A protocol's entry for the researcher: number, name, version, who submitted it, and where
// it stands at each site. REQUIRES: mu held.
ordered_json Hub::Impl::ProtocolJson(const store::ProtocolEntry& e, bool with_text) {
  ordered_json sites = ordered_json::array();
  if (Result<std::vector<store::ProtocolDelivery>> d = store->Deliveries(e.id); d.ok()) {
    for (const store::ProtocolDelivery& s : *d) {
      sites.push_back({{"site", s.site},
                       {"status", s.status},
                       {"reason", s.reason},
                       {"updated_at", s.updated_at}});
    }
  }
  ordered_json j = {{"protocol", e.id},
                    {"name", e.name},
                    {"version", e.version},
                    {"researcher", e.researcher},
                    {"submitted_at", e.submitted_at},
                    {"sites", sites}};
  if (with_text) j["definition"] = ordered_json::parse(e.text, nullptr, false);
  return j;
}

// The protocols that name the researcher, newest first, or one of them (GET /v1/protocols/ID).
net::HttpResponse Hub::Impl::Protocols(const net::HttpRequest& request) {
  Result<std::string> researcher = Researcher(request);
  if (!researcher.ok()) return Error(researcher.status());
  const std::string prefix = "/v1/protocols/";
  const int64_t wanted =
      request.path.rfind(prefix, 0) == 0 ? std::stoll(request.path.substr(prefix.size())) : 0;
  Result<std::vector<store::ProtocolEntry>> all = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return store->Protocols();
  }();
  if (!all.ok()) return Error(all.status());
  ordered_json out = ordered_json::array();
  for (const store::ProtocolEntry& e : *all) {
    // Parsed without the hub's lock; the lock only for each one's state at the sites.
    Result<Protocol> p = ParseProtocol(e.text, "protocol");
    const bool named = p.ok() && std::find(p->researchers.begin(), p->researchers.end(),
                                           *researcher) != p->researchers.end();
    if (!named) continue;
    std::lock_guard<std::mutex> lock(mu);
    if (wanted == e.id) return {200, ProtocolJson(e, true).dump(), "application/json"};
    if (wanted == 0) out.push_back(ProtocolJson(e, false));
  }
  if (wanted != 0) return Error(NotFound("no protocol " + std::to_string(wanted)));
  return {200, ordered_json{{"v", 1}, {"protocols", out}}.dump(), "application/json"};
}

net::HttpResponse Hub::Impl::Fetch(const net::HttpRequest& request) {
  Result<std::string> researcher = Researcher(request);
  if (!researcher.ok()) return Error(researcher.status());
  const int64_t id = StudyIdIn(request.path);
  const auto deadline = config.clock->Now() + config.poll_wait;
  std::unique_lock<std::mutex> lock(mu);
  // A researcher holds a few waits at once, and all researchers together a bounded share of
  // the workers; more are answered at once, without waiting, so no one holds the hub's
  // connections with waits.
  struct Waiting {
    std::map<std::string, int>& of;
    const std::string& who;
    const bool may_wait;
    Waiting(std::map<std::string, int>& o, const std::string& w, int limit, int all_limit)
        : of(o), who(w), may_wait(o[w] < limit && Total(o) < all_limit) {
      ++of[who];
    }
    ~Waiting() {
      if (--of[who] <= 0) of.erase(who);
    }
    static int Total(const std::map<std::string, int>& o) {
      int total = 0;
      for (const auto& [_, n] : o) total += n;
      return total;
    }
  } waiting(waiting_of, *researcher, config.waits_per_researcher, config.waits);
  for (;;) {
    Result<store::StudyRecord> study = OwnStudy(*researcher, request.path);
    if (!study.ok()) return Error(study.status());
    // While the hub stops, a running study is recorded as failed (Stop() waits for it) and
    // that is the answer: the researcher learns to run it again.
    if (study->status != "running") {
      // The stored result is JSON the hub wrote: it is placed as it is, not parsed again
      // (a large result would hold the hub's lock).
      std::string body = ordered_json{{"v", 1}, {"study", id}, {"status", study->status}}.dump();
      if (!study->result.empty()) {
        body.pop_back();
        body += ",\"result\":" + study->result + "}";
      }
      return {200, std::move(body), "application/json"};
    }
    if (!waiting.may_wait || config.clock->WaitUntil(cv, lock, deadline)) {
      return Reply(200, {{"v", 1}, {"study", id}, {"status", "running"}});
    }
  }
}

// The researcher's studies, newest first: id, title, status, when.
net::HttpResponse Hub::Impl::List(const net::HttpRequest& request) {
  Result<std::string> researcher = Researcher(request);
  if (!researcher.ok()) return Error(researcher.status());
  std::lock_guard<std::mutex> lock(mu);
  Result<std::vector<store::StudyRecord>> studies = store->StudiesOf(*researcher);
  if (!studies.ok()) return Error(studies.status());
  json out = json::array();
  for (const auto& s : *studies) {
    out.push_back({{"study", s.id},
                   {"title", s.title},
                   {"status", s.status},
                   {"created_at", s.created_at},
                   {"finished_at", s.finished_at}});
  }
  return Reply(200, {{"v", 1}, {"studies", out}});
}

// The study a path /v1/studies/ID... names, when it is the researcher's (NotFound otherwise:
// another researcher's studies are not there for them). REQUIRES: mu held.
Result<store::StudyRecord> Hub::Impl::OwnStudy(const std::string& researcher,
                                               const std::string& path) {
  const int64_t id = StudyIdIn(path);
  Result<store::StudyRecord> study = store->Study(id);
  if (!study.ok() || study->owner != researcher) {
    return NotFound("no study " + std::to_string(id));
  }
  return study;
}

// A finished study's report (report/study_html.h), for its owner.
net::HttpResponse Hub::Impl::Report(const net::HttpRequest& request) {
  Result<std::string> researcher = Researcher(request);
  if (!researcher.ok()) return Error(researcher.status());
  Result<store::StudyRecord> study = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return OwnStudy(*researcher, request.path);
  }();
  if (!study.ok()) return Error(study.status());
  const int64_t id = study->id;
  if (study->status != "done") {
    return Error(FailedPrecondition("study " + std::to_string(id) + " is " + study->status));
  }
  // Rendered without the hub's lock: a large report delays no one else.
  Result<std::string> html = report::StudyHtml(study->result);
  if (!html.ok()) return Error(html.status());
  return {200, *html, "text/html; charset=utf-8"};
}

// Where a running study is: the analysis, and each site's round and state in it.
net::HttpResponse Hub::Impl::StudyProgress(const net::HttpRequest& request) {
  Result<std::string> researcher = Researcher(request);
  if (!researcher.ok()) return Error(researcher.status());
  std::lock_guard<std::mutex> lock(mu);
  Result<store::StudyRecord> study = OwnStudy(*researcher, request.path);
  if (!study.ok()) return Error(study.status());
  const int64_t id = study->id;
  ordered_json body = {{"v", 1}, {"study", id}, {"status", study->status}};
  if (auto it = progress.find(id); it != progress.end() && study->status == "running") {
    const Progress& p = it->second;
    ordered_json sites = ordered_json::array();
    for (const auto& [site, at] : p.sites) {
      sites.push_back({{"site", site}, {"round", at.round}, {"state", at.state}});
    }
    body["analysis"] = p.analysis;
    body["index"] = p.index;
    body["of"] = p.of;
    body["finished"] = p.finished;
    body["sites"] = sites;
  }
  return {200, body.dump(), "application/json"};
}

}  // namespace passerelle::federation
