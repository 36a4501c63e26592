// synod/types.hpp — the vocabulary every part of synod shares: identifiers,
// byte buffers, digests and time. Plain values; thread-compatible.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace synod {

using ReplicaId = std::uint32_t;
using ClientId = std::uint32_t;
using View = std::uint64_t;       // PBFT view; in paxos mode, the ballot round
using Seq = std::uint64_t;        // PBFT sequence number; in paxos mode, the slot
using RequestNo = std::uint64_t;  // the client's monotonically increasing t
using TimeUs = std::uint64_t;     // monotonic microseconds, supplied by the driver

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline constexpr std::size_t kDigestBytes = 32;  // SHA-256
using Digest = std::array<std::uint8_t, kDigestBytes>;

// Who sent or signed something: a replica or a client. Replica and client
// ids are separate name spaces.
struct Principal {
  enum class Kind : std::uint8_t { replica = 0, client = 1 };
  Kind kind = Kind::replica;
  std::uint32_t id = 0;

  static constexpr Principal replica(ReplicaId i) { return {Kind::replica, i}; }
  static constexpr Principal client(ClientId c) { return {Kind::client, c}; }
  constexpr bool is_replica() const { return kind == Kind::replica; }
  constexpr bool is_client() const { return kind == Kind::client; }
  friend constexpr auto operator<=>(const Principal&, const Principal&) = default;
};

std::string to_hex(ByteView bytes);
inline std::string to_hex(const Digest& d) { return to_hex(ByteView(d.data(), d.size())); }
Bytes to_bytes(std::string_view text);
std::string to_string(ByteView bytes);
inline ByteView as_view(const Bytes& b) { return ByteView(b.data(), b.size()); }
inline ByteView as_view(const Digest& d) { return ByteView(d.data(), d.size()); }

}  // namespace synod
