#include "passerelle/net/https.h"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <mutex>
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

// The server's log sink, reached from OpenSSL's C verify callback through the SSL_CTX.
int g_log_index = -1;
std::once_flag g_log_index_once;

int VerifyAndLog(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok) return 1;
  SSL* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  SSL_CTX* ctx = ssl ? SSL_get_SSL_CTX(ssl) : nullptr;
  auto* log = ctx ? static_cast<LogSink*>(SSL_CTX_get_ex_data(ctx, g_log_index)) : nullptr;
  if (log && *log) {
    const int error = X509_STORE_CTX_get_error(store);
    (*log)("tls: refused client certificate '" +
           CommonName(X509_STORE_CTX_get_current_cert(store)) +
           "': " + X509_verify_cert_error_string(error));
  }
  return 0;
}

}  // namespace

LogSink StderrLog() {
  // One line per entry whatever it quotes: control characters (a newline in a subset or a
  // certificate's name) are escaped, so no input can forge a line of the log.
  return [](const std::string& line) {
    std::string safe;
    safe.reserve(line.size());
    for (const char c : line) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned char>(c));
        safe += escaped;
      } else {
        safe += c;
      }
    }
    std::cerr << safe << "\n";
  };
}

// Request bodies larger than this are refused before they are read (HTTP 413): a study, a
// protocol or a node's answer is a few hundred kilobytes at most.
constexpr size_t kMaxBodyBytes = 8 << 20;

struct HttpsServer::Impl {
  LogSink log;
  std::unique_ptr<httplib::Server> server;  // an SSLServer, or plain HTTP on loopback
  bool loopback_only = false;
  // httplib's stop() does nothing before listening has begun: Stop() repeats it until Run()
  // has returned, and Run() does not begin after a Stop().
  std::atomic<bool> stop_requested{false}, started{false}, finished{false};
};

HttpsServer::HttpsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpsServer::~HttpsServer() = default;

Result<std::unique_ptr<HttpsServer>> HttpsServer::Create(const TlsIdentity& identity, LogSink log,
                                                         ClientCertificates clients) {
  std::call_once(g_log_index_once, [] {
    g_log_index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  });
  auto impl = std::make_unique<Impl>();
  impl->log = log ? std::move(log) : StderrLog();
  std::string error;
  LogSink* sink = &impl->log;
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
    SSL_CTX_set_client_CA_list(&ctx, SSL_load_client_CA_file(identity.ca_cert.c_str()));
    // A server that verifies client certificates must name its session context, or a client
    // resuming a session (a browser's parallel requests for a page) fails its handshake.
    static constexpr unsigned char kSessionContext[] = "passerelle";
    SSL_CTX_set_session_id_context(&ctx, kSessionContext, sizeof kSessionContext - 1);
    SSL_CTX_set_ex_data(&ctx, g_log_index, sink);
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
  impl->server->set_read_timeout(60, 0);
  impl->server->set_payload_max_length(kMaxBodyBytes);
  impl->server->set_tcp_nodelay(true);  // small messages leave at once (no Nagle delay)
  impl->server->set_keep_alive_max_count(1000);
  // Each kept-alive connection holds a worker for its life: nodes' long polls and connections,
  // researchers, and a browser's parallel requests for a page must all find one.
  impl->server->new_task_queue = [] { return new httplib::ThreadPool(64); };
  return std::unique_ptr<HttpsServer>(new HttpsServer(std::move(impl)));
}

Result<std::unique_ptr<HttpsServer>> HttpsServer::CreateLoopback(LogSink log) {
  auto impl = std::make_unique<Impl>();
  impl->log = log ? std::move(log) : StderrLog();
  impl->server = std::make_unique<httplib::Server>();
  impl->loopback_only = true;
  impl->server->set_read_timeout(60, 0);
  impl->server->set_payload_max_length(kMaxBodyBytes);
  return std::unique_ptr<HttpsServer>(new HttpsServer(std::move(impl)));
}

void HttpsServer::Handle(const std::string& method, const std::string& path, Handler handler) {
  const bool tls = !impl_->loopback_only;
  auto adapter = [handler = std::move(handler), method, tls](const httplib::Request& req,
                                                             httplib::Response& res) {
    HttpRequest request;
    request.method = method;
    request.path = req.path;
    request.body = req.body;
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
    HttpResponse response;
    try {
      response = handler(request);
    } catch (const std::exception&) {  // no request ends the server
      response = {500, R"({"v": 1, "error": "the server could not answer", "code": "internal"})",
                  "application/json"};
    }
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
  if (!impl_->stop_requested) impl_->server->listen_after_bind();
  impl_->finished = true;
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
  impl->client->set_connection_timeout(5, 0);
  impl->client->set_keep_alive(true);  // one TLS handshake for many rounds
  impl->client->set_tcp_nodelay(true);
  return std::unique_ptr<HttpsClient>(new HttpsClient(std::move(impl)));
}

Result<HttpResponse> HttpsClient::Send(const std::string& method, const std::string& path,
                                       const std::string& body, std::chrono::seconds timeout) {
  impl_->client->set_read_timeout(timeout.count(), 0);
  auto send = [&] {
    return method == "GET" ? impl_->client->Get(path.c_str())
                           : impl_->client->Post(path.c_str(), body, "application/json");
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
  HttpResponse response;
  response.status = res->status;
  response.body = res->body;
  response.content_type = res->get_header_value("Content-Type");
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
