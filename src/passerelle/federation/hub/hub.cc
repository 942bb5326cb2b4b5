// The hub: its store and key, its routes, who calls (a node by its pinned certificate, a
// researcher by token), the analyses and sites anyone signed in may read, and the web UI.
#include "passerelle/federation/hub/hub_impl.h"

namespace passerelle::federation {

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

// REQUIRES: mu held.
void Hub::Impl::SetState(int64_t study, const std::string& site, const std::string& state) {
  if (auto it = progress.find(study); it != progress.end()) it->second.sites[site].state = state;
}

// The node behind a request: its certificate must be the one pinned for its name.
Result<std::string> Hub::Impl::Node(const net::HttpRequest& request) {
  if (request.peer.empty()) {
    return PermissionDenied("a node must present its certificate");
  }
  std::lock_guard<std::mutex> lock(mu);
  ASSIGN_OR_RETURN(store::SiteRecord site, store->RecognizeSite(request.peer, request.peer_sha256));
  heard[site.name] = config.clock->Now();
  return site.name;
}

Result<std::string> Hub::Impl::Researcher(const net::HttpRequest& request) {
  if (request.bearer_token.empty()) {
    return PermissionDenied("sign in: send 'Authorization: Bearer TOKEN'");
  }
  std::lock_guard<std::mutex> lock(mu);
  return store->Authenticate(request.bearer_token);
}

// The web UI's files: from this origin only, and nothing else may be loaded by them.
net::HttpResponse Hub::Impl::Asset(const net::HttpRequest& request) {
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
net::HttpResponse Hub::Impl::Analyses(const net::HttpRequest& request) {
  Result<std::string> researcher = Researcher(request);
  if (!researcher.ok()) return Error(researcher.status());
  return {200, analysis::AnalysisKindsJson(), "application/json"};
}

net::HttpResponse Hub::Impl::Sites(const net::HttpRequest& request) {
  Result<std::string> researcher = Researcher(request);
  if (!researcher.ok()) return Error(researcher.status());
  std::lock_guard<std::mutex> lock(mu);
  Result<std::vector<store::SiteRecord>> sites = store->Sites();
  if (!sites.ok()) return Error(sites.status());
  const auto now = config.clock->Now();
  json out = json::array();
  for (const auto& s : *sites) {
    const auto last = heard.find(s.name);
    const bool online = waiting_polls.count(s.name) > 0 ||
                        (last != heard.end() && now - last->second <= config.site_timeout);
    out.push_back({{"name", s.name},
                   {"last_seen", s.last_seen},
                   {"online", online},
                   {"datasets", json::parse(s.catalog, nullptr, false)}});
  }
  return Reply(200, {{"v", 1}, {"sites", out}});
}

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
  impl->server->HandleAsync("POST", "/v1/node/poll", [self](const auto& r, net::Responder a) {
    self->Poll(r, std::move(a));
  });
  impl->server->Handle("POST", "/v1/node/result",
                       [self](const auto& r) { return self->Result_(r); });
  impl->server->Handle("POST", "/v1/node/protocol",
                       [self](const auto& r) { return self->NodeProtocol(r); });
  impl->server->Handle("POST", "/v1/studies", [self](const auto& r) { return self->Submit(r); });
  impl->server->Handle("POST", "/v1/protocols",
                       [self](const auto& r) { return self->SubmitProtocol(r); });
  for (const char* path : {"/v1/protocols", "/v1/protocols/{id}"}) {
    impl->server->Handle("GET", path, [self](const auto& r) { return self->Protocols(r); });
  }
  impl->server->Handle("GET", "/v1/studies/{id}", [self](const auto& r) { return self->Fetch(r); });
  impl->server->Handle("GET", "/v1/sites", [self](const auto& r) { return self->Sites(r); });
  impl->server->Handle("GET", "/v1/analyses", [self](const auto& r) { return self->Analyses(r); });
  impl->server->Handle("GET", "/v1/studies", [self](const auto& r) { return self->List(r); });
  impl->server->Handle("GET", "/v1/studies/{id}/report",
                       [self](const auto& r) { return self->Report(r); });
  impl->server->Handle("GET", "/v1/studies/{id}/progress",
                       [self](const auto& r) { return self->StudyProgress(r); });
  for (const char* page : {"/", "/ui/app.js", "/ui/messages.js", "/ui/style.css"}) {
    impl->server->Handle("GET", page, [](const net::HttpRequest& r) { return Impl::Asset(r); });
  }
  ASSIGN_OR_RETURN(impl->port, impl->server->Bind(impl->config.host, impl->config.port));
  impl->serving = std::thread([self] { self->server->Run(); });
  impl->poll_timer = std::thread([self] { self->TimePolls(); });
  return std::unique_ptr<Hub>(new Hub(std::move(impl)));
}

void Hub::Stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  {
    std::unique_lock<std::mutex> lock(impl_->mu);
    impl_->cv.notify_all();
    impl_->polls_cv.notify_all();
    impl_->cv.wait(lock, [&] { return impl_->running_studies == 0; });
  }
  if (impl_->poll_timer.joinable()) impl_->poll_timer.join();
  impl_->server->Stop();
  if (impl_->serving.joinable()) impl_->serving.join();
}

}  // namespace passerelle::federation
