// Internal to the hub (federation/hub/): its state, shared by the files that serve it — who calls
// and the web UI (hub.cc), the sites' polls, answers and tasks (task_board.cc), a study's run
// (study_runner.cc), the researchers' studies, protocols and results (researcher_api.cc).
#ifndef PASSERELLE_FEDERATION_HUB_HUB_IMPL_H_
#define PASSERELLE_FEDERATION_HUB_HUB_IMPL_H_

#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "passerelle/analysis/federated.h"
#include "passerelle/analysis/registry.h"
#include "passerelle/base/date.h"
#include "passerelle/base/sha256.h"
#include "passerelle/base/version.h"
#include "passerelle/federation/hub/hub.h"
#include "passerelle/federation/study.h"
#include "passerelle/federation/web_assets.h"
#include "passerelle/net/signing.h"
#include "passerelle/report/plot.h"
#include "passerelle/report/results_json.h"
#include "passerelle/report/results_text.h"
#include "passerelle/report/study_html.h"
#include "passerelle/store/hub_store.h"

namespace passerelle::federation {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;
using TimePoint = Clock::TimePoint;

std::string SecretKeyPath(const std::string& dir);

net::HttpResponse Reply(int status, const json& body);

net::HttpResponse Error(const Status& status);

StatusCode CodeNamed(const std::string& name);

// An integer of a node's message. A number that is not one (5e113) is malformed, never cast.
int64_t Integer(const json& v);

// The largest protocol the hub takes (and hands to every node).
inline constexpr size_t kMaxProtocolBytes = 256 << 10;

// The study a path /v1/studies/ID[/...] names (the route's pattern has checked the digits).
int64_t StudyIdIn(const std::string& path);

Result<std::string> ReadFile(const std::string& path);

// A task sent to a site and the answer the driver waits for.
struct Answer {
  int64_t study = 0;
  bool done = false;
  bool held = false;  // the site holds it for its custodian
  std::string status, message, code;
  json result;                  // the site's aggregate, as its node sent it
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
  // The nodes' polls waiting for work, one per site, each until its deadline: they hold no
  // thread; a task or protocol for the site answers its poll at once (WakePoll).
  struct WaitingPoll {
    net::Responder answer;
    TimePoint deadline;
  };
  std::map<std::string, WaitingPoll> waiting_polls;
  std::condition_variable polls_cv;  // a poll began to wait, or the hub stops
  std::thread poll_timer;            // answers each waiting poll at its deadline (TimePolls)
  std::map<std::string, std::string> catalogs;  // each site's latest catalog, as stored
  std::map<int64_t, Progress> progress;         // of the running studies
  std::atomic<bool> stopping{false};

  void Log(const std::string& line) const { config.log(line); }
  // What a stranger can make the hub log (a refused node), each distinct line once a minute.
  net::LogSink refusals;

  // Who calls, and what anyone may read (hub.cc).
  // REQUIRES: mu held.
  void SetState(int64_t study, const std::string& site, const std::string& state);
  // The node behind a request: its certificate must be the one pinned for its name.
  Result<std::string> Node(const net::HttpRequest& request);
  Result<std::string> Researcher(const net::HttpRequest& request);
  // The web UI's files: from this origin only, and nothing else may be loaded by them.
  static net::HttpResponse Asset(const net::HttpRequest& request);
  // The analyses this hub runs and their options (the web form builds itself from them).
  net::HttpResponse Analyses(const net::HttpRequest& request);
  net::HttpResponse Sites(const net::HttpRequest& request);
  // The sites' side: polls, answers, tasks (task_board.cc).
  void Poll(const net::HttpRequest& request, net::Responder answer);
  // The answer to a poll of `site` when a protocol or task waits for it. REQUIRES: mu held.
  std::optional<net::HttpResponse> NextWork(const std::string& site);
  // Answers the site's waiting poll when work waits for it. REQUIRES: mu held.
  void WakePoll(const std::string& site);
  // Answers the site's waiting poll, if any, with `response`. REQUIRES: mu held.
  void EndPoll(const std::string& site, net::HttpResponse response);
  // The poll timer's thread: each waiting poll answered "no task" at its deadline, and every
  // one "the hub is stopping" when it stops.
  void TimePolls();
  net::HttpResponse Result_(const net::HttpRequest& request);
  // The transport of one site for one study: a signed task in the store, then its answer.
  Result<json> Dispatch(int64_t study, const std::string& researcher, const std::string& dataset,
                        int64_t protocol, const std::string& site, int round, const json& task);
  // A node says a protocol reached it, or what its custodian (or its review) decided.
  net::HttpResponse NodeProtocol(const net::HttpRequest& request);
  // A study's run (study_runner.cc).
  // Runs every analysis of a study over its sites and records the results.
  void RunStudy(int64_t id, const std::string& researcher, const Study& study,
                std::vector<std::string> sites, int64_t protocol);
  // REQUIRES: mu held.
  void StudyEnded(const std::string& researcher);
  static std::string StoppedResult(int64_t id);
  // The researchers' side: studies, protocols, results (researcher_api.cc).
  net::HttpResponse Submit(const net::HttpRequest& request);
  // A protocol (or a new version of one) from a researcher it names: kept, signed for each of
  // its sites, and handed to their nodes with their next polls (docs/protocols.md).
  net::HttpResponse SubmitProtocol(const net::HttpRequest& request);
  // A protocol's entry for the researcher: number, name, version, who submitted it, and where
  // it stands at each site. REQUIRES: mu held.
  ordered_json ProtocolJson(const store::ProtocolEntry& e, bool with_text);
  // The protocols that name the researcher, newest first, or one of them (GET /v1/protocols/ID).
  net::HttpResponse Protocols(const net::HttpRequest& request);
  net::HttpResponse Fetch(const net::HttpRequest& request);
  // The researcher's studies, newest first: id, title, status, when.
  net::HttpResponse List(const net::HttpRequest& request);
  // The study a path /v1/studies/ID... names, when it is the researcher's (NotFound otherwise:
  // another researcher's studies are not there for them). REQUIRES: mu held.
  Result<store::StudyRecord> OwnStudy(const std::string& researcher, const std::string& path);
  // A finished study's report (report/study_html.h), for its owner.
  net::HttpResponse Report(const net::HttpRequest& request);
  // Where a running study is: the analysis, and each site's round and state in it.
  net::HttpResponse StudyProgress(const net::HttpRequest& request);
};

}  // namespace passerelle::federation

#endif  // PASSERELLE_FEDERATION_HUB_HUB_IMPL_H_
