#include "passerelle/base/sha256.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "passerelle/base/text.h"

namespace passerelle {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr);
}

Sha256::~Sha256() = default;

void Sha256::Update(std::string_view bytes) {
  EVP_DigestUpdate(impl_->ctx, bytes.data(), bytes.size());
}

std::string Sha256::FinishHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(impl_->ctx, digest, &length);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

struct Sha256Thread::Impl {
  Sha256 hasher;  // the thread's, until it is joined
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::string_view> queue;  // guarded by mutex; the front one is being hashed
  bool stop = false;                   // guarded by mutex
  std::thread thread;

  void Loop() {
    for (;;) {
      std::string_view chunk;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return !queue.empty() || stop; });
        if (stop) return;
        chunk = queue.front();
      }
      hasher.Update(chunk);
      {
        std::lock_guard lock(mutex);
        queue.pop_front();
      }
      changed.notify_all();
    }
  }
  void Stop() {
    if (!thread.joinable()) return;
    {
      std::lock_guard lock(mutex);
      stop = true;
    }
    changed.notify_all();
    thread.join();
  }
};

Sha256Thread::Sha256Thread() : impl_(std::make_unique<Impl>()) {}

Sha256Thread::~Sha256Thread() { impl_->Stop(); }

void Sha256Thread::Update(std::string_view bytes) {
  if (!impl_->thread.joinable()) {
    impl_->thread = std::thread([impl = impl_.get()] {
      pthread_setname_np(pthread_self(), "sha256");
      impl->Loop();
    });
  }
  {
    std::lock_guard lock(impl_->mutex);
    impl_->queue.push_back(bytes);
  }
  impl_->changed.notify_all();
}

void Sha256Thread::Wait(size_t pending) {
  std::unique_lock lock(impl_->mutex);
  impl_->changed.wait(lock, [&] { return impl_->queue.size() <= pending; });
}

std::string Sha256Thread::FinishHex() {
  Wait(0);
  impl_->Stop();
  return impl_->hasher.FinishHex();
}

std::string Sha256Hex(std::string_view bytes) {
  Sha256 hasher;
  hasher.Update(bytes);
  return hasher.FinishHex();
}

struct Sha256Prefix::Impl {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> prefix{EVP_MD_CTX_new(), EVP_MD_CTX_free};
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> work{EVP_MD_CTX_new(), EVP_MD_CTX_free};
};

Sha256Prefix::Sha256Prefix(std::string_view prefix) : impl_(std::make_unique<Impl>()) {
  EVP_DigestInit_ex(impl_->prefix.get(), EVP_sha256(), nullptr);
  EVP_DigestUpdate(impl_->prefix.get(), prefix.data(), prefix.size());
}
Sha256Prefix::~Sha256Prefix() = default;
Sha256Prefix::Sha256Prefix(Sha256Prefix&&) noexcept = default;
Sha256Prefix& Sha256Prefix::operator=(Sha256Prefix&&) noexcept = default;

void Sha256Prefix::Digest(std::string_view rest, unsigned char out[32]) {
  unsigned int length = 0;
  EVP_MD_CTX_copy_ex(impl_->work.get(), impl_->prefix.get());
  EVP_DigestUpdate(impl_->work.get(), rest.data(), rest.size());
  EVP_DigestFinal_ex(impl_->work.get(), out, &length);
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    return "";
  }
  return HexEncode(raw);
}

}  // namespace passerelle
