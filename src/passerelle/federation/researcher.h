// The researcher's side (`passerelle study run`): submits a study to the hub with a bearer
// token over HTTPS (the hub's certificate checked against the consortium CA) and waits for its
// results.
#ifndef PASSERELLE_FEDERATION_RESEARCHER_H_
#define PASSERELLE_FEDERATION_RESEARCHER_H_

#include <chrono>
#include <functional>
#include <string>

#include "passerelle/base/status.h"
#include "passerelle/net/https.h"

namespace passerelle::federation {

struct ResearcherConfig {
  net::HttpsAddress hub;
  std::string ca_cert;  // the consortium CA, to check the hub's certificate
  std::string token;
  std::chrono::seconds timeout{3600};  // how long to wait for the study
};

// Submits `study_json` and returns the study's document as the hub recorded it:
// {"study": ID, "title", "dataset", "researcher", "sites": [...], "results": {"<id>":
// {"function", "status", "results", "notes", "text"}}}. `progress` (optional) hears the study id
// once it is accepted. PermissionDenied for a bad token; InvalidArgument for a study the hub
// refuses (the message names the field); Unavailable when the hub cannot be reached.
Result<std::string> RunStudy(const ResearcherConfig& config, const std::string& study_json,
                             const std::function<void(int64_t)>& progress = nullptr);

// Submits a protocol (docs/protocols.md) and returns the hub's answer, JSON: {"protocol": ID,
// "name", "version", "sites"}. Errors as RunStudy's.
Result<std::string> SubmitProtocol(const ResearcherConfig& config,
                                   const std::string& protocol_json);

// The protocols that name the researcher, JSON {"protocols": [{protocol, name, version,
// researcher, submitted_at, sites: [{site, status, reason, updated_at}]}]}.
Result<std::string> ListProtocols(const ResearcherConfig& config);

}  // namespace passerelle::federation

#endif  // PASSERELLE_FEDERATION_RESEARCHER_H_
