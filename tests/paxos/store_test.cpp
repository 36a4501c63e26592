// Multi-Paxos with a store-backed application (synod/store.hpp): a snapshot
// pins the store and its digest is the store's Merkle root, a lagging
// replica fetches only what differs by walking the tree of the snapshot its
// source announces, and a restart resumes from the store (docs/PROTOCOL.md,
// "State of any size"; paxos/paxos.hpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>

#include "cluster.hpp"
#include "store_cluster_helpers.hpp"
#include "core/merkle_store.hpp"
#include "synod/examples/kv.hpp"

using namespace synod;
using synod::test::frames_of;
using synod::test::genesis;
using synod::test::value_entries;
using synod::test::InFlight;
using synod::test::PaxosCluster;
namespace kv = synod::examples::kv;

namespace {

PaxosCluster store_cluster() { return PaxosCluster(1, {}, {}, PaxosCluster::App::store_kv); }

// Client 1 writes through the leader (replica 0) and everything is delivered.
void put(PaxosCluster& c, RequestNo t, const std::string& key, const std::string& value) {
  c.client_sends(1, c.request(1, t, kv::encode_put(key, value)), ReplicaId{0});
  c.deliver_all();
}

}  // namespace

TEST_CASE("store: replicas execute on their stores and agree on the snapshot root") {
  PaxosCluster c = store_cluster();
  c.elect(0);
  for (RequestNo t = 1; t <= 9; ++t) put(c, t, "k" + std::to_string(t), "v" + std::to_string(t));
  CHECK(c.replies(1, 9).size() == 1);
  for (ReplicaId i = 0; i < c.n(); ++i) {
    CAPTURE(i);
    CHECK(c.status(i).last_executed == 9);
    CHECK(c.status(i).stable_checkpoint == 8);
    CHECK(c.status(i).state_digest == c.status(0).state_digest);
    CHECK(c.status(i).state_digest != Digest{});
    CHECK(c.nodes[i]->store.get(to_bytes("ak9")) == to_bytes("v9"));
    // The store is the snapshot: its root and "applied", no state bytes.
    CHECK(c.nodes[i]->disk.contains("root"));
    CHECK(c.nodes[i]->disk.contains("applied"));
    CHECK_FALSE(c.nodes[i]->disk.contains("snap"));
    CHECK_FALSE(c.nodes[i]->disk.contains(paxos::accepted_key(8)));  // truncated at the snapshot
  }
}

TEST_CASE("store: a replica behind several snapshots walks the tree and fetches only what differs") {
  PaxosCluster c = store_cluster();
  genesis(c, 2000);
  c.elect(0);
  std::vector<InFlight> to_2;
  c.drop = [&](const InFlight& m) {
    if (m.to == ReplicaId{2} && c.up(2)) to_2.push_back(m);
    return false;
  };
  c.crash(2);
  for (RequestNo t = 1; t <= 21; ++t) put(c, t, "g" + std::to_string(t * 7), "changed");
  CHECK(c.status(0).stable_checkpoint == 20);
  c.start(2);
  c.advance(1'000'000);  // a heartbeat brings the commit index; replica 2 asks
  CHECK(c.status(2).state_transfers == 1);
  CHECK(c.status(2).last_executed == 21);
  CHECK(c.status(2).stable_checkpoint == 20);
  CHECK(c.status(2).state_digest == c.status(0).state_digest);
  CHECK(c.nodes[2]->store.get(to_bytes("ag14")) == to_bytes("changed"));
  CHECK(c.nodes[2]->store.get(to_bytes("ag15")) == to_bytes(std::string(200, 'x') + "15"));
  // The snapshot came as its root alone, then by tree walk.
  bool announced = false;
  for (const InFlight& m : to_2) {
    if (m.type() != wire::MsgType::catch_up) continue;
    const auto cu = PaxosCluster::decode_as<wire::CatchUp>(m.frame);
    REQUIRE(cu.has_value());
    if (cu->snapshot_slot == 0) continue;
    announced = true;
    CHECK(cu->snapshot_slot == 20);
    CHECK(cu->snapshot_total == 0);
    CHECK(cu->snapshot.size() == kDigestBytes);
  }
  CHECK(announced);
  CHECK(frames_of(to_2, wire::MsgType::tree_nodes) > 0);
  CHECK(frames_of(to_2, wire::MsgType::leaf_entries) > 0);
  // Of 2000 genesis keys, the 20 changed by the snapshot at 20 and the
  // client table entry came as values; the rest was equal and compared by
  // digest (slot 21 came as a chosen batch).
  CHECK(value_entries(to_2) >= 21);
  CHECK(value_entries(to_2) <= 30);
  CHECK_FALSE(c.nodes[2]->disk.contains("sync"));
  CHECK(c.nodes[2]->disk.contains("root"));
}

TEST_CASE("store: a restarted replica resumes from the store without a state transfer") {
  PaxosCluster c = store_cluster();
  c.elect(0);
  for (RequestNo t = 1; t <= 6; ++t) put(c, t, "k" + std::to_string(t), "v");
  const Digest at_4 = c.status(0).state_digest;
  c.crash(2);
  c.start(2);
  CHECK(c.status(2).last_executed == 6);  // "applied": not rebuilt from the snapshot at 4
  CHECK(c.status(2).stable_checkpoint == 4);
  CHECK(c.status(2).state_digest == at_4);
  CHECK(c.status(2).state_transfers == 0);
  for (RequestNo t = 7; t <= 10; ++t) put(c, t, "k" + std::to_string(t), "v");
  c.advance(200'000);
  CHECK(c.status(2).last_executed == 10);
  CHECK(c.status(2).state_transfers == 0);
  CHECK(c.status(2).state_digest == c.status(0).state_digest);
  CHECK(c.nodes[2]->store.get(to_bytes("ak10")) == to_bytes("v"));
}

TEST_CASE("store: a replica restarted between snapshots serves neither; after its next snapshot it serves it") {
  PaxosCluster c = store_cluster();
  c.elect(0);
  for (RequestNo t = 1; t <= 6; ++t) put(c, t, "k" + std::to_string(t), "v");
  c.crash(1);
  c.start(1);  // resumes at 6: the store is past the snapshot at 4, slots 5 and 6 are not kept
  c.tick(1);
  c.network.clear();
  c.input(1, c.frame_as(2, wire::CatchUpRequest{1, 0, 0}));
  c.input(1, c.frame_as(2, wire::CatchUpRequest{5, 0, 0}));
  CHECK(c.queued<wire::CatchUp>(1).empty());
  for (RequestNo t = 7; t <= 8; ++t) put(c, t, "k" + std::to_string(t), "v");
  REQUIRE(c.status(1).stable_checkpoint == 8);
  CHECK(c.status(1).state_digest == c.status(0).state_digest);
  CHECK(c.status(2).state_digest == c.status(0).state_digest);
  CHECK(c.status(0).stable_checkpoint == 8);
  c.network.clear();
  c.input(1, c.frame_as(2, wire::CatchUpRequest{1, 0, 0}));
  const auto answers = c.queued<wire::CatchUp>(1, 2);
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].snapshot_slot == 8);
  CHECK(answers[0].snapshot_total == 0);
  const Digest root = c.status(0).state_digest;
  CHECK(answers[0].snapshot == Bytes(root.begin(), root.end()));
  CHECK(answers[0].chosen.empty());
}

TEST_CASE("store: after a restart of every replica the client table comes back from the store") {
  PaxosCluster c = store_cluster();
  c.elect(0);
  for (RequestNo t = 1; t <= 6; ++t) put(c, t, "k" + std::to_string(t), "v" + std::to_string(t));
  REQUIRE(c.replies(1, 6).size() == 1);
  const Bytes result = c.replies(1, 6).front().second.result;
  for (ReplicaId i = 0; i < c.n(); ++i) c.crash(i);
  for (ReplicaId i = 0; i < c.n(); ++i) c.start(i);
  c.elect(1);
  // A retransmission of the last request gets its cached reply: it does not
  // execute again.
  c.client_inbox.clear();
  c.client_sends(1, c.request(1, 6, kv::encode_put("k6", "v6")), ReplicaId{1});
  c.deliver_all();
  const auto replies = c.replies(1, 6);
  REQUIRE(replies.size() == 1);
  CHECK(replies.front().second.result == result);
  for (ReplicaId i = 0; i < c.n(); ++i) CHECK(c.status(i).last_executed == 6);
}

TEST_CASE("store: a crash in the middle of a transfer; the restarted replica finishes it") {
  PaxosCluster c = store_cluster();
  c.config.snapshot_chunk_bytes = 256;  // a value or two per answer: the transfer takes many
  genesis(c, 500);
  c.elect(0);
  c.crash(2);
  for (RequestNo t = 1; t <= 21; ++t) put(c, t, "g" + std::to_string(t), "changed");
  c.start(2);
  // Crash it at a value it is sent once some buckets are installed: its
  // store is partly the snapshot's state, and "sync" says so.
  auto installed = [&] {
    int changed = 0;
    for (int k = 1; k <= 20; ++k) {
      changed += c.nodes[2]->store.get(to_bytes("ag" + std::to_string(k))) == to_bytes("changed") ? 1 : 0;
    }
    return changed;
  };
  bool crashed = false;
  c.drop = [&](const InFlight& m) {
    if (!crashed && m.to == ReplicaId{2} && m.type() == wire::MsgType::values && installed() > 0) {
      crashed = true;
      c.crash(2);
      return true;
    }
    return false;
  };
  c.advance(1'000'000);
  REQUIRE(crashed);
  CHECK(c.nodes[2]->disk.contains("sync"));
  CHECK(installed() > 0);
  CHECK(installed() < 20);
  c.start(2);
  CHECK(c.status(2).last_executed == 0);  // nothing executes on a partly transferred store
  c.advance(1'000'000);
  CHECK_FALSE(c.nodes[2]->disk.contains("sync"));
  CHECK(c.status(2).state_transfers == 1);
  CHECK(c.status(2).last_executed == 21);
  CHECK(c.status(2).state_digest == c.status(0).state_digest);
  CHECK(c.nodes[2]->store.get(to_bytes("ag21")) == to_bytes("changed"));
}

TEST_CASE("store: the source takes a newer snapshot during the transfer; the transfer moves to it") {
  PaxosCluster c = store_cluster();
  genesis(c, 300);
  c.elect(0);
  c.crash(2);
  for (RequestNo t = 1; t <= 9; ++t) put(c, t, "g" + std::to_string(t), "changed");
  // Replica 2 walks the tree of the snapshot at 8 but hears no answer, while
  // four more slots move the leader's snapshot to 12 (the pin at 8 goes).
  bool stalled = true;
  std::set<Seq> walked;
  c.drop = [&](const InFlight& m) {
    if (m.from == Principal::replica(2) && m.type() == wire::MsgType::fetch_tree) {
      walked.insert(PaxosCluster::decode_as<wire::FetchTree>(m.frame)->seq);
    }
    return stalled && m.to == ReplicaId{2} && m.type() == wire::MsgType::tree_nodes;
  };
  c.start(2);
  c.advance(200'000);
  CHECK(walked == std::set<Seq>{8});
  for (RequestNo t = 10; t <= 13; ++t) put(c, t, "g" + std::to_string(t), "changed");
  CHECK(c.status(0).stable_checkpoint == 12);
  CHECK(c.status(2).last_executed == 0);  // nothing executes meanwhile
  stalled = false;
  c.advance(1'000'000);
  CHECK(walked == std::set<Seq>{8, 12});  // the fetches for 8 went unanswered; the source said 12
  CHECK(c.status(2).state_transfers == 1);
  CHECK(c.status(2).last_executed == 13);
  CHECK(c.status(2).state_digest == c.status(0).state_digest);
}

TEST_CASE("store: durable state of the other kind of application is refused, naming why") {
  PaxosCluster c = store_cluster();
  c.elect(0);
  for (RequestNo t = 1; t <= 5; ++t) put(c, t, "k" + std::to_string(t), "v");
  // A whole state's snapshot with a store-backed application.
  DurableState mixed = c.nodes[1]->disk;
  mixed["snap"] = Bytes{1, 2, 3};
  examples::StoreKv app;
  auto store_core = paxos::make_replica(c.config, 1, c.crypto_of(1), app, c.nodes[1]->store, mixed, 7);
  REQUIRE_FALSE(store_core.has_value());
  CHECK(store_core.error().message.find("whole state's snapshot") != std::string::npos);
  // A store's records with a whole-state application.
  examples::Counter counter;
  auto whole_core = paxos::make_replica(c.config, 1, c.crypto_of(1), counter, c.nodes[1]->disk, 7);
  REQUIRE_FALSE(whole_core.has_value());
  CHECK(whole_core.error().message.find("store-backed") != std::string::npos);
}
