// tests/store_cluster_helpers.hpp — what the pbft and paxos store-backed
// cluster tests share (tests/pbft/store_test.cpp, tests/paxos/store_test.cpp):
// a genesis state for every replica, and counts of what reached one.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/merkle_store.hpp"
#include "wire/codec.hpp"

namespace synod::test {

// Every replica of `cluster` starts from the same `keys` keys "g<k>" (a
// genesis state written into each store before its core starts), so a
// transfer has a large state to compare against and most of it is equal.
template <class Cluster>
void genesis(Cluster& cluster, int keys) {
  for (ReplicaId i = 0; i < cluster.n(); ++i) {
    cluster.crash(i);
    MerkleStore store(cluster.crypto_of(i), cluster.nodes[i]->store);
    for (int k = 0; k < keys; ++k) {
      const std::string key = std::string(1, static_cast<char>(MerkleStore::kAppNamespace)) + "g" + std::to_string(k);
      REQUIRE(store.put(to_bytes(key), to_bytes(std::string(200, 'x') + std::to_string(k))));
    }
    store.root();  // folds the leaves into the backend
    cluster.nodes[i]->store.commit();
    cluster.start(i);
  }
}

// Frames of one type among those seen (anything with .frame and .type()).
template <class InFlight>
std::size_t frames_of(const std::vector<InFlight>& seen, wire::MsgType type) {
  return static_cast<std::size_t>(std::count_if(seen.begin(), seen.end(), [&](const InFlight& m) { return m.type() == type; }));
}

// Values received in VALUES frames among those seen.
template <class InFlight>
std::size_t value_entries(const std::vector<InFlight>& seen) {
  std::size_t n = 0;
  for (const InFlight& m : seen) {
    if (m.type() != wire::MsgType::values) continue;
    auto env = wire::decode_envelope(m.frame);
    REQUIRE(env.has_value());
    auto values = wire::decode<wire::Values>(env->payload);
    REQUIRE(values.has_value());
    n += values->values.size();
  }
  return n;
}

}  // namespace synod::test
