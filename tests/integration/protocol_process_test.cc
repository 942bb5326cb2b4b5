// Protocols through real processes on 127.0.0.1 (docs/protocols.md): a researcher submits one
// through the hub, each node reviews it on its own records and keeps it for its custodian, who
// approves or rejects it with `passerelle node protocol`; with the default scope = "protocol" a
// node answers nothing else. Inside an approved protocol the results are the pooled analysis'.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/integration/process_fixture.h"

namespace {

using nlohmann::json;
using passerelle::testing::Output;
using passerelle::testing::Passerelle;
using passerelle::testing::ReadAll;

class ProtocolProcessTest : public passerelle::testing::ProcessTest {
 protected:
  void SetUp() override {
    ProcessTest::SetUp();
    protocol_scope_ = true;
    for (const char* s : {"wuhan", "lyon"}) {
      const std::string csv = dir_ + "/" + s + ".csv";
      Ok(std::string("synth --site ") + s + " --patients 600 --seed " +
         (s == std::string("wuhan") ? "51" : "52") + " --out " + csv);
      AddSite(s, "gu_cohort", csv, "gu_cohort.v1");
    }
    StartAll();
  }

  // `protocol submit --json` as alice: its number.
  int64_t Submit(const json& protocol, const std::string& name) {
    const std::string file = dir_ + "/" + name + ".json";
    std::ofstream(file) << protocol.dump(2);
    const json answer = json::parse(Ok("protocol submit " + file + " --hub " + hub_url_ + " --ca " +
                                       dir_ + "/ca/ca.crt --token-file " + dir_ + "/token --json"));
    return answer.at("protocol").get<int64_t>();
  }

  // The node's entry for protocol `number`, once the node has received it.
  json Received(const std::string& site, int64_t number) {
    for (int i = 0; i < 600; ++i) {
      for (const json& p : json::parse(Ok("node protocols " + dir_ + "/" + site + " --json"))) {
        if (p.at("protocol") == number) return p;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "site " << site << " never received protocol " << number;
    return json();
  }

  // The hub's view of protocol `number` at each site, once every site has said something.
  json AtTheHub(int64_t number, const std::string& wanted) {
    json found;
    for (int i = 0; i < 200; ++i) {
      const json all = json::parse(Ok("protocol list --hub " + hub_url_ + " --ca " + dir_ +
                                      "/ca/ca.crt --token-file " + dir_ + "/token --json"));
      for (const json& p : all.at("protocols")) {
        if (p.at("protocol") != number) continue;
        found = p;
        bool all_there = true;
        for (const json& s : p.at("sites")) all_there &= s.at("status") == wanted;
        if (all_there) return p;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return found;
  }

  static json Protocol(const json& analyses) {
    return {{"protocol", "GU-OS-01"},  {"title", "Overall survival by organ"},
            {"dataset", "gu_cohort"},  {"researchers", {"alice"}},
            {"expires", "2099-12-31"}, {"analyses", analyses}};
  }
};

const json kAnalyses =
    json::array({{{"id", "table1"}, {"function", "describe"}, {"variables", {"age_dx", "organ"}}},
                 {{"id", "os_km"},
                  {"function", "survfit"},
                  {"formula", "Surv(os_days, os_event) ~ sex"},
                  {"bin_days", 30}},
                 {{"id", "os_cox"},
                  {"function", "coxph"},
                  {"formula", "Surv(os_days, os_event) ~ age_dx + sex + strata(site)"}}});

TEST_F(ProtocolProcessTest, OnlyAnApprovedProtocolRunsAndItGivesThePooledNumbers) {
  // No protocol: each site refuses, naming the rule (it depends on the request alone).
  const json open = {{"title", "open"}, {"dataset", "gu_cohort"}, {"analyses", kAnalyses}};
  Output out = Study(open, "open");
  EXPECT_EQ(out.exit_code, 1) << out.out << out.err;
  EXPECT_NE(out.out.find("rule protocol: site lyon answers only the analyses of protocols its "
                         "custodian approved"),
            std::string::npos)
      << out.out;

  const int64_t number = Submit(Protocol(kAnalyses), "protocol");
  for (const char* site : {"wuhan", "lyon"}) {
    const json p = Received(site, number);
    EXPECT_EQ(p.at("status"), "pending") << p.dump(2);
    EXPECT_EQ(p.at("review"), json::array()) << p.dump(2);  // nothing to flag
    EXPECT_EQ(p.at("definition").at("analyses"), kAnalyses);
  }
  const json under = {
      {"title", "under the protocol"}, {"dataset", "gu_cohort"}, {"protocol", "GU-OS-01"}};
  out = Study(under, "pending");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_NE(out.out.find("rule protocol: protocol GU-OS-01 version 1 is waiting for the custodian"),
            std::string::npos)
      << out.out;

  for (const char* site : {"wuhan", "lyon"}) {
    Ok("node protocol approve " + dir_ + "/" + site + " " + std::to_string(number) +
       " --reason \"ethics approval 2026-17\"");
  }
  const json result = RunStudy(under);
  for (const char* id : {"table1", "os_km", "os_cox"}) {
    EXPECT_EQ(result["results"][id]["status"], "ok") << result["results"][id].dump();
  }
  // The pooled analysis, site by site as strata: the same numbers.
  const json pooled = Analyze("coxph --site " + dir_ + "/wuhan --site " + dir_ +
                              "/lyon --dataset gu_cohort --formula 'Surv(os_days, os_event) ~ "
                              "age_dx + sex + strata(site)'");
  const json& fed = result["results"]["os_cox"]["results"];
  ASSERT_EQ(fed["coef"].size(), pooled["coef"].size());
  for (size_t i = 0; i < fed["coef"].size(); ++i) {
    EXPECT_NEAR(fed["coef"][i].get<double>(), pooled["coef"][i].get<double>(),
                1e-9 * std::max(1.0, std::fabs(pooled["coef"][i].get<double>())));
  }
  // The hub hears each custodian's decision; the audit logs hold the protocol and the decision.
  const json at_hub = AtTheHub(number, "approved");
  for (const json& s : at_hub.at("sites")) {
    EXPECT_EQ(s.at("status"), "approved") << at_hub.dump();
    EXPECT_EQ(s.at("reason"), "ethics approval 2026-17");
  }
  const std::string audit = Ok("audit show --site " + dir_ + "/lyon --json");
  for (const char* kind : {"\"protocol\"", "\"protocol_received\"", "\"protocol_approved\""}) {
    EXPECT_NE(audit.find(kind), std::string::npos) << kind;
  }
  EXPECT_EQ(Passerelle("audit verify --site " + dir_ + "/lyon", dir_).exit_code, 0);

  // Inside the protocol's name, anything but its analyses as approved is refused.
  json changed = under;
  changed["analyses"] = json::array({kAnalyses[2]});
  changed["analyses"][0]["subset"] = "age_dx > 40";
  out = Study(changed, "changed");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_NE(out.out.find("rule protocol: the task is not one of the analyses of protocol "
                         "GU-OS-01 version 1 as approved"),
            std::string::npos)
      << out.out;
  // A researcher it does not name: the hub says so at once.
  const std::string bob = Ok("hub user add " + dir_ + "/hub --name bob");
  std::ofstream(dir_ + "/bob.token") << bob.substr(bob.rfind("psr_"));
  std::ofstream(dir_ + "/under.json") << under.dump();
  out = Passerelle("study run " + dir_ + "/under.json --hub " + hub_url_ + " --ca " + dir_ +
                       "/ca/ca.crt --token-file " + dir_ + "/bob.token --json",
                   dir_);
  EXPECT_NE(out.exit_code, 0);
  EXPECT_NE(out.err.find("does not name researcher bob"), std::string::npos) << out.err;
  StopAll();
}

TEST_F(ProtocolProcessTest, TheReviewRejectsAnAttackAndAnAmendmentShowsItsChanges) {
  json analyses = kAnalyses;
  analyses.push_back(
      {{"id", "days"}, {"function", "survfit"}, {"formula", "Surv(os_days * 30, os_event) ~ 1"}});
  analyses.push_back(
      {{"id", "one"},
       {"function", "coxph"},
       {"formula",
        "Surv(os_days, os_event) ~ age_dx + I(psa_dx * (patient_id == \"WU-0000001\"))"}});
  const int64_t first = Submit(Protocol(analyses), "attack");
  for (const char* site : {"wuhan", "lyon"}) {
    const json p = Received(site, first);
    EXPECT_EQ(p.at("status"), "rejected") << p.dump(2);
    EXPECT_EQ(p.at("decided_by"), "automatic review");
    std::string rules;
    for (const json& f : p.at("review"))
      rules += f.at("analysis").get<std::string>() + ":" + f.at("rule").get<std::string>() + " ";
    EXPECT_NE(rules.find("days:time_arithmetic"), std::string::npos) << rules;
    EXPECT_NE(rules.find("one:identifier_or_date"), std::string::npos) << rules;
    // The custodian cannot let it through (flagged = "refuse").
    const Output approve = Passerelle("node protocol approve " + dir_ + "/" + site + " " +
                                          std::to_string(first) + " --reason yes",
                                      dir_);
    EXPECT_EQ(approve.exit_code, 1);
    EXPECT_NE(approve.err.find("already rejected by automatic review"), std::string::npos)
        << approve.err;
  }
  // The researcher hears it was rejected, and which request-only rules, never a figure.
  const json at_hub = AtTheHub(first, "rejected");
  for (const json& s : at_hub.at("sites")) {
    EXPECT_EQ(s.at("status"), "rejected") << at_hub.dump();
    const std::string reason = s.at("reason").get<std::string>();
    EXPECT_NE(reason.find("time_arithmetic"), std::string::npos) << reason;
    EXPECT_EQ(reason.find_first_of("0123456789"), std::string::npos) << reason;  // no count
  }
  Output out = Study({{"title", "t"}, {"dataset", "gu_cohort"}, {"protocol", "GU-OS-01"}});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_NE(out.out.find("is rejected at site"), std::string::npos) << out.out;

  // Version 2 without the attacks: reviewed anew, with the changes listed for the custodian.
  const int64_t second = Submit(Protocol(kAnalyses), "amended");
  for (const char* site : {"wuhan", "lyon"}) {
    const json p = Received(site, second);
    EXPECT_EQ(p.at("version"), 2);
    EXPECT_EQ(p.at("status"), "pending") << p.dump(2);
    const std::string changes = p.at("changes").dump();
    EXPECT_NE(changes.find("removed {\\\"id\\\":\\\"days\\\""), std::string::npos) << changes;
    EXPECT_NE(changes.find("removed {\\\"id\\\":\\\"one\\\""), std::string::npos) << changes;
    Ok("node protocol approve " + dir_ + "/" + site + " " + std::to_string(second) +
       " --reason \"amended as asked\"");
  }
  const json result =
      RunStudy({{"title", "t"}, {"dataset", "gu_cohort"}, {"protocol", "GU-OS-01"}});
  EXPECT_EQ(result["results"]["os_cox"]["status"], "ok");
  StopAll();
}

// A re-import does not start an empty ledger: records are known by a keyed hash of their
// identifier, so the same analysis over the new version, one patient fewer, is withheld.
TEST_F(ProtocolProcessTest, AReimportKeepsTheLedger) {
  const json analyses =
      json::array({{{"id", "ages"}, {"function", "describe"}, {"variables", {"age_dx"}}}});
  const int64_t number = Submit(Protocol(analyses), "ages");
  for (const char* site : {"wuhan", "lyon"}) {
    Received(site, number);
    Ok("node protocol approve " + dir_ + "/" + site + " " + std::to_string(number) +
       " --reason ok");
  }
  const json study = {{"title", "t"}, {"dataset", "gu_cohort"}, {"protocol", "GU-OS-01"}};
  EXPECT_EQ(RunStudy(study)["results"]["ages"]["status"], "ok");
  // Lyon exports again, with one patient fewer (the last line).
  std::string csv = ReadAll(dir_ + "/lyon.csv");
  csv.erase(csv.rfind('\n', csv.size() - 2) + 1);
  std::ofstream(dir_ + "/lyon2.csv") << csv;
  Ok("site import " + dir_ + "/lyon --dataset gu_cohort --csv " + dir_ +
     "/lyon2.csv --dictionary gu_cohort.v1");
  const Output out = Study(study, "again");
  EXPECT_EQ(out.exit_code, 1) << out.out;
  const json got = json::parse(out.out);
  EXPECT_EQ(got["results"]["ages"]["status"], "refused");
  EXPECT_EQ(got["results"]["ages"]["notes"][0],
            "site lyon: withheld under the site's disclosure rules");
  EXPECT_TRUE(WaitForLog(dir_ + "/lyon.log", "refused, rule min_cohort_difference"));
  StopAll();
}

}  // namespace
