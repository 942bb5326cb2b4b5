#include "passerelle/federation/node/custodian.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "passerelle/base/sha256.h"
#include "passerelle/federation/web_assets.h"
#include "passerelle/store/approval_queue.h"
#include "passerelle/store/audit_log.h"
#include "passerelle/store/protocol_book.h"
#include "passerelle/store/site_store.h"

namespace passerelle::federation {
namespace {

using nlohmann::ordered_json;

Result<std::unique_ptr<store::ApprovalQueue>> OpenQueue(const std::string& dir) {
  RETURN_IF_ERROR(store::SiteStore::Open(dir).status());  // a site store, not any folder
  return store::ApprovalQueue::Open(dir);
}

net::HttpResponse Json(int status, const ordered_json& body) {
  return {status, body.dump(), "application/json"};
}

net::HttpResponse Error(const Status& s) {
  return Json(HttpStatusFor(s.code()), {{"error", s.message()}});
}

}  // namespace

Result<std::string> HeldReleasesJson(const std::string& site_dir) {
  ASSIGN_OR_RETURN(auto queue, OpenQueue(site_dir));
  ASSIGN_OR_RETURN(std::vector<store::HeldRelease> held, queue->Pending());
  ordered_json all = ordered_json::array();
  for (const store::HeldRelease& r : held) {
    all.push_back({{"task", r.task},
                   {"study", r.study},
                   {"researcher", r.researcher},
                   {"dataset", r.dataset},
                   {"dataset_version", r.dataset_version},
                   {"asked", r.what},
                   {"held_at", r.held_at},
                   {"step", ordered_json::parse(r.task_json)},
                   {"sha256", Sha256Hex(r.aggregate)},
                   {"would_release", ordered_json::parse(r.aggregate)}});
  }
  return all.dump(2);
}

Status DecideRelease(const std::string& site_dir, int64_t task, bool approve,
                     const std::string& reason, const std::string& by) {
  if (reason.empty()) return InvalidArgument("say why (a reason is recorded with the decision)");
  ASSIGN_OR_RETURN(auto queue, OpenQueue(site_dir));
  ASSIGN_OR_RETURN(store::HeldRelease held, queue->Get(task));
  if (!held.decision.empty()) {
    return FailedPrecondition("task " + std::to_string(task) + " was already " + held.decision +
                              " by " + held.decided_by);
  }
  // The audit log first, so the decision precedes the release it lets out.
  ASSIGN_OR_RETURN(auto audit, store::AuditLog::Open(site_dir));
  store::AuditEntry entry;
  entry.kind = approve ? "approved" : "denied";
  entry.task = held.task;
  entry.study = held.study;
  entry.researcher = held.researcher;
  entry.detail = reason + " (by " + by + ")";
  entry.digest = Sha256Hex(held.aggregate);
  RETURN_IF_ERROR(audit->Append(entry).status());
  return queue->Decide(task, approve, reason, by);
}

Result<std::string> ProtocolsJson(const std::string& site_dir) {
  RETURN_IF_ERROR(store::SiteStore::Open(site_dir).status());
  ASSIGN_OR_RETURN(auto book, store::ProtocolBook::Open(site_dir));
  ASSIGN_OR_RETURN(std::vector<store::ProtocolRecord> all, book->All());
  ordered_json out = ordered_json::array();
  for (const store::ProtocolRecord& p : all) {
    out.push_back({{"protocol", p.id},
                   {"name", p.name},
                   {"version", p.version},
                   {"researcher", p.researcher},
                   {"received_at", p.received_at},
                   {"status", p.status},
                   {"reason", p.reason},
                   {"decided_by", p.decided_by},
                   {"decided_at", p.decided_at},
                   {"sha256", p.digest},
                   {"definition", ordered_json::parse(p.text, nullptr, false)},
                   {"review", ordered_json::parse(p.review, nullptr, false)},
                   {"changes", ordered_json::parse(p.changes, nullptr, false)}});
  }
  return out.dump(2);
}

Status DecideProtocol(const std::string& site_dir, int64_t id, bool approve,
                      const std::string& reason, const std::string& by) {
  if (reason.empty()) return InvalidArgument("say why (a reason is recorded with the decision)");
  RETURN_IF_ERROR(store::SiteStore::Open(site_dir).status());
  ASSIGN_OR_RETURN(auto book, store::ProtocolBook::Open(site_dir));
  ASSIGN_OR_RETURN(std::optional<store::ProtocolRecord> p, book->Get(id));
  if (!p) return NotFound("this node has not received protocol " + std::to_string(id));
  if (p->status != "pending") {
    return FailedPrecondition("protocol " + std::to_string(id) + " was already " + p->status +
                              " by " + p->decided_by);
  }
  ASSIGN_OR_RETURN(auto audit, store::AuditLog::Open(site_dir));
  store::AuditEntry entry;
  entry.kind = approve ? "protocol_approved" : "protocol_rejected";
  entry.researcher = p->researcher;
  entry.detail =
      p->name + " version " + std::to_string(p->version) + ": " + reason + " (by " + by + ")";
  entry.digest = p->digest;
  RETURN_IF_ERROR(audit->Append(entry).status());
  return book->Decide(id, approve, reason, by);
}

Result<std::string> AuditEntriesJson(const std::string& site_dir, int64_t first, int64_t limit) {
  RETURN_IF_ERROR(store::SiteStore::Open(site_dir).status());
  ASSIGN_OR_RETURN(auto audit, store::AuditLog::Open(site_dir));
  ASSIGN_OR_RETURN(auto entries, audit->Entries(first, limit));
  ordered_json out = ordered_json::array();
  for (const auto& e : entries) {
    out.push_back({{"seq", e.seq},
                   {"at", e.at},
                   {"kind", e.kind},
                   {"task", e.task},
                   {"study", e.study},
                   {"researcher", e.researcher},
                   {"detail", e.detail},
                   {"signature", e.signature},
                   {"digest", e.digest},
                   {"prev", e.prev},
                   {"hash", e.hash}});
  }
  return out.dump(2);
}

std::string SystemAccount() {
  if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) return pw->pw_name;
  return "uid " + std::to_string(::geteuid());
}

struct CustodianPage::Impl {
  std::string dir, token;
  std::unique_ptr<net::HttpsServer> server;
  std::thread serving;
  int port = 0;

  // The custodian's token, or PermissionDenied.
  Status Allowed(const net::HttpRequest& request) const {
    if (request.bearer_token != token) {
      return PermissionDenied("give the token of " + dir + "/custodian.token");
    }
    return Status::Ok();
  }

  net::HttpResponse Pending(const net::HttpRequest& request) {
    if (Status s = Allowed(request); !s.ok()) return Error(s);
    Result<std::string> held = HeldReleasesJson(dir);
    if (!held.ok()) return Error(held.status());
    return {200, *held, "application/json"};
  }

  // A decision from the page: {KEY: number, approve: bool, reason: text}, recorded by `decide`
  // (DecideRelease or DecideProtocol) with the account and the page as its author.
  using DecideFn = Status (*)(const std::string&, int64_t, bool, const std::string&,
                              const std::string&);
  net::HttpResponse Decision(const net::HttpRequest& request, const char* key, DecideFn decide) {
    if (Status s = Allowed(request); !s.ok()) return Error(s);
    const ordered_json j = ordered_json::parse(request.body, nullptr, false);
    if (!j.is_object() || !j.contains(key) || !j[key].is_number_integer() ||
        !j.contains("approve") || !j["approve"].is_boolean() || !j.contains("reason") ||
        !j["reason"].is_string()) {
      return Error(InvalidArgument(std::string("decide: give ") + key +
                                   ", approve (true or false) and reason"));
    }
    const Status decided =
        decide(dir, j[key].get<int64_t>(), j["approve"].get<bool>(), j["reason"].get<std::string>(),
               SystemAccount() + ", custodian's page");
    if (!decided.ok()) return Error(decided);
    return Json(200, {{"decided", true}});
  }

  net::HttpResponse Protocols(const net::HttpRequest& request) {
    if (Status s = Allowed(request); !s.ok()) return Error(s);
    Result<std::string> protocols = ProtocolsJson(dir);
    if (!protocols.ok()) return Error(protocols.status());
    return {200, *protocols, "application/json"};
  }

  // A page of the audit log: the `kAuditPage` entries before `?before=SEQ` (the newest without
  // it), with the whole chain's verification and the newest entry's number.
  static constexpr int64_t kAuditPage = 100;
  net::HttpResponse Audit(const net::HttpRequest& request) {
    if (Status s = Allowed(request); !s.ok()) return Error(s);
    Result<std::unique_ptr<store::AuditLog>> audit = store::AuditLog::Open(dir);
    if (!audit.ok()) return Error(audit.status());
    const Result<int64_t> verified = (*audit)->Verify();
    const Result<int64_t> last = (*audit)->LastSeq();
    if (!last.ok()) return Error(last.status());
    int64_t before = *last + 1;
    const std::string asked = request.Param("before");
    if (!asked.empty()) {
      if (asked.size() > 18 || asked.find_first_not_of("0123456789") != std::string::npos) {
        return Error(InvalidArgument("audit: before must be an entry number"));
      }
      before = std::min<int64_t>(before, std::stoll(asked));
    }
    const int64_t first = std::max<int64_t>(1, before - kAuditPage);
    Result<std::string> entries =
        AuditEntriesJson(dir, first, std::max<int64_t>(0, before - first));
    if (!entries.ok()) return Error(entries.status());
    ordered_json body = {
        {"verified", verified.ok()}, {"last", *last}, {"entries", ordered_json::parse(*entries)}};
    body["message"] = verified.ok() ? std::to_string(*verified) + " entries, the chain is intact"
                                    : verified.status().message();
    return Json(200, body);
  }
};

CustodianPage::CustodianPage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CustodianPage::~CustodianPage() { Stop(); }
int CustodianPage::port() const { return impl_->port; }

void CustodianPage::Stop() {
  if (!impl_->server) return;
  impl_->server->Stop();
  if (impl_->serving.joinable()) impl_->serving.join();
}

Result<std::unique_ptr<CustodianPage>> CustodianPage::Start(const std::string& site_dir, int port,
                                                            net::LogSink log) {
  auto impl = std::make_unique<Impl>();
  impl->dir = site_dir;
  RETURN_IF_ERROR(store::SiteStore::Open(site_dir).status());
  impl->token = RandomHex(24);
  if (impl->token.empty()) return Internal("no random bytes for the custodian's token");
  const std::string token_path = site_dir + "/custodian.token";
  {
    std::ofstream out(token_path, std::ios::trunc);
    if (!(out << impl->token << "\n")) return Unavailable("cannot write " + token_path);
  }
  ::chmod(token_path.c_str(), 0600);
  ASSIGN_OR_RETURN(impl->server, net::HttpsServer::CreateLoopback(std::move(log)));
  Impl* self = impl.get();
  impl->server->Handle("GET", "/", [](const net::HttpRequest&) -> net::HttpResponse {
    const WebAsset* page = FindWebAsset("/ui/custodian.html");
    return {200, std::string(page->body), std::string(page->content_type)};
  });
  for (const char* path : {"/ui/custodian.js", "/ui/messages.js", "/ui/style.css"}) {
    impl->server->Handle("GET", path, [](const net::HttpRequest& r) -> net::HttpResponse {
      const WebAsset* asset = FindWebAsset(r.path);
      if (!asset) return Error(NotFound("no page " + r.path));
      return {200, std::string(asset->body), std::string(asset->content_type)};
    });
  }
  impl->server->Handle("GET", "/api/pending", [self](const auto& r) { return self->Pending(r); });
  impl->server->Handle("POST", "/api/decide",
                       [self](const auto& r) { return self->Decision(r, "task", &DecideRelease); });
  impl->server->Handle("GET", "/api/audit", [self](const auto& r) { return self->Audit(r); });
  impl->server->Handle("GET", "/api/protocols",
                       [self](const auto& r) { return self->Protocols(r); });
  impl->server->Handle("POST", "/api/protocol", [self](const auto& r) {
    return self->Decision(r, "protocol", &DecideProtocol);
  });
  ASSIGN_OR_RETURN(impl->port, impl->server->Bind("127.0.0.1", port));
  std::ofstream(site_dir + "/custodian.port", std::ios::trunc) << impl->port << "\n";
  impl->serving = std::thread([self] { self->server->Run(); });
  return std::unique_ptr<CustodianPage>(new CustodianPage(std::move(impl)));
}

}  // namespace passerelle::federation
