// Site sovereignty with real processes on 127.0.0.1: the custodian's approval of each release
// (approval = "manual", `node pending | approve | deny`), and the faults a federation meets — a
// node killed in the middle of a study, a node that hangs, the hub restarted in the middle of a
// study. Each study ends with every analysis ok, or failed for the site at fault with a clear
// message; nothing half-computed is shown; the audit chains verify; a re-run works.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>

#include "passerelle/net/https.h"
#include "tests/integration/process_fixture.h"

namespace {

using nlohmann::json;
using passerelle::testing::Output;
using passerelle::testing::ReadAll;

class SovereigntyProcessTest : public passerelle::testing::ProcessTest {
 protected:
  json Pending(const std::string& site) {
    return json::parse(Ok("node pending " + dir_ + "/" + site + " --json"));
  }

  // Waits until a release of `site` is held; its entry from `node pending --json`.
  json NextHeld(const std::string& site) {
    for (int i = 0; i < 600; ++i) {
      const json pending = Pending(site);
      if (!pending.empty()) return pending[0];
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "nothing held at " << site << "\n" << ReadAll(dir_ + "/" + site + ".log");
    return json::object();
  }

  json AuditOf(const std::string& site) {
    const std::string verified = Ok("audit verify --site " + dir_ + "/" + site);
    EXPECT_NE(verified.find("the chain is intact"), std::string::npos) << verified;
    return json::parse(Ok("audit show --json --site " + dir_ + "/" + site));
  }

  static json Parsed(const Output& out) {
    const json j = json::parse(out.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << out.out << out.err;
    return j;
  }
};

const json kTables = {{"title", "two tables"},
                      {"dataset", "gu_cohort"},
                      {"analyses",
                       {{{"id", "organs"}, {"function", "table"}, {"rows", "organ"}},
                        {{"id", "sexes"}, {"function", "table"}, {"rows", "sex"}}}}};

TEST_F(SovereigntyProcessTest, TheCustodianSeesApprovesAndDeniesEachRelease) {
  AddSyntheticSites();
  SetPolicy("wuhan", "approval", "\"manual\"");
  StartAll();
  auto study = std::async(std::launch::async, [&] { return Study(kTables); });

  // The first release waits at wuhan; the custodian sees the exact aggregate and approves it.
  const json organs = NextHeld("wuhan");
  EXPECT_EQ(organs["asked"], "table ");
  EXPECT_EQ(organs["researcher"], "alice");
  EXPECT_EQ(organs["step"]["rows"], "organ");
  const json shown = organs["would_release"];
  ASSERT_TRUE(shown.contains("counts")) << organs.dump();
  const std::string task = std::to_string(organs["task"].get<int64_t>());
  Ok("node approve " + dir_ + "/wuhan " + task + " --reason 'protocol GU-2026-01, table 1'");
  // A decision is made once.
  const Output again = passerelle::testing::Passerelle(
      "node deny " + dir_ + "/wuhan " + task + " --reason 'changed my mind'", dir_);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already approved"), std::string::npos) << again.err;

  // The second is denied, with a reason the researcher reads.
  const json sexes = NextHeld("wuhan");
  EXPECT_EQ(sexes["step"]["rows"], "sex");
  Ok("node deny " + dir_ + "/wuhan " + std::to_string(sexes["task"].get<int64_t>()) +
     " --reason 'not in the approved protocol'");

  const Output out = study.get();
  EXPECT_EQ(out.exit_code, 1) << out.out << out.err;  // one analysis refused
  const json got = Parsed(out);
  const json& ok = got["results"]["organs"];
  ASSERT_EQ(ok["status"], "ok") << ok.dump();
  // What left is what the custodian saw: the pooled counts are wuhan's shown counts plus lyon's.
  const json lyon_alone =
      Analyze("table --site " + dir_ + "/lyon --dataset gu_cohort --rows organ");
  for (size_t i = 0; i < shown["counts"].size(); ++i) {
    EXPECT_EQ(ok["results"]["counts"][i].get<double>(),
              shown["counts"][i].get<double>() + lyon_alone["counts"][i].get<double>());
  }
  const json& denied = got["results"]["sexes"];
  EXPECT_EQ(denied["status"], "refused");
  EXPECT_NE(denied["notes"].dump().find("site wuhan: rule approval: the custodian of site wuhan "
                                        "denied this release: not in the approved protocol"),
            std::string::npos)
      << denied.dump();
  EXPECT_FALSE(denied.contains("results") && !denied["results"].is_null()) << denied.dump();
  EXPECT_TRUE(Pending("wuhan").empty());

  // The audit chain tells the whole story: held (with the digest of what was shown), approved
  // with the reason and the account, released with the same digest; held, denied, refused.
  const json audit = AuditOf("wuhan");
  std::vector<std::string> kinds;
  std::string held_digest, released_digest;
  for (const json& e : audit) {
    if (e["kind"] == "task" || e["kind"] == "catalog") continue;
    kinds.push_back(e["kind"]);
    if (e["task"] == organs["task"] && e["kind"] == "held") held_digest = e["digest"];
    if (e["task"] == organs["task"] && e["kind"] == "released") released_digest = e["digest"];
    if (e["kind"] == "approved") {
      EXPECT_NE(e["detail"].get<std::string>().find("protocol GU-2026-01, table 1 (by "),
                std::string::npos);
    }
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"held", "approved", "released", "held", "denied",
                                             "refused"}));
  EXPECT_EQ(held_digest, organs["sha256"]);
  EXPECT_EQ(released_digest, held_digest);
  StopAll();
  // The hub has the head of wuhan's chain from its last answer; the custodian checks that the
  // chain still holds it.
  const std::string sites = Ok("hub site list " + dir_ + "/hub");
  const size_t at = sites.find("audit ", sites.find("wuhan"));
  ASSERT_NE(at, std::string::npos) << sites;
  const std::string head = sites.substr(at + 6, sites.find('\n', at) - at - 6);
  EXPECT_NE(Ok("audit verify --site " + dir_ + "/wuhan --expect " + head)
                .find("holds the entry the hub saw"),
            std::string::npos);
}

// A Cox model: a dozen tasks per site, one after the other.
const json kCox = {{"title", "overall survival"},
                   {"dataset", "gu_cohort"},
                   {"analyses",
                    {{{"id", "os_cox"},
                      {"function", "coxph"},
                      {"formula", "Surv(os_days, os_event) ~ age_dx + organ + strata(site)"}},
                     {{"id", "organs"}, {"function", "table"}, {"rows", "organ"}}}}};

TEST_F(SovereigntyProcessTest, ANodeKilledOrHangingFailsItsSiteAndARerunWorks) {
  AddSyntheticSites();
  StartAll({"--task-timeout", "3"});
  const json reference = Parsed(Study(kCox, "reference"));
  ASSERT_EQ(reference["results"]["os_cox"]["status"], "ok") << reference.dump();

  // Killed in the middle of a study (stopped first, so the study surely waits on it): the
  // analysis fails for lyon, naming it; nothing is shown.
  nodes_[1]->Signal(SIGSTOP);
  auto study = std::async(std::launch::async, [&] { return Study(kCox, "killed"); });
  ASSERT_TRUE(WaitForLog(dir_ + "/hub.log", "hub: study 2 from alice"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  nodes_[1]->Signal(SIGKILL);
  Output out = study.get();
  EXPECT_EQ(out.exit_code, 1);
  json got = Parsed(out);
  const json& cox = got["results"]["os_cox"];
  EXPECT_EQ(cox["status"], "failed") << cox.dump();
  EXPECT_NE(cox["notes"].dump().find("site lyon: did not answer within 3 s"), std::string::npos)
      << cox.dump();
  EXPECT_FALSE(cox.contains("results") && !cox["results"].is_null()) << cox.dump();

  // Back up: the same study gives the same numbers.
  nodes_[1] = StartNode("lyon");
  ASSERT_TRUE(WaitForLog(dir_ + "/lyon.log", "connected to the hub"));
  got = Parsed(Study(kCox, "rerun"));
  ASSERT_EQ(got["results"]["os_cox"]["status"], "ok") << got.dump();
  EXPECT_EQ(got["results"]["os_cox"]["results"]["coef"],
            reference["results"]["os_cox"]["results"]["coef"]);

  // Hanging (stopped, as a machine that swaps or a disk that stalls): the same. When it wakes
  // up, an answer it still sends to the failed task is refused by the hub.
  // Stopped while it holds its poll: the hub still counts it connected and hands it a task.
  nodes_[0]->Signal(SIGSTOP);
  out = Study(kCox, "hanging");
  got = Parsed(out);
  EXPECT_EQ(got["results"]["os_cox"]["status"], "failed") << got.dump();
  EXPECT_NE(got["results"]["os_cox"]["notes"].dump().find("site wuhan: did not answer"),
            std::string::npos);
  nodes_[0]->Signal(SIGCONT);
  got = Parsed(Study(kCox, "after_hang"));
  EXPECT_EQ(got["results"]["os_cox"]["status"], "ok") << got.dump();
  EXPECT_EQ(got["results"]["os_cox"]["results"]["coef"],
            reference["results"]["os_cox"]["results"]["coef"]);
  StopAll();
  // Every task a node received is in its chain with its decision, and the chains verify.
  for (const char* site : {"wuhan", "lyon"}) {
    const json audit = AuditOf(site);
    size_t tasks = 0, decisions = 0;
    for (const json& e : audit) {
      if (e["kind"] != "catalog") ++(e["kind"] == "task" ? tasks : decisions);
    }
    EXPECT_EQ(tasks, decisions) << site;
  }
}

TEST_F(SovereigntyProcessTest, AHubRestartedMidStudyFailsItCleanlyAndTheNodesComeBack) {
  AddSyntheticSites();
  StartAll();
  // A study surely in the middle: wuhan hangs (SIGSTOP) while the hub waits for its answer.
  auto hang_wuhan_and_run = [&](const std::string& name, const std::string& started) {
    nodes_[0]->Signal(SIGSTOP);
    auto study = std::async(std::launch::async, [&, name] { return Study(kCox, name); });
    EXPECT_TRUE(WaitForLog(dir_ + "/hub.log", started)) << hub_->Log();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return study;
  };

  // Stopped (SIGTERM) in the middle of a study: the researcher is told to run it again.
  auto study = hang_wuhan_and_run("stopped", "hub: study 1 from alice");
  EXPECT_EQ(hub_->Stop(), 0) << hub_->Log();
  nodes_[0]->Signal(SIGCONT);
  Output out = study.get();
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_NE(out.err.find("the hub stopped during the study; run it again"), std::string::npos)
      << out.err;

  // Killed (SIGKILL) in the middle of a study: the researcher's connection fails; the hub,
  // started again on the same address, records the study as failed; the nodes reconnect by
  // themselves and the next study runs.
  StartHub();
  ASSERT_TRUE(WaitForLog(dir_ + "/wuhan.log", "connected to the hub"));
  study = hang_wuhan_and_run("killed", "hub: study 2 from alice");
  hub_->Signal(SIGKILL);
  nodes_[0]->Signal(SIGCONT);
  out = study.get();
  EXPECT_NE(out.exit_code, 0);
  EXPECT_NE(out.err.find("hub"), std::string::npos) << out.err;
  StartHub();
  EXPECT_TRUE(WaitForLog(dir_ + "/hub.log", "study 2 was running when the hub stopped: failed"))
      << hub_->Log();
  const json got = Parsed(Study(kCox, "after_restart"));
  EXPECT_EQ(got["results"]["os_cox"]["status"], "ok") << got.dump();
  StopAll();
  for (const char* site : {"wuhan", "lyon"}) AuditOf(site);
}

}  // namespace

namespace {

// A node that pins another hub's key refuses every task (rule hub_signature) and records each;
// a node whose certificate comes from another CA is refused at the handshake, both sides saying
// so; a "node" with the right certificate that answers garbage fails its site's analysis. Each
// time the study says which site and why, and shows no result for the analysis.
// A lost laptop and a compromised node: the researcher's token and the site's certificate are
// revoked at once on the running hub; the other site goes on.
TEST_F(SovereigntyProcessTest, ARevokedResearcherAndARemovedSiteAreRefusedAtOnce) {
  AddSyntheticSites();
  StartAll();
  const json study = {{"title", "organs"},
                      {"dataset", "gu_cohort"},
                      {"analyses", {{{"id", "organs"}, {"function", "table"}, {"rows", "organ"}}}}};
  EXPECT_EQ(RunStudy(study)["sites"], json({"lyon", "wuhan"}));
  Ok("hub site remove " + dir_ + "/hub --name lyon");
  EXPECT_TRUE(WaitForLog(dir_ + "/lyon.log", "was removed from this hub", 60)) << nodes_[1]->Log();
  const json without_lyon = RunStudy(study);
  EXPECT_EQ(without_lyon["sites"], json({"wuhan"}));
  EXPECT_EQ(without_lyon["results"]["organs"]["status"], "ok");
  Ok("hub user remove " + dir_ + "/hub --name alice");
  const Output refused = Study(study, "revoked");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("unknown or revoked token"), std::string::npos) << refused.err;
  // Removing again, or someone unknown, says so.
  EXPECT_NE(passerelle::testing::Passerelle("hub user remove " + dir_ + "/hub --name nobody", dir_)
                .exit_code,
            0);
  nodes_[1]->Stop();  // refused, it retries; stop it before StopAll expects a clean exit
  nodes_.pop_back();
  StopAll();
}

TEST_F(SovereigntyProcessTest, WrongKeyOtherCaAndGarbageFailTheirSiteOnly) {
  AddSyntheticSites();
  Ok("hub init " + dir_ + "/other_hub");
  Ok("pki init " + dir_ + "/other_ca");
  Ok("pki issue " + dir_ + "/other_ca --name lyon --out " + dir_ + "/other_certs");
  StartHub({"--task-timeout", "3"});
  nodes_.push_back(StartNode("wuhan"));
  const std::string certs = dir_ + "/certs/";
  auto lyon = [&](const std::string& cert_dir, const std::string& hub_key) {
    return std::make_unique<passerelle::testing::Daemon>(
        std::vector<std::string>{"node", "serve", dir_ + "/lyon", "--hub", hub_url_, "--cert",
                                 cert_dir + "lyon.crt", "--key", cert_dir + "lyon.key", "--ca",
                                 dir_ + "/ca/ca.crt", "--hub-key", hub_key},
        dir_ + "/lyon.log");
  };

  // Another hub's key.
  auto node = lyon(certs, dir_ + "/other_hub/signing.pub");
  ASSERT_TRUE(WaitForLog(dir_ + "/lyon.log", "connected to the hub"));
  json got = Parsed(Study(kTables, "wrong_key"));
  EXPECT_EQ(got["results"]["organs"]["status"], "refused") << got.dump();
  EXPECT_NE(got["results"]["organs"]["notes"].dump().find("site lyon: rule hub_signature"),
            std::string::npos);
  EXPECT_EQ(node->Stop(), 0);
  json audit = AuditOf("lyon");
  size_t refused = 0;
  for (const json& e : audit) refused += e["kind"] == "refused";
  EXPECT_EQ(refused, 2u);  // both tables

  // A certificate from another CA.
  node = lyon(dir_ + "/other_certs/", dir_ + "/hub/signing.pub");
  EXPECT_TRUE(WaitForLog(dir_ + "/hub.log", "tls: refused client certificate 'lyon'"))
      << hub_->Log();
  EXPECT_TRUE(WaitForLog(dir_ + "/lyon.log", "cannot poll the hub")) << node->Log();
  got = Parsed(Study(kTables, "other_ca"));
  EXPECT_EQ(got["results"]["organs"]["status"], "failed") << got.dump();
  EXPECT_NE(got["results"]["organs"]["notes"].dump().find("site lyon:"), std::string::npos);
  node->Stop();
  EXPECT_EQ(AuditOf("lyon").size(), audit.size());  // nothing reached the node

  // Garbage from a client holding lyon's real certificate.
  std::atomic<bool> done{false};
  std::thread garbage([&] {
    passerelle::net::TlsIdentity identity{dir_ + "/ca/ca.crt", certs + "lyon.crt",
                                          certs + "lyon.key"};
    auto client = passerelle::net::HttpsClient::Create("127.0.0.1", std::stoi(port_), identity);
    ASSERT_TRUE(client.ok());
    const std::string poll = R"({"v": 1, "site": "lyon", "wait_seconds": 1})";
    while (!done) {
      auto r = (*client)->Post("/v1/node/poll", poll);
      if (!r.ok() || r->status != 200) continue;
      const json message = json::parse(r->body);
      if (message["task"].is_null()) continue;
      (void)(*client)->Post("/v1/node/result",
                            R"({"v": 1, "id": )" + message["task"]["id"].dump() +
                                R"(, "status": "done", "result": {"counts": "many"}})");
    }
  });
  got = Parsed(Study(kTables, "garbage"));
  done = true;
  garbage.join();
  EXPECT_EQ(got["results"]["organs"]["status"], "failed") << got.dump();
  EXPECT_NE(got["results"]["organs"]["notes"].dump().find("site lyon: answered garbage"),
            std::string::npos)
      << got.dump();
  EXPECT_TRUE(!got["results"]["organs"].contains("results") ||
              got["results"]["organs"]["results"].is_null());

  // The real node, back: the study runs.
  node = lyon(certs, dir_ + "/hub/signing.pub");
  ASSERT_TRUE(WaitForLog(dir_ + "/lyon.log", "connected to the hub"));
  got = Parsed(Study(kTables, "back"));
  EXPECT_EQ(got["results"]["organs"]["status"], "ok") << got.dump();
  EXPECT_EQ(node->Stop(), 0);
  StopAll();
}

}  // namespace
