#include "sim/byzantine.hpp"

#include <memory>

#include "synod/examples/kv.hpp"

namespace synod::sim {

namespace {

synod::fault::ByzantineReplica::Options simulator_options() {
  synod::fault::ByzantineReplica::Options options;
  options.make_app = [] { return std::make_unique<examples::KvStore>(); };
  options.forged_operation = examples::kv::encode_put("k0", "forged");
  return options;
}

}  // namespace

ByzantineReplica::ByzantineReplica(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                   std::uint32_t strategies, Prng prng, std::uint64_t collusion)
    : synod::fault::ByzantineReplica(config, self, crypto, strategies, prng, collusion, simulator_options()) {}

}  // namespace synod::sim
