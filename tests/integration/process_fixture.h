// Real processes on 127.0.0.1 for the integration tests: the `passerelle` binary run to
// completion, daemons (`hub serve`, `node serve`) started with their stderr in a log file and
// stopped with SIGTERM, and a fixture with a consortium CA, a hub, sites and a researcher token.
#ifndef PASSERELLE_TESTS_INTEGRATION_PROCESS_FIXTURE_H_
#define PASSERELLE_TESTS_INTEGRATION_PROCESS_FIXTURE_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "passerelle/base/test_dir.h"

extern char** environ;

namespace passerelle::testing {

inline const std::string kRef = std::string(PASSERELLE_SOURCE_DIR) + "/tests/reference/data/";

struct Output {
  int exit_code;
  std::string out, err;
};

// Runs the binary to completion; stdout and stderr apart.
inline Output Passerelle(const std::string& args, const std::string& dir) {
  static std::atomic<int> calls{0};  // runs may overlap (a study, and the custodian meanwhile)
  const std::string err_file = dir + "/stderr." + std::to_string(++calls);
  const std::string command = std::string(PASSERELLE_BINARY) + " " + args + " 2>" + err_file;
  FILE* pipe = popen(command.c_str(), "r");
  Output out{-1, "", ""};
  if (!pipe) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.out.append(buf.data(), n);
  const int status = pclose(pipe);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_file);
  out.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
  return out;
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A daemon: started with its stderr in a log file, stopped with SIGTERM.
class Daemon {
 public:
  Daemon(const std::vector<std::string>& args, const std::string& log) : log_(log) {
    std::vector<std::string> argv = {PASSERELLE_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargs;
    for (auto& a : argv) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid_, cargs[0], &actions, nullptr, cargs.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Daemon() { Stop(); }
  // SIGTERM, then the exit code (-1 if it had to be killed after 20 s).
  int Stop() {
    if (pid_ <= 0) return exit_code_;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 400; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        pid_ = -1;
        return exit_code_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return -1;
  }
  std::string Log() const { return ReadAll(log_); }
  // Sends a signal: SIGSTOP makes the daemon hang (a slow site), SIGCONT resumes it, SIGKILL
  // kills it without a chance to clean up (reaped here).
  void Signal(int signal) {
    if (pid_ <= 0) return;
    kill(pid_, signal);
    if (signal == SIGKILL) {
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string log_;
};

class ProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTestDir("process");
    Ok("pki init " + dir_ + "/ca");
    Ok("pki issue " + dir_ + "/ca --name hub --role hub --out " + dir_ + "/certs");
    Ok("hub init " + dir_ + "/hub");
    const std::string added = Ok("hub user add " + dir_ + "/hub --name alice");
    std::ofstream(dir_ + "/token") << added.substr(added.rfind("psr_"));
  }

  std::string Ok(const std::string& args) {
    const Output out = Passerelle(args, dir_);
    EXPECT_EQ(out.exit_code, 0) << args << "\n" << out.out << out.err;
    return out.out;
  }

  // Sets a field of a site's policy.toml, as its custodian would.
  void SetPolicy(const std::string& site, const std::string& key, const std::string& value) {
    const std::string path = dir_ + "/" + site + "/policy.toml";
    std::string text = ReadAll(path);
    const size_t at = text.find("\n" + key + " = ");
    ASSERT_NE(at, std::string::npos) << key;
    const size_t end = text.find('\n', at + 1);
    text.replace(at + 1, end - at - 1, key + " = " + value);
    std::ofstream(path) << text;
  }

  // A site store with `csv` imported as DATASET, a node certificate, registered at the hub. Its
  // custodian has opted in to open studies (scope = "open") unless the test keeps the default
  // (`protocol_scope_`), where only approved protocols run.
  void AddSite(const std::string& site, const std::string& dataset, const std::string& csv,
               const std::string& dictionary) {
    Ok("site init " + dir_ + "/" + site + " --name " + site);
    if (!protocol_scope_) SetPolicy(site, "scope", "\"open\"");
    Ok("site import " + dir_ + "/" + site + " --dataset " + dataset + " --csv " + csv +
       " --dictionary " + dictionary);
    Ok("pki issue " + dir_ + "/ca --name " + site + " --out " + dir_ + "/certs");
    Ok("hub site add " + dir_ + "/hub --name " + site + " --cert " + dir_ + "/certs/" + site +
       ".crt --ca " + dir_ + "/ca/ca.crt");
    sites_.push_back(site);
  }

  // Two synthetic sites, wuhan and lyon, of `patients` patients each (their own seeds).
  void AddSyntheticSites(int patients = 600) {
    for (const char* s : {"wuhan", "lyon"}) {
      const std::string csv = dir_ + "/" + s + ".csv";
      Ok(std::string("synth --site ") + s + " --patients " + std::to_string(patients) + " --seed " +
         (s == std::string("wuhan") ? "21" : "22") + " --out " + csv);
      AddSite(s, "gu_cohort", csv, "gu_cohort.v1");
    }
  }

  // The hub (on any free port the first time, on the same port when started again; `extra`:
  // more `hub serve` options), its log in DIR/hub.log.
  void StartHub(const std::vector<std::string>& extra = {}) {
    const std::string certs = dir_ + "/certs/";
    std::vector<std::string> args = {
        "hub",   "serve",           dir_ + "/hub", "--cert",           certs + "hub.crt",
        "--key", certs + "hub.key", "--ca",        dir_ + "/ca/ca.crt"};
    if (port_.empty()) {
      std::remove((dir_ + "/hub.port").c_str());
      args.insert(args.end(), {"--port-file", dir_ + "/hub.port"});
    } else {
      args.insert(args.end(), {"--listen", "127.0.0.1:" + port_});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    hub_ = std::make_unique<Daemon>(args, dir_ + "/hub.log");
    if (port_.empty()) {
      for (int i = 0; i < 200 && ReadAll(dir_ + "/hub.port").empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      const std::string port = ReadAll(dir_ + "/hub.port");
      ASSERT_FALSE(port.empty()) << hub_->Log();
      port_ = port.substr(0, port.find('\n'));
    }
    hub_url_ = "https://127.0.0.1:" + port_;
  }

  // The node of `site`, its log in DIR/SITE.log.
  std::unique_ptr<Daemon> StartNode(const std::string& site) {
    const std::string certs = dir_ + "/certs/";
    return std::make_unique<Daemon>(
        std::vector<std::string>{"node", "serve", dir_ + "/" + site, "--hub", hub_url_, "--cert",
                                 certs + site + ".crt", "--key", certs + site + ".key", "--ca",
                                 dir_ + "/ca/ca.crt", "--hub-key", dir_ + "/hub/signing.pub"},
        dir_ + "/" + site + ".log");
  }

  void StartAll(const std::vector<std::string>& hub_options = {}) {
    StartHub(hub_options);
    for (const std::string& site : sites_) nodes_.push_back(StartNode(site));
  }

  // `study run --json` as the researcher alice (`extra`: more options): exit code and output.
  Output Study(const nlohmann::json& study, const std::string& name = "study",
               const std::string& extra = "") {
    const std::string file = dir_ + "/" + name + ".json";
    std::ofstream(file) << study.dump(2);
    return Passerelle("study run " + file + " --hub " + hub_url_ + " --ca " + dir_ +
                          "/ca/ca.crt --token-file " + dir_ + "/token --json " + extra,
                      dir_);
  }

  // Waits up to `seconds` for `text` in a log file; true when it is there.
  static bool WaitForLog(const std::string& path, const std::string& text, int seconds = 30) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (ReadAll(path).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  nlohmann::json RunStudy(const nlohmann::json& study) {
    const Output out = Study(study);
    EXPECT_EQ(out.exit_code, 0) << out.out << out.err << hub_->Log();
    return nlohmann::json::parse(out.out);
  }

  nlohmann::json Analyze(const std::string& args) {
    const Output out = Passerelle("analyze " + args + " --json", dir_);
    EXPECT_EQ(out.exit_code, 0) << args << "\n" << out.err;
    return nlohmann::json::parse(out.out);
  }

  // Every daemon stops on SIGTERM with exit code 0 and says so.
  void StopAll() {
    for (auto& n : nodes_) EXPECT_EQ(n->Stop(), 0) << n->Log();
    EXPECT_EQ(hub_->Stop(), 0) << hub_->Log();
    EXPECT_NE(hub_->Log().find("hub: stopped"), std::string::npos) << hub_->Log();
  }

  std::string dir_, hub_url_, port_;
  std::vector<std::string> sites_;
  bool protocol_scope_ = false;  // AddSite keeps the default scope = "protocol"
  std::unique_ptr<Daemon> hub_;
  std::vector<std::unique_ptr<Daemon>> nodes_;
};

}  // namespace passerelle::testing

#endif  // PASSERELLE_TESTS_INTEGRATION_PROCESS_FIXTURE_H_
