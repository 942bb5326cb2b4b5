// Mutual TLS on 127.0.0.1 with real certificates: the consortium's parties talk; a stranger,
// an expired certificate and a server of another CA are refused, and the refusal is logged.
#include "passerelle/net/https.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <thread>

#include "passerelle/base/test_dir.h"
#include "passerelle/net/pki.h"

namespace passerelle::net {
namespace {

namespace fs = std::filesystem;

class HttpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = passerelle::testing::FreshTestDir("https");
    ASSERT_TRUE(CreateAuthority(dir_ + "/ca", {}).ok());
    ASSERT_TRUE(CreateAuthority(dir_ + "/other", {"Other CA", 365}).ok());
    Issue("ca", "hub", CertificateRole::kHub);
    Issue("ca", "wuhan", CertificateRole::kNode);
    Issue("other", "stranger", CertificateRole::kNode);
    Issue("other", "fakehub", CertificateRole::kHub);
    IssueOptions old;
    old.name = "expired";
    old.days = 5;
    old.backdate_days = 10;
    ASSERT_TRUE(IssueCertificate(dir_ + "/ca", dir_ + "/certs", old).ok());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    if (thread_.joinable()) thread_.join();
  }
  void Issue(const std::string& ca, const std::string& name, CertificateRole role) {
    IssueOptions o;
    o.name = name;
    o.role = role;
    ASSERT_TRUE(IssueCertificate(dir_ + "/" + ca, dir_ + "/certs", o).ok());
  }
  TlsIdentity Identity(const std::string& ca, const std::string& name) {
    return {dir_ + "/" + ca + "/ca.crt", dir_ + "/certs/" + name + ".crt",
            dir_ + "/certs/" + name + ".key"};
  }
  int Start(const std::string& ca, const std::string& name) {
    auto server = HttpsServer::Create(Identity(ca, name), [this](const std::string& line) {
      std::lock_guard lock(mutex_);
      log_ += line + "\n";
    });
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    server_->Handle("POST", "/api/v1/echo", [](const HttpRequest& r) {
      return HttpResponse{200, "{\"peer\": \"" + r.peer + "\", \"body\": " + r.body + "}"};
    });
    auto port = server_->Bind("127.0.0.1", 0);
    EXPECT_TRUE(port.ok());
    thread_ = std::thread([this] { server_->Run(); });
    return *port;
  }
  std::string Log() {
    std::lock_guard lock(mutex_);
    return log_;
  }

  std::string dir_;
  std::unique_ptr<HttpsServer> server_;
  std::thread thread_;
  std::mutex mutex_;
  std::string log_;
};

TEST_F(HttpsTest, ConsortiumPartiesTalkAndKnowWhoIsCalling) {
  const int port = Start("ca", "hub");
  auto client = HttpsClient::Create("localhost", port, Identity("ca", "wuhan"));
  ASSERT_TRUE(client.ok());
  auto response = (*client)->Post("/api/v1/echo", "{\"n\": 1}");
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "{\"peer\": \"wuhan\", \"body\": {\"n\": 1}}");
}

// A body larger than 8 MiB is refused before it is read, whoever sends it.
TEST_F(HttpsTest, ABodyTooLargeIsRefusedBeforeItIsRead) {
  const int port = Start("ca", "hub");
  auto client = HttpsClient::Create("localhost", port, Identity("ca", "wuhan"));
  ASSERT_TRUE(client.ok());
  auto response = (*client)->Post("/api/v1/echo", "\"" + std::string(9 << 20, 'x') + "\"");
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 413);
  auto small = (*client)->Post("/api/v1/echo", "\"" + std::string(1 << 20, 'x') + "\"");
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  EXPECT_EQ(small->status, 200);
}

TEST_F(HttpsTest, ClientOfAnotherCaIsRefusedAndLogged) {
  const int port = Start("ca", "hub");
  auto client = HttpsClient::Create("localhost", port, Identity("ca", "stranger"));
  ASSERT_TRUE(client.ok());
  auto response = (*client)->Post("/api/v1/echo", "{}");
  EXPECT_FALSE(response.ok());
  for (int i = 0; i < 50 && Log().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(Log().find("tls: refused client certificate 'stranger'"), std::string::npos) << Log();
}

TEST_F(HttpsTest, ExpiredClientCertificateIsRefusedAndLogged) {
  const int port = Start("ca", "hub");
  auto client = HttpsClient::Create("localhost", port, Identity("ca", "expired"));
  ASSERT_TRUE(client.ok());
  EXPECT_FALSE((*client)->Post("/api/v1/echo", "{}").ok());
  for (int i = 0; i < 50 && Log().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(Log().find("certificate has expired"), std::string::npos) << Log();
}

TEST_F(HttpsTest, ServerOfAnotherCaIsRefusedByTheClient) {
  const int port = Start("other", "fakehub");
  auto client = HttpsClient::Create("localhost", port, Identity("ca", "wuhan"));
  ASSERT_TRUE(client.ok());
  auto response = (*client)->Post("/api/v1/echo", "{}");
  ASSERT_FALSE(response.ok());
  // OpenSSL names the reason: the hub's chain ends at a CA this client does not trust.
  EXPECT_NE(response.status().message().find("SSLServerVerification"), std::string::npos)
      << response.status().message();
  EXPECT_NE(response.status().message().find("certificate"), std::string::npos);
}

}  // namespace
}  // namespace passerelle::net

namespace passerelle::net {
namespace {

// A newline in what a log line quotes (a subset, a certificate's name) forges no line.
TEST(HttpsServer, TheLogEscapesControlCharacters) {
  ::testing::internal::CaptureStderr();
  StderrLog()("refused 'a\nnode: released' \x1b[0m");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "refused 'a\\x0anode: released' \\x1b[0m\n");
}

// A server without TLS (the custodian's page) listens on the loopback address only.
TEST(HttpsServer, ALoopbackServerRefusesAnyOtherAddress) {
  auto server = HttpsServer::CreateLoopback({});
  ASSERT_TRUE(server.ok());
  EXPECT_EQ((*server)->Bind("0.0.0.0", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE((*server)->Bind("127.0.0.1", 0).ok());
}

}  // namespace
}  // namespace passerelle::net
