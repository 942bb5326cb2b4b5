#include "passerelle/net/signing.h"

#include <sodium.h>

#include <vector>

namespace passerelle::net {
namespace {

Status Init() {
  if (sodium_init() < 0) return Internal("libsodium cannot initialise");
  return Status::Ok();
}

std::string ToHex(const unsigned char* bytes, size_t n) {
  std::string hex(n * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes, n);
  hex.pop_back();
  return hex;
}

Result<std::vector<unsigned char>> FromHex(std::string_view hex, size_t expected,
                                           const char* what) {
  std::vector<unsigned char> bytes(expected);
  size_t length = 0;
  if (hex.size() != expected * 2 ||
      sodium_hex2bin(bytes.data(), bytes.size(), hex.data(), hex.size(), nullptr, &length,
                     nullptr) != 0 ||
      length != expected) {
    return InvalidArgument(std::string(what) + " must be " + std::to_string(expected * 2) +
                           " hexadecimal characters");
  }
  return bytes;
}

}  // namespace

Result<SigningKeyPair> GenerateSigningKey() {
  RETURN_IF_ERROR(Init());
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  SigningKeyPair pair{ToHex(pk, sizeof pk), ToHex(sk, sizeof sk)};
  sodium_memzero(sk, sizeof sk);
  return pair;
}

Result<std::string> Sign(std::string_view message, std::string_view secret_key_hex) {
  RETURN_IF_ERROR(Init());
  ASSIGN_OR_RETURN(auto sk, FromHex(secret_key_hex, crypto_sign_SECRETKEYBYTES, "secret key"));
  unsigned char signature[crypto_sign_BYTES];
  crypto_sign_detached(signature, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), sk.data());
  sodium_memzero(sk.data(), sk.size());
  return ToHex(signature, sizeof signature);
}

Status VerifySignature(std::string_view message, std::string_view signature_hex,
                       std::string_view public_key_hex) {
  RETURN_IF_ERROR(Init());
  ASSIGN_OR_RETURN(auto pk, FromHex(public_key_hex, crypto_sign_PUBLICKEYBYTES, "public key"));
  ASSIGN_OR_RETURN(auto signature, FromHex(signature_hex, crypto_sign_BYTES, "signature"));
  if (crypto_sign_verify_detached(signature.data(),
                                  reinterpret_cast<const unsigned char*>(message.data()),
                                  message.size(), pk.data()) != 0) {
    return PermissionDenied("signature does not match the pinned hub key");
  }
  return Status::Ok();
}

}  // namespace passerelle::net
