#include "sim/faulty_client.hpp"

#include "synod/assert.hpp"
#include "synod/examples/kv.hpp"
#include "wire/codec.hpp"

namespace synod::sim {

std::string describe_behaviours(std::uint32_t behaviours) {
  constexpr const char* kNames[faulty::count_] = {"bad-signature", "impersonate", "reuse-t", "replay"};
  std::string text;
  for (std::uint32_t i = 0; i < faulty::count_; ++i) {
    if ((behaviours & (1u << i)) == 0) continue;
    if (!text.empty()) text += "+";
    text += kNames[i];
  }
  return text.empty() ? "none" : text;
}

FaultyClient::FaultyClient(const ClusterConfig& config, ClientId self, const Crypto& crypto,
                           std::uint32_t behaviours, std::vector<ClientId> victims, Prng prng)
    : config_(&config), self_(self), crypto_(&crypto), behaviours_(behaviours), victims_(std::move(victims)),
      prng_(prng) {
  SYNOD_ASSERT(behaviours != 0 && behaviours < (1u << faulty::count_), "a faulty client misbehaves somehow");
  SYNOD_ASSERT(config.n() > 0, "there are replicas to annoy");
}

Destination FaultyClient::pick_destination() {
  if (prng_.chance(1, 2)) return Destination::all_replicas();
  return Destination::replica(static_cast<ReplicaId>(prng_.below(config_->n())));
}

Bytes FaultyClient::op_for(RequestNo t) {
  // Writes to the correct clients' keys, so that a wrongly executed forged
  // request shows up in their reads too.
  const std::string key = "k" + std::to_string(prng_.below(4));
  return examples::kv::encode_put(key, "f" + std::to_string(self_) + "." + std::to_string(t) + "." +
                                           std::to_string(prng_.below(100)));
}

void FaultyClient::act(std::vector<OutboundFrame>& out, std::vector<wire::Request>& signed_requests) {
  // Pick one of its behaviours (or, sometimes, an honest request).
  std::uint32_t choice = static_cast<std::uint32_t>(prng_.below(faulty::count_ + 1));
  const bool honest = choice == faulty::count_ || (behaviours_ & (1u << choice)) == 0;
  const auto sign = [this](ByteView d) { return crypto_->sign(d); };
  if (honest || choice == 2 /* reuse_t */) {
    wire::Request request{self_, next_t_, false, op_for(next_t_)};
    Bytes frame = wire::make_frame(Principal::client(self_), request, sign);
    signed_requests.push_back(request);
    out.push_back({pick_destination(), frame});
    sent_.push_back(std::move(frame));
    if (!honest) {
      // The same t, another op, validly signed: at most one may execute.
      request.op = op_for(next_t_);
      Bytes second = wire::make_frame(Principal::client(self_), request, sign);
      signed_requests.push_back(request);
      out.push_back({pick_destination(), second});
      sent_.push_back(std::move(second));
    }
    ++next_t_;
  } else if (choice == 0 /* bad_signature */) {
    const RequestNo t = next_t_++;
    const wire::Request request{self_, t, false, op_for(t)};
    out.push_back({pick_destination(), wire::make_frame(Principal::client(self_), request, [&](ByteView d) {
                     // Two bits in two bytes: a frame the network corrupts
                     // (one bit) can never come out validly signed again.
                     Bytes sig = crypto_->sign(d);
                     const std::size_t i = prng_.below(sig.size());
                     sig[i] ^= 0x01;
                     sig[(i + 1 + prng_.below(sig.size() - 1)) % sig.size()] ^= 0x01;
                     return sig;
                   })});
  } else if (choice == 1 /* impersonate */) {
    if (victims_.empty()) return;
    const ClientId victim = victims_[prng_.below(victims_.size())];
    // A t far above anything the victim used: if it executed, it would burn
    // the victim's future request numbers.
    const wire::Request request{victim, 1'000'000 + prng_.below(1000), false, op_for(0)};
    out.push_back({pick_destination(), wire::make_frame(Principal::client(victim), request, sign)});
  } else {
    SYNOD_ASSERT(choice == 3, "replay is the last behaviour");
    if (sent_.empty()) return;
    out.push_back({pick_destination(), sent_[prng_.below(sent_.size())]});
  }
  while (sent_.size() > kMaxRemembered) sent_.pop_front();
  SYNOD_ASSERT(sent_.size() <= kMaxRemembered, "replay memory is bounded");
}

}  // namespace synod::sim
