// Holds N open HTTPS connections to a server, as many idle callers would: each completes its
// TLS handshake, asks one request (kept alive) and reads the answer, then stays open.
//   hold_connections HOST PORT CA_CERT N SECONDS
// Prints "holding N" once all are open, then keeps them SECONDS and exits.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: hold_connections HOST PORT CA_CERT N SECONDS\n");
    return 2;
  }
  const std::string host = argv[1];
  const int port = std::atoi(argv[2]), count = std::atoi(argv[4]), seconds = std::atoi(argv[5]);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(ctx, argv[3], nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  const std::string request = "GET /v1/analyses HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
  std::vector<std::pair<int, SSL*>> open;
  for (int i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, host.c_str());
    char answer[4096];
    if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 || SSL_connect(ssl) != 1 ||
        SSL_write(ssl, request.data(), static_cast<int>(request.size())) <= 0 ||
        SSL_read(ssl, answer, sizeof answer) <= 0) {
      std::fprintf(stderr, "hold_connections: connection %d failed\n", i + 1);
      return 1;
    }
    open.emplace_back(fd, ssl);
  }
  std::printf("holding %zu\n", open.size());
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  for (auto& [fd, ssl] : open) {
    SSL_free(ssl);
    ::close(fd);
  }
  SSL_CTX_free(ctx);
  return 0;
}
