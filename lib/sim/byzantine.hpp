// sim/byzantine.hpp — the simulator's Byzantine PBFT replica: the shared
// fault::ByzantineReplica (lib/fault/byzantine.hpp, also behind
// `synod-replica --fault`) with the simulator's set-up: each inner core
// runs its own kv store (whole-state, or store-backed from the run's
// genesis) from an empty durable state, and every choice is
// drawn from the seed's Prng.
#pragma once

#include <cstdint>
#include <optional>

#include "fault/byzantine.hpp"
#include "sim/prng.hpp"

namespace synod::sim {

namespace byzantine = synod::fault::byzantine;
using synod::fault::describe_strategies;

class ByzantineReplica : public synod::fault::ByzantineReplica {
 public:
  // config and crypto must outlive it; see fault::ByzantineReplica.
  // genesis_keys: the run's store-backed genesis (sim/workload.hpp), or
  // nullopt for the whole-state kv.
  ByzantineReplica(const ClusterConfig& config, ReplicaId self, const Crypto& crypto, std::uint32_t strategies,
                   Prng prng, std::uint64_t collusion, std::optional<std::uint32_t> genesis_keys = std::nullopt);
};

}  // namespace synod::sim
