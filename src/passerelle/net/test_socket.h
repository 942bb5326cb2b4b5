// For tests: a plain TCP connection to a local server from a chosen loopback address, as a
// stranger's (another 127.x.y.z address is another caller to the server's limits).
#ifndef PASSERELLE_NET_TEST_SOCKET_H_
#define PASSERELLE_NET_TEST_SOCKET_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace passerelle::testing {

// A TCP connection from `source` (any 127.x.y.z address) to 127.0.0.1:`port`; -1 when it fails.
inline int ConnectFrom(const char* source, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in from{}, to{};
  from.sin_family = to.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  to.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace passerelle::testing

#endif  // PASSERELLE_NET_TEST_SOCKET_H_
