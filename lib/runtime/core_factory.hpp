// runtime/core_factory.hpp — the one place the runtime branches on the
// protocol (DESIGN.md: "never branch on the mode more than once").
#pragma once

#include <cstdint>
#include <memory>
#include <string>

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

// A deliberately faulty replica (`synod-replica --fault MODE`, for
// fault-injection tests; the modes are lib/fault/faulty_core.hpp's).
struct FaultInjection {
  std::string mode;                   // empty: an honest core
  std::uint32_t slow_delay_ms = 200;  // slow: how long every outgoing frame waits
};

// As above, with `fault` applied. Refused unless config.allow_fault_injection;
// an unknown mode, or a Byzantine mode with paxos (which tolerates crashes
// only), is an error naming the mode and the protocol.
Result<std::unique_ptr<Replica>> make_core(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                           StateMachine& app, const DurableState& durable, std::uint64_t seed,
                                           const FaultInjection& fault);

}  // namespace synod::runtime
