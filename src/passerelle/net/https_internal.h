// Internal to net/: what the HTTPS server (https_server.cc) and client (https.cc) share.
#ifndef PASSERELLE_NET_HTTPS_INTERNAL_H_
#define PASSERELLE_NET_HTTPS_INTERNAL_H_

#include <openssl/ssl.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace passerelle::net {

// Request bodies larger than this are refused before they are read (HTTP 413): a study, a
// protocol or a node's answer is a few hundred kilobytes at most.
inline constexpr size_t kMaxBodyBytes = 8 << 20;

// Large bodies travel compressed. A request's JSON is sent as kGzipJson (never with a
// Content-Encoding, which an HTTP library would inflate without bound: a few kilobytes can
// inflate to gigabytes) and inflated by the server up to kMaxBodyBytes, the limit of any body;
// an answer is compressed by the server when the client accepts gzip, and the client inflates
// it up to kMaxAnswerBytes.
inline constexpr char kGzipJson[] = "application/vnd.passerelle.json+gzip";
inline constexpr size_t kCompressFrom = 16 << 10;
inline constexpr size_t kMaxAnswerBytes = 1 << 30;

std::string Gzip(std::string_view in);
// The gzip stream `in` inflated, or nullopt when it is not one or would exceed `limit` bytes.
std::optional<std::string> Gunzip(std::string_view in, size_t limit);

// The common name of a certificate ("" for none).
std::string CommonName(X509* cert);

// Adds the revocation list at `path` to the context's trust store and checks each peer's
// certificate against it. False with `error` when it cannot be read.
bool LoadRevocationList(SSL_CTX* ctx, const std::string& path, std::string& error);

}  // namespace passerelle::net

#endif  // PASSERELLE_NET_HTTPS_INTERNAL_H_
