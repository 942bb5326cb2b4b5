// A federated study with real processes on 127.0.0.1: `passerelle hub serve` and one
// `passerelle node serve` per site, each its own process with its own certificate, and a
// researcher's `passerelle study run --json`. Its results equal `passerelle analyze` on the pooled
// data (and R's numbers): the three colon reference sites, and a synthetic two-site cohort.
// Every daemon stops cleanly on SIGTERM.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "passerelle/base/test_dir.h"

extern char** environ;

namespace {

using nlohmann::json;
const std::string kRef = std::string(PASSERELLE_SOURCE_DIR) + "/tests/reference/data/";

struct Output {
  int exit_code;
  std::string out, err;
};

// Runs the binary to completion; stdout and stderr apart.
Output Passerelle(const std::string& args, const std::string& dir) {
  const std::string err_file = dir + "/last.stderr";
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

std::string ReadAll(const std::string& path) {
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

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string log_;
};

class FederationProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = passerelle::testing::FreshTestDir("federation_process");
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

  // A site store with `csv` imported as DATASET, a node certificate, registered at the hub.
  void AddSite(const std::string& site, const std::string& dataset, const std::string& csv,
               const std::string& dictionary) {
    Ok("site init " + dir_ + "/" + site + " --name " + site);
    Ok("site import " + dir_ + "/" + site + " --dataset " + dataset + " --csv " + csv +
       " --dictionary " + dictionary);
    Ok("pki issue " + dir_ + "/ca --name " + site + " --out " + dir_ + "/certs");
    Ok("hub site add " + dir_ + "/hub --name " + site + " --cert " + dir_ + "/certs/" + site +
       ".crt --ca " + dir_ + "/ca/ca.crt");
    sites_.push_back(site);
  }

  void StartAll() {
    const std::string certs = dir_ + "/certs/";
    hub_ = std::make_unique<Daemon>(
        std::vector<std::string>{"hub", "serve", dir_ + "/hub", "--cert", certs + "hub.crt",
                                 "--key", certs + "hub.key", "--ca", dir_ + "/ca/ca.crt",
                                 "--port-file", dir_ + "/hub.port"},
        dir_ + "/hub.log");
    for (int i = 0; i < 200 && ReadAll(dir_ + "/hub.port").empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const std::string port = ReadAll(dir_ + "/hub.port");
    ASSERT_FALSE(port.empty()) << hub_->Log();
    hub_url_ = "https://127.0.0.1:" + port.substr(0, port.find('\n'));
    for (const std::string& site : sites_) {
      nodes_.push_back(std::make_unique<Daemon>(
          std::vector<std::string>{"node", "serve", dir_ + "/" + site, "--hub", hub_url_, "--cert",
                                   certs + site + ".crt", "--key", certs + site + ".key", "--ca",
                                   dir_ + "/ca/ca.crt", "--hub-key", dir_ + "/hub/signing.pub"},
          dir_ + "/" + site + ".log"));
    }
  }

  json RunStudy(const json& study) {
    std::ofstream(dir_ + "/study.json") << study.dump(2);
    const Output out = Passerelle("study run " + dir_ + "/study.json --hub " + hub_url_ + " --ca " +
                                      dir_ + "/ca/ca.crt --token-file " + dir_ + "/token --json",
                                  dir_);
    EXPECT_EQ(out.exit_code, 0) << out.out << out.err << hub_->Log();
    return json::parse(out.out);
  }

  json Analyze(const std::string& args) {
    const Output out = Passerelle("analyze " + args + " --json", dir_);
    EXPECT_EQ(out.exit_code, 0) << args << "\n" << out.err;
    return json::parse(out.out);
  }

  // Every daemon stops on SIGTERM with exit code 0 and says so.
  void StopAll() {
    for (auto& n : nodes_) EXPECT_EQ(n->Stop(), 0) << n->Log();
    EXPECT_EQ(hub_->Stop(), 0) << hub_->Log();
    EXPECT_NE(hub_->Log().find("hub: stopped"), std::string::npos) << hub_->Log();
  }

  std::string dir_, hub_url_;
  std::vector<std::string> sites_;
  std::unique_ptr<Daemon> hub_;
  std::vector<std::unique_ptr<Daemon>> nodes_;
};

void ExpectNumbersNear(const json& got, const json& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i].is_array()) {
      ExpectNumbersNear(got[i], want[i], tol, what);
      continue;
    }
    if (want[i].is_null()) {
      EXPECT_TRUE(got[i].is_null()) << what << "[" << i << "]";
      continue;
    }
    const double w = want[i].get<double>();
    EXPECT_NEAR(got[i].get<double>(), w, tol * std::max(1.0, std::fabs(w)))
        << what << "[" << i << "]";
  }
}

// The first `rows` entries of every column of a survfit table.
json Head(const json& table, size_t rows) {
  json out = json::object();
  for (const auto& [k, v] : table.items()) {
    out[k] = json(std::vector<json>(v.begin(), v.begin() + static_cast<ptrdiff_t>(rows)));
  }
  return out;
}

TEST_F(FederationProcessTest, ThreeColonNodesGiveThePooledAnalyses) {
  const std::string dict = kRef + "colon_death.dictionary.toml";
  for (const char* s : {"site1", "site2", "site3"}) {
    AddSite(s, "colon", kRef + "colon_death_" + std::string(s) + ".csv", dict);
  }
  StartAll();
  const std::string cox = "Surv(time, status) ~ rx + sex + age + obstruct + nodes + strata(site)";
  // One analysis population: the models drop the records without `nodes` (three at site3), so
  // every analysis takes the same subset; otherwise the differencing rule refuses, at site3, any
  // release over all its records after a model over all but three (test below).
  const std::string population = "!is.na(nodes)";
  const json study = {{"title", "colon, three sites"},
                      {"dataset", "colon"},
                      {"analyses",
                       {{{"id", "cox"}, {"function", "coxph"}, {"formula", cox}},
                        {{"id", "logit"},
                         {"function", "glm"},
                         {"family", "binomial"},
                         {"formula", "status ~ rx + sex + age + obstruct + nodes"}},
                        {{"id", "logrank"},
                         {"function", "survdiff"},
                         {"formula", "Surv(time, status) ~ rx + strata(site)"},
                         {"subset", population}},
                        {{"id", "km"},
                         {"function", "survfit"},
                         {"formula", "Surv(time, status) ~ rx"},
                         {"subset", population}},
                        {{"id", "arms"},
                         {"function", "table"},
                         {"rows", "rx"},
                         {"cols", "sex"},
                         {"subset", population}},
                        {{"id", "table1"},
                         {"function", "describe"},
                         {"variables", {"age", "rx"}},
                         {"subset", population}}}}};
  const json got = RunStudy(study);
  EXPECT_EQ(got["sites"], json({"site1", "site2", "site3"}));
  for (const auto& [id, r] : got["results"].items()) EXPECT_EQ(r["status"], "ok") << id << r;
  const std::string pooled = "--data " + kRef + "colon_death_site1.csv --data " + kRef +
                             "colon_death_site2.csv --data " + kRef +
                             "colon_death_site3.csv --dictionary " + dict;

  const json& fcox = got["results"]["cox"]["results"];
  const json pcox = Analyze("coxph " + pooled + " --formula '" + cox + "'");
  ExpectNumbersNear(fcox["coef"], pcox["coef"], 1e-9, "coxph coef");
  ExpectNumbersNear(fcox["se"], pcox["se"], 1e-9, "coxph se");
  EXPECT_NEAR(fcox["loglik"].get<double>(), pcox["loglik"].get<double>(), 1e-8);
  // R, tests/reference/expected/12_federated_colon_3sites.json.
  EXPECT_NEAR(fcox["coef"][0].get<double>(), -0.06435616964362041, 1e-7);

  const json pglm = Analyze("glm " + pooled +
                            " --family binomial --formula 'status ~ rx + sex + age + obstruct + "
                            "nodes'");
  ExpectNumbersNear(got["results"]["logit"]["results"]["coef"], pglm["coef"], 1e-9, "glm coef");
  EXPECT_NEAR(got["results"]["logit"]["results"]["deviance"].get<double>(),
              pglm["deviance"].get<double>(), 1e-8);

  const json& flr = got["results"]["logrank"]["results"];
  // R: survdiff(Surv(time, status) ~ rx + strata(site), subset(colon_death, !is.na(nodes)))
  EXPECT_NEAR(flr["chisq"].get<double>(), 12.407707645516892, 1e-9);

  const json pkm =
      Analyze("survfit " + pooled +
              " --bin-days 30 --formula 'Surv(time, status) ~ rx' --subset '" + population + "'");
  const json& fkm = got["results"]["km"]["results"];
  ASSERT_EQ(fkm["strata"].size(), 3u);
  for (size_t g = 0; g < 3; ++g) {
    const json& table = fkm["strata"][g]["table"];
    const size_t rows = table["time"].size();
    ASSERT_GT(rows, 20u);
    const json want = Head(pkm["strata"][g]["table"], rows);
    for (const char* column : {"time", "n.risk", "n.event", "surv", "std.err", "lower", "upper"}) {
      ExpectNumbersNear(table[column], want[column], 1e-12, column);
    }
  }

  const json ptab =
      Analyze("table " + pooled + " --rows rx --cols sex --subset '" + population + "'");
  EXPECT_EQ(got["results"]["arms"]["results"]["counts"], ptab["counts"]);
  const json& age = got["results"]["table1"]["results"]["variables"][0];
  EXPECT_EQ(age["name"], "age");
  EXPECT_EQ(age["n"][3], 911);  // all three sites: every record of the population has an age
  StopAll();
  // The nodes logged what they released and nothing else.
  const std::string log = ReadAll(dir_ + "/site1.log");
  EXPECT_NE(log.find("coxph evaluate: released"), std::string::npos) << log;
  EXPECT_NE(log.find("node: SIGTERM, stopping"), std::string::npos) << log;
  // Every task and every release is in the site's audit chain, which verifies.
  const std::string verified = Ok("audit verify --site " + dir_ + "/site1");
  EXPECT_NE(verified.find("entries, the chain is intact"), std::string::npos) << verified;
  const json audit = json::parse(Ok("audit show --json --site " + dir_ + "/site1"));
  size_t tasks = 0, released = 0;
  for (const json& e : audit) {
    tasks += e["kind"] == "task";
    released += e["kind"] == "released";
    if (e["kind"] == "released") {
      EXPECT_EQ(e["digest"].get<std::string>().size(), 64u);
    }
  }
  EXPECT_GT(tasks, 20u);
  EXPECT_EQ(tasks, released);
}

TEST_F(FederationProcessTest, SyntheticWuhanAndLyonGiveThePooledAnalyses) {
  for (const char* s : {"wuhan", "lyon"}) {
    const std::string csv = dir_ + "/" + s + ".csv";
    Ok(std::string("synth --site ") + s + " --patients 1500 --seed " +
       (s == std::string("wuhan") ? "11" : "12") + " --out " + csv);
    AddSite(s, "gu_cohort", csv, "gu_cohort.v1");
  }
  StartAll();
  const std::string cox = "Surv(os_days, os_event) ~ age_dx + organ + strata(site)";
  const std::string glm = "I(n_stage != \"N0\") ~ age_dx + organ";
  const json study = {{"title", "OS"},
                      {"dataset", "gu_cohort"},
                      {"analyses",
                       {{{"id", "os_cox"}, {"function", "coxph"}, {"formula", cox}},
                        {{"id", "n1"},
                         {"function", "glm"},
                         {"family", "binomial"},
                         {"formula", glm},
                         {"subset", "organ != \"testis\""}}}}};
  const json got = RunStudy(study);
  const std::string pooled =
      "--site " + dir_ + "/wuhan --site " + dir_ + "/lyon --dataset gu_cohort";
  const json pcox = Analyze("coxph " + pooled + " --formula '" + cox + "'");
  ExpectNumbersNear(got["results"]["os_cox"]["results"]["coef"], pcox["coef"], 1e-9, "cox");
  ExpectNumbersNear(got["results"]["os_cox"]["results"]["var"], pcox["var"], 1e-9, "cox var");
  const json pglm = Analyze("glm " + pooled + " --family binomial --formula '" + glm +
                            "' --subset 'organ != \"testis\"'");
  EXPECT_EQ(got["results"]["n1"]["results"]["coef_names"], pglm["coef_names"]);
  ExpectNumbersNear(got["results"]["n1"]["results"]["coef"], pglm["coef"], 1e-9, "glm");
  StopAll();
}

}  // namespace
