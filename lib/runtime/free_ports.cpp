#include "runtime/free_ports.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace synod::runtime {

Result<std::vector<std::uint16_t>> free_loopback_ports(std::size_t count) {
  std::vector<int> sockets;
  std::vector<std::uint16_t> ports;
  std::string error;
  for (std::size_t i = 0; i < count; ++i) {
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (s < 0 || ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      error = std::strerror(errno);
      if (s >= 0) ::close(s);
      break;
    }
    sockets.push_back(s);  // held open until all are chosen, so they differ
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int s : sockets) ::close(s);
  if (ports.size() < count) return fail(ErrorCode::io, "cannot pick a free loopback port: " + error);
  return ports;
}

}  // namespace synod::runtime
