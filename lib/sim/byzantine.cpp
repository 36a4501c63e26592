#include "sim/byzantine.hpp"

#include <memory>

#include "sim/workload.hpp"
#include "synod/examples/kv.hpp"
#include "synod/examples/store_kv.hpp"

namespace synod::sim {

namespace {

synod::fault::ByzantineReplica::Options simulator_options(const Crypto& crypto,
                                                          std::optional<std::uint32_t> genesis_keys) {
  synod::fault::ByzantineReplica::Options options;
  if (genesis_keys) {
    options.make_store_app = [] { return std::make_unique<examples::StoreKv>(); };
    options.prepare_store = [&crypto, keys = *genesis_keys](MemoryStore& store) { write_genesis(store, crypto, keys); };
  } else {
    options.make_app = [] { return std::make_unique<examples::KvStore>(); };
  }
  options.forged_operation = examples::kv::encode_put("k0", "forged");
  return options;
}

}  // namespace

ByzantineReplica::ByzantineReplica(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                   std::uint32_t strategies, Prng prng, std::uint64_t collusion,
                                   std::optional<std::uint32_t> genesis_keys)
    : synod::fault::ByzantineReplica(config, self, crypto, strategies, prng, collusion,
                                     simulator_options(crypto, genesis_keys)) {}

}  // namespace synod::sim
