// Fuzz target: the bodies of HTTP requests to a real hub, in this process, over HTTPS on
// 127.0.0.1. The first byte picks the endpoint — a researcher's study or protocol, a node's poll,
// answer or protocol receipt — and the rest is the body. Whatever arrives: an answer (never a
// crash, a hang or a leak), and the hub still answers the next request.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "passerelle/federation/hub/hub.h"
#include "passerelle/net/https.h"
#include "passerelle/net/pki.h"
#include "passerelle/store/hub_store.h"

namespace {

using namespace passerelle;

// A hub with a researcher and a registered site, and a client for each.
struct Federation {
  std::unique_ptr<federation::Hub> hub;
  std::unique_ptr<net::HttpsClient> researcher, node;

  Federation() {
    char pattern[] = "/tmp/passerelle_hub_fuzz_XXXXXX";
    const std::string dir = mkdtemp(pattern);
    net::IssueOptions hub_cert, node_cert;
    hub_cert.name = "hub";
    hub_cert.role = net::CertificateRole::kHub;
    node_cert.name = "wuhan";
    if (!net::CreateAuthority(dir + "/ca", {}).ok() ||
        !net::IssueCertificate(dir + "/ca", dir + "/certs", hub_cert).ok() ||
        !net::IssueCertificate(dir + "/ca", dir + "/certs", node_cert).ok() ||
        !federation::InitHub(dir + "/hub").ok()) {
      std::abort();
    }
    std::string token;
    {
      auto store = store::HubStore::Open(dir + "/hub").value();
      token = store->AddUser("alice").value();
      const auto info =
          net::VerifyCertificate(dir + "/ca/ca.crt", dir + "/certs/wuhan.crt").value();
      if (!store->AddSite("wuhan", info.sha256).ok()) std::abort();
    }
    federation::HubConfig config;
    config.dir = dir + "/hub";
    config.identity = {dir + "/ca/ca.crt", dir + "/certs/hub.crt", dir + "/certs/hub.key"};
    config.poll_wait = std::chrono::seconds(0);     // no request waits
    config.site_timeout = std::chrono::seconds(0);  // a study's tasks fail at once
    config.log = [](const std::string&) {};
    hub = federation::Hub::Start(config).value();
    researcher =
        net::HttpsClient::Create("127.0.0.1", hub->port(), {config.identity.ca_cert, "", ""})
            .value();
    researcher->SetBearerToken(token);
    node = net::HttpsClient::Create(
               "127.0.0.1", hub->port(),
               {config.identity.ca_cert, dir + "/certs/wuhan.crt", dir + "/certs/wuhan.key"})
               .value();
  }
  ~Federation() { hub->Stop(); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Federation federation;
  if (size == 0) return 0;
  static const char* const kPaths[] = {"/v1/studies", "/v1/protocols", "/v1/node/poll",
                                       "/v1/node/result", "/v1/node/protocol"};
  const size_t which = data[0] % 5;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  net::HttpsClient& client = which < 2 ? *federation.researcher : *federation.node;
  // A kept-alive connection the hub closed meanwhile fails once, as it does for any client;
  // failing twice means the hub stopped answering.
  auto answer = client.Post(kPaths[which], body);
  if (!answer.ok()) answer = client.Post(kPaths[which], body);
  if (!answer.ok()) std::abort();
  if (answer->status >= 500 && answer->status != 503) std::abort();  // a handler failed
  if (!federation.researcher->Get("/v1/analyses").ok() &&
      !federation.researcher->Get("/v1/analyses").ok()) {
    std::abort();
  }
  return 0;
}
