// Mutual TLS on 127.0.0.1 with real certificates: the consortium's parties talk; a stranger,
// an expired certificate and a server of another CA are refused, and the refusal is logged.
#include "passerelle/net/https.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <thread>

#include "passerelle/base/test_dir.h"
#include "passerelle/net/pki.h"
#include "passerelle/net/test_socket.h"

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
  int Start(const std::string& ca, const std::string& name, ServerLimits limits = {},
            const std::string& crl = "") {
    TlsIdentity identity = Identity(ca, name);
    identity.crl = crl;
    auto server = HttpsServer::Create(
        identity,
        [this](const std::string& line) {
          std::lock_guard lock(mutex_);
          log_ += line + "\n";
        },
        ClientCertificates::kRequired, limits);
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
  // Another caller is answered `times` times, each within `timeout`.
  void ExpectServed(int port, int times, std::chrono::seconds timeout) {
    auto client = HttpsClient::Create("localhost", port, Identity("ca", "wuhan"));
    ASSERT_TRUE(client.ok());
    for (int i = 0; i < times; ++i) {
      auto response = (*client)->Post("/api/v1/echo", "{}", timeout);
      ASSERT_TRUE(response.ok()) << response.status().ToString();
      EXPECT_EQ(response->status, 200);
    }
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

// A revoked certificate is refused at the handshake, a node's by the hub and the hub's by a node.
TEST_F(HttpsTest, ARevokedCertificateIsRefusedOnBothSides) {
  ASSERT_TRUE(RevokeCertificate(dir_ + "/ca", dir_ + "/certs/wuhan.crt").ok());
  const std::string crl = RevocationListPath(dir_ + "/ca");
  Issue("ca", "lyon", CertificateRole::kNode);
  const int port = Start("ca", "hub", {}, crl);
  auto lyon = HttpsClient::Create("localhost", port, Identity("ca", "lyon"));
  ASSERT_TRUE(lyon.ok());
  EXPECT_TRUE((*lyon)->Post("/api/v1/echo", "{}").ok());
  auto wuhan = HttpsClient::Create("localhost", port, Identity("ca", "wuhan"));
  ASSERT_TRUE(wuhan.ok());
  EXPECT_FALSE((*wuhan)->Post("/api/v1/echo", "{}").ok());
  for (int i = 0; i < 50 && Log().find("revoked") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(Log().find("tls: refused client certificate 'wuhan': certificate revoked"),
            std::string::npos)
      << Log();

  ASSERT_TRUE(RevokeCertificate(dir_ + "/ca", dir_ + "/certs/hub.crt").ok());
  TlsIdentity careful = Identity("ca", "lyon");
  careful.crl = crl;
  auto node = HttpsClient::Create("localhost", port, careful);
  ASSERT_TRUE(node.ok());
  auto refused = (*node)->Post("/api/v1/echo", "{}");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("certificate revoked"), std::string::npos)
      << refused.status().message();
}

// No caller holds the server: one address's idle connections (no handshake) are capped and cut
// at the handshake deadline, a slow request (slowloris) at the request deadline, and meanwhile
// another caller is answered at once.
TEST_F(HttpsTest, IdleAndSlowConnectionsAreCappedAndCutWhileOthersAreServed) {
  ::signal(SIGPIPE, SIG_IGN);  // the slow client writes on after the server has cut it
  ServerLimits limits;
  limits.threads = 8;
  limits.connections_per_address = 3;
  limits.handshake = std::chrono::seconds(1);
  limits.request = std::chrono::seconds(2);
  const int port = Start("ca", "hub", limits);
  std::vector<int> idle;
  for (int i = 0; i < 20; ++i) idle.push_back(testing::ConnectFrom("127.0.0.2", port));

  // A slow request from another address: a valid handshake, then the headers byte by byte.
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_EQ(
      SSL_CTX_use_certificate_file(ctx, Identity("ca", "wuhan").cert.c_str(), SSL_FILETYPE_PEM), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey_file(ctx, Identity("ca", "wuhan").key.c_str(), SSL_FILETYPE_PEM),
            1);
  const int slow_fd = testing::ConnectFrom("127.0.0.3", port);
  SSL* slow = SSL_new(ctx);
  SSL_set_fd(slow, slow_fd);
  ASSERT_EQ(SSL_connect(slow), 1);
  std::thread slowloris([slow] {
    const std::string request = "POST /api/v1/echo HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
    for (int i = 0; i < 60; ++i) {  // at most 15 s; cut long before
      const char c = request[static_cast<size_t>(i) % request.size()];
      if (SSL_write(slow, &c, 1) <= 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });

  const auto begin = std::chrono::steady_clock::now();
  ExpectServed(port, 5, std::chrono::seconds(5));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(3));

  slowloris.join();  // its writes fail once the server has cut it
  for (int i = 0; i < 40 && Log().find("no complete request") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const std::string log = Log();
  EXPECT_NE(log.find("https: refused connections from 127.0.0.2: it holds 3 "
                     "(limit connections_per_address)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("https: cut connections from 127.0.0.2: no TLS handshake within 1 s"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("https: cut connections from 127.0.0.3: no complete request within 2 s"),
            std::string::npos)
      << log;
  SSL_free(slow);
  ::close(slow_fd);
  SSL_CTX_free(ctx);
  for (int fd : idle) ::close(fd);
}

// Many addresses, each within its own cap, together holding most of the server's connections
// with connections that never send a request (reconnecting as soon as they are cut): under
// pressure such connections are cut after `under_pressure`, not after the handshake deadline,
// and another caller is served.
TEST_F(HttpsTest, ManyAddressesCannotFillTheServer) {
  ServerLimits limits;
  limits.threads = 8;
  limits.connections = 20;
  limits.connections_per_address = 2;
  limits.handshake = std::chrono::seconds(30);
  limits.request = std::chrono::seconds(30);
  limits.under_pressure = std::chrono::seconds(1);
  const int port = Start("ca", "hub", limits);
  // Two connections from each of eight addresses, opened one after another (a burst would
  // overflow the listen backlog), each opened again as soon as the server closes it.
  std::atomic<bool> stop = false;
  std::atomic<int> opened = 0;
  std::thread strangers([&] {
    int fds[16];
    std::fill(std::begin(fds), std::end(fds), -1);
    while (!stop) {
      for (int i = 0; i < 16; ++i) {
        char byte;
        if (fds[i] >= 0 && ::recv(fds[i], &byte, 1, MSG_DONTWAIT) == 0) {
          ::close(fds[i]);
          fds[i] = -1;
        }
        if (fds[i] < 0) {
          const std::string address = "127.0.1." + std::to_string(i / 2 + 1);
          fds[i] = testing::ConnectFrom(address.c_str(), port);
          ++opened;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (int fd : fds) ::close(fd);
  });
  for (int i = 0; i < 100 && opened < 16; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // 16 of 20 connections held

  const auto begin = std::chrono::steady_clock::now();
  ExpectServed(port, 3, std::chrono::seconds(20));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(15));
  const std::string cut = "no TLS handshake within 1 s (limit under_pressure)";
  for (int i = 0; i < 100 && Log().find(cut) == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  strangers.join();
  EXPECT_NE(Log().find(cut), std::string::npos) << Log();
}

// What the server holds of requests being received is bounded, all callers together: a body
// that would pass it is cut; what was held is given back, and the next request is served.
TEST_F(HttpsTest, RequestsHeldAtOnceAreBounded) {
  ServerLimits limits;
  limits.buffered_bytes = 1 << 20;
  const int port = Start("ca", "hub", limits);
  auto client = HttpsClient::Create("localhost", port, Identity("ca", "wuhan"));
  ASSERT_TRUE(client.ok());
  auto text = [](size_t size) {  // letters that do not compress (large bodies go gzipped)
    std::string t = "\"";
    uint64_t state = 88172645463325252ull;
    while (t.size() < size) {
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;
      t += static_cast<char>('a' + state % 26);
    }
    return t + "\"";
  };
  auto large = (*client)->Post("/api/v1/echo", text(2 << 20));
  EXPECT_FALSE(large.ok() && large->status == 200);
  for (int i = 0; i < 3; ++i) {
    auto small = (*client)->Post("/api/v1/echo", text(600 << 10));
    ASSERT_TRUE(small.ok()) << small.status().ToString();
    EXPECT_EQ(small->status, 200);
  }
  EXPECT_NE(Log().find("(limit buffered_bytes)"), std::string::npos) << Log();
}

// A caller beyond a limit is told which (its request is answered 503 naming the limit), not
// left with a connection closed for no reason it can see; its other connection goes on.
TEST_F(HttpsTest, ACallerBeyondALimitIsToldWhich) {
  ServerLimits limits;
  limits.connections_per_address = 1;
  const int port = Start("ca", "hub", limits);
  auto first = HttpsClient::Create("localhost", port, Identity("ca", "wuhan"));
  auto second = HttpsClient::Create("localhost", port, Identity("ca", "wuhan"));
  ASSERT_TRUE(first.ok() && second.ok());
  auto kept = (*first)->Post("/api/v1/echo", "{}");  // its connection stays open
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  auto refused = (*second)->Post("/api/v1/echo", "{\"n\": 2}");
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_EQ(refused->status, 503);
  EXPECT_NE(refused->body.find("limit connections_per_address"), std::string::npos)
      << refused->body;
  auto again = (*first)->Post("/api/v1/echo", "{}");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->status, 200);
}

// Requests that wait for their answer (long polls) hold their connections but no worker: with
// 2 workers, 200 requests wait at once while other callers are served; each then gets its own
// answer, in any order, from another thread; an answer to a connection that has gone is dropped.
TEST_F(HttpsTest, WaitingRequestsHoldNoWorker) {
  ServerLimits limits;
  limits.threads = 2;
  limits.connections_per_address = 1000;
  const int port = Start("ca", "hub", limits);
  std::mutex mu;
  std::vector<std::pair<std::string, Responder>> waiting;
  server_->HandleAsync("POST", "/api/v1/wait/{id}", [&](const HttpRequest& r, Responder answer) {
    std::lock_guard lock(mu);
    waiting.emplace_back(r.path.substr(13), std::move(answer));
  });
  constexpr int kWaiting = 200;
  std::vector<std::thread> callers;
  std::vector<std::string> answers(kWaiting);
  for (int i = 0; i < kWaiting; ++i) {
    callers.emplace_back([&, i] {
      auto client = HttpsClient::Create("localhost", port, Identity("ca", "wuhan"));
      if (!client.ok()) return;
      auto r = (*client)->Post("/api/v1/wait/" + std::to_string(i), "{}", std::chrono::seconds(60));
      answers[static_cast<size_t>(i)] = r.ok() ? r->body : r.status().message();
    });
  }
  for (int i = 0; i < 600; ++i) {
    {
      std::lock_guard lock(mu);
      if (waiting.size() == kWaiting) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(waiting.size(), static_cast<size_t>(kWaiting));
  }
  ExpectServed(port, 3, std::chrono::seconds(5));
  std::thread answering([&] {
    std::lock_guard lock(mu);
    for (auto it = waiting.rbegin(); it != waiting.rend(); ++it) {
      it->second.Send({200, "{\"n\": " + it->first + "}"});
      it->second.Send({500, "a second answer is dropped"});
    }
  });
  answering.join();
  for (std::thread& t : callers) t.join();
  for (int i = 0; i < kWaiting; ++i) {
    EXPECT_EQ(answers[static_cast<size_t>(i)], "{\"n\": " + std::to_string(i) + "}");
  }
}

// Endless headers are cut once the request passes its bytes,
// long before the deadline; the server logs it once, not once per connection.
TEST_F(HttpsTest, EndlessHeadersAreCutAtTheRequestsBytes) {
  ::signal(SIGPIPE, SIG_IGN);
  ServerLimits limits;
  limits.request_bytes = 1 << 20;
  const int port = Start("ca", "hub", limits);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_EQ(
      SSL_CTX_use_certificate_file(ctx, Identity("ca", "wuhan").cert.c_str(), SSL_FILETYPE_PEM), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey_file(ctx, Identity("ca", "wuhan").key.c_str(), SSL_FILETYPE_PEM),
            1);
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int fd = testing::ConnectFrom("127.0.0.4", port);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    ASSERT_EQ(SSL_connect(ssl), 1);
    std::string headers = "GET /api/v1/echo HTTP/1.1\r\nHost: localhost\r\n";
    const std::string line = "X-Long: " + std::string(7900, 'b') + "\r\n";
    size_t sent = 0;
    while (sent < (64u << 20)) {  // would be 64 MiB
      if (SSL_write(ssl, line.data(), static_cast<int>(line.size())) <= 0) break;
      sent += line.size();
    }
    EXPECT_LT(sent, 16u << 20) << "the server kept reading";  // socket buffers hold a few MiB
    SSL_free(ssl);
    ::close(fd);
  }
  SSL_CTX_free(ctx);
  const std::string log = Log();
  const std::string cut = "https: refused a request from 127.0.0.4: headers over 65536 bytes";
  ASSERT_NE(log.find(cut), std::string::npos) << log;
  EXPECT_EQ(log.find(cut), log.rfind(cut)) << log;  // once a minute
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

// Whatever a line quotes (a certificate's name in BMPString bytes, C1 controls, a Unicode line
// separator), the log gets one line of valid UTF-8; the text of any script stays as it is.
TEST(HttpsServer, TheLogIsValidTextOnOneLine) {
  EXPECT_EQ(LogSafe("evil\xff\xc3( forged"), "evil\\xff\\xc3( forged");
  EXPECT_EQ(LogSafe("a\u2028b\u0085c\u009b"), "a\\u2028b\\x85c\\x9b");
  EXPECT_EQ(LogSafe("âge, 名字, 😀"), "âge, 名字, 😀");
  EXPECT_EQ(LogSafe("\xe5\x90"), "\\xe5\\x90");  // cut short
}

// Lines a stranger can cause: each distinct one once a minute, and 100 a minute in all.
TEST(HttpsServer, WhatStrangersCanLogIsRateLimited) {
  std::vector<std::string> lines;
  LogSink limited = OncePerMinute([&](const std::string& line) { lines.push_back(line); });
  for (int i = 0; i < 10; ++i) limited("refused 'same'");
  for (int i = 0; i < 500; ++i) limited("refused 'name" + std::to_string(i) + "'");
  EXPECT_EQ(lines.size(), 100u);
  EXPECT_EQ(lines[0], "refused 'same'");
}

// A server without TLS (the custodian's page) listens on the loopback address only.
// Large bodies travel compressed both ways and arrive whole.
TEST_F(HttpsTest, LargeBodiesTravelCompressed) {
  const int port = Start("ca", "hub");
  std::string table = "[";
  for (int i = 0; i < 20000; ++i) table += (i ? ", " : "") + std::to_string(i % 977);
  table += "]";
  server_->Handle("GET", "/api/v1/table", [&](const HttpRequest&) {
    return HttpResponse{200, table};
  });
  auto client = HttpsClient::Create("localhost", port, Identity("ca", "wuhan"));
  ASSERT_TRUE(client.ok());
  auto echoed = (*client)->Post("/api/v1/echo", table);
  ASSERT_TRUE(echoed.ok()) << echoed.status().ToString();
  EXPECT_EQ(echoed->body, "{\"peer\": \"wuhan\", \"body\": " + table + "}");
  auto got = (*client)->Get("/api/v1/table");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->body, table);
  bool gzip = false;
  for (const auto& [name, value] : got->headers)
    gzip = gzip || (name == "Content-Encoding" && value == "gzip");
  EXPECT_TRUE(gzip);
}

// A body sent with a Content-Encoding would be inflated without bound by the HTTP library (a
// few hundred kilobytes of gzip make 100 MB): it is refused before it is read. A body sent as
// compressed JSON is inflated up to the limit of any body, and refused beyond it.
TEST(HttpsServer, CompressedBombsAreRefusedUnread) {
  auto server = HttpsServer::CreateLoopback({});
  ASSERT_TRUE(server.ok());
  std::atomic<int> handled = 0;
  (*server)->Handle("POST", "/api/v1/echo", [&](const HttpRequest& r) {
    ++handled;
    return HttpResponse{200, "{\"bytes\": " + std::to_string(r.body.size()) + "}"};
  });
  auto port = (*server)->Bind("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());
  std::thread run([&] { (*server)->Run(); });
  const std::string raw(100 << 20, ' ');
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string bomb(deflateBound(&z, raw.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(bomb.data());
  z.avail_out = static_cast<uInt>(bomb.size());
  deflate(&z, Z_FINISH);
  bomb.resize(z.total_out);
  deflateEnd(&z);
  ASSERT_LT(bomb.size(), 1u << 20);
  auto post = [&](const std::string& headers) {
    const int fd = testing::ConnectFrom("127.0.0.1", *port);
    EXPECT_GE(fd, 0);
    const std::string request = "POST /api/v1/echo HTTP/1.1\r\nHost: localhost\r\n" + headers +
                                "Content-Length: " + std::to_string(bomb.size()) + "\r\n\r\n" +
                                bomb;
    size_t sent = 0;
    while (sent < request.size()) {
      const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;  // the server may close before reading all of it
      sent += static_cast<size_t>(n);
    }
    char buf[512] = {0};
    const ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
  };
  EXPECT_NE(post("Content-Type: application/json\r\nContent-Encoding: gzip\r\n").find("415"),
            std::string::npos);
  EXPECT_NE(post("Content-Type: application/vnd.passerelle.json+gzip\r\n").find("413"),
            std::string::npos);
  EXPECT_EQ(handled, 0);
  (*server)->Stop();
  run.join();
}

TEST(HttpsServer, ALoopbackServerRefusesAnyOtherAddress) {
  auto server = HttpsServer::CreateLoopback({});
  ASSERT_TRUE(server.ok());
  EXPECT_EQ((*server)->Bind("0.0.0.0", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE((*server)->Bind("127.0.0.1", 0).ok());
}

}  // namespace
}  // namespace passerelle::net
