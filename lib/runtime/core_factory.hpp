// runtime/core_factory.hpp — the one place the runtime branches on the
// protocol (DESIGN.md: "never branch on the mode more than once").
#pragma once

#include <cstdint>
#include <memory>

#include "synod/config.hpp"
#include "synod/replica.hpp"
#include "synod/result.hpp"
#include "synod/state_machine.hpp"

namespace synod::runtime {

// Builds the core config.protocol names. `seed` feeds paxos's randomised
// election timeouts (pbft ignores it). `crypto` and `app` must outlive the
// returned core.
Result<std::unique_ptr<Replica>> make_core(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                           StateMachine& app, const DurableState& durable, std::uint64_t seed);

}  // namespace synod::runtime
