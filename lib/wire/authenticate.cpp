#include "wire/authenticate.hpp"

#include <algorithm>

namespace synod::wire {

namespace {

// signature || MAC_0 || ... || MAC_{n-1}: the signature and replica self's
// MAC; nothing when the authenticator is too short to hold n MACs.
struct Parts {
  ByteView signature;
  ByteView own_mac;
};
std::optional<Parts> split(std::uint32_t n, ReplicaId self, ByteView authenticator) {
  const std::size_t macs = static_cast<std::size_t>(n) * kMacBytes;
  if (self >= n || authenticator.size() <= macs) return std::nullopt;
  const std::size_t signature_bytes = authenticator.size() - macs;
  return Parts{authenticator.first(signature_bytes), authenticator.subspan(signature_bytes + self * kMacBytes, kMacBytes)};
}

// The signature a request's authenticator still needs checked at replica
// self: none when its MAC for self verifies (MAC mode), else the signature
// part, or the whole authenticator when it holds no MACs.
std::optional<ByteView> signature_to_check(const ClusterConfig& config, const Crypto& crypto, ReplicaId self,
                                           Principal client, ByteView input, ByteView authenticator) {
  const auto parts = config.authentication == Authentication::macs ? split(config.n(), self, authenticator)
                                                                    : std::nullopt;
  if (!parts) return authenticator;
  if (crypto.verify_mac(client, input, parts->own_mac)) return std::nullopt;
  return parts->signature;
}

bool paxos_macs(const ClusterConfig& config) {
  return config.protocol == Protocol::paxos && config.authentication == Authentication::macs;
}

}  // namespace

Bytes reply_frame(const ClusterConfig& config, const Crypto& crypto, ReplicaId self, const Reply& reply) {
  const Principal me = Principal::replica(self);
  if (config.authentication == Authentication::macs)
    return make_frame(me, reply, [&](ByteView input) { return crypto.mac(Principal::client(reply.client), input); });
  return make_frame(me, reply, [&](ByteView input) { return crypto.sign(input); });
}

bool reply_authentic(const ClusterConfig& config, const Crypto& crypto, const Envelope& envelope) {
  // A reply's authenticator covers its whole payload (signed_part<Reply>).
  const Bytes input = signing_input(MsgType::reply, envelope.sender, envelope.payload);
  if (config.authentication == Authentication::macs)
    return crypto.verify_mac(envelope.sender, input, envelope.authenticator);
  return crypto.verify(envelope.sender, input, envelope.authenticator);
}

Bytes request_authenticator(const ClusterConfig& config, const Crypto& crypto, ByteView input) {
  Bytes signature = crypto.sign(input);
  if (config.authentication != Authentication::macs) return signature;
  return signature_and_macs(crypto, config.n(), input, std::move(signature));
}

bool request_authentic(const ClusterConfig& config, const Crypto& crypto, ReplicaId self, Principal client,
                       ByteView input, ByteView authenticator) {
  const auto signature = signature_to_check(config, crypto, self, client, input, authenticator);
  return !signature || crypto.verify(client, input, *signature);
}

bool all_requests_authentic(const ClusterConfig& config, const Crypto& crypto, ReplicaId self,
                            std::span<const RequestAuthenticator> requests) {
  std::vector<SignatureCheck> checks;
  checks.reserve(requests.size());
  for (const RequestAuthenticator& r : requests) {
    if (auto signature = signature_to_check(config, crypto, self, r.client, r.input, r.authenticator))
      checks.push_back({r.client, r.input, *signature});
  }
  return crypto.verify_all(checks);
}

Bytes paxos_replica_authenticator(const ClusterConfig& config, const Crypto& crypto, ReplicaId self, ByteView input) {
  if (!paxos_macs(config)) return crypto.sign(input);
  Bytes out(static_cast<std::size_t>(config.n()) * kMacBytes, 0);
  for (ReplicaId i = 0; i < config.n(); ++i) {
    if (i == self) continue;
    const Bytes tag = crypto.mac(Principal::replica(i), input);
    std::copy(tag.begin(), tag.end(), out.begin() + static_cast<std::ptrdiff_t>(i * kMacBytes));
  }
  return out;
}

bool sender_authentic(const ClusterConfig& config, const Crypto& crypto, ReplicaId self, Principal sender,
                      ByteView input, ByteView authenticator) {
  if (sender.is_client()) return request_authentic(config, crypto, self, sender, input, authenticator);
  if (!paxos_macs(config)) return crypto.verify(sender, input, authenticator);
  if (self >= config.n() || authenticator.size() != static_cast<std::size_t>(config.n()) * kMacBytes) return false;
  return crypto.verify_mac(sender, input, authenticator.subspan(self * kMacBytes, kMacBytes));
}

bool point_to_point(MsgType type) {
  switch (type) {
    case MsgType::fetch_tree:
    case MsgType::tree_nodes:
    case MsgType::fetch_leaves:
    case MsgType::leaf_entries:
    case MsgType::fetch_values:
    case MsgType::values:
      return true;
    default:
      return false;
  }
}

Bytes point_to_point_authenticator(const Crypto& crypto, ReplicaId to, ByteView input) {
  return crypto.mac(Principal::replica(to), input);
}

bool point_to_point_authentic(const Crypto& crypto, Principal sender, ByteView input, ByteView authenticator) {
  return !sender.is_client() && authenticator.size() == kMacBytes && crypto.verify_mac(sender, input, authenticator);
}

Bytes signature_and_macs(const Crypto& crypto, std::uint32_t n, ByteView input, Bytes signature) {
  Bytes out = std::move(signature);
  out.reserve(out.size() + n * kMacBytes);
  for (ReplicaId i = 0; i < n; ++i) {
    const Bytes tag = crypto.mac(Principal::replica(i), input);
    out.insert(out.end(), tag.begin(), tag.end());
  }
  return out;
}

std::optional<Bytes> check_own_mac(const Crypto& crypto, std::uint32_t n, ReplicaId self, Principal sender,
                                   ByteView input, ByteView authenticator) {
  const auto parts = split(n, self, authenticator);
  if (!parts || !crypto.verify_mac(sender, input, parts->own_mac)) return std::nullopt;
  return Bytes(parts->signature.begin(), parts->signature.end());
}

}  // namespace synod::wire
