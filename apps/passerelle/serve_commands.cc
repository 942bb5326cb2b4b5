// The long-running commands: `hub serve` and `node serve`. Each blocks SIGTERM and SIGINT, runs
// its daemon on other threads, and on either signal stops it cleanly and returns.
#include <signal.h>

#include <fstream>
#include <iostream>
#include <thread>

#include "apps/passerelle/commands.h"
#include "passerelle/federation/hub/hub.h"
#include "passerelle/federation/node/custodian.h"
#include "passerelle/federation/node/node.h"

namespace passerelle::cli {
namespace {

// Blocks SIGTERM and SIGINT in this thread and the threads it starts afterwards.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

std::string WaitForStopSignal(const sigset_t& set) {
  int signal = 0;
  sigwait(&set, &signal);
  return signal == SIGTERM ? "SIGTERM" : "SIGINT";
}

Result<std::string> ReadKeyFile(const std::string& path) {
  std::ifstream in(path);
  std::string key;
  if (!(in >> key)) return InvalidArgument("cannot read a key from " + path);
  return key;
}

}  // namespace

Status HubServe(const HubOptions& options) {
  const size_t colon = options.listen.rfind(':');
  if (colon == std::string::npos) return InvalidArgument("--listen must be HOST:PORT");
  federation::HubConfig config;
  config.dir = options.dir;
  config.identity = {options.ca, options.cert, options.key, RevocationList(options)};
  config.host = options.listen.substr(0, colon);
  try {
    config.port = std::stoi(options.listen.substr(colon + 1));
  } catch (const std::exception&) {
    return InvalidArgument("--listen must be HOST:PORT");
  }
  config.task_timeout = std::chrono::seconds(options.task_timeout);
  config.approval_timeout = std::chrono::seconds(options.approval_timeout);
  config.limits.connections_per_address = options.connections_per_address;
  config.studies_per_researcher = options.studies_per_researcher;
  const sigset_t signals = BlockStopSignals();
  ASSIGN_OR_RETURN(auto hub, federation::Hub::Start(config));
  std::cerr << "hub: listening on https://" << config.host << ":" << hub->port() << "\n";
  if (!options.port_file.empty()) {
    const std::string partial = options.port_file + ".partial";
    std::ofstream(partial) << hub->port() << "\n";
    std::rename(partial.c_str(), options.port_file.c_str());
  }
  const std::string signal = WaitForStopSignal(signals);
  std::cerr << "hub: " << signal << ", stopping\n";
  hub->Stop();
  std::cerr << "hub: stopped\n";
  return Status::Ok();
}

Status NodeServe(const NodeOptions& options) {
  federation::NodeConfig config;
  config.site_dir = options.dir;
  ASSIGN_OR_RETURN(config.hub, net::ParseHttpsUrl(options.hub));
  config.identity = {options.ca, options.cert, options.key, RevocationList(options)};
  ASSIGN_OR_RETURN(config.hub_public_key, ReadKeyFile(options.hub_key));
  const sigset_t signals = BlockStopSignals();
  ASSIGN_OR_RETURN(auto node, federation::Node::Create(config));
  std::unique_ptr<federation::CustodianPage> page;
  if (options.custodian_port >= 0) {
    ASSIGN_OR_RETURN(page,
                     federation::CustodianPage::Start(options.dir, options.custodian_port, {}));
    std::cerr << "node: the custodian's page is at http://127.0.0.1:" << page->port()
              << "/ (token in " << options.dir << "/custodian.token)\n";
  }
  std::thread running([&] { node->Run(); });
  const std::string signal = WaitForStopSignal(signals);
  std::cerr << "node: " << signal << ", stopping\n";
  if (page) page->Stop();
  node->Stop();
  running.join();
  return Status::Ok();
}

}  // namespace passerelle::cli
