// The hub daemon (`passerelle hub serve`): it waits for the site nodes to dial in and hands them
// signed tasks; it takes studies from researchers (bearer tokens), runs each analysis's driver
// with every site's local step sent as a task, and keeps studies, tasks and results in its own
// store, so a restarted hub knows what happened. It never connects to a site. docs/protocol.md
// specifies the messages.
//
//   DIR/hub.sqlite       the hub's store (store/hub_store.h)
//   DIR/signing.key      the hub's Ed25519 secret key (hex, mode 0600)
//   DIR/signing.pub      its public key: each node pins it (`node serve --hub-key`)
#ifndef PASSERELLE_FEDERATION_HUB_HUB_H_
#define PASSERELLE_FEDERATION_HUB_HUB_H_

#include <chrono>
#include <memory>
#include <string>

#include "passerelle/base/clock.h"
#include "passerelle/base/status.h"
#include "passerelle/net/https.h"

namespace passerelle::federation {

// Creates the hub's store and signing key in DIR. AlreadyExists when DIR holds a hub.
Status InitHub(const std::string& dir);
// The path of the hub's public key in DIR.
std::string HubPublicKeyPath(const std::string& dir);

struct HubConfig {
  std::string dir;
  net::TlsIdentity identity;  // the hub's certificate (role hub) and the consortium CA
  std::string host = "127.0.0.1";
  int port = 0;                            // 0: any free port
  std::chrono::seconds task_timeout{600};  // a site that does not answer a task fails the analysis
  // A task a site holds for its custodian (approval = "manual") waits this long for the decision.
  std::chrono::seconds approval_timeout{86400};
  std::chrono::seconds poll_wait{20};  // longest hold of a node's poll
  // A site whose node has not been heard from for this long (polls, answers) is not connected:
  // tasks for it fail at once instead of waiting for task_timeout.
  std::chrono::seconds site_timeout{60};
  // What one researcher may hold: studies running at once (more are refused until one ends),
  // and waits for a study's end (more are answered at once, without waiting).
  int studies_per_researcher = 4;
  int waits_per_researcher = 4;
  // Waits for a study's end, all researchers together: each holds a worker of `limits.threads`,
  // so they hold at most a quarter of them by default; more are answered at once.
  int waits = 16;
  // Protocol versions of one researcher that some site has not received (and reviewed) yet;
  // more are refused until the sites have them.
  int protocols_per_researcher = 4;
  net::ServerLimits limits;       // connections: per address, handshake and request deadlines
  Clock* clock = &SteadyClock();  // every timeout and wait is read from it
  net::LogSink log;               // stderr when empty
};

class Hub {
 public:
  // Opens the store and key, marks studies a previous run left unfinished as failed, binds and
  // starts serving on its own threads. Unavailable when the port is taken.
  static Result<std::unique_ptr<Hub>> Start(HubConfig config);
  ~Hub();  // stops

  int port() const;
  // Ends the nodes' polls and the studies in progress (their waiting tasks fail), stops serving
  // and joins every thread.
  void Stop();

  struct Impl;

 private:
  explicit Hub(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace passerelle::federation

#endif  // PASSERELLE_FEDERATION_HUB_HUB_H_
