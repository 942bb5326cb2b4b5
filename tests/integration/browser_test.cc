// The hub's web UI in a real browser: a hub and two site nodes as real processes on 127.0.0.1,
// and tests/browser/hub_ui.mjs driving Debian's Chromium through playwright-core (installed by
// `make test`: `npm ci` from the committed lockfile). The script signs in, sees the sites'
// datasets, watches a study wait on a hanging site, runs a study, checks the plots, the languages
// and the report, and that no request leaves the hub's origin.
#include <gtest/gtest.h>

#include <csignal>
#include <future>
#include <nlohmann/json.hpp>

#include "tests/integration/process_fixture.h"

namespace {

using passerelle::testing::ReadAll;

class BrowserTest : public passerelle::testing::ProcessTest {};

TEST_F(BrowserTest, AResearcherRunsAStudyInTheHubsWebUi) {
  for (const char* s : {"wuhan", "lyon"}) {
    const std::string csv = dir_ + "/" + s + ".csv";
    Ok(std::string("synth --site ") + s + " --patients 800 --seed " +
       (s == std::string("wuhan") ? "31" : "32") + " --out " + csv);
    AddSite(s, "gu_cohort", csv, "gu_cohort.v1");
  }
  StartAll();
  ASSERT_TRUE(WaitForLog(dir_ + "/wuhan.log", "connected to the hub"));
  ASSERT_TRUE(WaitForLog(dir_ + "/lyon.log", "connected to the hub"));
  // Lyon hangs (SIGSTOP) until the page has shown the first study waiting on it; the script
  // says so in DIR/progress.seen.
  nodes_[1]->Signal(SIGSTOP);
  const std::string command = "cd " + std::string(PASSERELLE_SOURCE_DIR) +
                              " && node tests/browser/hub_ui.mjs " + hub_url_ + " " + dir_ +
                              "/token " + dir_ + " > " + dir_ + "/browser.log 2>&1";
  auto browser = std::async(std::launch::async, [&] { return std::system(command.c_str()); });
  const bool seen = WaitForLog(dir_ + "/progress.seen", "lyon", 180);
  nodes_[1]->Signal(SIGCONT);
  EXPECT_TRUE(seen) << ReadAll(dir_ + "/browser.log");
  const int status = browser.get();
  EXPECT_EQ(status, 0) << ReadAll(dir_ + "/browser.log") << hub_->Log();
  EXPECT_EQ(ReadAll(dir_ + "/browser.ok"), "ok\n");
  StopAll();
}

// The custodian of a site with approval = "manual" approves, on the node's own page (127.0.0.1
// only), a protocol and then a held release of it while a researcher's study waits; the study
// then finishes.
TEST_F(BrowserTest, TheCustodianApprovesAReleaseOnTheNodesPage) {
  protocol_scope_ = true;
  for (const char* s : {"wuhan", "lyon"}) {
    const std::string csv = dir_ + "/" + s + ".csv";
    Ok(std::string("synth --site ") + s + " --patients 400 --seed " +
       (s == std::string("wuhan") ? "41" : "42") + " --out " + csv);
    AddSite(s, "gu_cohort", csv, "gu_cohort.v1");
  }
  {
    const std::string path = dir_ + "/wuhan/policy.toml";
    std::string policy = ReadAll(path);
    const size_t at = policy.find("approval = \"auto\"");
    ASSERT_NE(at, std::string::npos);
    policy.replace(at, 17, "approval = \"manual\"");
    std::ofstream(path) << policy;
  }
  StartHub();
  const std::string certs = dir_ + "/certs/";
  nodes_.push_back(std::make_unique<passerelle::testing::Daemon>(
      std::vector<std::string>{"node", "serve", dir_ + "/wuhan", "--hub", hub_url_, "--cert",
                               certs + "wuhan.crt", "--key", certs + "wuhan.key", "--ca",
                               dir_ + "/ca/ca.crt", "--hub-key", dir_ + "/hub/signing.pub",
                               "--custodian-port", "0"},
      dir_ + "/wuhan.log"));
  nodes_.push_back(StartNode("lyon"));
  ASSERT_TRUE(WaitForLog(dir_ + "/wuhan.log", "the custodian's page is at"));
  const std::string port = ReadAll(dir_ + "/wuhan/custodian.port");
  const nlohmann::json protocol = {
      {"protocol", "GU-2026-01"},
      {"title", "organs"},
      {"dataset", "gu_cohort"},
      {"researchers", {"alice"}},
      {"expires", "2099-12-31"},
      {"analyses", {{{"id", "organs"}, {"function", "table"}, {"rows", "organ"}}}}};
  std::ofstream(dir_ + "/protocol.json") << protocol.dump();
  Ok("protocol submit " + dir_ + "/protocol.json --hub " + hub_url_ + " --ca " + dir_ +
     "/ca/ca.crt --token-file " + dir_ + "/token");
  for (const char* site : {"wuhan", "lyon"}) {
    bool received = false;
    for (int i = 0; i < 200 && !received; ++i) {
      received = Ok("node protocols " + dir_ + "/" + site).find("GU-2026-01") != std::string::npos;
      if (!received) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(received) << site;
  }
  Ok("node protocol approve " + dir_ + "/lyon 1 --reason \"ethics approval 2026-17\"");
  const std::string command =
      "cd " + std::string(PASSERELLE_SOURCE_DIR) + " && node tests/browser/custodian_ui.mjs " +
      "http://127.0.0.1:" + port.substr(0, port.find('\n')) + "/ " + dir_ +
      "/wuhan/custodian.token " + dir_ + " > " + dir_ + "/custodian.log 2>&1";
  auto page = std::async(std::launch::async, [&] { return std::system(command.c_str()); });
  // The study starts once the page has approved the protocol at wuhan.
  ASSERT_TRUE(WaitForLog(dir_ + "/protocol.approved", "wuhan", 120))
      << ReadAll(dir_ + "/custodian.log");
  const nlohmann::json study = {
      {"title", "organs"}, {"dataset", "gu_cohort"}, {"protocol", "GU-2026-01"}};
  auto running = std::async(std::launch::async, [&] { return Study(study); });
  EXPECT_EQ(page.get(), 0) << ReadAll(dir_ + "/custodian.log");
  const passerelle::testing::Output out = running.get();
  EXPECT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_NE(out.out.find("\"status\": \"ok\""), std::string::npos) << out.out;
  const std::string audit = Ok("audit show --site " + dir_ + "/wuhan");
  EXPECT_NE(audit.find("protocol GU-2026-01, table 1 (by "), std::string::npos) << audit;
  StopAll();
}

}  // namespace
