// A TCP relay that delays every byte by a fixed time each way: the distance between a hospital
// and the hub, on one machine (this kernel has no netem). It listens on 127.0.0.1 (a free port,
// written to PORT_FILE), connects each accepted connection to TARGET_PORT on 127.0.0.1, and
// forwards both ways, each chunk delivered DELAY_MS after it was read: the order is kept and the
// bandwidth is not limited, so a round trip through it takes 2 × DELAY_MS more. TLS passes
// through untouched. Counts the bytes each way (client to target "up", back "down") and keeps
// them in PORT_FILE.bytes ("UP DOWN", rewritten every 100 ms). Runs until SIGTERM.
//   relay DELAY_MS TARGET_PORT PORT_FILE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<uint64_t> g_bytes[2];  // up, down

struct Chunk {
  Clock::time_point due;
  std::string bytes;  // empty: the sender closed its side
};

// One direction of a connection: what `from` sent, delivered to `to` when due.
class Direction {
 public:
  Direction(int from, int to, std::chrono::milliseconds delay, std::atomic<uint64_t>* count)
      : from_(from), to_(to), delay_(delay), count_(count) {}

  void Read() {
    std::vector<char> buf(64 * 1024);
    for (;;) {
      const ssize_t n = recv(from_, buf.data(), buf.size(), 0);
      if (n > 0) *count_ += static_cast<uint64_t>(n);
      Push(n > 0 ? std::string(buf.data(), static_cast<size_t>(n)) : std::string());
      if (n <= 0) return;
    }
  }

  void Write() {
    for (;;) {
      Chunk c;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty(); });
        c = std::move(queue_.front());
        queue_.pop_front();
      }
      std::this_thread::sleep_until(c.due);
      if (c.bytes.empty()) {
        shutdown(to_, SHUT_WR);
        return;
      }
      for (size_t sent = 0; sent < c.bytes.size();) {
        const ssize_t n = send(to_, c.bytes.data() + sent, c.bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
          shutdown(from_, SHUT_RD);  // the other side is gone: stop reading for it
          return;
        }
        sent += static_cast<size_t>(n);
      }
    }
  }

 private:
  void Push(std::string bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back({Clock::now() + delay_, std::move(bytes)});
    cv_.notify_one();
  }

  int from_, to_;
  std::chrono::milliseconds delay_;
  std::atomic<uint64_t>* count_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> queue_;
};

void Relay(int client, int target_port, std::chrono::milliseconds delay) {
  const int server = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(target_port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(server);
    close(client);
    return;
  }
  const int one = 1;
  for (int fd : {client, server}) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  auto up = std::make_shared<Direction>(client, server, delay, &g_bytes[0]);
  auto down = std::make_shared<Direction>(server, client, delay, &g_bytes[1]);
  std::vector<std::thread> threads;
  threads.emplace_back([up] { up->Read(); });
  threads.emplace_back([up] { up->Write(); });
  threads.emplace_back([down] { down->Read(); });
  threads.emplace_back([down] { down->Write(); });
  for (std::thread& t : threads) t.join();
  close(client);
  close(server);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: relay DELAY_MS TARGET_PORT PORT_FILE\n");
    return 2;
  }
  const std::chrono::milliseconds delay(std::atoi(argv[1]));
  const int target_port = std::atoi(argv[2]);
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listener, 64) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("relay");
    return 1;
  }
  std::ofstream(argv[3]) << ntohs(addr.sin_port) << "\n";
  const std::string counts = std::string(argv[3]) + ".bytes";
  std::thread([counts] {
    for (;;) {
      std::ofstream(counts + ".tmp") << g_bytes[0] << " " << g_bytes[1] << "\n";
      std::rename((counts + ".tmp").c_str(), counts.c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }).detach();
  for (;;) {
    const int client = accept(listener, nullptr, nullptr);
    if (client < 0) continue;
    std::thread(Relay, client, target_port, delay).detach();
  }
}
