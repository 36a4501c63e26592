// synod-fuzz-paxos: a 3-replica Multi-Paxos cluster (f = 1) driven by the
// fuzzer (see core_harness.hpp). Checked: the core's invariants; agreement
// and at-most-once execution while no replica message has been forged
// (Multi-Paxos tolerates crashes, not lies; a forged message switches the
// agreement checks off for the rest of that input).
#include "core_harness.hpp"
#include "paxos/paxos.hpp"

using namespace synod;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto make = [](const ClusterConfig& config, ReplicaId id, const Crypto& crypto, StateMachine& app,
                 const DurableState& disk) {
    return paxos::make_replica(config, id, crypto, app, disk, /*seed=*/id + 1);
  };
  fuzz::run_in_both_modes(data, size, Protocol::paxos, 2, false, make);
  return 0;
}
