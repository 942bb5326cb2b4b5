// HTTPS with mutual TLS between the hub and the site nodes, over OpenSSL: both ends present a
// certificate of the consortium CA and refuse any other, logging why. The server is Passerelle's
// own (https_server.cc: one thread watches every connection, workers run the handlers); the
// client is cpp-httplib's (https.cc). This is the only place in Passerelle that sees sockets;
// httplib.h stays in https.cc.
#ifndef PASSERELLE_NET_HTTPS_H_
#define PASSERELLE_NET_HTTPS_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "passerelle/base/status.h"

namespace passerelle::net {

// "https://HOST:PORT" as host and port (the hub's address, as nodes and researchers give it).
struct HttpsAddress {
  std::string host;
  int port = 0;
};
// InvalidArgument naming the URL unless it is https://HOST:PORT.
Result<HttpsAddress> ParseHttpsUrl(const std::string& url);

// PEM files: the consortium CA certificate, and this party's certificate and key (a client
// without a certificate, such as a researcher's, leaves them empty).
struct TlsIdentity {
  std::string ca_cert;
  std::string cert;
  std::string key;
  // The CA's certificate revocation list (PEM, `passerelle pki revoke`): a certificate it lists
  // is refused at the handshake. Empty: no list.
  std::string crl = {};
};

// What one caller can hold of a server. One thread watches every connection at once and a
// fixed pool of workers runs the handlers: an open connection holds no worker, and a request
// that waits (a node's long poll) holds none while it waits (docs/security.md).
struct ServerLimits {
  int threads = 64;                    // handlers running at once (the workers)
  int connections = 4096;              // open connections, all callers together
  int connections_per_address = 16;    // open connections from one IP address
  std::chrono::seconds handshake{10};  // a TLS handshake, from the connection to its end
  // Between two answers on one connection: the keep-alive pause, then the next request's headers
  // and body; and the sending of an answer. The time a handler takes (a long poll) is not counted.
  std::chrono::seconds request{30};
  // Bytes a connection may send between two answers: a request's headers and its body. A body
  // over 8 MiB is refused (HTTP 413) and skipped up to this; more (endless headers, a body that
  // does not end) and the connection is cut.
  size_t request_bytes = 32 << 20;
  // Bytes of requests the server holds, all connections together: received and not yet
  // answered. A connection whose bytes would pass it is cut, so that many callers each sending
  // a large body cannot exhaust the memory.
  size_t buffered_bytes = 512 << 20;
  // When three quarters of `connections` are open, the server is under pressure: a handshake, a
  // keep-alive pause or a request that is not complete is cut after this instead (many addresses
  // each keeping connections open cannot fill the server; a client whose idle connection was
  // cut opens another).
  std::chrono::seconds under_pressure{2};
};

struct HttpRequest {
  std::string method, path, body;
  std::vector<std::pair<std::string, std::string>> params;  // of the query string, in order
  std::string peer;          // common name of the client's certificate; empty without one
  std::string peer_sha256;   // SHA-256 fingerprint of that certificate (hex)
  std::string bearer_token;  // from "Authorization: Bearer ..."
  std::string remote_address;

  // The query parameter `name`, or `fallback` when absent.
  std::string Param(const std::string& name, const std::string& fallback = "") const {
    for (const auto& [key, value] : params) {
      if (key == name) return value;
    }
    return fallback;
  }
};

// Whether a server demands a client certificate. Either way, a certificate that is presented
// must come from the consortium CA and be valid, or the handshake is refused.
enum class ClientCertificates { kRequired, kOptional };

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers = {};  // more response headers
};

using Handler = std::function<HttpResponse(const HttpRequest&)>;

// The answer to one request: given once, from any thread, at once or later. A handler that must
// wait for something (a node's long poll for its next task) keeps its Responder and returns:
// until the answer is sent the request holds its connection, but no worker. Later calls do
// nothing, and so does an answer to a connection that has closed; a request left without any
// Responder and without an answer gets a 500.
class Responder {
 public:
  struct State;
  explicit Responder(std::shared_ptr<State> state) : state_(std::move(state)) {}
  void Send(HttpResponse response) const;

 private:
  std::shared_ptr<State> state_;
};
using AsyncHandler = std::function<void(const HttpRequest&, Responder)>;
// Where refusals and errors are written (stderr by default); never patient values.
using LogSink = std::function<void(const std::string& line)>;
// Writes each line to stderr (as LogSafe makes it): the default sink of the server and daemons.
LogSink StderrLog();
// The line with control characters (C0, C1, U+2028/9) escaped as \xNN or \uNNNN, and bytes that
// are not UTF-8 as \xNN: one line of valid text whatever it quotes.
std::string LogSafe(std::string_view line);
// Passes each distinct line to `sink` at most once a minute, and at most 100 lines a minute (then
// says how many it left out): for what strangers can make a server log (refused connections,
// certificates, nodes), so that no flood of requests floods the log.
LogSink OncePerMinute(LogSink sink);

class HttpsServer {
 public:
  // A server presenting `identity`, accepting only clients whose certificate the CA signed.
  // InvalidArgument when the files cannot be loaded.
  static Result<std::unique_ptr<HttpsServer>> Create(
      const TlsIdentity& identity, LogSink log,
      ClientCertificates clients = ClientCertificates::kRequired, ServerLimits limits = {});
  // A server without TLS that listens on 127.0.0.1 only (Bind refuses any other host): pages
  // for this machine's own user, such as the node's custodian page.
  static Result<std::unique_ptr<HttpsServer>> CreateLoopback(LogSink log);
  ~HttpsServer();

  // Routes METHOD PATH to `handler`; PATH is matched whole, `{id}` in it standing for a number
  // of 1 to 18 digits ("/v1/studies/{id}/report").
  void Handle(const std::string& method, const std::string& path, Handler handler);
  // The same for a handler that answers through its Responder, now or later.
  void HandleAsync(const std::string& method, const std::string& path, AsyncHandler handler);
  // Binds to host:port (0: any free port). Returns the port. Unavailable when it cannot bind.
  Result<int> Bind(const std::string& host, int port);
  // Serves until Stop(); call from its own thread. Requests still waiting are dropped.
  void Run();
  // Ends Run() (returning once it has, if it began), even when called as Run() begins.
  void Stop();

 private:
  struct Impl;
  friend class Responder;
  explicit HttpsServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;  // waiting Responders hold it weakly
};

class HttpsClient {
 public:
  // A client presenting `identity` and accepting only a server certificate from the CA
  // that names `host`.
  static Result<std::unique_ptr<HttpsClient>> Create(const std::string& host, int port,
                                                     const TlsIdentity& identity);
  ~HttpsClient();

  // Unavailable when the server cannot be reached or its certificate is refused (the message
  // says why); otherwise the response, whatever its status.
  Result<HttpResponse> Post(const std::string& path, const std::string& body,
                            std::chrono::seconds timeout = std::chrono::seconds(30));
  Result<HttpResponse> Get(const std::string& path,
                           std::chrono::seconds timeout = std::chrono::seconds(30));
  // Sends "Authorization: Bearer TOKEN" with every request.
  void SetBearerToken(const std::string& token);
  // Interrupts a request in progress (from another thread): it returns Unavailable.
  void Stop();

 private:
  struct Impl;
  explicit HttpsClient(std::unique_ptr<Impl> impl);
  Result<HttpResponse> Send(const std::string& method, const std::string& path,
                            const std::string& body, std::chrono::seconds timeout);
  std::unique_ptr<Impl> impl_;
};

}  // namespace passerelle::net

#endif  // PASSERELLE_NET_HTTPS_H_
