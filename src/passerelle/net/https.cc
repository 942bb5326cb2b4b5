#include "passerelle/net/https.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <zlib.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "passerelle/base/text.h"

namespace passerelle::net {
namespace {

std::string CommonName(X509* cert) {
  if (!cert) return "";
  char buf[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  return buf;
}

using Clock = std::chrono::steady_clock;

// The IP address at the other end of a socket ("" when it cannot be told).
std::string PeerAddress(int fd) {
  sockaddr_storage addr{};
  socklen_t length = sizeof addr;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) return "";
  char text[INET6_ADDRSTRLEN] = {0};
  const void* where =
      addr.ss_family == AF_INET6
          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr)
          : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&addr)->sin_addr);
  return inet_ntop(addr.ss_family, where, text, sizeof text) ? text : "";
}

class ConnectionGuard;

// A TLS connection being served, from the start of its handshake to its SSL_free.
struct Connection {
  ConnectionGuard* guard;
  int fd;
  std::string address;
  Clock::time_point since;  // when its current phase began
  bool handshaking = true;
  bool answering = false;  // a handler runs: no deadline (long polls wait there)
  bool cut = false;
  size_t received = 0;  // bytes of TLS records received in this phase
};

// Holds each caller to the server's limits: connections per address, the handshake deadline,
// the deadline between answers. A connection past a limit is cut (its socket shut down), which
// ends the worker's wait at once.
class ConnectionGuard {
 public:
  ConnectionGuard(const ServerLimits& limits, const LogSink& log)
      : limits_(limits), log_(OncePerMinute(log)) {}

  // At the start of a handshake: the connection, or nullptr when it was cut at once because its
  // address holds the limit already.
  Connection* Open(int fd) {
    std::string address = PeerAddress(fd);
    std::lock_guard<std::mutex> lock(mu_);
    int& count = per_address_[address];
    if (count >= limits_.connections_per_address) {
      ::shutdown(fd, SHUT_RDWR);
      log_("https: refused connections from " + address + ": it holds " + std::to_string(count) +
           " (limit connections_per_address)");
      if (count == 0) per_address_.erase(address);
      return nullptr;
    }
    ++count;
    auto* c = new Connection{this, fd, std::move(address), Clock::now()};
    open_.insert(c);
    return c;
  }

  // From SSL_free.
  void Close(Connection* c) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_.erase(c);
      if (--per_address_[c->address] <= 0) per_address_.erase(c->address);
    }
    delete c;
  }

  // What strangers can make the server log goes through a sink that writes each distinct line
  // at most once a minute: a flood of connections does not flood the log.
  void Log(const std::string& line) { log_(line); }

  // From OpenSSL's record callback: `bytes` more arrived on `c`. A connection that sends more
  // than a request may hold between two answers (endless headers) is cut at once.
  void Received(Connection* c, size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    if (c->answering || c->cut) return;
    c->received += bytes;
    if (c->received > limits_.request_bytes) {
      ::shutdown(c->fd, SHUT_RDWR);
      c->cut = true;
      log_("https: cut connections from " + c->address + ": a request over " +
           std::to_string(limits_.request_bytes) + " bytes (limit request_bytes)");
    }
  }

  void HandshakeDone(Connection* c) { Phase(c, false, false); }
  void Answering(Connection* c, bool answering) { Phase(c, false, answering); }

  // Cuts every connection past its deadline. The lock is held while cutting, and SSL_free (Close)
  // takes it before the socket is closed: a descriptor is never shut after its reuse.
  void Sweep() {
    const auto now = Clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    const bool pressure = 4 * open_.size() >= 3 * static_cast<size_t>(limits_.threads);
    for (Connection* c : open_) {
      if (c->cut || c->answering) continue;
      auto allowed = c->handshaking ? limits_.handshake : limits_.request;
      if (pressure) allowed = std::min(allowed, limits_.under_pressure);
      if (now - c->since > allowed) {
        ::shutdown(c->fd, SHUT_RDWR);
        c->cut = true;
        const std::string limit = allowed == limits_.under_pressure ? "under_pressure"
                                  : c->handshaking                  ? "handshake"
                                                                    : "request";
        log_("https: cut connections from " + c->address + ": " +
             (c->handshaking ? "no TLS handshake" : "no complete request") + " within " +
             std::to_string(allowed.count()) + " s (limit " + limit + ")");
      }
    }
  }

 private:
  void Phase(Connection* c, bool handshaking, bool answering) {
    std::lock_guard<std::mutex> lock(mu_);
    c->handshaking = handshaking;
    c->answering = answering;
    c->since = Clock::now();
    c->received = 0;
  }

  const ServerLimits limits_;
  const LogSink log_;
  std::mutex mu_;
  std::set<Connection*> open_;
  std::map<std::string, int> per_address_;
};

// What OpenSSL's C callbacks reach through ex_data: the server's guard on its SSL_CTX, each
// connection's record on its SSL (freed with it).
int g_server_index = -1, g_connection_index = -1;
std::once_flag g_indexes_once;

void FreeConnection(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  if (auto* c = static_cast<Connection*>(ptr)) c->guard->Close(c);
}

void InitIndexes() {
  std::call_once(g_indexes_once, [] {
    g_server_index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    g_connection_index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeConnection);
  });
}

Connection* ConnectionOf(const SSL* ssl) {
  return static_cast<Connection*>(SSL_get_ex_data(ssl, g_connection_index));
}

void OnTlsEvent(const SSL* ssl, int where, int) {
  auto* guard =
      static_cast<ConnectionGuard*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_server_index));
  if (!guard) return;
  Connection* c = ConnectionOf(ssl);
  if ((where & SSL_CB_HANDSHAKE_START) && !c) {
    if (Connection* opened = guard->Open(SSL_get_fd(ssl))) {
      SSL_set_ex_data(const_cast<SSL*>(ssl), g_connection_index, opened);
    }
  } else if ((where & SSL_CB_HANDSHAKE_DONE) && c) {
    guard->HandshakeDone(c);
  }
}

// Every TLS record header received: its length counts against the request's bytes.
void OnTlsRecord(int write, int, int content_type, const void* buf, size_t len, SSL* ssl, void*) {
  if (write || content_type != SSL3_RT_HEADER || len < 5) return;
  auto* guard =
      static_cast<ConnectionGuard*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_server_index));
  Connection* c = ConnectionOf(ssl);
  if (!guard || !c) return;
  const auto* header = static_cast<const unsigned char*>(buf);
  guard->Received(c, (static_cast<size_t>(header[3]) << 8 | header[4]) + 5);
}

int VerifyAndLog(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok) return 1;
  SSL* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  SSL_CTX* ctx = ssl ? SSL_get_SSL_CTX(ssl) : nullptr;
  auto* guard =
      ctx ? static_cast<ConnectionGuard*>(SSL_CTX_get_ex_data(ctx, g_server_index)) : nullptr;
  if (guard) {
    const std::string name = CommonName(X509_STORE_CTX_get_current_cert(store));
    const std::string why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
    guard->Log("tls: refused client certificate '" + name + "': " + why);
  }
  return 0;
}

// Adds the revocation list at `path` to the context's trust store and checks each peer's
// certificate against it. False with `error` when it cannot be read.
bool LoadRevocationList(SSL_CTX* ctx, const std::string& path, std::string& error) {
  FILE* file = std::fopen(path.c_str(), "r");
  if (!file) {
    error = "cannot read the revocation list " + path;
    return false;
  }
  X509_CRL* crl = PEM_read_X509_CRL(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (!crl) {
    error = path + " is not a PEM certificate revocation list";
    return false;
  }
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  X509_STORE_add_crl(store, crl);
  X509_CRL_free(crl);
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  return true;
}

}  // namespace

Result<HttpsAddress> ParseHttpsUrl(const std::string& url) {
  const std::string scheme = "https://";
  const size_t colon = url.rfind(':');
  if (url.rfind(scheme, 0) != 0 || colon == std::string::npos || colon < scheme.size()) {
    return InvalidArgument("address '" + url + "' must be https://HOST:PORT");
  }
  HttpsAddress a;
  a.host = url.substr(scheme.size(), colon - scheme.size());
  std::string port = url.substr(colon + 1);
  while (!port.empty() && port.back() == '/') port.pop_back();
  if (a.host.empty() || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgument("address '" + url + "' must be https://HOST:PORT");
  }
  a.port = std::stoi(port);
  if (a.port < 1 || a.port > 65535)
    return InvalidArgument("the port of '" + url + "' must be 1 to 65535");
  return a;
}

LogSink OncePerMinute(LogSink sink) {
  struct State {
    std::mutex mu;
    std::map<std::string, Clock::time_point> logged_at;
    Clock::time_point minute = Clock::now();
    int written = 0, dropped = 0;  // in the current minute
  };
  auto state = std::make_shared<State>();
  return [sink = std::move(sink), state](const std::string& line) {
    std::string summary;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      const auto now = Clock::now();
      if (now - state->minute >= std::chrono::minutes(1)) {
        if (state->dropped > 0) {
          summary = "log: " + std::to_string(state->dropped) +
                    " more lines like those above were not written in the last minute";
        }
        state->minute = now;
        state->written = state->dropped = 0;
      }
      if (state->logged_at.size() > 10000) state->logged_at.clear();  // bounded, whatever comes
      auto [last, fresh] = state->logged_at.try_emplace(line, now);
      if (!fresh && now - last->second < std::chrono::minutes(1)) return;
      // Lines that differ (a certificate's name each time) are still at most 100 a minute.
      if (++state->written > 100) {
        ++state->dropped;
        return;
      }
      last->second = now;
    }
    if (!summary.empty()) sink(summary);
    sink(line);
  };
}

std::string LogSafe(std::string_view line) {
  std::string safe;
  safe.reserve(line.size());
  auto escape = [&](const char* format, unsigned value) {
    char escaped[16];
    std::snprintf(escaped, sizeof escaped, format, value);
    safe += escaped;
  };
  for (size_t i = 0; i < line.size();) {
    const auto c = static_cast<unsigned char>(line[i]);
    const size_t length = c < 0x80           ? 1
                          : (c >> 5) == 0x6  ? 2
                          : (c >> 4) == 0xe  ? 3
                          : (c >> 3) == 0x1e ? 4
                                             : 0;
    const std::string_view sequence = line.substr(i, length ? length : 1);
    if (length == 0 || sequence.size() < length || FindInvalidUtf8(sequence)) {
      escape("\\x%02x", c);  // not UTF-8: its bytes, escaped
      ++i;
      continue;
    }
    unsigned code = length == 1 ? c : c & (0xffu >> (length + 1));
    for (size_t k = 1; k < length; ++k) {
      code = code << 6 | (static_cast<unsigned char>(line[i + k]) & 0x3fu);
    }
    // Control characters, C1 controls and line separators would forge lines or move the cursor.
    if (code < 0x20 || code == 0x7f || (code >= 0x80 && code < 0xa0) || code == 0x2028 ||
        code == 0x2029) {
      escape(code < 0x100 ? "\\x%02x" : "\\u%04x", code);
    } else {
      safe += sequence;
    }
    i += length;
  }
  return safe;
}

LogSink StderrLog() {
  // One line per entry whatever it quotes (a subset, a certificate's name), in valid UTF-8: no
  // input can forge a line of the log or break its text.
  return [](const std::string& line) { std::cerr << LogSafe(line) << "\n"; };
}

// Request bodies larger than this are refused before they are read (HTTP 413): a study, a
// protocol or a node's answer is a few hundred kilobytes at most.
constexpr size_t kMaxBodyBytes = 8 << 20;

// Large bodies travel compressed. A request's JSON is sent as kGzipJson (never with a
// Content-Encoding, which the HTTP library would inflate without bound: a few kilobytes can
// inflate to gigabytes) and inflated here up to kMaxBodyBytes, the limit of any body; an
// answer is compressed by the server when the client accepts gzip, and the client inflates it
// up to kMaxAnswerBytes.
constexpr char kGzipJson[] = "application/vnd.passerelle.json+gzip";
constexpr size_t kCompressFrom = 16 << 10;
constexpr size_t kMaxAnswerBytes = 1 << 30;

std::string Gzip(std::string_view in) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // 15 + 16: gzip framing
  std::string out(deflateBound(&z, in.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// The gzip stream `in` inflated, or nullopt when it is not one or would exceed `limit` bytes.
std::optional<std::string> Gunzip(std::string_view in, size_t limit) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return std::nullopt;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char chunk[1 << 14];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    rc = inflate(&z, Z_NO_FLUSH);
    const size_t got = sizeof chunk - z.avail_out;
    if (out.size() + got > limit)
      rc = Z_MEM_ERROR;
    else
      out.append(chunk, got);
    if (rc == Z_OK && got == 0 && z.avail_in == 0) rc = Z_DATA_ERROR;  // truncated
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END || z.avail_in != 0) return std::nullopt;
  return out;
}

// Refuses a request body with a Content-Encoding before it is read (see kGzipJson).
httplib::Server::HandlerResponse RefuseContentEncoding(const httplib::Request& req,
                                                       httplib::Response& res) {
  const std::string encoding = req.get_header_value("Content-Encoding");
  if (encoding.empty() || encoding == "identity")
    return httplib::Server::HandlerResponse::Unhandled;
  res.status = 415;
  res.set_header("Connection", "close");  // its body is never read
  res.set_content(
      R"({"v": 1, "error": "a request body is sent as application/json, or compressed as )" +
          std::string(kGzipJson) + R"(, never with a Content-Encoding", "code": "encoding"})",
      "application/json");
  return httplib::Server::HandlerResponse::Handled;
}

struct HttpsServer::Impl {
  LogSink log;
  ServerLimits limits;
  std::unique_ptr<ConnectionGuard> guard;   // TLS servers; outlives `server`, whose SSLs it counts
  std::unique_ptr<httplib::Server> server;  // an SSLServer, or plain HTTP on loopback
  bool loopback_only = false;
  // httplib's stop() does nothing before listening has begun: Stop() repeats it until Run()
  // has returned, and Run() does not begin after a Stop().
  std::atomic<bool> stop_requested{false}, started{false}, finished{false};
};

HttpsServer::HttpsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpsServer::~HttpsServer() = default;

Result<std::unique_ptr<HttpsServer>> HttpsServer::Create(const TlsIdentity& identity, LogSink log,
                                                         ClientCertificates clients,
                                                         ServerLimits limits) {
  InitIndexes();
  auto impl = std::make_unique<Impl>();
  impl->log = log ? std::move(log) : StderrLog();
  impl->limits = limits;
  impl->guard = std::make_unique<ConnectionGuard>(impl->limits, impl->log);
  std::string error;
  ConnectionGuard* guard = impl->guard.get();
  impl->server = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
    SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(&ctx, identity.cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(&ctx, identity.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(&ctx) != 1) {
      error = "cannot load the server certificate " + identity.cert + " and its key";
      return false;
    }
    if (SSL_CTX_load_verify_locations(&ctx, identity.ca_cert.c_str(), nullptr) != 1) {
      error = "cannot load the CA certificate " + identity.ca_cert;
      return false;
    }
    if (!identity.crl.empty() && !LoadRevocationList(&ctx, identity.crl, error)) return false;
    SSL_CTX_set_client_CA_list(&ctx, SSL_load_client_CA_file(identity.ca_cert.c_str()));
    // A server that verifies client certificates must name its session context, or a client
    // resuming a session (a browser's parallel requests for a page) fails its handshake.
    static constexpr unsigned char kSessionContext[] = "passerelle";
    SSL_CTX_set_session_id_context(&ctx, kSessionContext, sizeof kSessionContext - 1);
    SSL_CTX_set_ex_data(&ctx, g_server_index, guard);
    SSL_CTX_set_info_callback(&ctx, OnTlsEvent);
    SSL_CTX_set_msg_callback(&ctx, OnTlsRecord);
    SSL_CTX_set_verify(&ctx,
                       clients == ClientCertificates::kRequired
                           ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                           : SSL_VERIFY_PEER,
                       VerifyAndLog);
    return true;
  });
  if (!impl->server->is_valid()) {
    return InvalidArgument("https server: " + (error.empty() ? "invalid TLS setup" : error));
  }
  const auto request = static_cast<time_t>(limits.request.count());
  impl->server->set_read_timeout(request, 0);
  impl->server->set_write_timeout(request, 0);
  impl->server->set_payload_max_length(kMaxBodyBytes);
  impl->server->set_pre_routing_handler(RefuseContentEncoding);
  impl->server->set_tcp_nodelay(true);  // small messages leave at once (no Nagle delay)
  impl->server->set_keep_alive_max_count(1000);
  // Each kept-alive connection holds a worker for its life: nodes' long polls and connections,
  // researchers, and a browser's parallel requests for a page must all find one.
  const auto threads = static_cast<size_t>(std::max(1, limits.threads));
  impl->server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  return std::unique_ptr<HttpsServer>(new HttpsServer(std::move(impl)));
}

Result<std::unique_ptr<HttpsServer>> HttpsServer::CreateLoopback(LogSink log) {
  auto impl = std::make_unique<Impl>();
  impl->log = log ? std::move(log) : StderrLog();
  impl->server = std::make_unique<httplib::Server>();
  impl->loopback_only = true;
  impl->server->set_read_timeout(60, 0);
  impl->server->set_payload_max_length(kMaxBodyBytes);
  impl->server->set_pre_routing_handler(RefuseContentEncoding);
  return std::unique_ptr<HttpsServer>(new HttpsServer(std::move(impl)));
}

void HttpsServer::Handle(const std::string& method, const std::string& path, Handler handler) {
  const bool tls = !impl_->loopback_only;
  ConnectionGuard* guard = impl_->guard.get();
  auto adapter = [handler = std::move(handler), method, tls, guard](const httplib::Request& req,
                                                                    httplib::Response& res) {
    HttpRequest request;
    request.method = method;
    request.path = req.path;
    request.body = req.body;
    if (req.get_header_value("Content-Type") == kGzipJson) {
      std::optional<std::string> inflated = Gunzip(req.body, kMaxBodyBytes);
      if (!inflated) {
        res.status = 413;
        res.set_content(
            R"({"v": 1, "error": "the compressed body is not gzip, or inflates beyond )" +
                std::to_string(kMaxBodyBytes >> 20) + R"( MB", "code": "too_large"})",
            "application/json");
        return;
      }
      request.body = std::move(*inflated);
    }
    for (const auto& [key, value] : req.params) request.params.emplace_back(key, value);
    request.remote_address = req.remote_addr;
    if (req.ssl) {
      X509* peer = SSL_get1_peer_certificate(req.ssl);
      if (peer) {
        request.peer = CommonName(peer);
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int length = 0;
        X509_digest(peer, EVP_sha256(), digest, &length);
        request.peer_sha256 =
            HexEncode(std::string_view(reinterpret_cast<const char*>(digest), length));
        X509_free(peer);
      }
    }
    const std::string authorization = req.get_header_value("Authorization");
    if (authorization.rfind("Bearer ", 0) == 0) request.bearer_token = authorization.substr(7);
    // While the handler runs the connection has no deadline; the next request's has.
    Connection* connection = req.ssl && guard ? ConnectionOf(req.ssl) : nullptr;
    if (connection) guard->Answering(connection, true);
    HttpResponse response;
    try {
      response = handler(request);
    } catch (const std::exception&) {  // no request ends the server
      response = {500, R"({"v": 1, "error": "the server could not answer", "code": "internal"})",
                  "application/json"};
    }
    if (connection) guard->Answering(connection, false);
    res.status = response.status;
    res.set_content(response.body, response.content_type.c_str());
    for (const auto& [name, value] : response.headers) res.set_header(name, value);
    // The usual protections on every answer, unless the handler chose its own: nothing is
    // sniffed, framed or referred elsewhere; an HTML answer (a report) runs no inline script.
    auto fallback = [&](const char* name, const std::string& value) {
      if (!res.has_header(name)) res.set_header(name, value);
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
  };
  if (method == "GET") {
    impl_->server->Get(path, adapter);
  } else {
    impl_->server->Post(path, adapter);
  }
}

Result<int> HttpsServer::Bind(const std::string& host, int port) {
  if (impl_->loopback_only && host != "127.0.0.1") {
    return InvalidArgument("a server without TLS listens on 127.0.0.1 only, not " + host);
  }
  const int bound = port == 0 ? impl_->server->bind_to_any_port(host)
                              : (impl_->server->bind_to_port(host, port) ? port : -1);
  if (bound <= 0)
    return Unavailable("https server: cannot listen on " + host + ":" + std::to_string(port));
  return bound;
}

void HttpsServer::Run() {
  impl_->started = true;
  // The guard's sweep: every quarter second, the connections past their deadline are cut.
  std::thread sweeping;
  if (impl_->guard) {
    sweeping = std::thread([impl = impl_.get()] {
      while (!impl->finished) {
        impl->guard->Sweep();
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
      }
    });
  }
  if (!impl_->stop_requested) impl_->server->listen_after_bind();
  impl_->finished = true;
  if (sweeping.joinable()) sweeping.join();
}

void HttpsServer::Stop() {
  impl_->stop_requested = true;
  while (impl_->started && !impl_->finished) {
    impl_->server->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

struct HttpsClient::Impl {
  std::unique_ptr<httplib::SSLClient> client;
  std::string where;
};

HttpsClient::HttpsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpsClient::~HttpsClient() = default;

Result<std::unique_ptr<HttpsClient>> HttpsClient::Create(const std::string& host, int port,
                                                         const TlsIdentity& identity) {
  auto impl = std::make_unique<Impl>();
  impl->where = host + ":" + std::to_string(port);
  impl->client = identity.cert.empty() ? std::make_unique<httplib::SSLClient>(host, port)
                                       : std::make_unique<httplib::SSLClient>(
                                             host, port, identity.cert, identity.key);
  if (!impl->client->is_valid()) {
    return InvalidArgument("https client: cannot load " + identity.cert + " and its key");
  }
  impl->client->set_ca_cert_path(identity.ca_cert.c_str());
  impl->client->enable_server_certificate_verification(true);
  std::string error;
  if (!identity.crl.empty() &&
      !LoadRevocationList(impl->client->ssl_context(), identity.crl, error)) {
    return InvalidArgument("https client: " + error);
  }
  impl->client->set_connection_timeout(5, 0);
  impl->client->set_keep_alive(true);  // one TLS handshake for many rounds
  impl->client->set_tcp_nodelay(true);
  return std::unique_ptr<HttpsClient>(new HttpsClient(std::move(impl)));
}

Result<HttpResponse> HttpsClient::Send(const std::string& method, const std::string& path,
                                       const std::string& body, std::chrono::seconds timeout) {
  impl_->client->set_read_timeout(timeout.count(), 0);
  // A large body goes compressed; the answer to a GET (a study's results) may come compressed
  // and is inflated up to kMaxAnswerBytes (answers to a POST are small, and never compressed).
  const bool compress = body.size() >= kCompressFrom;
  const std::string sent = compress ? Gzip(body) : std::string();
  std::string answer;
  bool too_large = false;
  auto send = [&] {
    answer.clear();
    if (method != "GET") {
      return impl_->client->Post(path.c_str(), compress ? sent : body,
                                 compress ? kGzipJson : "application/json");
    }
    return impl_->client->Get(path.c_str(), {{"Accept-Encoding", "gzip"}},
                              [&](const char* data, size_t length) {
                                too_large = answer.size() + length > kMaxAnswerBytes;
                                if (!too_large) answer.append(data, length);
                                return !too_large;
                              });
  };
  httplib::Result res = send();
  // A kept-alive connection the server has closed in the meantime (its idle timeout) fails at
  // the write, before the server has the request: once more, on a new connection.
  if (!res && res.error() == httplib::Error::Write) res = send();
  if (!res) {
    std::string why = httplib::to_string(res.error());
    const long verify = impl_->client->get_openssl_verify_result();
    if (verify != X509_V_OK) why += ": " + std::string(X509_verify_cert_error_string(verify));
    // The server's TLS alert, when it refused our certificate ("tlsv1 alert unknown ca").
    std::string alert;
    while (const unsigned long e = ERR_get_error()) {
      const char* reason = ERR_reason_error_string(e);
      if (reason && std::string_view(reason).find("alert") != std::string_view::npos) {
        alert = reason;
      }
    }
    if (!alert.empty()) {
      why += ": the server refused this certificate (" + alert + ")";
    } else if (res.error() == httplib::Error::Read || res.error() == httplib::Error::Write ||
               res.error() == httplib::Error::SSLConnection) {
      // With TLS 1.3 the server may judge our certificate after the handshake; its alert can
      // arrive after the connection is gone.
      why += " (the server closed the connection: it may refuse this certificate)";
    }
    return Unavailable("https " + impl_->where + ": " + why);
  }
  if (too_large) {
    return Unavailable("https " + impl_->where + ": the answer is larger than " +
                       std::to_string(kMaxAnswerBytes >> 20) + " MB");
  }
  HttpResponse response;
  response.status = res->status;
  response.body = method == "GET" ? std::move(answer) : std::move(res->body);
  response.content_type = res->get_header_value("Content-Type");
  for (const auto& [name, value] : res->headers) response.headers.emplace_back(name, value);
  return response;
}

Result<HttpResponse> HttpsClient::Post(const std::string& path, const std::string& body,
                                       std::chrono::seconds timeout) {
  return Send("POST", path, body, timeout);
}

Result<HttpResponse> HttpsClient::Get(const std::string& path, std::chrono::seconds timeout) {
  return Send("GET", path, "", timeout);
}

void HttpsClient::SetBearerToken(const std::string& token) {
  impl_->client->set_bearer_token_auth(token);
}

void HttpsClient::Stop() { impl_->client->stop(); }

}  // namespace passerelle::net
