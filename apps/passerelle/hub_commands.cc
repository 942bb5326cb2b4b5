// The `hub` commands that manage the hub's state: its store, researchers and sites.
#include <iostream>

#include "apps/passerelle/commands.h"
#include "passerelle/federation/hub/hub.h"
#include "passerelle/net/pki.h"
#include "passerelle/store/hub_store.h"

namespace passerelle::cli {

Status HubInit(const HubOptions& options) {
  RETURN_IF_ERROR(federation::InitHub(options.dir));
  std::cout << "Created the hub store " << options.dir << "/hub.sqlite and its signing key; "
            << "each node pins the public key " << federation::HubPublicKeyPath(options.dir)
            << "\n";
  return Status::Ok();
}

Status HubUserAdd(const HubOptions& options) {
  ASSIGN_OR_RETURN(auto hub, store::HubStore::Open(options.dir));
  ASSIGN_OR_RETURN(std::string token, hub->AddUser(options.name));
  std::cout << "Added researcher '" << options.name << "'. Their token (shown once, stored "
            << "only as a SHA-256 digest):\n"
            << token << "\n";
  return Status::Ok();
}

Status HubUserRemove(const HubOptions& options) {
  ASSIGN_OR_RETURN(auto hub, store::HubStore::Open(options.dir));
  RETURN_IF_ERROR(hub->RevokeUser(options.name));
  std::cout << "Revoked the token of researcher '" << options.name
            << "': it opens nothing from now on (their studies stay)\n";
  return Status::Ok();
}

Status HubSiteRemove(const HubOptions& options) {
  ASSIGN_OR_RETURN(auto hub, store::HubStore::Open(options.dir));
  RETURN_IF_ERROR(hub->RemoveSite(options.name));
  std::cout << "Removed site '" << options.name
            << "': its node is refused from its next request; register it again with a new "
               "certificate (hub site add) to bring it back\n";
  return Status::Ok();
}

Status HubSiteAdd(const HubOptions& options) {
  ASSIGN_OR_RETURN(net::CertificateInfo info,
                   net::VerifyCertificate(options.ca, options.cert, RevocationList(options)));
  if (info.role != "node") {
    return InvalidArgument(options.cert + " is a " + info.role + " certificate, not a node's");
  }
  if (info.subject != options.name) {
    return InvalidArgument(options.cert + " names site '" + info.subject + "', not '" +
                           options.name + "'");
  }
  ASSIGN_OR_RETURN(auto hub, store::HubStore::Open(options.dir));
  RETURN_IF_ERROR(hub->AddSite(options.name, info.sha256));
  std::cout << "Registered site '" << options.name << "', certificate pinned (sha256 "
            << info.sha256 << ")\n";
  return Status::Ok();
}

Status HubSites(const HubOptions& options) {
  ASSIGN_OR_RETURN(auto hub, store::HubStore::Open(options.dir));
  ASSIGN_OR_RETURN(auto sites, hub->Sites());
  for (const auto& s : sites) {
    std::cout << s.name << "  last seen " << (s.last_seen.empty() ? "never" : s.last_seen)
              << "  certificate sha256 " << s.cert_sha256.substr(0, 16) << "  audit "
              << (s.audit_hash.empty() ? "none yet"
                                       : std::to_string(s.audit_seq) + ":" + s.audit_hash)
              << "\n";
  }
  return Status::Ok();
}

}  // namespace passerelle::cli
