// Multi-Paxos core, rule by rule (PROTOCOL.md, "Multi-Paxos"), driven
// through the core's inputs on a scripted cluster with real signatures.
#include <doctest/doctest.h>

#include <algorithm>

#include "cluster.hpp"
#include "paxos/replica.hpp"

using namespace synod;
using synod::test::InFlight;
using synod::test::PaxosCluster;
namespace counter = synod::examples::counter;

namespace {

std::uint64_t value_of(const wire::Reply& r) {
  auto v = counter::decode_result(r.result);
  REQUIRE(v.has_value());
  return *v;
}

// Client `client` sends one request to replica `to` and everything is delivered.
void send_request(PaxosCluster& c, ClientId client, RequestNo t, Bytes op, ReplicaId to, bool read_only = false) {
  c.client_sends(client, c.request(client, t, std::move(op), read_only), to);
  c.deliver_all();
}

void increment(PaxosCluster& c, ClientId client, RequestNo t, ReplicaId to = 0) {
  send_request(c, client, t, counter::encode_inc(), to);
}

bool is_type(const InFlight& m, wire::MsgType type) { return m.type() == type; }

void set_lease(ClusterConfig& config) { config.lease_duration_ms = 100; }

// Replica 0 campaigns (every replica has started; replica 0 has promised
// ballot (5, 3) first, so its own ballot is (6, 0)); the test plays the
// acceptors: `promises` are signed as replicas 1, 2, ... in order. Returns
// the ACCEPTs replica 0 sends to replica 1.
std::vector<wire::Accept> campaign_with(PaxosCluster& c, std::vector<wire::Promise> promises) {
  for (ReplicaId i = 0; i < c.n(); ++i) c.tick(i);
  c.deliver_all();
  c.input(0, c.frame_as(3, wire::PaxosPrepare{{5, 3}, 1}));
  c.now = std::max(c.now, c.core(0).next_deadline());
  c.network.clear();
  c.tick(0);
  const auto prepares = c.queued<wire::PaxosPrepare>(0);
  REQUIRE(!prepares.empty());
  const wire::Ballot b = prepares.front().ballot;
  CHECK(b == wire::Ballot{6, 0});
  c.network.clear();
  for (std::size_t k = 0; k < promises.size(); ++k) {
    promises[k].ballot = b;
    c.input(0, c.frame_as(static_cast<ReplicaId>(k + 1), promises[k]));
  }
  REQUIRE(c.status(0).is_leader);
  return c.queued<wire::Accept>(0, 1);
}

}  // namespace

// ------------------------------------------------------------------ normal case

TEST_CASE("normal case: a leader is elected, a request is chosen, executed everywhere, one reply") {
  PaxosCluster c;
  c.advance(1'000'000);  // randomised election timeouts: someone wins
  const auto leader = c.the_leader();
  REQUIRE(leader.has_value());
  for (ReplicaId i = 0; i < c.n(); ++i) {
    CHECK(c.status(i).leader == *leader);
    CHECK(c.status(i).view == c.status(*leader).view);
  }
  increment(c, 1, 1, *leader);
  for (ReplicaId i = 0; i < c.n(); ++i) {
    CHECK(c.status(i).last_executed == 1);
    CHECK(c.nodes[i]->app.value() == 1);
  }
  const auto replies = c.replies(1, 1);
  REQUIRE(replies.size() == 1);  // paxos: the leader alone answers
  CHECK(replies[0].first == *leader);
  CHECK(replies[0].second.status == wire::ReplyStatus::ok);
  CHECK(value_of(replies[0].second) == 1);
}

TEST_CASE("a follower redirects a client to the leader it believes in") {
  PaxosCluster c;
  c.elect(0);
  increment(c, 1, 1, 2);
  const auto replies = c.replies(1, 1);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].first == 2);
  CHECK(replies[0].second.status == wire::ReplyStatus::not_leader);
  CHECK(replies[0].second.leader == 0);
  for (ReplicaId i = 0; i < c.n(); ++i) CHECK(c.status(i).last_executed == 0);
}

TEST_CASE("batching: requests arriving while a slot is in flight share the next accept") {
  PaxosCluster c;
  c.elect(0);
  c.network.clear();
  c.input(0, c.request(1, 1, counter::encode_inc()));  // goes out at once: nothing in flight
  c.input(0, c.request(2, 1, counter::encode_inc()));
  c.input(0, c.request(3, 1, counter::encode_inc()));
  auto accepts = c.queued<wire::Accept>(0, 1);
  REQUIRE(accepts.size() == 1);  // the other two wait for the batch timeout
  c.now += c.config.batch_timeout_us;
  c.tick(0);
  accepts = c.queued<wire::Accept>(0, 1);
  REQUIRE(accepts.size() == 2);
  CHECK(accepts[1].slot == 2);
  CHECK(accepts[1].batch.size() == 2);
}

TEST_CASE("the leader keeps at most `window` slots in flight") {
  PaxosCluster c(1, {}, [](ClusterConfig& cfg) { cfg.batch_max_requests = 1; });
  c.elect(0);
  c.drop = [](const InFlight& m) { return is_type(m, wire::MsgType::accepted); };
  for (ClientId client = 1; client <= 3; ++client) {
    for (RequestNo t = 1; t <= 4; ++t) c.input(0, c.request(client, t, counter::encode_inc()));
  }
  c.now += c.config.batch_timeout_us;
  c.tick(0);
  wire::Slot highest = 0;
  for (const auto& a : c.queued<wire::Accept>(0, 1)) highest = std::max(highest, a.slot);
  CHECK(highest == c.config.window);
  CHECK(c.status(0).last_executed == 0);
}

TEST_CASE("learners execute in slot order and the commit index reaches them") {
  PaxosCluster c;
  c.elect(0);
  for (RequestNo t = 1; t <= 3; ++t) increment(c, 1, t);
  for (ReplicaId i = 0; i < c.n(); ++i) {
    REQUIRE(c.nodes[i]->executed.size() == 3);
    for (std::size_t k = 0; k < 3; ++k) {
      CHECK(c.nodes[i]->executed[k].seq == k + 1);
      CHECK(c.nodes[i]->executed[k].batch_digest == c.nodes[0]->executed[k].batch_digest);
    }
  }
}

// ------------------------------------------------------------------ phase 1

TEST_CASE("phase 1: the new leader re-proposes the value with the highest ballot") {
  PaxosCluster c(2);
  const wire::Batch low{c.signed_request(1, 1, counter::encode_add(5))};
  const wire::Batch high{c.signed_request(2, 1, counter::encode_add(7))};
  const auto accepts = campaign_with(c, {
                                            wire::Promise{{}, 1, 0, {{1, {2, 1}, low}}, false},
                                            wire::Promise{{}, 1, 0, {{1, {4, 2}, high}}, false},
                                        });
  REQUIRE(accepts.size() == 1);
  CHECK(accepts[0].slot == 1);
  CHECK(accepts[0].batch == high);
  c.deliver_all();
  CHECK(c.nodes[0]->app.value() == 7);
}

TEST_CASE("phase 1: gaps below a reported slot become no-ops") {
  PaxosCluster c(2);
  const wire::Batch value{c.signed_request(1, 1, counter::encode_add(9))};
  const auto accepts = campaign_with(c, {
                                            wire::Promise{{}, 1, 0, {{3, {2, 1}, value}}, false},
                                            wire::Promise{{}, 1, 0, {}, false},
                                        });
  REQUIRE(accepts.size() == 3);
  CHECK(accepts[0].slot == 1);
  CHECK(accepts[0].batch.empty());
  CHECK(accepts[1].slot == 2);
  CHECK(accepts[1].batch.empty());
  CHECK(accepts[2].slot == 3);
  CHECK(accepts[2].batch == value);
  c.deliver_all();
  CHECK(c.status(0).last_executed == 3);
  CHECK(c.nodes[0]->app.value() == 9);
}

TEST_CASE("phase 1 runs once per leadership: later requests need no new prepare") {
  PaxosCluster c;
  c.elect(0);
  std::size_t prepares = 0;
  c.drop = [&](const InFlight& m) {
    prepares += is_type(m, wire::MsgType::paxos_prepare) ? 1 : 0;
    return false;
  };
  for (RequestNo t = 1; t <= 5; ++t) increment(c, 1, t);
  CHECK(prepares == 0);
  CHECK(c.status(0).last_executed == 5);
}

TEST_CASE("a higher ballot in a Nack makes the leader step down") {
  PaxosCluster c;
  c.elect(0);
  const View round = c.status(0).view;
  c.input(0, c.frame_as(1, wire::Nack{{round, 0}}));  // its own ballot: stale, nothing happens
  CHECK(c.status(0).is_leader);
  c.input(0, c.frame_as(1, wire::Nack{{round + 1, 1}}));
  CHECK_FALSE(c.status(0).is_leader);
  c.client_inbox.clear();
  c.network.clear();
  increment(c, 1, 1, 0);
  REQUIRE(c.replies(1, 1).size() == 1);
  CHECK(c.replies(1, 1)[0].second.status == wire::ReplyStatus::not_leader);
}

TEST_CASE("a leader that hears a higher ballot follows its leader") {
  PaxosCluster c;
  c.elect(0);
  const View round = c.status(0).view;
  c.input(0, c.frame_as(2, wire::Heartbeat{{round + 1, 2}, 0, 1}));
  CHECK_FALSE(c.status(0).is_leader);
  CHECK(c.status(0).leader == 2);
  CHECK(c.status(0).view == round + 1);
}

TEST_CASE("leader liveness: when the leader crashes another is elected with a higher ballot") {
  PaxosCluster c;
  c.elect(0);
  increment(c, 1, 1);
  const View old_round = c.status(0).view;
  c.crash(0);
  c.advance(2'000'000);
  const auto leader = c.the_leader();
  REQUIRE(leader.has_value());
  CHECK(*leader != 0);
  CHECK(c.status(*leader).view > old_round);
  increment(c, 1, 2, *leader);
  for (ReplicaId i = 1; i < c.n(); ++i) CHECK(c.nodes[i]->app.value() == 2);
  CHECK(c.status(*leader).view_changes >= 2);
}

TEST_CASE("dueling proposers settle on one leader") {
  PaxosCluster c;
  for (ReplicaId i = 0; i < c.n(); ++i) c.tick(i);
  c.deliver_all();
  // Replicas 1 and 2 both time out before either hears from the other.
  c.now = std::max(c.core(1).next_deadline(), c.core(2).next_deadline());
  c.tick(1);
  c.tick(2);
  c.deliver_all();
  c.advance(3'000'000);
  const auto leader = c.the_leader();
  REQUIRE(leader.has_value());
  for (ReplicaId i = 0; i < c.n(); ++i) CHECK(c.status(i).leader == *leader);
  increment(c, 1, 1, *leader);
  for (ReplicaId i = 0; i < c.n(); ++i) CHECK(c.nodes[i]->app.value() == 1);
}

// ------------------------------------------------------------------ durability

TEST_CASE("a restarted acceptor keeps its promise: it refuses a lower ballot") {
  PaxosCluster c;
  for (ReplicaId i = 0; i < c.n(); ++i) c.tick(i);
  c.input(1, c.frame_as(2, wire::PaxosPrepare{{5, 2}, 1}));
  c.network.clear();
  c.crash(1);
  c.start(1);
  c.input(1, c.frame_as(0, wire::Accept{{3, 0}, 1, {}, 0}));
  CHECK(c.queued<wire::Accepted>(1).empty());
  const auto nacks = c.queued<wire::Nack>(1);
  REQUIRE(nacks.size() == 1);
  CHECK(nacks[0].promised == wire::Ballot{5, 2});
}

TEST_CASE("a restarted acceptor still reports what it accepted") {
  PaxosCluster c;
  for (ReplicaId i = 0; i < c.n(); ++i) c.tick(i);
  const wire::Batch value{c.signed_request(1, 1, counter::encode_add(3))};
  c.input(1, c.frame_as(2, wire::Accept{{5, 2}, 1, value, 0}));
  c.network.clear();
  c.crash(1);
  c.start(1);
  c.input(1, c.frame_as(0, wire::PaxosPrepare{{6, 0}, 1}));
  const auto promises = c.queued<wire::Promise>(1);
  REQUIRE(promises.size() == 1);
  REQUIRE(promises[0].accepted.size() == 1);
  CHECK(promises[0].accepted[0].slot == 1);
  CHECK(promises[0].accepted[0].ballot == wire::Ballot{5, 2});
  CHECK(promises[0].accepted[0].batch == value);
}

TEST_CASE("snapshots every K slots truncate the log on disk") {
  PaxosCluster c;
  c.elect(0);
  for (RequestNo t = 1; t <= 5; ++t) increment(c, 1, t);
  for (ReplicaId i = 0; i < c.n(); ++i) {
    CHECK(c.status(i).stable_checkpoint == 4);
    CHECK(c.status(i).state_digest == c.status(0).state_digest);
    CHECK(c.nodes[i]->disk.contains("snap"));
    CHECK_FALSE(c.nodes[i]->disk.contains(paxos::accepted_key(4)));
    CHECK(c.nodes[i]->disk.contains(paxos::accepted_key(5)));
  }
}

TEST_CASE("durable state that this core did not write is refused with an error") {
  PaxosCluster c;
  examples::Counter app;
  const DurableState bad{{"promised", Bytes{1, 2}}};
  CHECK_FALSE(paxos::make_replica(c.config, 1, c.crypto_of(1), app, bad, 7).has_value());
  const DurableState unknown{{"view", Bytes{}}};
  CHECK_FALSE(paxos::make_replica(c.config, 1, c.crypto_of(1), app, unknown, 7).has_value());
  ClusterConfig pbft = c.config;
  pbft.protocol = Protocol::pbft;
  CHECK_FALSE(paxos::make_replica(pbft, 1, c.crypto_of(1), app, {}, 7).has_value());
}

// ------------------------------------------------------------------ catch-up

TEST_CASE("catch-up: a lagging replica learns chosen slots from the leader") {
  PaxosCluster c;
  c.elect(0);
  c.drop = [](const InFlight& m) { return m.to == ReplicaId{2}; };
  for (RequestNo t = 1; t <= 3; ++t) increment(c, 1, t);
  CHECK(c.status(2).last_executed == 0);
  c.heal();
  c.advance(100'000);  // a heartbeat brings the commit index; replica 2 asks
  CHECK(c.status(2).last_executed == 3);
  CHECK(c.nodes[2]->app.value() == 3);
  CHECK(c.status(2).state_transfers == 0);
}

TEST_CASE("catch-up: a restarted replica behind a snapshot gets it plus the slots after it") {
  PaxosCluster c;
  c.elect(0);
  c.crash(2);
  for (RequestNo t = 1; t <= 6; ++t) increment(c, 1, t);
  c.nodes[2]->disk.clear();  // a new disk: everything comes from the leader
  c.start(2);
  c.advance(200'000);
  CHECK(c.status(2).state_transfers == 1);
  CHECK(c.status(2).last_executed == 6);
  CHECK(c.status(2).stable_checkpoint == 4);
  CHECK(c.status(2).state_digest == c.status(0).state_digest);
  CHECK(c.nodes[2]->app.value() == 6);
  CHECK(c.nodes[2]->disk.contains("snap"));  // the installed snapshot is durable
}

TEST_CASE("catch-up: a snapshot larger than a chunk comes in chunks, the slots after it with the last") {
  PaxosCluster c;
  c.config.snapshot_chunk_bytes = 8;
  for (ReplicaId i = 0; i < c.n(); ++i) {
    c.crash(i);
    c.start(i);
  }
  c.elect(0);
  c.crash(2);
  for (RequestNo t = 1; t <= 6; ++t) increment(c, 1, t);
  c.nodes[2]->disk.clear();
  c.start(2);
  std::vector<wire::CatchUp> answers;
  c.drop = [&](const InFlight& m) {
    if (m.to == ReplicaId{2} && m.type() == wire::MsgType::catch_up) {
      auto cu = PaxosCluster::decode_as<wire::CatchUp>(m.frame);
      REQUIRE(cu.has_value());
      answers.push_back(*cu);
    }
    return false;
  };
  c.advance(400'000);
  REQUIRE(answers.size() > 2);
  const std::uint64_t total = answers.front().snapshot_total;
  std::uint64_t expected_offset = 0;
  for (const wire::CatchUp& cu : answers) {
    if (cu.snapshot_slot == 0) continue;
    CHECK(cu.snapshot_total == total);
    CHECK(cu.snapshot_offset == expected_offset);  // in order, none twice
    CHECK(cu.snapshot.size() <= 8);
    const bool last = cu.snapshot_offset + cu.snapshot.size() == total;
    CHECK(cu.chosen.empty() != last);  // slots 5 and 6 come with the last chunk
    expected_offset += cu.snapshot.size();
  }
  CHECK(expected_offset == total);
  CHECK(c.status(2).state_transfers == 1);
  CHECK(c.status(2).last_executed == 6);
  CHECK(c.status(2).state_digest == c.status(0).state_digest);
  CHECK(c.nodes[2]->app.value() == 6);
}

TEST_CASE("a new leader behind a promiser's chosen prefix catches up before it leads") {
  PaxosCluster c(2);
  const wire::Batch value{c.signed_request(1, 1, counter::encode_add(4))};
  for (ReplicaId i = 0; i < c.n(); ++i) c.tick(i);
  c.deliver_all();
  c.now = std::max(c.now, c.core(0).next_deadline());
  c.tick(0);
  const wire::Ballot b = c.queued<wire::PaxosPrepare>(0).front().ballot;
  c.network.clear();
  c.input(0, c.frame_as(1, wire::Promise{b, 1, 1, {}, false}));  // replica 1 knows slot 1 chosen
  c.input(0, c.frame_as(2, wire::Promise{b, 1, 0, {}, false}));
  CHECK_FALSE(c.status(0).is_leader);
  const auto asks = c.queued<wire::CatchUpRequest>(0, 1);
  REQUIRE(asks.size() == 1);
  CHECK(asks[0].from_slot == 1);
  c.network.clear();
  c.input(0, c.frame_as(1, wire::CatchUp{b, 0, 0, 0, {}, {{1, value}}}));
  CHECK(c.status(0).is_leader);
  CHECK(c.status(0).last_executed == 1);
  CHECK(c.nodes[0]->app.value() == 4);
}

// ------------------------------------------------------------------ clients

TEST_CASE("at-most-once: a retransmitted request gets the cached reply and does not execute again") {
  PaxosCluster c;
  c.elect(0);
  // Twice while in flight, then once more after it executed.
  c.client_sends(1, c.request(1, 1, counter::encode_inc()), 0);
  c.client_sends(1, c.request(1, 1, counter::encode_inc()), 0);
  c.deliver_all();
  c.client_inbox.clear();
  increment(c, 1, 1);
  CHECK(c.status(0).last_executed == 1);
  CHECK(c.nodes[0]->app.value() == 1);
  const auto replies = c.replies(1, 1);
  REQUIRE(replies.size() == 1);
  CHECK(value_of(replies[0].second) == 1);
}

TEST_CASE("requests from unknown clients or with bad signatures are rejected and counted") {
  PaxosCluster c;
  c.elect(0);
  Bytes forged = c.request(1, 1, counter::encode_inc());
  forged.back() ^= 0x01;  // the last byte is in the authenticator
  c.client_sends(1, forged, 0);
  c.deliver_all();
  CHECK(c.rejected(0, Rejection::bad_authenticator) == 1);

  const wire::Request unknown{99, 1, false, counter::encode_inc()};
  c.input(0, wire::make_frame(Principal::client(99), unknown, [](ByteView) { return Bytes(64, 0); }));
  CHECK(c.rejected(0, Rejection::unknown_sender) == 1);
  c.deliver_all();
  CHECK(c.status(0).last_executed == 0);
  CHECK(c.client_inbox.empty());
}

TEST_CASE("replica messages with a bad signature or a forged ballot are rejected") {
  PaxosCluster c;
  c.elect(0);
  Bytes forged = c.frame_as(1, wire::Nack{{99, 1}});
  forged.back() ^= 0x01;
  c.input(0, forged);
  CHECK(c.rejected(0, Rejection::bad_authenticator) == 1);
  CHECK(c.status(0).is_leader);
  // Replica 1 cannot prepare under replica 2's name.
  c.input(0, c.frame_as(1, wire::PaxosPrepare{{99, 2}, 1}));
  CHECK(c.rejected(0, Rejection::invalid) == 1);
  CHECK(c.status(0).is_leader);
}

TEST_CASE("MAC mode: replica messages carry one MAC per replica, and a receiver checks its own") {
  PaxosCluster c(1, {}, [](ClusterConfig& config) { config.authentication = Authentication::macs; });
  c.elect(0);  // prepares and promises authenticate by MAC
  c.client_sends(1, c.request(1, 1, counter::encode_inc()), 0);
  c.deliver_all();
  CHECK(c.status(0).last_executed == 1);
  CHECK(c.status(1).last_executed == 1);
  CHECK(c.rejected(0, Rejection::bad_authenticator) == 0);

  const wire::Nack nack{{0, 1}};
  const Bytes good = c.frame_as(1, nack);
  auto env = wire::decode_envelope(good);
  REQUIRE(env.has_value());
  CHECK(env->authenticator.size() == c.n() * kMacBytes);
  // Only replica 0's slot matters at replica 0.
  Bytes other_slot = good;
  other_slot.back() ^= 0x01;  // the last byte is in replica 2's MAC
  c.input(0, other_slot);
  CHECK(c.rejected(0, Rejection::bad_authenticator) == 0);
  // A signature, as in signature mode, does not do.
  const auto& crypto1 = c.crypto_of(1);
  c.input(0, wire::make_frame(Principal::replica(1), nack, [&](ByteView in) { return crypto1.sign(in); }));
  CHECK(c.rejected(0, Rejection::bad_authenticator) == 1);
  // Nor does replica 0's slot under another key: replica 2's MAC for 0, claimed by replica 1.
  const auto& crypto2 = c.crypto_of(2);
  c.input(0, wire::make_frame(Principal::replica(1), nack, [&](ByteView in) {
    return wire::paxos_replica_authenticator(c.config, crypto2, 2, in);
  }));
  CHECK(c.rejected(0, Rejection::bad_authenticator) == 2);
  CHECK(c.status(0).is_leader);
}

// ------------------------------------------------------------------ leases

TEST_CASE("leases: the leader serves a read alone while it holds f+1 grants") {
  PaxosCluster c(1, {}, set_lease);
  c.elect(0);
  c.advance(200'000);   // the new leader waits out any old lease
  increment(c, 1, 1);   // ACCEPTED renews the grants
  send_request(c, 2, 1, counter::encode_get(), 0, true);
  const auto replies = c.replies(2, 1);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].second.read_only);
  CHECK(value_of(replies[0].second) == 1);
  CHECK(c.status(0).last_executed == 1);  // not ordered
}

TEST_CASE("without leases a read goes through the log") {
  PaxosCluster c;
  c.elect(0);
  increment(c, 1, 1);
  send_request(c, 2, 1, counter::encode_get(), 0, true);
  const auto replies = c.replies(2, 1);
  REQUIRE(replies.size() == 1);
  CHECK_FALSE(replies[0].second.read_only);
  CHECK(value_of(replies[0].second) == 1);
  CHECK(c.status(0).last_executed == 2);  // ordered in slot 2
}

TEST_CASE("leases: a new leader serves no lease read before the old lease surely expired") {
  PaxosCluster c(1, {}, set_lease);
  c.elect(0);
  increment(c, 1, 1);  // grants are fresh, but the leader was just elected
  send_request(c, 2, 1, counter::encode_get(), 0, true);
  const auto replies = c.replies(2, 1);
  REQUIRE(replies.size() == 1);
  CHECK_FALSE(replies[0].second.read_only);
  CHECK(c.status(0).last_executed == 2);
}

TEST_CASE("leases: once the grants run out the leader stops serving local reads") {
  PaxosCluster c(1, {}, set_lease);
  c.elect(0);
  c.advance(200'000);
  increment(c, 1, 1);
  // The followers go silent; the lease (100 ms) runs out, no election yet.
  c.drop = [](const InFlight& m) { return m.from != Principal::replica(0) && m.to == ReplicaId{0}; };
  c.advance(150'000);
  REQUIRE(c.status(0).is_leader);
  send_request(c, 2, 1, counter::encode_get(), 0, true);
  CHECK(c.replies(2, 1).empty());  // ordered, and no ACCEPTED comes back
}

TEST_CASE("leases: an idle leader keeps its lease: heartbeat echoes renew the grants") {
  PaxosCluster c(1, {}, set_lease);
  c.elect(0);
  c.advance(200'000);
  increment(c, 1, 1);
  // A long idle stretch, many lease durations: nothing is written, so the
  // commit index never changes; only heartbeats and their echoes flow.
  c.advance(1'000'000);
  REQUIRE(c.status(0).is_leader);
  const Seq executed = c.status(0).last_executed;
  send_request(c, 2, 1, counter::encode_get(), 0, true);
  const auto replies = c.replies(2, 1);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].second.read_only);  // served from the lease, not ordered
  CHECK(value_of(replies[0].second) == 1);
  CHECK(c.status(0).last_executed == executed);
}

TEST_CASE("leases: heartbeats are numbered and an echo of an old one earns no fresh grant") {
  PaxosCluster c(1, {}, set_lease);
  c.elect(0);
  c.advance(200'000);
  increment(c, 1, 1);
  // Every heartbeat the leader sends carries a new sequence number.
  c.drop = [](const InFlight& m) { return m.from != Principal::replica(0) && m.to == ReplicaId{0}; };
  c.network.clear();
  c.now = std::max(c.now, c.core(0).next_deadline());
  c.tick(0);
  const auto first = c.queued<wire::Heartbeat>(0, 1);
  REQUIRE(first.size() == 1);
  c.network.clear();
  c.now = std::max(c.now + 1, c.core(0).next_deadline());
  c.tick(0);
  const auto second = c.queued<wire::Heartbeat>(0, 1);
  REQUIRE(second.size() == 1);
  CHECK(second[0].sequence > first[0].sequence);
  c.network.clear();
  // The followers fall silent past the lease; then an echo of the first
  // heartbeat arrives late. It vouches only for the time that heartbeat
  // was sent, long ago: the leader must not serve a local read on it.
  c.advance(150'000);
  REQUIRE(c.status(0).is_leader);
  c.drop = [](const InFlight&) { return false; };
  c.input(0, c.frame_as(1, first[0]));
  c.input(0, c.frame_as(2, first[0]));
  c.network.clear();
  c.drop = [](const InFlight& m) { return m.from != Principal::replica(0) && m.to == ReplicaId{0}; };
  send_request(c, 2, 1, counter::encode_get(), 0, true);
  CHECK(c.replies(2, 1).empty());  // ordered (and no ACCEPTED comes back), never a local read
}

TEST_CASE("leases: a follower promises no phase 1 to a rival before the lease expires") {
  PaxosCluster c(1, {}, set_lease);
  c.elect(0);
  const View round = c.status(0).view;
  c.network.clear();
  c.input(1, c.frame_as(2, wire::PaxosPrepare{{round + 1, 2}, 1}));
  CHECK(c.queued<wire::Promise>(1).empty());
  c.now += 150'000;  // past the lease on replica 1's clock
  c.input(1, c.frame_as(2, wire::PaxosPrepare{{round + 1, 2}, 1}));
  CHECK(c.queued<wire::Promise>(1).size() == 1);
}

// ------------------------------------------------------------------ deliberately broken variants

TEST_CASE("bug skip_promise_persistence: a restarted acceptor accepts a ballot below its promise") {
  PaxosCluster c(1, paxos::Bugs{.skip_promise_persistence = true});
  for (ReplicaId i = 0; i < c.n(); ++i) c.tick(i);
  c.input(1, c.frame_as(2, wire::PaxosPrepare{{5, 2}, 1}));
  c.network.clear();
  c.crash(1);
  c.start(1);
  c.input(1, c.frame_as(0, wire::Accept{{3, 0}, 1, {}, 0}));
  CHECK(c.queued<wire::Accepted>(1).size() == 1);
  CHECK(c.queued<wire::Nack>(1).empty());
}

TEST_CASE("bug ignore_promised_values: the new leader drops the reported values") {
  PaxosCluster c(2, paxos::Bugs{.ignore_promised_values = true});
  const wire::Batch value{c.signed_request(2, 1, counter::encode_add(7))};
  const auto accepts = campaign_with(c, {
                                            wire::Promise{{}, 1, 0, {{1, {4, 2}, value}}, false},
                                            wire::Promise{{}, 1, 0, {}, false},
                                        });
  CHECK(accepts.empty());  // slot 1 is free for a new request: the reported value is lost
}

TEST_CASE("bug chosen_on_f_accepts: the leader executes on its own accept alone") {
  for (const bool buggy : {false, true}) {
    CAPTURE(buggy);
    PaxosCluster c(1, paxos::Bugs{.chosen_on_f_accepts = buggy});
    c.elect(0);
    c.drop = [](const InFlight& m) { return is_type(m, wire::MsgType::accepted); };
    increment(c, 1, 1);
    CHECK(c.status(0).last_executed == (buggy ? 1 : 0));
  }
}

TEST_CASE("bug lease_read_without_lease: the leader answers a read alone without a lease") {
  for (const bool buggy : {false, true}) {
    CAPTURE(buggy);
    PaxosCluster c(1, paxos::Bugs{.lease_read_without_lease = buggy});  // leases are off
    c.elect(0);
    increment(c, 1, 1);
    send_request(c, 2, 1, counter::encode_get(), 0, true);
    const auto replies = c.replies(2, 1);
    REQUIRE(replies.size() == 1);
    CHECK(replies[0].second.read_only == buggy);
    CHECK(c.status(0).last_executed == (buggy ? 1 : 2));
  }
}

// ------------------------------------------------------------------ promises in parts

namespace {

// Frames of at most 4 KiB: a promise reporting several 1000-byte requests
// does not fit in one (a promise carries at most half a frame).
void small_frames(ClusterConfig& config) {
  config.max_frame_bytes = 4096;
  config.max_request_bytes = 1024;
  config.batch_max_bytes = 2048;
}

}  // namespace

TEST_CASE("promises in parts: an acceptor's promise never exceeds the frame cap; the parts cover every slot") {
  PaxosCluster c(1, {}, small_frames);
  for (ReplicaId i = 0; i < c.n(); ++i) c.tick(i);
  c.network.clear();
  constexpr wire::Slot kSlots = 6;
  for (wire::Slot slot = 1; slot <= kSlots; ++slot) {
    const wire::Batch value{c.signed_request(1, slot, Bytes(1000, static_cast<std::uint8_t>('a' + slot)))};
    c.input(1, c.frame_as(0, wire::Accept{{1, 0}, slot, value, 0}));
  }
  c.network.clear();
  std::vector<wire::Slot> reported;
  std::size_t parts = 0;
  wire::PaxosPrepare prepare{{2, 2}, 1};
  for (int round = 0; round < 20; ++round) {
    c.input(1, c.frame_as(2, prepare));
    std::optional<wire::Promise> promise;
    for (const InFlight& m : c.network) {
      if (m.from != Principal::replica(1) || m.type() != wire::MsgType::promise) continue;
      CHECK(m.frame.size() <= 4096);
      promise = PaxosCluster::decode_as<wire::Promise>(m.frame);
    }
    c.network.clear();
    REQUIRE(promise.has_value());
    ++parts;
    CHECK(promise->from_slot == prepare.from_slot);
    for (const wire::AcceptedEntry& e : promise->accepted) reported.push_back(e.slot);
    if (!promise->more) break;
    REQUIRE_FALSE(promise->accepted.empty());
    prepare.from_slot = promise->accepted.back().slot + 1;
  }
  CHECK(parts > 1);
  CHECK(reported == std::vector<wire::Slot>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("promises in parts: the candidate asks for the rest and counts the voter once it is whole") {
  PaxosCluster c(1, {}, small_frames);
  for (ReplicaId i = 0; i < c.n(); ++i) c.tick(i);
  c.deliver_all();
  c.now = std::max(c.now, c.core(0).next_deadline());
  c.tick(0);
  const auto prepares = c.queued<wire::PaxosPrepare>(0, 1);
  REQUIRE(!prepares.empty());
  const wire::Ballot b = prepares.front().ballot;
  c.network.clear();
  const wire::Batch first{c.signed_request(1, 1, Bytes(1000, 'x'))};
  const wire::Batch second{c.signed_request(2, 1, Bytes(1000, 'y'))};
  c.input(0, c.frame_as(1, wire::Promise{b, 1, 0, {{1, {0, 0}, first}}, true}));
  CHECK_FALSE(c.status(0).is_leader);  // half a promise is no vote
  const auto more = c.queued<wire::PaxosPrepare>(0, 1);
  REQUIRE(more.size() == 1);
  CHECK(more[0].ballot == b);
  CHECK(more[0].from_slot == 2);
  c.network.clear();
  // A stale copy of the first part is not the part asked for.
  c.input(0, c.frame_as(1, wire::Promise{b, 1, 0, {{1, {0, 0}, first}}, true}));
  CHECK(c.rejected(0, Rejection::invalid) == 1);
  CHECK_FALSE(c.status(0).is_leader);
  c.input(0, c.frame_as(1, wire::Promise{b, 2, 0, {{2, {0, 0}, second}}, false}));
  REQUIRE(c.status(0).is_leader);
  const auto accepts = c.queued<wire::Accept>(0, 1);
  REQUIRE(accepts.size() == 2);
  CHECK(accepts[0].slot == 1);
  CHECK(accepts[0].batch == first);  // both parts' values are re-proposed
  CHECK(accepts[1].slot == 2);
  CHECK(accepts[1].batch == second);
}

// batch_max_requests (like batch_max_bytes and max_request_bytes) bounds what
// a leader proposes; values the acceptors accepted under a larger bound must
// still load from disk and be chosen after a restart with a smaller one.
TEST_CASE("a lower batch bound after a restart: an accepted larger batch still loads and is chosen") {
  PaxosCluster c;
  c.elect(0);
  c.drop = [](const InFlight& m) { return is_type(m, wire::MsgType::accepted); };
  c.input(0, c.request(1, 1, counter::encode_add(1)));  // slot 1, at once
  c.input(0, c.request(2, 1, counter::encode_add(10)));
  c.input(0, c.request(3, 1, counter::encode_add(100)));
  c.now += c.config.batch_timeout_us;
  c.tick(0);  // slot 2: both waiting requests
  c.deliver_all();
  REQUIRE(c.status(1).last_executed == 0);
  for (ReplicaId i = 0; i < c.n(); ++i) c.crash(i);
  c.config.batch_max_requests = 1;
  for (ReplicaId i = 0; i < c.n(); ++i) c.start(i);
  c.heal();
  c.advance(2'000'000);
  for (ReplicaId i = 0; i < c.n(); ++i) {
    CHECK(c.status(i).last_executed >= 2);
    CHECK(c.nodes[i]->app.value() == 111);
  }
}

TEST_CASE("durable state written under another checkpoint interval, window or f is refused, naming the change") {
  PaxosCluster c;
  c.elect(0);
  increment(c, 1, 1);
  REQUIRE(c.nodes[1]->disk.contains("shape"));
  examples::Counter app;
  ClusterConfig changed = c.config;
  changed.checkpoint_interval = 2;
  auto r = paxos::make_replica(changed, 1, c.crypto_of(1), app, c.nodes[1]->disk, 7);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::invalid_config);
  CHECK(r.error().message.find("written with checkpoint_interval = 4;") != std::string::npos);
  changed = c.config;
  changed.batch_max_requests = 1;
  CHECK(paxos::make_replica(changed, 1, c.crypto_of(1), app, c.nodes[1]->disk, 7).has_value());
}
