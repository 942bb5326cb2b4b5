// SHA-256 digests (OpenSSL), written as lowercase hex: dataset checksums and audit digests;
// and random bytes for tokens and nonces.
#ifndef PASSERELLE_BASE_SHA256_H_
#define PASSERELLE_BASE_SHA256_H_

#include <memory>
#include <string>
#include <string_view>

namespace passerelle {

// Incremental hashing of a stream, e.g. a CSV file read in chunks.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  // The hex digest of everything passed to Update. Call once.
  std::string FinishHex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The same on a thread of its own, for a stream whose reader has other work to do: a CSV file is
// split and checked while its chunks are hashed. A chunk given to Update is read by that thread
// later: it must stay unchanged until Wait says it has been hashed.
class Sha256Thread {
 public:
  Sha256Thread();
  // Stops the thread (what is still queued is not hashed).
  ~Sha256Thread();
  Sha256Thread(const Sha256Thread&) = delete;
  Sha256Thread& operator=(const Sha256Thread&) = delete;

  // Queues `bytes` after the chunks given before. The thread starts with the first.
  void Update(std::string_view bytes);
  // Returns once at most `pending` of the chunks given are still to be hashed.
  void Wait(size_t pending);
  // The hex digest of every chunk given. Call once.
  std::string FinishHex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// SHA-256 of many short messages that share a prefix (a key): the prefix hashed once, each
// message's digest from a copy of that state.
class Sha256Prefix {
 public:
  explicit Sha256Prefix(std::string_view prefix);
  ~Sha256Prefix();
  Sha256Prefix(Sha256Prefix&&) noexcept;
  Sha256Prefix& operator=(Sha256Prefix&&) noexcept;

  // The digest of the prefix followed by `rest`, as 32 raw bytes into `out`.
  void Digest(std::string_view rest, unsigned char out[32]);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Sha256Hex(std::string_view bytes);

// `bytes` bytes from the operating system's random generator, as lowercase hex (tokens,
// nonces); empty if it fails.
std::string RandomHex(size_t bytes);

}  // namespace passerelle

#endif  // PASSERELLE_BASE_SHA256_H_
