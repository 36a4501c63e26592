#include "runtime/core_factory.hpp"

#include "paxos/paxos.hpp"
#include "pbft/pbft.hpp"

namespace synod::runtime {

Result<std::unique_ptr<Replica>> make_core(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                           StateMachine& app, const DurableState& durable, std::uint64_t seed) {
  switch (config.protocol) {
    case Protocol::pbft:
      return pbft::make_replica(config, self, crypto, app, durable);
    case Protocol::paxos:
      return paxos::make_replica(config, self, crypto, app, durable, seed);
  }
  return fail(ErrorCode::invalid_config, "unknown protocol");
}

}  // namespace synod::runtime
