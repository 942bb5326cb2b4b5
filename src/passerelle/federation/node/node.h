// The site node daemon (`passerelle node serve`): it dials out to the hub with its node
// certificate, holds a long poll for tasks, checks each task's signature against the hub key
// it pinned, runs the task's local step on the site's own store under the site's policy
// (analysis/local_step.h) and sends back the aggregate, or the rule that refused it. Nothing
// connects to the node; no patient value leaves it or reaches its log.
#ifndef PASSERELLE_FEDERATION_NODE_NODE_H_
#define PASSERELLE_FEDERATION_NODE_NODE_H_

#include <chrono>
#include <memory>
#include <string>

#include "passerelle/base/clock.h"
#include "passerelle/base/status.h"
#include "passerelle/net/https.h"

namespace passerelle::federation {

struct NodeConfig {
  std::string site_dir;  // the site's store (site init)
  net::HttpsAddress hub;
  net::TlsIdentity identity;   // the node's certificate (role node) and the consortium CA
  std::string hub_public_key;  // the pinned Ed25519 key of the hub (hex)
  std::chrono::seconds poll_wait{20};
  net::LogSink log;               // stderr when empty
  Clock* clock = &SteadyClock();  // its pauses between polls are read from it
};

class Node {
 public:
  // Opens the site's store. NotFound when SITE_DIR holds none.
  static Result<std::unique_ptr<Node>> Create(NodeConfig config);
  ~Node();

  // Polls and answers until Stop(); retries (every few seconds) while the hub is unreachable.
  void Run();
  // From another thread or a signal watcher: ends a poll in progress and Run(), and returns
  // once Run() has left its loop.
  void Stop();

  struct Impl;

 private:
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace passerelle::federation

#endif  // PASSERELLE_FEDERATION_NODE_NODE_H_
