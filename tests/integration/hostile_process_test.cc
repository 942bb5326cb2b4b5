// Hostile input and hostile networks against a real hub and two real nodes on 127.0.0.1. Each
// test attacks as a researcher or a stranger would, then runs an ordinary study on the same hub
// and nodes, which must succeed: nothing an attacker sends stops the federation.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <future>
#include <nlohmann/json.hpp>

#include "passerelle/net/https.h"
#include "passerelle/net/test_socket.h"
#include "tests/integration/process_fixture.h"

namespace {

using nlohmann::json;
using passerelle::testing::Output;
using passerelle::testing::Passerelle;
using passerelle::testing::ReadAll;

const json kOrdinary = {
    {"title", "organs"},
    {"dataset", "gu_cohort"},
    {"analyses", {{{"id", "organs"}, {"function", "table"}, {"rows", "organ"}}}}};

class HostileProcessTest : public passerelle::testing::ProcessTest {
 protected:
  // A researcher's own connection to the hub, as `study run` makes it.
  std::unique_ptr<passerelle::net::HttpsClient> Researcher() {
    auto client = passerelle::net::HttpsClient::Create("127.0.0.1", std::stoi(port_),
                                                       {dir_ + "/ca/ca.crt", "", ""});
    EXPECT_TRUE(client.ok());
    std::string token = ReadAll(dir_ + "/token");
    token.erase(token.find_last_not_of(" \n") + 1);
    (*client)->SetBearerToken(token);
    return std::move(*client);
  }

  // The end of study ID, waited for through the researcher's API.
  json Await(int id) {
    auto client = Researcher();
    for (int i = 0; i < 20; ++i) {
      auto got = client->Get("/v1/studies/" + std::to_string(id), std::chrono::seconds(60));
      if (!got.ok()) break;
      const json body = json::parse(got->body, nullptr, false);
      if (body.is_discarded() || body.value("status", "") != "running") return body;
    }
    ADD_FAILURE() << "study " << id << " did not end\n" << hub_->Log();
    return json::object();
  }

  // The ordinary study that must still work after an attack: both sites answer.
  void ExpectAnOrdinaryStudyWorks() {
    const json got = RunStudy(kOrdinary);
    EXPECT_EQ(got["results"]["organs"]["status"], "ok") << got.dump();
    EXPECT_EQ(got["sites"], json({"lyon", "wuhan"}));
  }
};

// Text no parser expected: any script, broken UTF-8, nesting thousands deep. Each is refused with
// a message in valid UTF-8; hub and nodes keep serving; the sites' audit logs stay readable.
TEST_F(HostileProcessTest, StrangeTextIsRefusedAndTheFederationGoesOn) {
  AddSyntheticSites(400);
  StartAll();
  auto researcher = Researcher();
  const std::string deep = std::string(5000, '(') + "age" + std::string(5000, ')');
  const std::vector<json> analyses = {
      {{"id", "a"}, {"function", "coxph"}, {"formula", "Surv(os_months, os_event) ~ é"}},
      {{"id", "b"}, {"function", "table"}, {"rows", "名字"}},
      {{"id", "c"}, {"function", "table"}, {"rows", "organ"}, {"subset", "âge > 1"}},
      {{"id", "d"}, {"function", "glm"}, {"formula", "os_event ~ " + deep}},
      {{"id", "e"},
       {"function", "table"},
       {"rows", "organ"},
       {"subset", "age > 1\nnode: released"}},
  };
  for (const json& a : analyses) {
    const json study = {{"title", "strange"}, {"dataset", "gu_cohort"}, {"analyses", {a}}};
    auto sent = researcher->Post("/v1/studies", study.dump());
    ASSERT_TRUE(sent.ok()) << sent.status().ToString() << hub_->Log();
    const json reply = json::parse(sent->body);  // valid JSON, so valid UTF-8
    if (sent->status == 202) {  // accepted by the hub: the sites refuse it, or it fails, cleanly
      const json done = Await(reply["study"].get<int>());
      EXPECT_NE(done.value("status", ""), "running") << a.dump();
    } else {
      EXPECT_EQ(sent->status, 400) << sent->body;
    }
  }
  // A broken byte sequence is refused as text, not quoted back.
  auto broken = researcher->Post("/v1/studies", "{\"title\": \"\xff\xfe\", \"analyses\": []}");
  ASSERT_TRUE(broken.ok());
  EXPECT_EQ(broken->status, 400);
  EXPECT_FALSE(json::parse(broken->body, nullptr, false).is_discarded()) << broken->body;

  ExpectAnOrdinaryStudyWorks();
  for (const char* site : {"wuhan", "lyon"}) {
    const Output audit =
        Passerelle(std::string("audit show --json --site ") + dir_ + "/" + site, dir_);
    ASSERT_EQ(audit.exit_code, 0) << audit.err;
    EXPECT_FALSE(json::parse(audit.out, nullptr, false).is_discarded());
  }
  // The newline in a subset forged no line of any log.
  for (const char* log : {"/hub.log", "/wuhan.log", "/lyon.log"}) {
    const std::string text = ReadAll(dir_ + log);
    EXPECT_EQ(text.find("\nnode: released"), std::string::npos) << log << "\n" << text;
  }
  StopAll();
}

// A stranger's idle connections and slow requests, a researcher's flood of waits and of
// studies, bodies too large: each is capped or cut, and an ordinary study runs meanwhile.
TEST_F(HostileProcessTest, FloodsAreCappedAndOrdinaryWorkGoesOn) {
  ::signal(SIGPIPE, SIG_IGN);  // the slow client writes on after the server has cut it
  AddSyntheticSites(400);
  // Nodes and the researcher all come from 127.0.0.1 here: it may hold more than a stranger.
  StartAll({"--connections-per-address", "64", "--task-timeout", "60"});
  ExpectAnOrdinaryStudyWorks();
  const int port = std::stoi(port_);

  // 200 idle connections from one address (no TLS handshake), a slow request from another.
  std::vector<int> idle;
  for (int i = 0; i < 200; ++i) idle.push_back(passerelle::testing::ConnectFrom("127.0.0.2", port));
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  const int slow_fd = passerelle::testing::ConnectFrom("127.0.0.3", port);
  SSL* slow = SSL_new(ctx);
  SSL_set_fd(slow, slow_fd);
  ASSERT_EQ(SSL_connect(slow), 1);
  std::atomic<bool> cut{false};
  std::thread slowloris([&] {
    const std::string request = "POST /v1/studies HTTP/1.1\r\nHost: hub\r\nX-Slow: ";
    for (int i = 0; i < 240; ++i) {  // a byte a quarter second, for at most a minute
      const char c = request[static_cast<size_t>(i) % request.size()];
      if (SSL_write(slow, &c, 1) <= 0) {
        cut = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });

  // lyon's node goes away for a moment: studies wait for it, and so do their researcher's waits.
  nodes_[1]->Stop();
  auto researcher = Researcher();
  std::vector<int> studies;
  for (int i = 0; i < 5; ++i) {
    json study = kOrdinary;
    study["title"] = "waiting " + std::to_string(i);
    auto sent = researcher->Post("/v1/studies", study.dump());
    ASSERT_TRUE(sent.ok());
    if (i < 4) {
      ASSERT_EQ(sent->status, 202) << sent->body;
      studies.push_back(json::parse(sent->body)["study"].get<int>());
    } else {  // the fifth at once: refused by name, not queued
      EXPECT_EQ(sent->status, 503) << sent->body;
      EXPECT_NE(sent->body.find("limit studies_per_researcher"), std::string::npos) << sent->body;
    }
  }
  // 40 waits at once for a running study: a few wait, the others are answered at once.
  std::vector<std::future<double>> waits;
  for (int i = 0; i < 40; ++i) {
    waits.push_back(std::async(std::launch::async, [&, i] {
      auto client = Researcher();
      const auto begin = std::chrono::steady_clock::now();
      auto got = client->Get("/v1/studies/" + std::to_string(studies[static_cast<size_t>(i) % 4]));
      EXPECT_TRUE(got.ok()) << got.status().ToString();
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    }));
  }
  int answered_at_once = 0;
  for (auto& w : waits) answered_at_once += w.get() < 5.0;
  EXPECT_GE(answered_at_once, 36);

  // Bodies too large are refused before they are read; a study too large by its own limits.
  auto huge = researcher->Post("/v1/studies", std::string(9 << 20, ' '));
  ASSERT_TRUE(huge.ok());
  EXPECT_EQ(huge->status, 413);
  json wide = kOrdinary;
  wide["analyses"][0] = {{"id", "wide"},
                         {"function", "describe"},
                         {"variables", std::vector<std::string>(600, "age")}};
  auto too_wide = researcher->Post("/v1/studies", wide.dump());
  ASSERT_TRUE(too_wide.ok());
  EXPECT_EQ(too_wide->status, 400);
  EXPECT_NE(too_wide->body.find("more than 500 variables"), std::string::npos) << too_wide->body;

  // lyon's node is back: the waiting studies end, and an ordinary one runs.
  nodes_[1] = StartNode("lyon");
  for (int id : studies) {
    const json done = Await(id);
    EXPECT_EQ(done["result"]["results"]["organs"]["status"], "ok") << done.dump();
  }
  ExpectAnOrdinaryStudyWorks();

  slowloris.join();
  EXPECT_TRUE(cut);
  const std::string log = hub_->Log();
  EXPECT_NE(log.find("https: refused connections from 127.0.0.2"), std::string::npos) << log;
  EXPECT_NE(log.find("https: cut connections from 127.0.0.2: no TLS handshake within 10 s"),
            std::string::npos);
  EXPECT_NE(log.find("https: cut connections from 127.0.0.3: no complete request within 30 s"),
            std::string::npos);
  SSL_free(slow);
  ::close(slow_fd);
  SSL_CTX_free(ctx);
  for (int fd : idle) ::close(fd);
  StopAll();
}

// A node certificate the CA revoked is refused by the hub once the list is installed; the other
// site goes on. Files holding patient rows are the owner's only.
TEST_F(HostileProcessTest, ARevokedCertificateIsRefusedAndStoresAreTheOwnersOnly) {
  AddSyntheticSites(400);
  StartAll();
  ExpectAnOrdinaryStudyWorks();
  Ok("pki revoke " + dir_ + "/ca --cert " + dir_ + "/certs/lyon.crt");
  EXPECT_EQ(hub_->Stop(), 0);
  StartHub({"--task-timeout", "5"});  // reads ca/crl.pem, beside ca.crt
  EXPECT_TRUE(
      WaitForLog(dir_ + "/hub.log", "tls: refused client certificate 'lyon': certificate revoked"))
      << hub_->Log();
  const Output out = Study(kOrdinary, "without_lyon");
  EXPECT_NE(out.exit_code, 0);  // an analysis failed
  const json got = json::parse(out.out);
  EXPECT_EQ(got["results"]["organs"]["status"], "failed") << got.dump();
  EXPECT_NE(got["results"]["organs"]["notes"].dump().find("site lyon:"), std::string::npos);
  EXPECT_NE(Passerelle("pki verify " + dir_ + "/ca --cert " + dir_ + "/certs/lyon.crt", dir_)
                .err.find("certificate revoked"),
            std::string::npos);

  for (const char* site : {"wuhan", "lyon"}) {
    struct stat st {};
    ASSERT_EQ(::stat((dir_ + "/" + site).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u) << site;
    ASSERT_EQ(::stat((dir_ + "/" + site + "/store.sqlite").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << site;
  }
  nodes_[1]->Stop();  // refused, it retries; stop it before StopAll expects a clean exit
  nodes_.pop_back();
  StopAll();
}

}  // namespace
