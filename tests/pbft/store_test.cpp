// PBFT with a store-backed application (synod/store.hpp): checkpoints are
// the store's Merkle root, a lagging replica transfers only what differs by
// walking the certified tree, and a restart resumes from the store
// (docs/PROTOCOL.md, "State of any size").
#include <doctest/doctest.h>

#include <string>

#include "cluster.hpp"
#include "store_cluster_helpers.hpp"
#include "core/merkle_store.hpp"
#include "synod/examples/kv.hpp"

using namespace synod;
using synod::test::frames_of;
using synod::test::genesis;
using synod::test::value_entries;
using synod::test::Cluster;
using synod::test::InFlight;
namespace kv = synod::examples::kv;

namespace {

Cluster store_cluster() { return Cluster(1, {}, Authentication::signatures, Cluster::App::store_kv); }

void put(Cluster& c, ClientId client, RequestNo t, const std::string& key, const std::string& value) {
  c.client_sends(client, c.request(client, t, kv::encode_put(key, value)), ReplicaId{0});
  c.deliver_all();
}

}  // namespace

TEST_CASE("store: replicas execute on their stores and agree on the checkpoint root") {
  Cluster c = store_cluster();
  for (RequestNo t = 1; t <= 9; ++t) put(c, 1, t, "k" + std::to_string(t), "v" + std::to_string(t));
  CHECK(c.replies(1, 9).size() == c.n());
  for (ReplicaId i = 0; i < c.n(); ++i) {
    CAPTURE(i);
    CHECK(c.status(i).last_executed == 9);
    CHECK(c.status(i).stable_checkpoint == 8);
    CHECK(c.status(i).state_digest == c.status(0).state_digest);
    CHECK(c.status(i).state_digest != Digest{});
    CHECK(c.nodes[i]->store.get(to_bytes("ak9")) == to_bytes("v9"));
  }
}

TEST_CASE("store: a replica that missed stable checkpoints walks the tree and fetches only what differs") {
  Cluster c = store_cluster();
  genesis(c, 2000);
  std::vector<InFlight> to_3;
  c.drop = [&](const InFlight& m) {
    if (m.to == ReplicaId{3} && !c.up(3)) return true;  // a crashed replica hears nothing
    if (m.to == ReplicaId{3}) to_3.push_back(m);
    return false;
  };
  c.crash(3);
  for (RequestNo t = 1; t <= 21; ++t) put(c, 1, t, "g" + std::to_string(t * 7), "changed");
  c.start(3);
  put(c, 1, 22, "after", "restart");  // its checkpoint messages reach replica 3 on retransmission
  c.advance(3'000'000);
  CHECK(c.status(3).state_transfers >= 1);
  CHECK(c.status(3).last_executed == c.status(0).last_executed);
  CHECK(c.status(3).state_digest == c.status(0).state_digest);
  CHECK(c.nodes[3]->store.get(to_bytes("ag14")) == to_bytes("changed"));
  // Of 2000 genesis keys, the 21 changed ones (and the client table) came
  // as values; the rest was equal and compared by digest.
  CHECK(frames_of(to_3, wire::MsgType::tree_nodes) > 0);
  CHECK(value_entries(to_3) <= 30);
  CHECK(value_entries(to_3) >= 21);
}

TEST_CASE("store: a restart resumes from the store without a state transfer") {
  Cluster c = store_cluster();
  for (RequestNo t = 1; t <= 6; ++t) put(c, 1, t, "k" + std::to_string(t), "v");
  c.crash(2);
  c.start(2);
  CHECK(c.status(2).last_executed == 6);  // "applied": not rebuilt from the checkpoint at 4
  CHECK(c.status(2).state_transfers == 0);
  for (RequestNo t = 7; t <= 10; ++t) put(c, 1, t, "k" + std::to_string(t), "v");
  c.advance(1'000'000);
  CHECK(c.status(2).last_executed == 10);
  CHECK(c.status(2).state_digest == c.status(0).state_digest);
  // The client table came back from the store: a retransmission gets the cached reply.
  c.client_inbox.clear();
  c.client_sends(1, c.request(1, 10, kv::encode_put("k10", "v")), ReplicaId{2});
  c.deliver_all();
  CHECK(c.replies(1, 10).contains(2));
}

TEST_CASE("store: a crash in the middle of a transfer; the restarted replica finishes it") {
  Cluster c = store_cluster();
  genesis(c, 500);
  c.drop = [&](const InFlight& m) { return m.to == ReplicaId{3} && !c.up(3); };
  c.crash(3);
  for (RequestNo t = 1; t <= 21; ++t) put(c, 1, t, "g" + std::to_string(t), "changed");
  c.start(3);
  // Crash it at its first verified listing: the walk has begun, the store is
  // partly the certified state, and "sync" says so.
  bool crashed = false;
  c.drop = [&](const InFlight& m) {
    if (m.to == ReplicaId{3} && !c.up(3)) return true;
    if (!crashed && m.to == ReplicaId{3} && m.type() == wire::MsgType::values) {
      crashed = true;
      c.crash(3);
      return true;
    }
    return false;
  };
  put(c, 1, 22, "after", "crash");
  c.advance(1'000'000);
  REQUIRE(crashed);
  CHECK(c.nodes[3]->disk.contains("sync"));
  c.start(3);
  c.advance(3'000'000);
  CHECK_FALSE(c.nodes[3]->disk.contains("sync"));
  put(c, 1, 23, "later", "on");  // an idle cluster shows nobody that 21 and 22 exist
  c.advance(1'000'000);
  CHECK(c.status(3).last_executed == c.status(0).last_executed);
  CHECK(c.status(3).state_digest == c.status(0).state_digest);
}

TEST_CASE("store: a source that serves a wrong leaf is skipped; the transfer completes from another") {
  Cluster c = store_cluster();
  genesis(c, 300);
  c.drop = [&](const InFlight& m) { return m.to == ReplicaId{3} && !c.up(3); };
  c.crash(3);
  for (RequestNo t = 1; t <= 21; ++t) put(c, 1, t, "g" + std::to_string(t), "changed");
  c.start(3);
  // Every tree answer of replica 0 to replica 3 lies about a child digest,
  // and every listing of replica 1 about an entry digest.
  std::size_t lies = 0;
  c.drop = [&](const InFlight& m) {
    if (m.to != ReplicaId{3}) return false;
    if (m.from == Principal::replica(0) && m.type() == wire::MsgType::tree_nodes) {
      auto tn = *Cluster::decode_as<wire::TreeNodes>(m.frame);
      if (tn.nodes.empty()) return false;
      tn.nodes.front().children[0][0] ^= 1;
      c.network.push_back({m.from, m.to, 0, c.frame_as(0, tn)});
      ++lies;
      return true;
    }
    if (m.from == Principal::replica(1) && m.type() == wire::MsgType::leaf_entries) {
      auto le = *Cluster::decode_as<wire::LeafEntries>(m.frame);
      if (le.parts.empty()) return false;
      le.parts.front().entries.front().digest[0] ^= 1;
      c.network.push_back({m.from, m.to, 0, c.frame_as(1, le)});
      ++lies;
      return true;
    }
    return false;
  };
  put(c, 1, 22, "after", "restart");
  c.advance(4'000'000);
  CHECK(lies > 0);
  CHECK(c.rejected(3, Rejection::invalid) >= 1);
  CHECK(c.status(3).last_executed == c.status(0).last_executed);
  CHECK(c.status(3).state_digest == c.status(0).state_digest);
}

TEST_CASE("store under MACs: tree-walk frames carry one MAC, for their receiver only") {
  Cluster c(1, {}, Authentication::macs, Cluster::App::store_kv);
  genesis(c, 500);
  std::vector<InFlight> to_3;
  c.drop = [&](const InFlight& m) {
    if (m.to == ReplicaId{3} && !c.up(3)) return true;
    if (m.to == ReplicaId{3}) to_3.push_back(m);
    return false;
  };
  c.crash(3);
  for (RequestNo t = 1; t <= 21; ++t) put(c, 1, t, "g" + std::to_string(t), "changed");
  c.start(3);
  put(c, 1, 22, "after", "restart");
  c.advance(3'000'000);
  CHECK(c.status(3).state_transfers >= 1);
  CHECK(c.status(3).state_digest == c.status(0).state_digest);
  // Every answer replica 3 got was authenticated by a MAC for replica 3 (no
  // signature: nobody else is ever shown these).
  std::optional<InFlight> answer;
  for (const InFlight& m : to_3) {
    if (m.type() != wire::MsgType::tree_nodes && m.type() != wire::MsgType::values) continue;
    CHECK(wire::decode_envelope(m.frame)->authenticator.size() == kMacBytes);
    answer = m;
  }
  REQUIRE(answer.has_value());
  // The same frame delivered to replica 2 does not authenticate there.
  const std::uint64_t before = c.rejected(2, Rejection::bad_authenticator);
  c.drop = {};
  c.network.push_back({answer->from, ReplicaId{2}, 0, answer->frame});
  c.deliver_all();
  CHECK(c.rejected(2, Rejection::bad_authenticator) == before + 1);
}
