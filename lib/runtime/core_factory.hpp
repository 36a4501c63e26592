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
#include "synod/store.hpp"

namespace synod {
class StoreBackend;  // core/store_backend.hpp
}

namespace synod::runtime {

// Builds the core config.protocol names. `seed` feeds paxos's randomised
// election timeouts (pbft ignores it). `crypto` and `app` must outlive the
// returned core.
Result<std::unique_ptr<Replica>> make_core(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                           StateMachine& app, const DurableState& durable, std::uint64_t seed);

// The same for a store-backed application (synod/store.hpp): its state lives
// in `backend` (the runtime's is LmdbStorage::open_store()'s LmdbStore), which
// must outlive the core and hold what this replica's earlier runs committed
// along with `durable`.
Result<std::unique_ptr<Replica>> make_core(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                           StoreStateMachine& app, StoreBackend& backend,
                                           const DurableState& durable, std::uint64_t seed);

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

// A store-backed application with `fault` applied, refused as above. The
// crash-style modes (silent, slow) wrap the honest store-backed core. The
// Byzantine modes are refused with an invalid_argument error ("fault
// injection runs whole-state applications only"): their strategies run an
// honest inner core that fault::make_byzantine_pbft builds over a
// StateMachine, with no way to hand it this replica's durable store.
Result<std::unique_ptr<Replica>> make_core(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                           StoreStateMachine& app, StoreBackend& backend,
                                           const DurableState& durable, std::uint64_t seed,
                                           const FaultInjection& fault);

}  // namespace synod::runtime
