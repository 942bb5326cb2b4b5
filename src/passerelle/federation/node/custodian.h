// The site custodian's side of a node: the releases held for approval (approval = "manual"), the
// decision on each, and the audit log. Shared by `passerelle node pending | approve | deny`,
// `passerelle audit`, and the custodian's page that `node serve --custodian-port` serves on
// 127.0.0.1 only, to whoever holds the token it writes to SITE_DIR/custodian.token (0600).
#ifndef PASSERELLE_FEDERATION_NODE_CUSTODIAN_H_
#define PASSERELLE_FEDERATION_NODE_CUSTODIAN_H_

#include <cstdint>
#include <memory>
#include <string>

#include "passerelle/base/status.h"
#include "passerelle/net/https.h"

namespace passerelle::federation {

// The held releases as JSON: [{task, study, researcher, dataset, dataset_version, asked,
// held_at, step, sha256, would_release}], oldest first; would_release is the exact aggregate.
Result<std::string> HeldReleasesJson(const std::string& site_dir);

// Records the custodian's decision on a held release: in the audit log (with the reason, the
// account and the aggregate's digest), then in the queue, where the running node picks it up.
// FailedPrecondition when it was already decided; NotFound when no such release is held.
Status DecideRelease(const std::string& site_dir, int64_t task, bool approve,
                     const std::string& reason, const std::string& by);

// The protocols the node received, newest first, as JSON: [{protocol, name, version,
// researcher, received_at, status, reason, decided_by, decided_at, definition (the protocol as
// submitted), review: [{analysis, rule, flag}], changes: [line]}].
Result<std::string> ProtocolsJson(const std::string& site_dir);

// Records the custodian's decision on a protocol: in the audit log (with the reason, the account
// and the protocol's digest), then in the site's protocol book; the running node tells the hub.
// FailedPrecondition when it is not waiting for a decision (already decided, or rejected by the
// automatic review under flagged = "refuse"); NotFound when the node has not received it.
Status DecideProtocol(const std::string& site_dir, int64_t id, bool approve,
                      const std::string& reason, const std::string& by);

// Audit entries from `first`, at most `limit`, as JSON (every field).
Result<std::string> AuditEntriesJson(const std::string& site_dir, int64_t first, int64_t limit);

// The operating-system account running this process.
std::string SystemAccount();

class CustodianPage {
 public:
  // Serves the page for SITE_DIR on 127.0.0.1:`port` (0: any free port), with a new random
  // token in SITE_DIR/custodian.token and the port in SITE_DIR/custodian.port.
  static Result<std::unique_ptr<CustodianPage>> Start(const std::string& site_dir, int port,
                                                      net::LogSink log);
  ~CustodianPage();
  int port() const;
  void Stop();

  struct Impl;

 private:
  explicit CustodianPage(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace passerelle::federation

#endif  // PASSERELLE_FEDERATION_NODE_CUSTODIAN_H_
