#include "passerelle/federation/researcher.h"

#include <nlohmann/json.hpp>

#include "passerelle/net/https.h"

namespace passerelle::federation {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// The hub's error as a Status with the hub's code and message.
Status HubError(const net::HttpResponse& r) {
  try {
    const json j = json::parse(r.body);
    const std::string code = j.value("code", "");
    const std::string message = "hub: " + j.value("error", r.body);
    if (code == "invalid_argument") return InvalidArgument(message);
    if (code == "permission_denied") return PermissionDenied(message);
    if (code == "not_found") return NotFound(message);
    if (code == "failed_precondition") return FailedPrecondition(message);
    return Unavailable(message);
  } catch (const json::exception&) {
    return Unavailable("hub answered HTTP " + std::to_string(r.status));
  }
}

Result<std::unique_ptr<net::HttpsClient>> Connect(const ResearcherConfig& config) {
  net::TlsIdentity identity;
  identity.ca_cert = config.ca_cert;
  ASSIGN_OR_RETURN(auto client,
                   net::HttpsClient::Create(config.hub.host, config.hub.port, identity));
  client->SetBearerToken(config.token);
  return client;
}

}  // namespace

Result<std::string> SubmitProtocol(const ResearcherConfig& config,
                                   const std::string& protocol_json) {
  ASSIGN_OR_RETURN(auto client, Connect(config));
  ASSIGN_OR_RETURN(net::HttpResponse r, client->Post("/v1/protocols", protocol_json));
  if (r.status != 201) return HubError(r);
  return r.body;
}

Result<std::string> ListProtocols(const ResearcherConfig& config) {
  ASSIGN_OR_RETURN(auto client, Connect(config));
  ASSIGN_OR_RETURN(net::HttpResponse r, client->Get("/v1/protocols", std::chrono::seconds(60)));
  if (r.status != 200) return HubError(r);
  return r.body;
}

Result<std::string> RunStudy(const ResearcherConfig& config, const std::string& study_json,
                             const std::function<void(int64_t)>& progress) {
  ASSIGN_OR_RETURN(auto client, Connect(config));
  ASSIGN_OR_RETURN(net::HttpResponse submitted, client->Post("/v1/studies", study_json));
  if (submitted.status != 202) return HubError(submitted);
  int64_t id = 0;
  try {
    id = json::parse(submitted.body).at("study").get<int64_t>();
  } catch (const json::exception&) {
    return Unavailable("hub answered garbage to the study");
  }
  if (progress) progress(id);
  const auto deadline = Clock::now() + config.timeout;
  while (Clock::now() < deadline) {
    ASSIGN_OR_RETURN(net::HttpResponse r,
                     client->Get("/v1/studies/" + std::to_string(id), std::chrono::seconds(60)));
    if (r.status != 200) return HubError(r);
    try {
      const nlohmann::ordered_json j = nlohmann::ordered_json::parse(r.body);
      const std::string status = j.at("status").get<std::string>();
      if (status == "running") continue;
      if (status == "failed") {
        return Unavailable("study " + std::to_string(id) +
                           " failed: " + j.at("result").value("error", "see the hub's log"));
      }
      return j.at("result").dump();
    } catch (const json::exception&) {
      return Unavailable("hub answered garbage about study " + std::to_string(id));
    }
  }
  return Unavailable("study " + std::to_string(id) + " did not finish within " +
                     std::to_string(config.timeout.count()) + " s; it goes on at the hub");
}

}  // namespace passerelle::federation
