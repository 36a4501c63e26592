// runtime/transport.hpp — ZeroMQ socket setup shared by the replica's event
// loop and the clients (synod::Client, synod::AsyncClient): limits, and
// CurveZMQ when the cluster config turns it on (ClusterConfig::curve).
//
// CURVE layout: every replica has a CURVE key pair; its public half is in
// cluster.toml (replica.curve_public_key, Z85; ClusterConfig::curve_public_keys), its secret half in
// keys/replica-<id>.curve (Z85, mode 0600, refused when group/world
// readable, never logged). A replica's ROUTER is a CURVE server; every
// DEALER (replica to replica, client to replica) is a CURVE client that
// checks the server's public key, so frames are encrypted and a client or
// peer talks only to the replica it meant. A replica's DEALERs use the
// replica's own key pair; clients use a fresh key pair per socket (clients
// have no CURVE identity: like replicas, they are authenticated by the
// signature on every frame).
//
// Header-only so that both synod_runtime and synod_client use it without
// another library (both already link libzmq and cppzmq).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include "synod/config.hpp"
#include "synod/result.hpp"

namespace synod::runtime {

inline constexpr std::size_t kCurveKeyZ85Chars = 40;

struct SocketLimits {
  std::int64_t max_message_bytes = 16 << 20;
  int send_hwm = 1000;
  int receive_hwm = 1000;
  int reconnect_ivl_ms = 100;
  int reconnect_ivl_max_ms = 1000;
};

// linger 0, message size cap, queue bounds, reconnect back-off. Throws zmq::error_t.
inline void configure_socket(zmq::socket_t& socket, const SocketLimits& limits) {
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::maxmsgsize, limits.max_message_bytes);
  socket.set(zmq::sockopt::sndhwm, limits.send_hwm);
  socket.set(zmq::sockopt::rcvhwm, limits.receive_hwm);
  socket.set(zmq::sockopt::reconnect_ivl, limits.reconnect_ivl_ms);
  socket.set(zmq::sockopt::reconnect_ivl_max, limits.reconnect_ivl_max_ms);
}

struct CurveKeyPair {
  std::string public_key;  // Z85
  std::string secret_key;  // Z85

  CurveKeyPair() = default;
  CurveKeyPair(const CurveKeyPair&) = default;
  CurveKeyPair& operator=(const CurveKeyPair&) = default;
  ~CurveKeyPair() { std::fill(secret_key.begin(), secret_key.end(), '\0'); }
};

inline bool curve_available() { return zmq_has("curve") != 0; }

inline bool is_z85_key(std::string_view text) {
  if (text.size() != kCurveKeyZ85Chars) return false;
  std::array<std::uint8_t, 32> raw{};
  const std::string copy(text);
  return zmq_z85_decode(raw.data(), copy.c_str()) != nullptr;
}

inline Result<CurveKeyPair> curve_key_pair() {
  if (!curve_available()) return fail(ErrorCode::crypto, "this libzmq was built without CURVE support");
  std::array<char, kCurveKeyZ85Chars + 1> pub{}, sec{};
  if (zmq_curve_keypair(pub.data(), sec.data()) != 0) {
    return fail(ErrorCode::crypto, std::string("zmq_curve_keypair: ") + zmq_strerror(zmq_errno()));
  }
  CurveKeyPair pair;
  pair.public_key.assign(pub.data(), kCurveKeyZ85Chars);
  pair.secret_key.assign(sec.data(), kCurveKeyZ85Chars);
  std::fill(sec.begin(), sec.end(), '\0');
  return pair;
}

// The public half of a Z85 secret key.
inline Result<std::string> curve_public_of(const std::string& secret_key) {
  if (!is_z85_key(secret_key)) return fail(ErrorCode::crypto, "not a Z85 CURVE secret key");
  std::array<char, kCurveKeyZ85Chars + 1> pub{};
  if (zmq_curve_public(pub.data(), secret_key.c_str()) != 0) {
    return fail(ErrorCode::crypto, std::string("zmq_curve_public: ") + zmq_strerror(zmq_errno()));
  }
  return std::string(pub.data(), kCurveKeyZ85Chars);
}

// "keys/replica-<id>.curve", relative to the cluster folder.
inline std::string replica_curve_secret_key_file(ReplicaId id) {
  return "keys/replica-" + std::to_string(id) + ".curve";
}

// Writes a secret key file with mode 0600 (created exclusively).
inline Result<void> save_curve_secret_key(const std::filesystem::path& path, const std::string& secret_key) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return fail(ErrorCode::io, "cannot create " + path.string() + ": " + std::strerror(errno));
  const std::string text = secret_key + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return fail(ErrorCode::io, "cannot write " + path.string());
  return {};
}

// Reads a secret key file: a regular file, mode 0600 or stricter, holding
// one Z85 key (a trailing newline is allowed). Errors never quote the file.
inline Result<std::string> load_curve_secret_key(const std::filesystem::path& path) {
  const std::string what = "CURVE secret key file " + path.string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return fail(ErrorCode::io, "cannot open " + what + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(ErrorCode::io, what + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return fail(ErrorCode::invalid_argument,
                what + " gives access to group or others; it must be 0600 or stricter (chmod 600 " + path.string() +
                    ")");
  }
  std::array<char, 64> buffer{};
  const ssize_t n = ::read(fd, buffer.data(), buffer.size());
  ::close(fd);
  std::string key(buffer.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
  std::fill(buffer.begin(), buffer.end(), '\0');
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  if (!is_z85_key(key)) {
    std::fill(key.begin(), key.end(), '\0');
    return fail(ErrorCode::invalid_argument, what + " does not hold a Z85 CURVE key (40 characters)");
  }
  return key;
}

// A replica's ROUTER as a CURVE server. Throws zmq::error_t.
inline void make_curve_server(zmq::socket_t& socket, const std::string& secret_key) {
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, secret_key);
}

// A DEALER as a CURVE client of the replica whose public key is given. Throws zmq::error_t.
inline void make_curve_client(zmq::socket_t& socket, const std::string& server_public_key, const CurveKeyPair& own) {
  socket.set(zmq::sockopt::curve_serverkey, server_public_key);
  socket.set(zmq::sockopt::curve_publickey, own.public_key);
  socket.set(zmq::sockopt::curve_secretkey, own.secret_key);
}

// A client's DEALER to replica r: limits, routing id, CURVE when the
// config turns it on (fresh key pair), connect. Used by synod::Client and
// synod::AsyncClient.
inline Result<void> connect_client_socket(zmq::socket_t& socket, const ClusterConfig& config, const ReplicaInfo& r,
                                          const std::string& routing_id, int hwm) {
  try {
    SocketLimits limits;
    limits.max_message_bytes = static_cast<std::int64_t>(config.max_frame_bytes);
    limits.send_hwm = hwm;
    limits.receive_hwm = hwm;
    configure_socket(socket, limits);
    // Lets replicas that have not yet seen a request from this id still reply.
    socket.set(zmq::sockopt::routing_id, routing_id);
    if (config.curve) {
      auto own = curve_key_pair();
      if (!own) return std::unexpected(own.error());
      make_curve_client(socket, config.curve_public_keys.at(r.id), *own);
    }
    socket.connect(r.endpoint);
  } catch (const zmq::error_t& e) {
    return fail(ErrorCode::io,
                "cannot connect to replica " + std::to_string(r.id) + " at " + r.endpoint + ": " + e.what());
  }
  return {};
}

}  // namespace synod::runtime
