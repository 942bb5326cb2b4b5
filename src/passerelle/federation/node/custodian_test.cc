// The custodian's page over real HTTP on 127.0.0.1: its token, its security headers, and an audit
// log served a page at a time, however long it has grown.
#include "passerelle/federation/node/custodian.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "passerelle/base/test_dir.h"
#include "passerelle/store/audit_log.h"
#include "passerelle/store/site_store.h"

namespace passerelle::federation {
namespace {

using nlohmann::json;

// GET PATH from 127.0.0.1:PORT with TOKEN: the whole answer, headers and body.
std::string Get(int port, const std::string& path, const std::string& token) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return "";
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nAuthorization: Bearer " + token +
                              "\r\nConnection: close\r\n\r\n";
  (void)::write(fd, request.data(), request.size());
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
    answer.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return answer;
}

json Body(const std::string& answer) {
  return json::parse(answer.substr(answer.find("\r\n\r\n") + 4), nullptr, false);
}

TEST(CustodianPageTest, TheAuditLogIsServedAPageAtATime) {
  const std::string dir = passerelle::testing::FreshTestDir("custodian");
  ASSERT_TRUE(store::SiteStore::Create(dir + "/site", "wuhan").ok());
  {
    auto audit = store::AuditLog::Open(dir + "/site");
    ASSERT_TRUE(audit.ok());
    for (int i = 1; i <= 250; ++i) {
      store::AuditEntry e;
      e.kind = "refused";
      e.task = i;
      e.detail = "rule min_cell_count";
      ASSERT_TRUE((*audit)->Append(e).ok());
    }
  }
  auto page = CustodianPage::Start(dir + "/site", 0, [](const std::string&) {});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  std::string token;
  std::ifstream(dir + "/site/custodian.token") >> token;
  const int port = (*page)->port();

  const json newest = Body(Get(port, "/api/audit", token));
  EXPECT_EQ(newest["verified"], true);
  EXPECT_EQ(newest["last"], 250);
  ASSERT_EQ(newest["entries"].size(), 100u);
  EXPECT_EQ(newest["entries"][0]["seq"], 151);
  EXPECT_EQ(newest["entries"][99]["seq"], 250);
  const json older = Body(Get(port, "/api/audit?before=151", token));
  ASSERT_EQ(older["entries"].size(), 100u);
  EXPECT_EQ(older["entries"][0]["seq"], 51);
  const json oldest = Body(Get(port, "/api/audit?before=51", token));
  ASSERT_EQ(oldest["entries"].size(), 50u);
  EXPECT_EQ(oldest["entries"][0]["seq"], 1);
  EXPECT_TRUE(Body(Get(port, "/api/audit?before=1", token))["entries"].empty());
  EXPECT_NE(Get(port, "/api/audit?before=x1", token).find(" 400 "), std::string::npos);
  EXPECT_NE(Get(port, "/api/audit", "wrong").find(" 403 "), std::string::npos);

  const std::string html = Get(port, "/", "");
  EXPECT_NE(html.find("X-Frame-Options: DENY"), std::string::npos) << html.substr(0, 600);
  EXPECT_NE(html.find("Content-Security-Policy: default-src 'self'"), std::string::npos);
  EXPECT_NE(html.find("X-Content-Type-Options: nosniff"), std::string::npos);
  (*page)->Stop();
}

}  // namespace
}  // namespace passerelle::federation
