// Fuzz target: raw bytes to Passerelle's HTTP server (net/https_server.cc), a real one in this
// process on 127.0.0.1 without TLS: the request line, headers, bodies, "100 Continue", refused
// requests whose bodies are skipped, several requests on one connection, answers given at once
// or from another thread. Whatever arrives: what comes back is HTTP (or nothing), the
// connection ends when the client ends its side (never a crash, a hang or a leak), and the
// server still answers an ordinary request (checked after every tenth input).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "passerelle/net/https.h"

namespace {

using namespace passerelle;

struct Server {
  std::unique_ptr<net::HttpsServer> server;
  std::thread running;
  int port = 0;

  Server() {
    server = net::HttpsServer::CreateLoopback([](const std::string&) {}).value();
    server->Handle("POST", "/echo/{id}", [](const net::HttpRequest& r) {
      std::string params;
      for (const auto& [key, value] : r.params) params += key + "=" + value + ";";
      return net::HttpResponse{200, r.path + "|" + params + "|" + r.body, "text/plain"};
    });
    server->HandleAsync("GET", "/later", [](const net::HttpRequest&, net::Responder answer) {
      std::thread([answer] { answer.Send({200, "later", "text/plain"}); }).detach();
    });
    port = server->Bind("127.0.0.1", 0).value();
    running = std::thread([this] { server->Run(); });
  }
  ~Server() {
    server->Stop();
    running.join();
  }
};

// Stops the run, saying why (libFuzzer then writes the input that led here).
[[noreturn]] void Fail(const std::string& why) {
  std::fprintf(stderr, "ERROR: http fuzz target: %s\n", why.c_str());
  std::abort();
}

// A connection to the server, from one of 200 loopback addresses in turn: each holds its own
// range of ports, so the many ports a hundred thousand connections leave in TIME_WAIT never
// run out, however fast the inputs come. The kernel picks the port at connect time; a refused
// connect is tried again for ten seconds before it counts.
int Connect(int port) {
  static int next = 0;
  std::string error;
  for (int attempt = 0; attempt < 500; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) Fail(std::string("no socket: ") + std::strerror(errno));
    const int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    from.sin_addr.s_addr = htonl(0x7f000002u + static_cast<uint32_t>(next++ % 200));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0 &&
        ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0) {
      return fd;
    }
    error = std::strerror(errno);
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Fail("no connection to the server within 10 s: " + error);
}

// Sends `bytes`, ends the client's side, and reads until the server closes; what came back.
// libFuzzer's timer (SIGALRM, every few seconds) interrupts a send or a receive, which then
// fails with EINTR even though the socket is fine (a socket with a timeout is never restarted):
// that is tried again, not taken for the server's end, until the exchange's 10 s are over.
std::string Exchange(int port, const std::string& bytes) {
  const int fd = Connect(port);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto interrupted = [&](ssize_t n) {
    return n < 0 && errno == EINTR && std::chrono::steady_clock::now() < deadline;
  };
  timeval timeout{10, 0};  // a hang is a failure
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (interrupted(n)) continue;
    if (n <= 0) break;  // the server may have refused and closed
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string answer;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (interrupted(n)) continue;
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      Fail("the server did not end the connection within 10 s");
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Server server;
  const std::string answer =
      Exchange(server.port, std::string(reinterpret_cast<const char*>(data), size));
  if (!answer.empty() && answer.rfind("HTTP/1.1 ", 0) != 0) {
    Fail("an answer that is not HTTP: " + answer.substr(0, 200));
  }
  static int inputs = 0;
  if (++inputs % 10 != 1) return 0;  // a server that hangs fails the next input's exchange
  const std::string ordinary =
      Exchange(server.port, "POST /echo/7?a=1 HTTP/1.1\r\nContent-Length: 2\r\n\r\nok");
  if (ordinary.find("\r\n\r\n/echo/7|a=1;|ok") == std::string::npos) {
    Fail("an ordinary request after this input was answered: " + ordinary.substr(0, 400));
  }
  return 0;
}
