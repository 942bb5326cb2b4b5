// Ed25519 signatures (libsodium) for the tasks the hub sends: the hub signs each task, and a
// node verifies it against the hub key it pinned before running anything. Keys and signatures
// travel as lowercase hex.
#ifndef PASSERELLE_NET_SIGNING_H_
#define PASSERELLE_NET_SIGNING_H_

#include <string>
#include <string_view>

#include "passerelle/base/status.h"

namespace passerelle::net {

struct SigningKeyPair {
  std::string public_key;  // 32 bytes, hex
  std::string secret_key;  // 64 bytes, hex: keep it with the hub, mode 0600
};

// A fresh key pair. Internal when libsodium cannot start.
Result<SigningKeyPair> GenerateSigningKey();
// The detached signature of `message` (64 bytes, hex). InvalidArgument for a malformed key.
Result<std::string> Sign(std::string_view message, std::string_view secret_key_hex);
// OK when `signature_hex` is the signature of `message` by `public_key_hex`; PermissionDenied
// otherwise (a tampered message, another key); InvalidArgument for malformed hex.
Status VerifySignature(std::string_view message, std::string_view signature_hex,
                       std::string_view public_key_hex);

}  // namespace passerelle::net

#endif  // PASSERELLE_NET_SIGNING_H_
