#include "wire/authenticate.hpp"

namespace synod::wire {

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
  const std::size_t macs = static_cast<std::size_t>(config.n()) * kMacBytes;
  if (config.authentication != Authentication::macs || authenticator.size() <= macs || self >= config.n())
    return crypto.verify(client, input, authenticator);
  const std::size_t signature_bytes = authenticator.size() - macs;
  if (crypto.verify_mac(client, input, authenticator.subspan(signature_bytes + self * kMacBytes, kMacBytes)))
    return true;
  return crypto.verify(client, input, authenticator.first(signature_bytes));
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
  const std::size_t macs = static_cast<std::size_t>(n) * kMacBytes;
  if (self >= n || authenticator.size() <= macs) return std::nullopt;
  const std::size_t signature_bytes = authenticator.size() - macs;
  const ByteView tag = authenticator.subspan(signature_bytes + self * kMacBytes, kMacBytes);
  if (!crypto.verify_mac(sender, input, tag)) return std::nullopt;
  return Bytes(authenticator.begin(), authenticator.begin() + static_cast<std::ptrdiff_t>(signature_bytes));
}

}  // namespace synod::wire
