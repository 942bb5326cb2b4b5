// The HTTPS client (over cpp-httplib), and what the server and the client share: addresses,
// the log's safety, compression, certificates' names and revocation lists.
#include "passerelle/net/https.h"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <zlib.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>

#include "passerelle/base/text.h"
#include "passerelle/net/https_internal.h"

namespace passerelle::net {

using Clock = std::chrono::steady_clock;

std::string CommonName(X509* cert) {
  if (!cert) return "";
  char buf[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  return buf;
}

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
