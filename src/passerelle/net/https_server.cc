// The HTTPS server. One thread watches every connection at once (epoll): it accepts, does the
// TLS handshakes, reads requests and writes answers, all without blocking, and holds each
// caller to the server's limits. A fixed pool of workers runs the handlers. A handler answers
// through a Responder, at once or later (a node's long poll waits for its next task): an open
// connection, idle or waiting, holds no worker, so thousands of them cost only their buffers.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <variant>

#include "passerelle/base/text.h"
#include "passerelle/net/https.h"
#include "passerelle/net/https_internal.h"

namespace passerelle::net {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxHeaderBytes = 64 << 10;  // a request's line and headers
constexpr size_t kRefusingAtMost = 64;        // connections beyond a limit, told why at once
constexpr uint64_t kListening = 1, kWaking = 2, kFirstConnection = 16;

// The IP address of a socket address ("" when it cannot be told).
std::string AddressText(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {0};
  const void* where =
      addr.ss_family == AF_INET6
          ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr)
          : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr);
  return inet_ntop(addr.ss_family, where, text, sizeof text) ? text : "";
}

const char* Reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
  }
}

// %XX decoded, and `+` as a space in a query string; an invalid escape is kept as it is.
std::string Decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += plus_is_space && text[i] == '+' ? ' ' : text[i];
    }
  }
  return out;
}

bool Compressible(const std::string& content_type) {
  return content_type.rfind("text/", 0) == 0 || content_type.find("json") != std::string::npos ||
         content_type.find("javascript") != std::string::npos ||
         content_type.find("xml") != std::string::npos;
}

// A request's line and headers, as far as the server needs them.
struct RequestHead {
  std::string method, target;
  bool http11 = true;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  size_t length = 0;                                         // of the body, from Content-Length
  size_t head_bytes = 0;                                     // up to and with the blank line

  const std::string* Header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return &value;
    }
    return nullptr;
  }
  bool KeepAlive() const {
    const std::string* connection = Header("connection");
    const std::string value = connection ? AsciiLower(*connection) : "";
    return http11 ? value.find("close") == std::string::npos
                  : value.find("keep-alive") != std::string::npos;
  }
};

// Why a request is refused before any handler sees it.
struct Refusal {
  int status;
  std::string message, code;
  size_t length = 0;  // of the refused request's body, as its head declared it
};

// The head at the start of `in` (which holds it whole, up to its blank line), or a refusal.
std::variant<RequestHead, Refusal> ParseHead(std::string_view in, size_t end) {
  RequestHead head;
  head.head_bytes = end + 4;
  std::string_view text = in.substr(0, end);
  size_t line_end = text.find("\r\n");
  std::string_view line = text.substr(0, line_end);
  const size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1 ||
      line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0) {
    return Refusal{400, "a request line is METHOD TARGET HTTP/1.1", "bad_request"};
  }
  head.method = std::string(line.substr(0, sp1));
  head.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  head.http11 = line.substr(sp2 + 1) != "HTTP/1.0";
  if (head.target.empty() || head.target[0] != '/') {
    return Refusal{400, "a request's target is a path", "bad_request"};
  }
  bool has_length = false;
  while (line_end != std::string_view::npos) {
    text.remove_prefix(line_end + 2);
    line_end = text.find("\r\n");
    line = text.substr(0, line_end);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Refusal{400, "a header line is NAME: VALUE", "bad_request"};
    }
    std::string name = AsciiLower(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (name == "content-length") {
      if (has_length || value.empty() || value.size() > 12 ||
          value.find_first_not_of("0123456789") != std::string_view::npos) {
        return Refusal{400, "Content-Length is one number of bytes", "bad_request"};
      }
      has_length = true;
      head.length = std::stoull(std::string(value));
    }
    head.headers.emplace_back(std::move(name), std::string(value));
  }
  if (head.Header("transfer-encoding")) {
    return Refusal{411, "a request body is sent with a Content-Length", "length_required",
                   head.length};
  }
  if (const std::string* encoding = head.Header("content-encoding");
      encoding && !encoding->empty() && AsciiLower(*encoding) != "identity") {
    return Refusal{415,
                   "a request body is sent as application/json, or compressed as " +
                       std::string(kGzipJson) + ", never with a Content-Encoding",
                   "encoding", head.length};
  }
  if (head.length > kMaxBodyBytes) {
    return Refusal{413, "a request body is at most " + std::to_string(kMaxBodyBytes >> 20) + " MB",
                   "too_large", head.length};
  }
  return head;
}

std::string ErrorBody(const std::string& message, const std::string& code) {
  return R"({"v": 1, "error": ")" + message + R"(", "code": ")" + code + R"("})";
}

// An answer as it goes on the wire: the usual protections on every answer unless the handler
// chose its own (nothing is sniffed, framed or referred elsewhere; an HTML answer runs no inline
// script), and a large text body compressed for a client that accepts gzip.
std::string Format(HttpResponse response, bool keep_alive, bool gzip, bool tls) {
  std::vector<std::pair<std::string, std::string>>& headers = response.headers;
  auto has = [&](std::string_view name) {
    for (const auto& [key, value] : headers) {
      if (AsciiLower(key) == AsciiLower(name)) return true;
    }
    return false;
  };
  auto fallback = [&](const char* name, const std::string& value) {
    if (!has(name)) headers.emplace_back(name, value);
  };
  fallback("X-Content-Type-Options", "nosniff");
  fallback("X-Frame-Options", "DENY");
  fallback("Referrer-Policy", "no-referrer");
  if (tls) fallback("Strict-Transport-Security", "max-age=31536000");
  if (response.content_type.rfind("text/html", 0) == 0) {
    fallback("Content-Security-Policy",
             "default-src 'self'; img-src 'self' data: blob:; style-src 'self' "
             "'unsafe-inline'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'");
  }
  if (gzip && response.body.size() >= kCompressFrom && Compressible(response.content_type) &&
      !has("Content-Encoding")) {
    response.body = Gzip(response.body);
    headers.emplace_back("Content-Encoding", "gzip");
    headers.emplace_back("Vary", "Accept-Encoding");
  }
  std::string out =
      "HTTP/1.1 " + std::to_string(response.status) + " " + Reason(response.status) + "\r\n";
  if (!response.content_type.empty()) out += "Content-Type: " + response.content_type + "\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  out += response.body;
  return out;
}

struct Route {
  std::string method, path;
  AsyncHandler handler;
};

// Whether `path` is `pattern`, where `{id}` stands for a number of 1 to 18 digits.
bool PathMatches(std::string_view pattern, std::string_view path) {
  while (!pattern.empty()) {
    if (pattern.rfind("{id}", 0) == 0) {
      size_t digits = 0;
      while (digits < path.size() && path[digits] >= '0' && path[digits] <= '9') ++digits;
      if (digits == 0 || digits > 18) return false;
      pattern.remove_prefix(4);
      path.remove_prefix(digits);
    } else {
      if (path.empty() || path.front() != pattern.front()) return false;
      pattern.remove_prefix(1);
      path.remove_prefix(1);
    }
  }
  return path.empty();
}

// What OpenSSL's verification callback reaches through ex_data: the server's log.
int g_log_index = -1;
std::once_flag g_index_once;

int VerifyAndLog(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok) return 1;
  SSL* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  SSL_CTX* ctx = ssl ? SSL_get_SSL_CTX(ssl) : nullptr;
  auto* log = ctx ? static_cast<LogSink*>(SSL_CTX_get_ex_data(ctx, g_log_index)) : nullptr;
  if (log) {
    const std::string name = CommonName(X509_STORE_CTX_get_current_cert(store));
    const std::string why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
    (*log)("tls: refused client certificate '" + name + "': " + why);
  }
  return 0;
}

}  // namespace

// What a Responder answers: a connection of a server, and how its answer is written.
struct Responder::State {
  std::weak_ptr<HttpsServer::Impl> server;
  uint64_t connection = 0;
  bool keep_alive = true, gzip = false, tls = true;
  std::atomic<bool> sent{false};

  void Deliver(HttpResponse response);
  ~State();
};

struct HttpsServer::Impl : std::enable_shared_from_this<HttpsServer::Impl> {
  enum class Phase { kHandshake, kReading, kAnswering, kWriting };

  // An open connection; only the watching thread touches it.
  struct Connection {
    uint64_t id = 0;
    int fd = -1;
    SSL* ssl = nullptr;  // null on a server without TLS
    std::string address;
    Phase phase = Phase::kHandshake;
    Clock::time_point since;  // when the phase began
    uint32_t events = 0;      // what the connection waits for (epoll)
    std::string in;           // received, not yet taken by a request
    size_t in_flight = 0;     // bytes of the request its handler has, until the answer
    size_t received = 0;      // bytes of requests since the last answer
    std::optional<RequestHead> head;
    bool continued = false;        // "100 Continue" sent for the current request
    size_t skip = 0;               // body bytes of a refused request still to skip
    std::optional<Refusal> after;  // answered once they are skipped
    std::string out;
    size_t written = 0;
    bool interim = false;      // `out` is a "100 Continue": reading goes on after it
    bool close_after = false;  // the connection closes once `out` is written
    int answers = 0;
    std::string peer, peer_sha256;
    std::optional<Refusal> refusal;  // beyond a limit: the first request is answered with it
  };

  LogSink log;
  LogSink strangers;  // what strangers can make the server log, each line once a minute
  ServerLimits limits;
  bool tls = true;
  SSL_CTX* ctx = nullptr;
  std::vector<Route> routes;
  int listen_fd = -1, epoll_fd = -1, wake_fd = -1;
  std::atomic<bool> stop_requested{false}, started{false}, finished{false};

  // The watching thread's.
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections;
  std::map<std::string, int> per_address;  // connections within the limits, by address
  size_t refusing = 0;                     // connections beyond them, being told so
  size_t buffered = 0;  // bytes of requests held, received or in flight (limit buffered_bytes)
  uint64_t next_id = kFirstConnection;

  // The workers' queue.
  std::mutex jobs_mu;
  std::condition_variable jobs_cv;
  std::deque<std::function<void()>> jobs;
  bool workers_stop = false;

  // Answers ready, for the watching thread.
  std::mutex answers_mu;
  std::vector<std::tuple<uint64_t, std::string, bool>> answers;  // connection, bytes, then close

  static std::shared_ptr<Impl> Make(LogSink log, const ServerLimits& limits);

  ~Impl() {
    for (auto& [id, c] : connections) Release(*c);
    for (int fd : {listen_fd, epoll_fd, wake_fd}) {
      if (fd >= 0) ::close(fd);
    }
    if (ctx) SSL_CTX_free(ctx);
  }

  void Wake() const {
    const uint64_t one = 1;
    if (wake_fd >= 0) (void)!::write(wake_fd, &one, sizeof one);
  }

  // From any thread: the answer for connection `id`, once the watching thread takes it.
  void Answer(uint64_t id, std::string bytes, bool close) {
    {
      std::lock_guard<std::mutex> lock(answers_mu);
      answers.emplace_back(id, std::move(bytes), close);
    }
    Wake();
  }

  void Post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(jobs_mu);
      jobs.push_back(std::move(job));
    }
    jobs_cv.notify_one();
  }

  void Work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(jobs_mu);
        jobs_cv.wait(lock, [&] { return workers_stop || !jobs.empty(); });
        if (jobs.empty()) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      job();
    }
  }

  void Watch(Connection& c, uint32_t events) {
    if (c.events == events) return;
    epoll_event e{};
    e.events = events;
    e.data.u64 = c.id;
    epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &e);
    c.events = events;
  }

  static void Release(Connection& c) {
    if (c.ssl) SSL_free(c.ssl);
    ::close(c.fd);
  }

  // The first `bytes` of what the connection received, taken or dropped.
  void Drop(Connection& c, size_t bytes) {
    c.in.erase(0, bytes);
    buffered -= bytes;
  }

  void Close(Connection& c) {
    buffered -= c.in.size() + c.in_flight;
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
    Release(c);
    if (c.refusal) {
      --refusing;
    } else if (--per_address[c.address] <= 0) {
      per_address.erase(c.address);
    }
    connections.erase(c.id);  // `c` is gone
  }

  void Accept() {
    for (;;) {
      sockaddr_storage addr{};
      socklen_t size = sizeof addr;
      const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &size,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) {
          strangers("https: cannot accept a connection: " + std::string(std::strerror(errno)));
        }
        return;
      }
      std::string address = AddressText(addr);
      // Beyond a limit, a connection is refused: it is told why (its first request is answered
      // 503, naming the limit) while few are being told, and closed at once beyond that.
      std::optional<Refusal> refusal;
      const size_t held = connections.size() - refusing;
      auto found = per_address.find(address);
      const int count = found == per_address.end() ? 0 : found->second;
      if (held >= static_cast<size_t>(limits.connections)) {
        refusal = Refusal{503,
                          "the server holds " + std::to_string(held) +
                              " connections (limit connections): try again later",
                          "busy"};
      } else if (count >= limits.connections_per_address) {
        refusal = Refusal{503,
                          "your address holds " + std::to_string(count) +
                              " connections (limit connections_per_address): close one",
                          "busy"};
      }
      if (refusal) {
        strangers("https: refused connections from " + address + ": " +
                  (held >= static_cast<size_t>(limits.connections)
                       ? "the server holds " + std::to_string(held) + " (limit connections)"
                       : "it holds " + std::to_string(count) + " (limit connections_per_address)"));
        if (refusing >= kRefusingAtMost) {
          ::close(fd);
          continue;
        }
        ++refusing;
      } else {
        ++per_address[address];
      }
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // small answers leave at once
      auto c = std::make_unique<Connection>();
      c->id = next_id++;
      c->fd = fd;
      c->address = std::move(address);
      c->since = Clock::now();
      c->phase = tls ? Phase::kHandshake : Phase::kReading;
      c->refusal = std::move(refusal);
      if (tls) {
        c->ssl = SSL_new(ctx);
        SSL_set_fd(c->ssl, fd);
        SSL_set_accept_state(c->ssl);
      }
      epoll_event e{};
      e.events = c->events = EPOLLIN;
      e.data.u64 = c->id;
      epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &e);
      connections.emplace(c->id, std::move(c));
    }
  }

  // Bytes read into `buf`: > 0, 0 when the connection ended or failed, -1 when it would block
  // (then `wait` says for what).
  ssize_t Read(Connection& c, char* buf, size_t size, uint32_t& wait) {
    if (!c.ssl) {
      const ssize_t n = ::recv(c.fd, buf, size, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        wait = EPOLLIN;
        return -1;
      }
      return n < 0 ? 0 : n;
    }
    ERR_clear_error();
    const int n = SSL_read(c.ssl, buf, static_cast<int>(size));
    if (n > 0) return n;
    return Blocked(c, n, wait) ? -1 : 0;
  }

  ssize_t Write(Connection& c, const char* buf, size_t size, uint32_t& wait) {
    if (!c.ssl) {
      const ssize_t n = ::send(c.fd, buf, size, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        wait = EPOLLOUT;
        return -1;
      }
      return n <= 0 ? 0 : n;
    }
    ERR_clear_error();
    const int n = SSL_write(c.ssl, buf, static_cast<int>(std::min<size_t>(size, 1 << 20)));
    if (n > 0) return n;
    return Blocked(c, n, wait) ? -1 : 0;
  }

  static bool Blocked(Connection& c, int result, uint32_t& wait) {
    const int error = SSL_get_error(c.ssl, result);
    if (error == SSL_ERROR_WANT_READ) wait = EPOLLIN;
    if (error == SSL_ERROR_WANT_WRITE) wait = EPOLLOUT;
    return error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE;
  }

  // Queues `bytes` to be written; the connection then closes, reads on, or waits.
  void Send(Connection& c, std::string bytes, bool close, bool interim = false) {
    c.out = std::move(bytes);
    c.written = 0;
    c.close_after = close;
    c.interim = interim;
    c.phase = Phase::kWriting;
  }

  void Refuse(Connection& c, const Refusal& r) {
    Send(c, Format({r.status, ErrorBody(r.message, r.code)}, false, false, tls), true);
  }

  // Moves the connection on as far as it can go without waiting. It may close it.
  void Advance(Connection& c) {
    for (;;) {
      uint32_t wait = EPOLLIN;
      switch (c.phase) {
        case Phase::kHandshake: {
          ERR_clear_error();
          const int r = SSL_do_handshake(c.ssl);
          if (r != 1) {
            if (Blocked(c, r, wait)) return Watch(c, wait);
            return Close(c);
          }
          if (X509* peer = SSL_get1_peer_certificate(c.ssl)) {
            c.peer = CommonName(peer);
            unsigned char digest[EVP_MAX_MD_SIZE];
            unsigned int length = 0;
            X509_digest(peer, EVP_sha256(), digest, &length);
            c.peer_sha256 =
                HexEncode(std::string_view(reinterpret_cast<const char*>(digest), length));
            X509_free(peer);
          }
          c.phase = Phase::kReading;
          c.since = Clock::now();
          break;
        }
        case Phase::kReading: {
          if (Take(c)) break;  // a request is complete, or refused
          char buf[1 << 14];
          const ssize_t n = Read(c, buf, sizeof buf, wait);
          if (n < 0) return Watch(c, wait);
          if (n == 0) return Close(c);
          c.received += static_cast<size_t>(n);
          if (c.received > limits.request_bytes) {
            strangers("https: cut connections from " + c.address + ": a request over " +
                      std::to_string(limits.request_bytes) + " bytes (limit request_bytes)");
            return Close(c);
          }
          const size_t dropped = std::min(c.skip, static_cast<size_t>(n));
          c.skip -= dropped;  // a refused request's body, dropped as it comes
          const size_t kept = static_cast<size_t>(n) - dropped;
          if (buffered + kept > limits.buffered_bytes) {
            strangers("https: cut connections from " + c.address + ": requests being received " +
                      "hold " + std::to_string(buffered) + " bytes (limit buffered_bytes)");
            return Close(c);
          }
          c.in.append(buf + dropped, kept);
          buffered += kept;
          break;
        }
        case Phase::kAnswering:
          return Watch(c, 0);  // nothing to do until the answer comes
        case Phase::kWriting: {
          while (c.written < c.out.size()) {
            const ssize_t n = Write(c, c.out.data() + c.written, c.out.size() - c.written, wait);
            if (n < 0) return Watch(c, wait);
            if (n == 0) return Close(c);
            c.written += static_cast<size_t>(n);
          }
          c.out.clear();
          c.written = 0;
          if (c.close_after) return Close(c);
          c.phase = Phase::kReading;
          if (!c.interim) {  // an answer: the next request's time and bytes begin
            c.since = Clock::now();
            c.received = c.in.size();
            ++c.answers;
          }
          c.interim = false;
          break;
        }
      }
    }
  }

  // True when the connection has moved on: a request taken to the workers, or an answer to
  // send (a refusal, or "100 Continue"). False when more bytes are needed.
  bool Take(Connection& c) {
    if (c.skip > 0) return false;
    if (c.after) {  // a refused request's body has been skipped: its refusal now
      Refuse(c, *c.after);
      c.after.reset();
      return true;
    }
    if (!c.head) {
      const size_t end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (c.in.size() <= kMaxHeaderBytes) return false;
        strangers("https: refused a request from " + c.address + ": headers over " +
                  std::to_string(kMaxHeaderBytes) + " bytes");
        Refuse(c, {431, "a request's headers are at most 64 kB", "too_large"});
        return true;
      }
      std::variant<RequestHead, Refusal> parsed = ParseHead(c.in, end);
      if (Refusal* refused = std::get_if<Refusal>(&parsed)) {
        return RefuseRequest(c, *refused, end + 4, refused->length);
      }
      c.head = std::move(std::get<RequestHead>(parsed));
      c.continued = false;
      if (c.refusal) {  // beyond a limit: told so
        const RequestHead head = std::move(*c.head);
        c.head.reset();
        return RefuseRequest(c, *c.refusal, head.head_bytes, head.length);
      }
    }
    const RequestHead& head = *c.head;
    if (c.in.size() < head.head_bytes + head.length) {
      const std::string* expect = head.Header("expect");
      if (expect && AsciiLower(*expect) == "100-continue" && !c.continued) {
        c.continued = true;
        Send(c, "HTTP/1.1 100 Continue\r\n\r\n", false, true);
        return true;
      }
      return false;
    }
    Dispatch(c);
    return true;
  }

  // Refuses the request whose head (`head_bytes`) is at the start of `in`. A body that may be
  // skipped is skipped first, so that the client, still sending it, reads the refusal (false:
  // more bytes are needed); a body beyond what a connection may send is not awaited.
  bool RefuseRequest(Connection& c, const Refusal& refusal, size_t head_bytes, size_t length) {
    const size_t have = c.in.size() - head_bytes;
    Drop(c, c.in.size());
    if (length > have && length <= limits.request_bytes) {
      c.skip = length - have;
      c.after = refusal;
      return false;
    }
    Refuse(c, refusal);
    return true;
  }

  // Hands the complete request at the start of `in` to a worker.
  void Dispatch(Connection& c) {
    RequestHead head = std::move(*c.head);
    c.head.reset();
    HttpRequest request;
    request.method = head.method;
    const size_t question = head.target.find('?');
    request.path = Decode(std::string_view(head.target).substr(0, question), false);
    if (question != std::string::npos) {
      std::string_view query = std::string_view(head.target).substr(question + 1);
      while (!query.empty()) {
        const size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        const size_t eq = pair.find('=');
        if (!pair.empty()) {
          request.params.emplace_back(
              Decode(pair.substr(0, eq), true),
              eq == std::string_view::npos ? "" : Decode(pair.substr(eq + 1), true));
        }
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      }
    }
    request.body = c.in.substr(head.head_bytes, head.length);
    Drop(c, head.head_bytes + head.length);
    c.in_flight = request.body.size();  // held until its answer is taken
    buffered += c.in_flight;
    request.peer = c.peer;
    request.peer_sha256 = c.peer_sha256;
    request.remote_address = c.address;
    if (const std::string* authorization = head.Header("authorization");
        authorization && authorization->rfind("Bearer ", 0) == 0) {
      request.bearer_token = authorization->substr(7);
    }
    const std::string* accept = head.Header("accept-encoding");
    const std::string* type = head.Header("content-type");
    auto state = std::make_shared<Responder::State>();
    state->server = weak_from_this();
    state->connection = c.id;
    state->keep_alive = head.KeepAlive();
    state->gzip = accept && AsciiLower(*accept).find("gzip") != std::string::npos;
    state->tls = tls;
    c.phase = Phase::kAnswering;
    Post([this, request = std::move(request), compressed = type && *type == kGzipJson,
          responder = Responder(std::move(state))]() mutable {
      Serve(std::move(request), compressed, responder);
    });
  }

  // On a worker: the route's handler, with its body inflated when it came compressed.
  void Serve(HttpRequest request, bool compressed, const Responder& responder) {
    if (compressed) {
      std::optional<std::string> inflated = Gunzip(request.body, kMaxBodyBytes);
      if (!inflated) {
        return responder.Send(
            {413, ErrorBody("the compressed body is not gzip, or inflates beyond " +
                                std::to_string(kMaxBodyBytes >> 20) + " MB",
                            "too_large")});
      }
      request.body = std::move(*inflated);
    }
    for (const Route& route : routes) {
      if (route.method != request.method || !PathMatches(route.path, request.path)) continue;
      try {
        route.handler(request, responder);
      } catch (const std::exception&) {  // no request ends the server
        responder.Send({500, ErrorBody("the server could not answer", "internal")});
      }
      return;
    }
    responder.Send({404, ErrorBody("no such page", "not_found")});
  }

  void TakeAnswers() {
    uint64_t count = 0;
    (void)!::read(wake_fd, &count, sizeof count);
    std::vector<std::tuple<uint64_t, std::string, bool>> ready;
    {
      std::lock_guard<std::mutex> lock(answers_mu);
      ready.swap(answers);
    }
    for (auto& [id, bytes, close] : ready) {
      auto it = connections.find(id);
      if (it == connections.end() || it->second->phase != Phase::kAnswering) continue;
      buffered -= it->second->in_flight;
      it->second->in_flight = 0;
      Send(*it->second, std::move(bytes), close);
      Advance(*it->second);
    }
  }

  // Cuts every connection past its deadline.
  void Sweep() {
    const auto now = Clock::now();
    const bool pressure = 4 * connections.size() >= 3 * static_cast<size_t>(limits.connections);
    std::vector<Connection*> late;
    for (auto& [id, c] : connections) {
      if (c->phase == Phase::kAnswering) continue;
      const bool handshaking = c->phase == Phase::kHandshake;
      auto allowed = handshaking ? limits.handshake : limits.request;
      if (pressure) allowed = std::min(allowed, limits.under_pressure);
      if (now - c->since <= allowed) continue;
      late.push_back(c.get());
      // A kept-alive connection that sent nothing more ends quietly.
      if (c->phase == Phase::kReading && c->answers > 0 && c->received == 0) continue;
      const std::string limit = allowed == limits.under_pressure ? "under_pressure"
                                : handshaking                    ? "handshake"
                                                                 : "request";
      const std::string what = handshaking                   ? "no TLS handshake"
                               : c->phase == Phase::kWriting ? "an answer not taken"
                                                             : "no complete request";
      strangers("https: cut connections from " + c->address + ": " + what + " within " +
                std::to_string(allowed.count()) + " s (limit " + limit + ")");
    }
    for (Connection* c : late) Close(*c);
  }

  // Serves until Stop(); then, `draining`, only sends the answers of the requests already taken,
  // for up to two seconds.
  void Loop(bool draining) {
    epoll_event events[256];
    auto swept = Clock::now();
    const auto drained_by = swept + std::chrono::seconds(2);
    for (;;) {
      if (!draining && stop_requested) return;
      if (draining) {
        bool writing = false;
        for (auto& [id, c] : connections) writing = writing || c->phase == Phase::kWriting;
        std::lock_guard<std::mutex> lock(answers_mu);
        if ((!writing && answers.empty()) || Clock::now() > drained_by) return;
      }
      const int n = epoll_wait(epoll_fd, events, 256, draining ? 20 : 250);
      for (int i = 0; i < n; ++i) {
        const uint64_t key = events[i].data.u64;
        if (key == kListening) {
          Accept();
        } else if (key == kWaking) {
          TakeAnswers();
        } else if (auto it = connections.find(key); it != connections.end()) {
          Connection& c = *it->second;
          if (events[i].events & (EPOLLERR | EPOLLHUP)) {
            Close(c);
          } else if (!draining || c.phase == Phase::kWriting) {
            Advance(c);
          }
        }
      }
      if (draining) TakeAnswers();
      if (Clock::now() - swept >= std::chrono::milliseconds(250)) {
        Sweep();
        swept = Clock::now();
      }
    }
  }
};

void Responder::State::Deliver(HttpResponse response) {
  std::shared_ptr<HttpsServer::Impl> to = server.lock();
  if (!to) return;
  to->Answer(connection, Format(std::move(response), keep_alive, gzip, tls), !keep_alive);
}

Responder::State::~State() {
  if (!sent) Deliver({500, ErrorBody("the server could not answer", "internal")});
}

void Responder::Send(HttpResponse response) const {
  if (!state_ || state_->sent.exchange(true)) return;
  state_->Deliver(std::move(response));
}

HttpsServer::HttpsServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpsServer::~HttpsServer() { Stop(); }

// The server's common set-up: its log, limits, epoll and wake-up descriptors, and as many
// open files as the system allows (each connection is one).
std::shared_ptr<HttpsServer::Impl> HttpsServer::Impl::Make(LogSink log,
                                                           const ServerLimits& limits) {
  ::signal(SIGPIPE, SIG_IGN);  // a client gone while its answer is written ends no server
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  auto impl = std::make_shared<HttpsServer::Impl>();
  impl->log = log ? std::move(log) : StderrLog();
  impl->strangers = OncePerMinute(impl->log);
  impl->limits = limits;
  impl->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  impl->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.u64 = kWaking;
  epoll_ctl(impl->epoll_fd, EPOLL_CTL_ADD, impl->wake_fd, &e);
  return impl;
}

Result<std::unique_ptr<HttpsServer>> HttpsServer::Create(const TlsIdentity& identity, LogSink log,
                                                         ClientCertificates clients,
                                                         ServerLimits limits) {
  std::call_once(g_index_once, [] {
    g_log_index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  });
  std::shared_ptr<Impl> impl = Impl::Make(std::move(log), limits);
  if (impl->epoll_fd < 0 || impl->wake_fd < 0) return Internal("https server: no epoll");
  SSL_CTX* ctx = impl->ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return Internal("https server: no TLS context");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, identity.cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, identity.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return InvalidArgument("https server: cannot load the server certificate " + identity.cert +
                           " and its key");
  }
  if (SSL_CTX_load_verify_locations(ctx, identity.ca_cert.c_str(), nullptr) != 1) {
    return InvalidArgument("https server: cannot load the CA certificate " + identity.ca_cert);
  }
  std::string error;
  if (!identity.crl.empty() && !LoadRevocationList(ctx, identity.crl, error)) {
    return InvalidArgument("https server: " + error);
  }
  SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(identity.ca_cert.c_str()));
  // A server that verifies client certificates must name its session context, or a client
  // resuming a session (a browser's parallel requests for a page) fails its handshake.
  static constexpr unsigned char kSessionContext[] = "passerelle";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_ex_data(ctx, g_log_index, &impl->strangers);
  SSL_CTX_set_verify(ctx,
                     clients == ClientCertificates::kRequired
                         ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                         : SSL_VERIFY_PEER,
                     VerifyAndLog);
  return std::unique_ptr<HttpsServer>(new HttpsServer(std::move(impl)));
}

Result<std::unique_ptr<HttpsServer>> HttpsServer::CreateLoopback(LogSink log) {
  ServerLimits limits;
  limits.threads = 4;
  limits.request = std::chrono::seconds(60);
  std::shared_ptr<Impl> impl = Impl::Make(std::move(log), limits);
  if (impl->epoll_fd < 0 || impl->wake_fd < 0) return Internal("http server: no epoll");
  impl->tls = false;
  return std::unique_ptr<HttpsServer>(new HttpsServer(std::move(impl)));
}

void HttpsServer::HandleAsync(const std::string& method, const std::string& path,
                              AsyncHandler handler) {
  impl_->routes.push_back({method, path, std::move(handler)});
}

void HttpsServer::Handle(const std::string& method, const std::string& path, Handler handler) {
  HandleAsync(method, path,
              [handler = std::move(handler)](const HttpRequest& request, Responder responder) {
                responder.Send(handler(request));
              });
}

Result<int> HttpsServer::Bind(const std::string& host, int port) {
  if (!impl_->tls && host != "127.0.0.1") {
    return InvalidArgument("a server without TLS listens on 127.0.0.1 only, not " + host);
  }
  auto unavailable = [&] {
    return Unavailable("https server: cannot listen on " + host + ":" + std::to_string(port));
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found) {
    return unavailable();
  }
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 1024) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) return unavailable();
  sockaddr_storage bound{};
  socklen_t size = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &size);
  const int actual =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  if (impl_->listen_fd >= 0) ::close(impl_->listen_fd);
  impl_->listen_fd = fd;
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.u64 = kListening;
  epoll_ctl(impl_->epoll_fd, EPOLL_CTL_ADD, fd, &e);
  return actual;
}

void HttpsServer::Run() {
  Impl& s = *impl_;
  s.started = true;
  if (!s.stop_requested) {
    std::vector<std::thread> workers;
    for (int i = 0; i < std::max(1, s.limits.threads); ++i)
      workers.emplace_back([&s] { s.Work(); });
    s.Loop(false);
    // No new connection; the requests being handled finish, and their answers are sent.
    epoll_ctl(s.epoll_fd, EPOLL_CTL_DEL, s.listen_fd, nullptr);
    {
      std::lock_guard<std::mutex> lock(s.jobs_mu);
      s.workers_stop = true;
    }
    s.jobs_cv.notify_all();
    for (std::thread& w : workers) w.join();
    s.Loop(true);
  }
  std::vector<Impl::Connection*> open;
  for (auto& [id, c] : s.connections) open.push_back(c.get());
  for (Impl::Connection* c : open) s.Close(*c);
  s.finished = true;
}

void HttpsServer::Stop() {
  impl_->stop_requested = true;
  impl_->Wake();
  while (impl_->started && !impl_->finished) {
    impl_->Wake();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace passerelle::net
