// synod-fuzz-pbft: a 4-replica PBFT cluster (f = 1) driven by the fuzzer;
// replica 3's identity is the fuzzer's (see core_harness.hpp). Checked: the
// core's invariants, and agreement and at-most-once execution on replicas
// 0..2 (and on 3 while nothing was forged in its name).
#include "core_harness.hpp"
#include "pbft/pbft.hpp"

using namespace synod;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto make = [](const ClusterConfig& config, ReplicaId id, const Crypto& crypto, StateMachine& app,
                 const DurableState& disk) { return pbft::make_replica(config, id, crypto, app, disk); };
  fuzz::run_in_both_modes(data, size, Protocol::pbft, 3, true, make);
  return 0;
}
