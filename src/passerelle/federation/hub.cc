#include "passerelle/federation/hub.h"

#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "passerelle/analysis/federated.h"
#include "passerelle/analysis/registry.h"
#include "passerelle/base/date.h"
#include "passerelle/base/sha256.h"
#include "passerelle/base/version.h"
#include "passerelle/federation/study.h"
#include "passerelle/federation/web_assets.h"
#include "passerelle/net/signing.h"
#include "passerelle/report/plot.h"
#include "passerelle/report/results_json.h"
#include "passerelle/report/results_text.h"
#include "passerelle/report/study_html.h"
#include "passerelle/store/hub_store.h"

namespace passerelle::federation {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;
using TimePoint = Clock::TimePoint;

std::string SecretKeyPath(const std::string& dir) {
  return (fs::path(dir) / "signing.key").string();
}

net::HttpResponse Reply(int status, const json& body) {
  return {status, body.dump(), "application/json"};
}

net::HttpResponse Error(const Status& status) {
  return Reply(HttpStatusFor(status.code()),
               {{"v", 1},
                {"error", status.message()},
                {"code", std::string(StatusCodeName(status.code()))}});
}

StatusCode CodeNamed(const std::string& name) {
  for (StatusCode c :
       {StatusCode::kInvalidArgument, StatusCode::kNotFound, StatusCode::kAlreadyExists,
        StatusCode::kFailedPrecondition, StatusCode::kPermissionDenied, StatusCode::kUnavailable}) {
    if (StatusCodeName(c) == name) return c;
  }
  return StatusCode::kInternal;
}

// An integer of a node's message. A number that is not one (5e113) is malformed, never cast.
int64_t Integer(const json& v) {
  if (!v.is_number_integer()) throw json::type_error::create(302, "an integer is required", &v);
  return v.get<int64_t>();
}

// The largest protocol the hub takes (and hands to every node).
constexpr size_t kMaxProtocolBytes = 256 << 10;

// The study a path /v1/studies/ID[/...] names (the route's pattern has checked the digits).
int64_t StudyIdIn(const std::string& path) {
  return std::stoll(path.substr(std::string_view("/v1/studies/").size()));
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot read " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

std::string HubPublicKeyPath(const std::string& dir) {
  return (fs::path(dir) / "signing.pub").string();
}

Status InitHub(const std::string& dir) {
  ASSIGN_OR_RETURN(auto store, store::HubStore::Create(dir));
  ASSIGN_OR_RETURN(net::SigningKeyPair keys, net::GenerateSigningKey());
  {
    std::ofstream secret(SecretKeyPath(dir));
    secret << keys.secret_key << "\n";
    std::ofstream pub(HubPublicKeyPath(dir));
    pub << keys.public_key << "\n";
    if (!secret || !pub) return Internal("cannot write the hub's signing key in " + dir);
  }
  ::chmod(SecretKeyPath(dir).c_str(), 0600);
  return Status::Ok();
}

// A task sent to a site and the answer the driver waits for.
struct Answer {
  int64_t study = 0;
  bool done = false;
  bool held = false;  // the site holds it for its custodian
  std::string status, result, message, code;
  int64_t dataset_version = 0;  // the version of the dataset a release was computed on (0: unsaid)
};

// Where a running study is, for the researcher watching it (GET /v1/studies/ID/progress).
struct Progress {
  std::string analysis;  // the analysis running now
  int index = 0, of = 0;
  ordered_json finished = ordered_json::array();  // {id, status} of the analyses done
  struct Site {
    int round = 0;      // tasks of the current analysis sent to the site
    std::string state;  // pending, waiting, computing, held, answered, refused, failed
  };
  std::map<std::string, Site> sites;
  // The dataset version each site's releases were computed on: one per site for the whole study.
  std::map<std::string, int64_t> versions;
};

struct Hub::Impl {
  HubConfig config;
  std::string secret_key;
  std::unique_ptr<store::HubStore> store;
  std::unique_ptr<net::HttpsServer> server;
  int port = 0;
  std::thread serving;

  std::mutex mu;               // guards the store, `answers` and `studies`
  std::condition_variable cv;  // new tasks, answers, finished studies, stopping
  std::map<int64_t, std::shared_ptr<Answer>> answers;  // by task id
  int running_studies = 0;                             // detached study threads still running
  std::map<std::string, int> running_of;               // the running studies of each researcher
  std::map<std::string, int> waiting_of;   // each researcher's waits for a study (long polls)
  TimePoint up_since;                      // when the hub started, by its clock
  std::map<std::string, TimePoint> heard;  // when each site's node last polled or answered
  std::map<std::string, int> polling;      // polls each site's node holds now
  // The newest poll of each site: a node holds one poll at a time, so an older one still waiting
  // belongs to a connection that is gone (a node stopped or killed) and must not take a task.
  std::map<std::string, uint64_t> newest_poll;
  std::map<std::string, std::string> catalogs;  // each site's latest catalog, as stored
  std::map<int64_t, Progress> progress;         // of the running studies
  std::atomic<bool> stopping{false};

  void Log(const std::string& line) const { config.log(line); }
  // What a stranger can make the hub log (a refused node), each distinct line once a minute.
  net::LogSink refusals;

  // REQUIRES: mu held.
  void SetState(int64_t study, const std::string& site, const std::string& state) {
    if (auto it = progress.find(study); it != progress.end()) it->second.sites[site].state = state;
  }

  // The node behind a request: its certificate must be the one pinned for its name.
  Result<std::string> Node(const net::HttpRequest& request) {
    if (request.peer.empty()) {
      return PermissionDenied("a node must present its certificate");
    }
    std::lock_guard<std::mutex> lock(mu);
    ASSIGN_OR_RETURN(store::SiteRecord site,
                     store->RecognizeSite(request.peer, request.peer_sha256));
    heard[site.name] = config.clock->Now();
    return site.name;
  }

  Result<std::string> Researcher(const net::HttpRequest& request) {
    if (request.bearer_token.empty()) {
      return PermissionDenied("sign in: send 'Authorization: Bearer TOKEN'");
    }
    std::lock_guard<std::mutex> lock(mu);
    return store->Authenticate(request.bearer_token);
  }

  net::HttpResponse Poll(const net::HttpRequest& request) {
    Result<std::string> site = Node(request);
    if (!site.ok()) {
      refusals("hub: refused a node from " + request.remote_address + ": " +
               site.status().message());
      return Error(site.status());
    }
    double wait = static_cast<double>(config.poll_wait.count());
    std::string catalog;
    try {
      const json body = json::parse(request.body);
      wait = std::min(wait, body.value("wait_seconds", wait));
      if (body.contains("catalog") && body.at("catalog").is_array()) {
        catalog = body.at("catalog").dump();
      }
    } catch (const json::exception&) {
      return Error(InvalidArgument("poll: malformed JSON"));
    }
    const auto deadline =
        config.clock->Now() +
        std::chrono::milliseconds(static_cast<int64_t>(1000 * std::max(0.0, wait)));
    std::unique_lock<std::mutex> lock(mu);
    if (!catalog.empty() && catalogs[*site] != catalog) {
      if (Status s = store->RecordCatalog(*site, catalog); !s.ok()) return Error(s);
      catalogs[*site] = catalog;
    }
    // While this poll waits, the site is connected (guarded by mu, as `lock` is held here).
    // When it ends, the site was heard from just now (the node polls again at once).
    struct Polling {
      int& count;
      TimePoint& heard;
      const Clock& clock;
      Polling(int& c, TimePoint& h, const Clock& k) : count(++c), heard(h), clock(k) {}
      ~Polling() {
        --count;
        heard = clock.Now();
      }
    } polling_now(polling[*site], heard[*site], *config.clock);
    const uint64_t mine = ++newest_poll[*site];
    cv.notify_all();  // an older poll of this site steps aside
    if (Status s = store->ResendUnanswered(*site); !s.ok()) return Error(s);
    for (;;) {
      if (stopping) return Error(Unavailable("the hub is stopping"));
      if (newest_poll[*site] != mine) return Reply(200, {{"v", 1}, {"task", nullptr}});
      Result<std::optional<store::ProtocolDelivery>> delivery = store->NextProtocolDelivery(*site);
      if (!delivery.ok()) return Error(delivery.status());
      if (delivery->has_value()) {
        const store::ProtocolDelivery& d = **delivery;
        return Reply(200,
                     {{"v", 1},
                      {"task", nullptr},
                      {"protocol",
                       {{"id", d.protocol}, {"payload", d.payload}, {"signature", d.signature}}}});
      }
      Result<std::optional<store::TaskRecord>> task = store->NextTask(*site);
      if (!task.ok()) return Error(task.status());
      if (task->has_value()) {
        const store::TaskRecord& t = **task;
        SetState(t.study, *site, "computing");
        return Reply(
            200, {{"v", 1},
                  {"task", {{"id", t.id}, {"payload", t.payload}, {"signature", t.signature}}}});
      }
      if (config.clock->WaitUntil(cv, lock, deadline)) {
        return Reply(200, {{"v", 1}, {"task", nullptr}});
      }
    }
  }

  net::HttpResponse Result_(const net::HttpRequest& request) {
    Result<std::string> site = Node(request);
    if (!site.ok()) {
      refusals("hub: refused a node from " + request.remote_address + ": " +
               site.status().message());
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
      if (j.contains("result")) answer.result = j.at("result").dump();
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
      const std::string stored = answer.status == "done" ? answer.result : answer.message;
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
  Result<std::string> Dispatch(int64_t study, const std::string& researcher,
                               const std::string& dataset, int64_t protocol,
                               const std::string& site, int round, const std::string& task) {
    const std::string nonce = RandomHex(16);
    if (nonce.empty()) return Internal("no random bytes for a task nonce");
    json payload = {{"v", 1},
                    {"nonce", nonce},
                    {"study", study},
                    {"site", site},
                    {"researcher", researcher},
                    {"dataset", dataset},
                    {"issued_at", UtcNowIso()},
                    {"task", json::parse(task)}};
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
    if (now - up_since > config.site_timeout && polling[site] == 0 &&
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
    cv.notify_all();
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

  // Runs every analysis of a study over its sites and records the results.
  void RunStudy(int64_t id, const std::string& researcher, const Study& study,
                std::vector<std::string> sites, int64_t protocol) {
    ordered_json results = ordered_json::object();
    int round = 0;
    for (const StudyAnalysis& a : study.analyses) {
      {
        std::lock_guard<std::mutex> lock(mu);
        Progress& p = progress[id];
        p.analysis = a.id;
        p.index = static_cast<int>(&a - study.analyses.data()) + 1;
        p.of = static_cast<int>(study.analyses.size());
        p.sites.clear();
        for (const std::string& site : sites) p.sites[site].state = "pending";
      }
      std::vector<analysis::SiteLink> links;
      for (const std::string& site : sites) {
        links.push_back({site, [&, site](const std::string& task) {
                           return Dispatch(id, researcher, study.dataset, protocol, site, ++round,
                                           task);
                         }});
      }
      const int first_round = round;
      const auto started = config.clock->Now();
      Result<analysis::AnalysisOutput> out = analysis::RunFederated(a.request, links);
      const std::chrono::duration<double> took = config.clock->Now() - started;
      ordered_json entry = {
          {"function", a.request.function},
          {"request", ordered_json::parse(analysis::RequestOptionsJson(a.request))}};
      if (out.ok()) {
        entry["status"] = "ok";
        entry["results"] = ordered_json::parse(report::ResultsJson(*out));
        entry["notes"] = out->notes;
        entry["text"] = report::ResultsText(*out);
        if (Result<std::string> svg = report::PlotSvg(*out); svg.ok()) entry["svg"] = *svg;
        if (const auto* d = std::get_if<analysis::DescribeOutput>(&out->result)) {
          entry["table"] = report::DescribeCells(*d);
        }
      } else {
        const bool refused = out.status().code() == StatusCode::kPermissionDenied;
        entry["status"] = refused ? "refused" : "failed";
        entry["results"] = nullptr;
        entry["notes"] = std::vector<std::string>{out.status().message()};
      }
      entry["tasks"] = round - first_round;  // sent one at a time, to one site each
      entry["seconds"] = took.count();
      Log("hub: study " + std::to_string(id) + ": " + a.id + " (" + a.request.function +
          "): " + entry["status"].get<std::string>());
      std::lock_guard<std::mutex> lock(mu);
      progress[id].finished.push_back({{"id", a.id}, {"status", entry["status"]}});
      results[a.id] = std::move(entry);
      if (stopping) break;
    }
    std::lock_guard<std::mutex> lock(mu);
    // Provenance: this hub's version, when the study ended, the version of each site's dataset
    // its releases were computed on, and the head of each site's audit chain after its last
    // answer (the site's custodian can find every release there).
    ordered_json datasets = ordered_json::object();
    for (const auto& [site, version] : progress[id].versions) {
      ordered_json d = {{"name", study.dataset}, {"version", version}};
      for (const auto& entry : json::parse(catalogs[site], nullptr, false)) {
        if (entry.is_object() && entry.value("name", "") == study.dataset &&
            entry.value("version", int64_t{0}) == version) {
          d["imported_at"] = entry.value("imported_at", "");
        }
      }
      datasets[site] = std::move(d);
    }
    progress.erase(id);
    ordered_json audit = ordered_json::object();
    if (Result<std::vector<store::SiteRecord>> known = store->Sites(); known.ok()) {
      for (const store::SiteRecord& s : *known) {
        if (std::find(sites.begin(), sites.end(), s.name) != sites.end() && s.audit_seq > 0) {
          audit[s.name] = std::to_string(s.audit_seq) + ":" + s.audit_hash;
        }
      }
    }
    const ordered_json document = {{"study", id},
                                   {"title", study.title},
                                   {"dataset", study.dataset},
                                   {"researcher", researcher},
                                   {"sites", sites},
                                   {"results", results},
                                   {"provenance",
                                    {{"passerelle", kVersion},
                                     {"finished_at", UtcNowIso()},
                                     {"datasets", datasets},
                                     {"audit_heads", audit}}}};
    if (stopping) {
      (void)store->AbandonTasks(id);
      (void)store->FinishStudy(id, "failed", StoppedResult(id));
    } else {
      (void)store->FinishStudy(id, "done", document.dump());
    }
    StudyEnded(researcher);
  }

  // REQUIRES: mu held.
  void StudyEnded(const std::string& researcher) {
    --running_studies;
    if (--running_of[researcher] <= 0) running_of.erase(researcher);
    cv.notify_all();
  }

  static std::string StoppedResult(int64_t id) {
    return json{{"study", id}, {"error", "the hub stopped during the study; run it again"}}.dump();
  }

  net::HttpResponse Submit(const net::HttpRequest& request) {
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
  net::HttpResponse SubmitProtocol(const net::HttpRequest& request) {
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
    cv.notify_all();
    return {201, answer.dump(), "application/json"};
  }

  // A protocol's entry for the researcher: number, name, version, who submitted it, and where
  // it stands at each site. REQUIRES: mu held.
  ordered_json ProtocolJson(const store::ProtocolEntry& e, bool with_text) {
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
  net::HttpResponse Protocols(const net::HttpRequest& request) {
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

  // A node says a protocol reached it, or what its custodian (or its review) decided.
  net::HttpResponse NodeProtocol(const net::HttpRequest& request) {
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

  net::HttpResponse Fetch(const net::HttpRequest& request) {
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
  net::HttpResponse List(const net::HttpRequest& request) {
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
  Result<store::StudyRecord> OwnStudy(const std::string& researcher, const std::string& path) {
    const int64_t id = StudyIdIn(path);
    Result<store::StudyRecord> study = store->Study(id);
    if (!study.ok() || study->owner != researcher) {
      return NotFound("no study " + std::to_string(id));
    }
    return study;
  }

  // A finished study's report (report/study_html.h), for its owner.
  net::HttpResponse Report(const net::HttpRequest& request) {
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
  net::HttpResponse StudyProgress(const net::HttpRequest& request) {
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

  // The web UI's files: from this origin only, and nothing else may be loaded by them.
  static net::HttpResponse Asset(const net::HttpRequest& request) {
    const WebAsset* asset = FindWebAsset(request.path);
    if (!asset) return Error(NotFound("no page " + request.path));
    net::HttpResponse r{200, std::string(asset->body), std::string(asset->content_type), {}};
    r.headers = {{"Content-Security-Policy",
                  "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
                  "frame-ancestors 'none'; base-uri 'none'"},
                 {"X-Content-Type-Options", "nosniff"},
                 {"Cache-Control", "no-store"}};
    return r;
  }

  // The analyses this hub runs and their options (the web form builds itself from them).
  net::HttpResponse Analyses(const net::HttpRequest& request) {
    Result<std::string> researcher = Researcher(request);
    if (!researcher.ok()) return Error(researcher.status());
    return {200, analysis::AnalysisKindsJson(), "application/json"};
  }

  net::HttpResponse Sites(const net::HttpRequest& request) {
    Result<std::string> researcher = Researcher(request);
    if (!researcher.ok()) return Error(researcher.status());
    std::lock_guard<std::mutex> lock(mu);
    Result<std::vector<store::SiteRecord>> sites = store->Sites();
    if (!sites.ok()) return Error(sites.status());
    const auto now = config.clock->Now();
    json out = json::array();
    for (const auto& s : *sites) {
      const auto last = heard.find(s.name);
      const bool online =
          polling[s.name] > 0 || (last != heard.end() && now - last->second <= config.site_timeout);
      out.push_back({{"name", s.name},
                     {"last_seen", s.last_seen},
                     {"online", online},
                     {"datasets", json::parse(s.catalog, nullptr, false)}});
    }
    return Reply(200, {{"v", 1}, {"sites", out}});
  }
};

Hub::Hub(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Hub::~Hub() { Stop(); }
int Hub::port() const { return impl_->port; }

Result<std::unique_ptr<Hub>> Hub::Start(HubConfig config) {
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(config);
  if (!impl->config.log) impl->config.log = net::StderrLog();
  impl->up_since = impl->config.clock->Now();
  impl->refusals = net::OncePerMinute(impl->config.log);
  ASSIGN_OR_RETURN(impl->store, store::HubStore::Open(impl->config.dir));
  ASSIGN_OR_RETURN(impl->secret_key, ReadFile(SecretKeyPath(impl->config.dir)));
  ASSIGN_OR_RETURN(std::vector<int64_t> unfinished, impl->store->RunningStudies());
  for (int64_t id : unfinished) {
    RETURN_IF_ERROR(impl->store->AbandonTasks(id));
    RETURN_IF_ERROR(impl->store->FinishStudy(id, "failed", Impl::StoppedResult(id)));
    impl->Log("hub: study " + std::to_string(id) + " was running when the hub stopped: failed");
  }
  ASSIGN_OR_RETURN(std::vector<store::SiteRecord> sites, impl->store->Sites());
  for (const store::SiteRecord& s : sites) impl->catalogs[s.name] = s.catalog;
  Impl* self = impl.get();
  ASSIGN_OR_RETURN(impl->server,
                   net::HttpsServer::Create(
                       impl->config.identity, [self](const std::string& line) { self->Log(line); },
                       net::ClientCertificates::kOptional, impl->config.limits));
  impl->server->Handle("POST", "/v1/node/poll", [self](const auto& r) { return self->Poll(r); });
  impl->server->Handle("POST", "/v1/node/result",
                       [self](const auto& r) { return self->Result_(r); });
  impl->server->Handle("POST", "/v1/node/protocol",
                       [self](const auto& r) { return self->NodeProtocol(r); });
  impl->server->Handle("POST", "/v1/studies", [self](const auto& r) { return self->Submit(r); });
  impl->server->Handle("POST", "/v1/protocols",
                       [self](const auto& r) { return self->SubmitProtocol(r); });
  for (const char* path : {"/v1/protocols", "/v1/protocols/[0-9]{1,18}"}) {
    impl->server->Handle("GET", path, [self](const auto& r) { return self->Protocols(r); });
  }
  impl->server->Handle("GET", "/v1/studies/[0-9]{1,18}",
                       [self](const auto& r) { return self->Fetch(r); });
  impl->server->Handle("GET", "/v1/sites", [self](const auto& r) { return self->Sites(r); });
  impl->server->Handle("GET", "/v1/analyses", [self](const auto& r) { return self->Analyses(r); });
  impl->server->Handle("GET", "/v1/studies", [self](const auto& r) { return self->List(r); });
  impl->server->Handle("GET", "/v1/studies/[0-9]{1,18}/report",
                       [self](const auto& r) { return self->Report(r); });
  impl->server->Handle("GET", "/v1/studies/[0-9]{1,18}/progress",
                       [self](const auto& r) { return self->StudyProgress(r); });
  for (const char* page : {"/", "/ui/app\\.js", "/ui/messages\\.js", "/ui/style\\.css"}) {
    impl->server->Handle("GET", page, [](const net::HttpRequest& r) { return Impl::Asset(r); });
  }
  ASSIGN_OR_RETURN(impl->port, impl->server->Bind(impl->config.host, impl->config.port));
  impl->serving = std::thread([self] { self->server->Run(); });
  return std::unique_ptr<Hub>(new Hub(std::move(impl)));
}

void Hub::Stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  {
    std::unique_lock<std::mutex> lock(impl_->mu);
    impl_->cv.notify_all();
    impl_->cv.wait(lock, [&] { return impl_->running_studies == 0; });
  }
  impl_->server->Stop();
  if (impl_->serving.joinable()) impl_->serving.join();
}

}  // namespace passerelle::federation
