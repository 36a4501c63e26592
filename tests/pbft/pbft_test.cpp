// PBFT core, rule by rule (PROTOCOL.md, "PBFT"), driven through the core's
// inputs on a scripted cluster with real signatures.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>

#include "cluster.hpp"
#include "pbft/new_view.hpp"
#include "pbft/replica.hpp"

using namespace synod;
using synod::test::Cluster;
namespace counter = synod::examples::counter;

namespace {

std::uint64_t value_of(const wire::Reply& r) {
  auto v = counter::decode_result(r.result);
  REQUIRE(v.has_value());
  return *v;
}

// Client c increments through the primary of view 0 and everything is delivered.
void increment(Cluster& c, ClientId client, RequestNo t, std::optional<ReplicaId> to = ReplicaId{0}) {
  c.client_sends(client, c.request(client, t, counter::encode_inc()), to);
  c.deliver_all();
}

// Drops every COMMIT of view 0: requests prepare but never commit there.
bool commit_of_view_0(const synod::test::InFlight& m) {
  if (m.type() != wire::MsgType::commit) return false;
  return Cluster::decode_as<wire::Commit>(m.frame)->view == 0;
}

// The request prepares everywhere but commits nowhere (view 0's commits are
// lost), the primary crashes, and the view change to view 1 runs with its
// NEW-VIEW held back instead of delivered: returned. `also_drop` loses more.
Bytes held_new_view(Cluster& c, std::function<bool(const synod::test::InFlight&)> also_drop = {}) {
  c.drop = commit_of_view_0;
  c.client_sends(1, c.request(1, 1, counter::encode_add(7)), 0);
  c.deliver_all();
  c.crash(0);
  std::optional<Bytes> new_view;
  c.drop = [&](const synod::test::InFlight& m) {
    if (commit_of_view_0(m) || (also_drop && also_drop(m))) return true;
    if (m.type() != wire::MsgType::new_view) return false;
    new_view = m.frame;
    return true;
  };
  c.client_sends(1, c.request(1, 1, counter::encode_add(7)));
  c.deliver_all();
  c.advance(1'500'000);
  c.drop = commit_of_view_0;  // the one above refers to locals
  REQUIRE(new_view.has_value());
  return *new_view;
}

}  // namespace

TEST_CASE("normal case: a request executes at every replica and the client gets matching replies") {
  Cluster c;
  increment(c, 1, 1);
  for (ReplicaId i = 0; i < c.n(); ++i) {
    CHECK(c.status(i).last_executed == 1);
    CHECK(c.nodes[i]->app.value() == 1);
  }
  auto replies = c.replies(1, 1);
  CHECK(replies.size() == c.n());  // at least f+1 are needed; all 4 answer
  for (const auto& [i, r] : replies) {
    CHECK(value_of(r) == 1);
    CHECK(r.view == 0);
  }
}

TEST_CASE("execution is in sequence order with no gaps") {
  Cluster c;
  // Hold back everything for seq 1 at replica 3, let seq 2 commit.
  c.drop = [](const synod::test::InFlight& m) {
    return m.to == ReplicaId{3} && m.type() == wire::MsgType::commit;
  };
  increment(c, 1, 1);
  increment(c, 2, 1);
  CHECK(c.status(0).last_executed == 2);
  CHECK(c.status(3).last_executed == 0);  // prepared but not committed: nothing executes
  CHECK(c.nodes[3]->executed.empty());
}

TEST_CASE("at-most-once: a retransmitted request gets the cached reply and does not execute again") {
  Cluster c;
  increment(c, 1, 1);
  c.client_inbox.clear();
  increment(c, 1, 1);  // same t again
  CHECK(c.status(0).last_executed == 1);
  CHECK(c.nodes[0]->app.value() == 1);
  auto replies = c.replies(1, 1);
  REQUIRE(!replies.empty());
  CHECK(value_of(replies.begin()->second) == 1);
}

TEST_CASE("requests from unknown clients or with bad signatures are rejected and counted") {
  Cluster c;
  Bytes forged = c.request(1, 1, counter::encode_inc());
  forged.back() ^= 0x01;  // the last byte is in the authenticator
  c.client_sends(1, forged, 0);
  c.deliver_all();
  CHECK(c.rejected(0, Rejection::bad_authenticator) == 1);

  const wire::Request unknown{99, 1, false, counter::encode_inc()};
  c.network.push_back({Principal::client(99), 0, 0, wire::make_frame(Principal::client(99), unknown, [](ByteView) { return Bytes(64, 0); })});
  c.deliver_all();
  CHECK(c.rejected(0, Rejection::unknown_sender) == 1);
  CHECK(c.status(0).last_executed == 0);
}

TEST_CASE("requests that would be dropped anyway are rejected before their signature is checked") {
  // A bad signature is counted as such only when the replica verified it:
  // a stale request or one over its client's quota is rejected for that
  // reason first, and an identical copy of a held request is forwarded as a
  // retransmission, so a flooding client costs no signature checks there.
  Cluster c;
  c.config.max_pending_per_client = 1;
  for (ReplicaId i = 0; i < c.n(); ++i) c.start(i);  // with the new config (nothing persisted yet)
  c.client_sends(1, c.request(1, 1, counter::encode_inc()));
  c.deliver_all();
  REQUIRE(c.status(1).last_executed == 1);
  auto corrupt = [](Bytes frame) {
    frame.back() ^= 0x01;  // the last byte is in the authenticator
    return frame;
  };
  c.input(1, corrupt(c.request(1, 1, counter::encode_inc())));  // t == last: answered from cache, so verified
  CHECK(c.rejected(1, Rejection::bad_authenticator) == 1);
  c.network.push_back({Principal::client(1), 1, 0, corrupt(c.request(1, 0, counter::encode_inc()))});
  c.deliver_all();
  CHECK(c.rejected(1, Rejection::invalid) == 1);  // t = 0: stale, not verified
  CHECK(c.rejected(1, Rejection::bad_authenticator) == 1);

  // Replica 1 holds t = 2 (the primary never hears of it); its copies are
  // retransmissions and t = 3 is over the quota of 1.
  const Bytes held = c.request(1, 2, counter::encode_inc());
  c.input(1, held);
  c.network.clear();
  c.now += 1000 * c.config.view_change_timeout_ms / 2;  // past the retransmission interval (T/4), no timer run
  c.network.clear();
  c.input(1, held);
  REQUIRE(c.network.size() == 1);  // forwarded to the primary again
  CHECK(c.network.front().to == std::optional<ReplicaId>(0));
  CHECK(c.network.front().frame == held);
  c.input(1, corrupt(c.request(1, 3, counter::encode_inc())));
  CHECK(c.rejected(1, Rejection::limit) == 1);
  CHECK(c.rejected(1, Rejection::bad_authenticator) == 1);
  c.input(1, corrupt(held));  // same t, other bytes: verified, and rejected for it
  CHECK(c.rejected(1, Rejection::bad_authenticator) == 2);
}

TEST_CASE("a request signed by a replica is rejected, whatever its request number") {
  // Backups forward a client's own frame; synod-fuzz-pbft sent a REQUEST
  // under replica 2's signature with t = 0, which reached the cached-reply
  // path for a client with no entry.
  Cluster c;
  for (RequestNo t : {RequestNo{0}, RequestNo{1}}) {
    c.input(1, c.frame_as(2, wire::Request{1, t, false, counter::encode_inc()}));
  }
  CHECK(c.rejected(1, Rejection::invalid) == 2);
  CHECK(c.network.empty());  // nothing forwarded
}

TEST_CASE("a backup rejects a pre-prepare whose batch does not match its digest") {
  Cluster c;
  // The primary's signed header names the null batch; the frame carries a real one.
  const Bytes op = counter::encode_add(5);
  const auto& client = c.request(2, 1, op);
  auto env = wire::decode_envelope(client);
  REQUIRE(env.has_value());
  const wire::Batch batch{{{2, 1, false, op}, env->authenticator}};
  const Digest null_digest = c.crypto_of(0).digest(wire::encode_batch(wire::Batch{}));
  c.input(1, c.frame_as(0, wire::PrePrepare{{0, 1, null_digest}, batch}));
  CHECK(c.rejected(1, Rejection::invalid) == 1);
  CHECK(c.network.empty());  // no PREPARE left replica 1
}

TEST_CASE("a backup rejects a pre-prepare with a request it cannot authenticate") {
  Cluster c;
  wire::SignedRequest forged{{1, 1, false, counter::encode_add(1000)}, Bytes(64, 7)};
  wire::Batch batch{forged};
  const wire::PrePrepare pp{{0, 1, c.crypto_of(0).digest(wire::encode_batch(batch))}, batch};
  c.input(1, c.frame_as(0, pp));
  CHECK(c.rejected(1, Rejection::invalid) == 1);
  CHECK(c.network.empty());
}

TEST_CASE("a batch's requests are checked together: one bad signature among good ones rejects it") {
  // The replicas check a batch's signatures on verify helpers
  // (Cluster: use_verify_helpers(2)); the verdict must be the same.
  Cluster c;
  auto signed_request = [&](ClientId client, RequestNo t) {
    auto env = wire::decode_envelope(c.request(client, t, counter::encode_inc()));
    REQUIRE(env.has_value());
    auto request = wire::decode<wire::Request>(env->payload);
    REQUIRE(request.has_value());
    return wire::SignedRequest{*request, env->authenticator};
  };
  auto pre_prepare = [&](Seq seq, const wire::Batch& batch) {
    return c.frame_as(0, wire::PrePrepare{{0, seq, c.crypto_of(0).digest(wire::encode_batch(batch))}, batch});
  };
  wire::Batch bad;
  for (ClientId client = 1; client <= Cluster::kClients; ++client) bad.push_back(signed_request(client, 1));
  bad[1].signature.back() ^= 0x01;
  c.input(1, pre_prepare(1, bad));
  CHECK(c.rejected(1, Rejection::invalid) == 1);
  CHECK(c.network.empty());

  wire::Batch good;
  for (ClientId client = 1; client <= Cluster::kClients; ++client) good.push_back(signed_request(client, 2));
  c.input(1, pre_prepare(2, good));
  CHECK(c.rejected(1, Rejection::invalid) == 1);
  CHECK_FALSE(c.network.empty());  // replica 1 prepared it
}

TEST_CASE("a pre-prepare outside the water marks or from a non-primary is rejected") {
  Cluster c;
  const wire::Batch empty;
  const Digest d = c.crypto_of(0).digest(wire::encode_batch(empty));
  c.input(1, c.frame_as(0, wire::PrePrepare{{0, c.config.window + 1, d}, empty}));
  CHECK(c.rejected(1, Rejection::out_of_window) == 1);
  c.input(1, c.frame_as(2, wire::PrePrepare{{0, 1, d}, empty}));  // replica 2 is not the primary of view 0
  CHECK(c.rejected(1, Rejection::invalid) == 1);
  c.input(1, c.frame_as(0, wire::PrePrepare{{3, 1, d}, empty}));  // a future view
  CHECK(c.rejected(1, Rejection::wrong_view) == 1);
  CHECK(c.network.empty());
}

TEST_CASE("a second pre-prepare with another digest for the same (v, s) is refused") {
  Cluster c;
  const wire::Batch empty;
  wire::Batch one{{{1, 1, false, counter::encode_inc()}, {}}};
  one[0].signature = c.crypto_of(0).sign({});  // not a client signature: only reaches the digest check
  const Digest d = c.crypto_of(0).digest(wire::encode_batch(empty));
  c.input(1, c.frame_as(0, wire::PrePrepare{{0, 1, d}, empty}));
  CHECK(c.network.size() == 3);  // PREPARE to the three others
  c.network.clear();
  const Digest d2 = c.crypto_of(0).digest(wire::encode_batch(one));
  c.input(1, c.frame_as(0, wire::PrePrepare{{0, 1, d2}, one}));
  CHECK(c.rejected(1, Rejection::conflicting) == 1);
  CHECK(c.network.empty());
}

TEST_CASE("batching: requests arriving while a batch is in flight share the next pre-prepare") {
  Cluster c;
  std::vector<std::size_t> batch_sizes;
  c.drop = [&](const synod::test::InFlight& m) {
    if (m.from == Principal::replica(0) && m.to == ReplicaId{1} && m.type() == wire::MsgType::pre_prepare) {
      batch_sizes.push_back(Cluster::decode_as<wire::PrePrepare>(m.frame)->batch.size());
    }
    return false;
  };
  c.client_sends(1, c.request(1, 1, counter::encode_inc()), 0);
  c.input(0, c.network.front().frame);  // goes out at once: nothing in flight
  c.network.clear();
  c.input(0, c.request(2, 1, counter::encode_inc()));
  c.input(0, c.request(3, 1, counter::encode_inc()));
  CHECK(batch_sizes == std::vector<std::size_t>{1});  // waiting for the batch timeout
  c.now += c.config.batch_timeout_us;
  synod::Effects fx;
  c.core(0).tick(c.now, fx);
  c.apply(0, fx);
  CHECK(batch_sizes == std::vector<std::size_t>{1, 2});
}

TEST_CASE("batching: at max_batches_in_flight only an execution or a full batch opens the pipeline") {
  Cluster c;
  c.config.max_batches_in_flight = 1;
  for (ReplicaId i = 0; i < c.n(); ++i) c.start(i);
  std::vector<std::size_t> batch_sizes;
  c.drop = [&](const synod::test::InFlight& m) {
    if (m.from == Principal::replica(0) && m.to == ReplicaId{1} && m.type() == wire::MsgType::pre_prepare) {
      batch_sizes.push_back(Cluster::decode_as<wire::PrePrepare>(m.frame)->batch.size());
    }
    return false;
  };
  c.input(0, c.request(1, 1, counter::encode_inc()));  // out at once: nothing in flight
  std::deque<synod::test::InFlight> first_batch;
  std::swap(first_batch, c.network);  // held back: seq 1 stays in flight
  c.input(0, c.request(2, 1, counter::encode_inc()));
  c.input(0, c.request(3, 1, counter::encode_inc()));
  c.advance(10 * c.config.batch_timeout_us, c.config.batch_timeout_us);  // past the batch timeout
  CHECK(batch_sizes == std::vector<std::size_t>{1});  // still waiting for seq 1 to execute
  c.network = std::move(first_batch);
  c.deliver_all();  // seq 1 executes at the primary: the waiting requests go out together
  CHECK(batch_sizes == std::vector<std::size_t>{1, 2});
  // A full batch (batch_max_requests = 8) goes out even with one in flight.
  c.input(0, c.request(1, 2, counter::encode_inc()));
  CHECK(batch_sizes == std::vector<std::size_t>{1, 2, 1});
  c.network.clear();  // seq 3 stays in flight
  const std::vector<std::pair<ClientId, RequestNo>> more{{1, 3}, {1, 4}, {1, 5}, {2, 2}, {2, 3}, {2, 4}, {3, 2}, {3, 3}};
  for (std::size_t k = 0; k < more.size(); ++k) {
    c.input(0, c.request(more[k].first, more[k].second, counter::encode_inc()));
    if (k + 1 < more.size()) CHECK(batch_sizes.size() == 3);
  }
  CHECK(batch_sizes == std::vector<std::size_t>{1, 2, 1, 8});
}

TEST_CASE("fair batching: a client with a full quota of requests does not crowd out another client") {
  Cluster c;  // batch_max_requests = 8, window = 8
  c.config.max_batches_in_flight = c.config.window;  // one request per seq fills the window
  for (ReplicaId i = 0; i < c.n(); ++i) c.start(i);   // with the new config (nothing persisted yet)
  std::vector<std::vector<ClientId>> batches;  // the clients of each pre-prepare, in order
  c.drop = [&](const synod::test::InFlight& m) {
    if (m.from == Principal::replica(0) && m.to == ReplicaId{1} && m.type() == wire::MsgType::pre_prepare) {
      const auto pp = Cluster::decode_as<wire::PrePrepare>(m.frame);
      REQUIRE(pp.has_value());
      std::vector<ClientId> clients;
      for (const auto& sr : pp->batch) clients.push_back(sr.request.client);
      batches.push_back(clients);
    }
    return false;
  };
  auto tick_primary = [&] {
    c.now += c.config.batch_timeout_us;
    synod::Effects fx;
    c.core(0).tick(c.now, fx);
    c.apply(0, fx);
  };
  // Fill the window: sequence numbers 1..8, one request each, none delivered yet.
  c.input(0, c.request(3, 1, counter::encode_inc()));
  for (RequestNo t = 2; t <= 8; ++t) {
    c.input(0, c.request(3, t, counter::encode_inc()));
    tick_primary();
  }
  // The primary cannot propose now; client 1 queues 12 requests, then client 2 one.
  for (RequestNo t = 1; t <= 12; ++t) c.input(0, c.request(1, t, counter::encode_inc()));
  c.input(0, c.request(2, 1, counter::encode_inc()));
  c.deliver_all();  // checkpoints become stable, the window moves, the queue is proposed
  REQUIRE(batches.size() >= 9);
  CHECK(batches[8].size() == 8);
  // Arrival order would have filled it with client 1's requests 1..8.
  CHECK(std::count(batches[8].begin(), batches[8].end(), ClientId{2}) == 1);
  CHECK(std::count(batches[8].begin(), batches[8].end(), ClientId{1}) == 7);
}

TEST_CASE("checkpoints: every K the replicas agree on a stable checkpoint and its digest") {
  Cluster c;
  for (RequestNo t = 1; t <= 5; ++t) increment(c, 1, t);
  for (ReplicaId i = 0; i < c.n(); ++i) {
    CHECK(c.status(i).stable_checkpoint == 4);
    CHECK(c.status(i).state_digest == c.status(0).state_digest);
    // Garbage collection: no log entry at or below the stable checkpoint stays on disk.
    CHECK(!c.nodes[i]->disk.contains(pbft::entry_key(4)));
    CHECK(c.nodes[i]->disk.contains("snap"));
  }
}

TEST_CASE("the water marks stop the primary until a checkpoint is stable") {
  Cluster c;
  // No checkpoint message gets through: the log window (8) fills up.
  c.drop = [](const synod::test::InFlight& m) { return m.type() == wire::MsgType::checkpoint; };
  for (RequestNo t = 1; t <= 10; ++t) increment(c, 1, t);
  CHECK(c.status(0).last_executed == 8);
  CHECK(c.status(0).stable_checkpoint == 0);
  c.drop = [](const synod::test::InFlight&) { return false; };
  c.advance(1'000'000);  // retransmission of checkpoints
  CHECK(c.status(0).stable_checkpoint == 8);
  CHECK(c.nodes[0]->app.value() == 10);  // the two waiting requests share seq 9
}

TEST_CASE("read-only requests are answered without ordering") {
  Cluster c;
  increment(c, 1, 1);
  c.client_sends(2, c.request(2, 1, counter::encode_get(), true));
  c.deliver_all();
  auto replies = c.replies(2, 1);
  CHECK(replies.size() == c.n());
  for (const auto& [i, r] : replies) {
    CHECK(r.read_only);
    CHECK(value_of(r) == 1);
  }
  CHECK(c.status(0).last_executed == 1);  // nothing was ordered
}

TEST_CASE("view change: a silent primary is replaced and the request completes in the next view") {
  Cluster c;
  c.crash(0);
  // The client times out and sends to everyone; backups forward and start timers.
  c.client_sends(1, c.request(1, 1, counter::encode_inc()));
  c.deliver_all();
  c.advance(3'000'000);
  for (ReplicaId i = 1; i < c.n(); ++i) {
    CHECK(c.status(i).view == 1);
    CHECK_FALSE(c.status(i).changing_view);
    CHECK(c.status(i).last_executed >= 1);
    CHECK(c.nodes[i]->app.value() == 1);
  }
  auto replies = c.replies(1, 1);
  CHECK(replies.size() >= 2);
  for (const auto& [i, r] : replies) CHECK(r.view == 1);
}

TEST_CASE("request timer: a client whose earlier requests keep executing does not time out the primary") {
  // Replica 1 holds client 1's t = 5, which the primary never receives (a
  // client flooding past its quota leaves replicas holding different
  // requests). The primary keeps executing client 1's earlier requests,
  // one every 0.6 T, for 2.4 T: that is the primary serving client 1.
  Cluster c;
  c.drop = [](const test::InFlight& m) {
    return m.from == Principal::replica(1) && m.to == std::optional<ReplicaId>(0) && m.type() == wire::MsgType::request;
  };
  c.input(1, c.request(1, 5, counter::encode_inc()));
  for (RequestNo t = 1; t <= 4; ++t) {
    c.client_sends(1, c.request(1, t, counter::encode_inc()), 0);
    c.deliver_all();
    c.advance(600'000);
  }
  for (ReplicaId i = 0; i < c.n(); ++i) {
    CHECK(c.status(i).view == 0);
    CHECK(c.status(i).last_executed == 4);
  }

  // Client 2's request, held by the backups and censored by the primary
  // (its forwards are lost): with client 1 progressing, the timers move to
  // it and the primary is replaced.
  c.drop = [](const test::InFlight& m) { return m.to == std::optional<ReplicaId>(0) && m.type() == wire::MsgType::request; };
  for (ReplicaId i = 1; i < c.n(); ++i) {
    c.input(i, c.request(1, 9, counter::encode_inc()));  // client 1's again first: the timers start on it
    c.input(i, c.request(2, 1, counter::encode_inc()));
  }
  for (RequestNo t = 5; t <= 8; ++t) {
    c.client_sends(1, c.request(1, t, counter::encode_inc()), 0);
    c.deliver_all();
    c.advance(600'000);
  }
  CHECK(c.status(1).view >= 1);
}

TEST_CASE("request timer: a backup behind the others catches up before it suspects the primary, once") {
  // Replica 3 misses the prepares of seq 1 and replica 2's commit for it, so
  // seq 1 never commits there; seq 2 does, and waits behind the gap. Its
  // catch-up answers are lost until just before its timer expires.
  const auto lagging = [](const test::InFlight& m, bool fetches_answered) {
    if (m.to != std::optional<ReplicaId>(3)) return false;
    const wire::MsgType type = m.type();
    if (type == wire::MsgType::committed_batches) return !fetches_answered;
    if (type == wire::MsgType::prepare) return Cluster::decode_as<wire::Prepare>(m.frame)->seq == 1;
    return type == wire::MsgType::commit && m.from == Principal::replica(2) &&
           Cluster::decode_as<wire::Commit>(m.frame)->seq == 1;
  };
  for (const bool answered : {true, false}) {
    CAPTURE(answered);
    Cluster c;
    c.drop = [&](const test::InFlight& m) { return lagging(m, false); };
    // To every replica: the backups' timers start.
    c.client_sends(1, c.request(1, 1, counter::encode_inc()));
    c.deliver_all();
    c.client_sends(2, c.request(2, 1, counter::encode_inc()));
    c.deliver_all();
    for (ReplicaId i = 0; i < 3; ++i) CHECK(c.status(i).last_executed == 2);
    c.advance(900'000);  // T = 1 s
    CHECK(c.status(3).last_executed == 0);
    if (answered) c.drop = [&](const test::InFlight& m) { return lagging(m, true); };
    c.advance(200'000);
    // At T it fetched instead of changing view alone.
    CHECK(c.status(3).view == 0);
    CHECK_FALSE(c.status(3).changing_view);
    CHECK(c.status(3).last_executed == (answered ? 2 : 0));
    c.advance(1'000'000);
    // Still behind one T later: the primary is suspected after all.
    CHECK(c.status(3).view == (answered ? 0 : 1));
    for (ReplicaId i = 0; i < 3; ++i) CHECK(c.status(i).view == 0);
  }
}

TEST_CASE("view change: what prepared in the old view keeps its sequence number") {
  Cluster c;
  // Commits never arrive: the request prepares everywhere, commits nowhere.
  c.drop = commit_of_view_0;
  c.client_sends(1, c.request(1, 1, counter::encode_add(7)), 0);
  c.deliver_all();
  CHECK(c.status(1).last_executed == 0);
  c.crash(0);
  c.client_sends(1, c.request(1, 1, counter::encode_add(7)));
  c.deliver_all();
  c.advance(3'000'000);
  for (ReplicaId i = 1; i < c.n(); ++i) {
    CHECK(c.status(i).view == 1);
    REQUIRE(!c.nodes[i]->executed.empty());
    CHECK(c.nodes[i]->executed.front().seq == 1);  // the prepared seq, carried by NEW-VIEW's O
    CHECK(c.nodes[i]->executed.front().requests.size() == 1);
    CHECK(c.nodes[i]->app.value() == 7);
  }
}

TEST_CASE("a NEW-VIEW whose O differs from the one recomputed from V is rejected") {
  Cluster c;
  auto nv = Cluster::decode_as<wire::NewView>(held_new_view(c));
  REQUIRE(nv.has_value());
  REQUIRE(nv->pre_prepares.size() == 1);
  // The primary "forgets" the prepared request: O names the null batch instead.
  wire::PrePrepareHeader lie = nv->pre_prepares[0].message;
  lie.digest = c.crypto_of(1).digest(wire::encode_batch(wire::Batch{}));
  nv->pre_prepares[0] = {1, lie, c.crypto_of(1).sign(wire::signing_input_of(Principal::replica(1), lie))};
  const auto before = c.rejected(2, Rejection::invalid);
  c.input(2, c.frame_as(1, *nv));
  CHECK(c.rejected(2, Rejection::invalid) == before + 1);
  CHECK(c.status(2).changing_view);
}

TEST_CASE("a NEW-VIEW's view changes are verified unless identical to ones verified on arrival") {
  Cluster c;
  // Every VIEW-CHANGE carries a prepared certificate; replica 2 never gets replica 3's.
  const Bytes new_view = held_new_view(c, [](const synod::test::InFlight& m) {
    return m.type() == wire::MsgType::view_change && m.from == Principal::replica(3) &&
           m.to == std::optional<ReplicaId>(2);
  });
  auto nv = Cluster::decode_as<wire::NewView>(new_view);
  REQUIRE(nv.has_value());
  REQUIRE(nv->view_changes.size() == 3);
  std::set<ReplicaId> in_v;
  for (const auto& svc : nv->view_changes) in_v.insert(svc.signer);
  REQUIRE(in_v == std::set<ReplicaId>{1, 2, 3});

  // Replica 3's view change (unknown at replica 2) or replica 1's (known,
  // but not this one), with one prepare's signature broken and signed
  // again by its sender: checked, and the NEW-VIEW refused.
  for (const ReplicaId broken : {3u, 1u}) {
    CAPTURE(broken);
    wire::NewView forged = *nv;
    for (auto& svc : forged.view_changes) {
      if (svc.signer != broken) continue;
      REQUIRE(!svc.message.prepared.empty());
      svc.message.prepared[0].prepares[0].signature[0] ^= 1;
      svc.signature = c.crypto_of(broken).sign(wire::signing_input_of(Principal::replica(broken), svc.message));
    }
    const auto before = c.rejected(2, Rejection::invalid);
    c.input(2, c.frame_as(1, forged));
    CHECK(c.rejected(2, Rejection::invalid) == before + 1);
    CHECK(c.status(2).changing_view);
  }

  // The real one: replica 2 verifies the NEW-VIEW's signature, replica 3's
  // view change (a VIEW-CHANGE signature, a pre-prepare and 2 prepares) and
  // the pre-prepares of O; its own and replica 1's, which it verified on
  // arrival, are not checked again.
  const std::uint64_t before_verifies = c.nodes[2]->counting->verifies;
  c.input(2, new_view);
  CHECK_FALSE(c.status(2).changing_view);
  CHECK(c.status(2).view == 1);
  CHECK(c.nodes[2]->counting->verifies - before_verifies == 1 + 4 + nv->pre_prepares.size());
}

TEST_CASE("joining: f+1 view changes for a higher view make a replica join it") {
  Cluster c;
  for (ReplicaId from : {1u, 2u}) {
    const wire::ViewChange vc{1, 0, {}, {}};
    c.input(3, c.frame_as(from, vc));
    c.network.clear();
    if (from == 1) CHECK(c.status(3).view == 0);  // one is not enough
  }
  CHECK(c.status(3).view == 1);
  CHECK(c.status(3).changing_view);
}

TEST_CASE("a single faulty replica cannot force a view change") {
  Cluster c;
  for (View v = 1; v <= 5; ++v) c.input(3, c.frame_as(1, wire::ViewChange{v, 0, {}, {}}));
  CHECK(c.status(3).view == 0);
  CHECK_FALSE(c.status(3).changing_view);
}

TEST_CASE("restart: a replica comes back from what it persisted and catches up") {
  Cluster c;
  increment(c, 1, 1);
  increment(c, 1, 2);
  c.crash(3);
  for (RequestNo t = 3; t <= 6; ++t) increment(c, 1, t);
  c.start(3);
  CHECK(c.status(3).last_executed == 0);  // nothing stable was persisted before seq 4
  c.advance(1'000'000);
  CHECK(c.status(3).last_executed == 6);
  CHECK(c.nodes[3]->app.value() == 6);
}

TEST_CASE("restart: a prepared certificate survives and goes into the view change") {
  Cluster c;
  c.drop = commit_of_view_0;
  c.client_sends(1, c.request(1, 1, counter::encode_add(3)), 0);
  c.deliver_all();
  c.crash(2);
  c.start(2);
  c.network.clear();
  // Replica 2 joins view 1 on f+1 view changes: its VIEW-CHANGE must carry P.
  c.input(2, c.frame_as(1, wire::ViewChange{1, 0, {}, {}}));
  c.input(2, c.frame_as(3, wire::ViewChange{1, 0, {}, {}}));
  std::optional<wire::ViewChange> sent;
  for (const auto& m : c.network)
    if (m.type() == wire::MsgType::view_change) sent = Cluster::decode_as<wire::ViewChange>(m.frame);
  REQUIRE(sent.has_value());
  REQUIRE(sent->prepared.size() == 1);
  CHECK(sent->prepared[0].pre_prepare.message.seq == 1);
}

TEST_CASE("state transfer: a replica behind a stable checkpoint fetches and verifies the state") {
  Cluster c;
  c.crash(3);
  for (RequestNo t = 1; t <= 13; ++t) increment(c, 1, t);
  c.nodes[3]->disk.clear();  // a new disk: it must get everything from the others
  c.start(3);
  increment(c, 1, 14);  // its checkpoint messages reach replica 3 on retransmission
  c.advance(2'000'000);
  CHECK(c.status(3).state_transfers >= 1);
  CHECK(c.status(3).last_executed == c.status(0).last_executed);
  CHECK(c.status(3).stable_checkpoint == c.status(0).stable_checkpoint);
  CHECK(c.status(3).state_digest == c.status(0).state_digest);
  CHECK(c.nodes[3]->app.value() == 14);
}

namespace {

// Snapshots go in chunks of 8 bytes; replica 3 misses 13 writes and comes
// back with a new disk, so it must fetch the stable state.
void replica_3_needs_state_in_chunks(Cluster& c) {
  c.config.snapshot_chunk_bytes = 8;
  for (ReplicaId i = 0; i < c.n(); ++i) {
    c.crash(i);
    c.start(i);
  }
  c.crash(3);
  for (RequestNo t = 1; t <= 13; ++t) increment(c, 1, t);
  c.nodes[3]->disk.clear();
  c.start(3);
}

}  // namespace

TEST_CASE("state transfer: a snapshot larger than a chunk comes in chunks; a wrong byte costs one transfer") {
  Cluster c;
  replica_3_needs_state_in_chunks(c);
  // Replica 3's chunks, counted. The first one that holds the counter's
  // lowest byte (the snapshot ends with the counter's 8 bytes, little-endian)
  // gets it flipped, validly signed by its sender (a Byzantine source): the
  // snapshot still decodes, into a wrong state.
  std::size_t chunks = 0;
  std::uint64_t total = 0;
  bool tampered = false;
  c.drop = [&](const test::InFlight& m) {
    if (m.to != ReplicaId{3} || m.type() != wire::MsgType::state_snapshot) return false;
    auto chunk = Cluster::decode_as<wire::StateSnapshot>(m.frame);
    REQUIRE(chunk.has_value());
    ++chunks;
    total = chunk->total_bytes;
    CHECK(chunk->chunk.size() <= 8);
    CHECK(chunk->proof.empty() == (chunk->offset > 0));  // the proof comes with the first chunk only
    const std::uint64_t lowest = chunk->total_bytes - 8;
    if (tampered || chunk->offset > lowest || chunk->offset + chunk->chunk.size() <= lowest) return false;
    tampered = true;
    chunk->chunk[lowest - chunk->offset] ^= 0x01;
    c.network.push_back(test::InFlight{m.from, m.to, 0, c.frame_as(m.from.id, *chunk)});
    return true;
  };
  increment(c, 1, 14);
  c.advance(3'000'000);
  REQUIRE(tampered);
  const std::uint64_t per_transfer = (total + 7) / 8;
  CHECK(per_transfer > 2);
  CHECK(chunks >= 2 * per_transfer);  // the spoilt transfer went to its end, then a whole new one
  CHECK(c.rejected(3, Rejection::invalid) >= 1);  // the whole snapshot did not match its proof's digest
  CHECK(c.status(3).state_transfers == 1);
  CHECK(c.status(3).last_executed == c.status(0).last_executed);
  CHECK(c.status(3).state_digest == c.status(0).state_digest);
  CHECK(c.nodes[3]->app.value() == 14);
}

TEST_CASE("state transfer: a source that disagrees on the snapshot's size makes the replica start over") {
  Cluster c;
  replica_3_needs_state_in_chunks(c);
  // The first first chunk replica 3 gets announces 8 bytes too many, validly
  // signed by its sender: its later chunks then disagree with it.
  bool lied = false;
  c.drop = [&](const test::InFlight& m) {
    if (lied || m.to != ReplicaId{3} || m.type() != wire::MsgType::state_snapshot) return false;
    auto chunk = Cluster::decode_as<wire::StateSnapshot>(m.frame);
    REQUIRE(chunk.has_value());
    if (chunk->offset != 0) return false;
    lied = true;
    chunk->total_bytes += 8;
    c.network.push_back(test::InFlight{m.from, m.to, 0, c.frame_as(m.from.id, *chunk)});
    return true;
  };
  increment(c, 1, 14);
  c.advance(3'000'000);
  REQUIRE(lied);
  CHECK(c.rejected(3, Rejection::invalid) >= 1);
  CHECK(c.status(3).state_transfers == 1);
  CHECK(c.status(3).last_executed == c.status(0).last_executed);
  CHECK(c.nodes[3]->app.value() == 14);
}

TEST_CASE("state transfer: a chunk that cannot be part of an acceptable snapshot is refused") {
  Cluster c;
  const std::uint64_t limit = c.config.max_snapshot_bytes;
  c.input(3, c.frame_as(0, wire::StateSnapshot{4, {}, limit + 1, 0, Bytes(8, 1)}));
  CHECK(c.rejected(3, Rejection::limit) == 1);
  c.input(3, c.frame_as(0, wire::StateSnapshot{4, {}, 100, 96, Bytes(8, 1)}));  // past its end
  c.input(3, c.frame_as(0, wire::StateSnapshot{4, {}, 100, 0, Bytes{}}));       // no progress
  c.input(3, c.frame_as(0, wire::StateSnapshot{4, {}, 100, 0, Bytes(8, 1)}));   // no proof
  CHECK(c.rejected(3, Rejection::invalid) == 3);
  CHECK(c.status(3).state_transfers == 0);
}

TEST_CASE("durable state that this core did not write is refused with an error") {
  Cluster c;
  DurableState bad{{"view", Bytes{1, 2}}};
  examples::Counter app;
  auto r = pbft::make_replica(c.config, 1, c.crypto_of(1), app, bad);
  CHECK_FALSE(r.has_value());
}

TEST_CASE("plan_new_view: highest view wins, gaps become null batches, min_s is the highest stable seq") {
  Cluster c;
  const auto& k0 = c.crypto_of(0);
  (void)k0;
  Digest a{}, b{}, null{};
  a[0] = 1;
  b[0] = 2;
  null[0] = 9;
  auto cert = [&](View v, Seq s, Digest d) {
    wire::PreparedCertificate pc;
    pc.pre_prepare.message = {v, s, d};
    return pc;
  };
  wire::Signed<wire::ViewChange> x, y, z;
  x.message = {5, 0, {}, {cert(1, 1, a), cert(1, 3, a)}};
  y.message = {5, 0, {}, {cert(2, 1, b)}};
  z.message = {5, 0, {}, {}};
  const auto plan = pbft::plan_new_view(5, {x, y, z}, null);
  CHECK(plan.min_s == 0);
  CHECK(plan.max_s == 3);
  REQUIRE(plan.order.size() == 3);
  CHECK(plan.order[0] == std::pair<Seq, Digest>{1, b});  // view 2 beats view 1
  CHECK(plan.order[1] == std::pair<Seq, Digest>{2, null});
  CHECK(plan.order[2] == std::pair<Seq, Digest>{3, a});
  // The same V in another order gives the same O.
  CHECK(pbft::plan_new_view(5, {z, y, x}, null).order == plan.order);
}

// ------------------------------------------------------------------ MAC mode

namespace {

struct Held {
  std::vector<synod::test::InFlight> frames;
  // The held frames from `from` to `to`.
  std::vector<Bytes> between(ReplicaId from, ReplicaId to) const {
    std::vector<Bytes> out;
    for (const auto& m : frames)
      if (m.from == Principal::replica(from) && m.to == to) out.push_back(m.frame);
    return out;
  }
};

}  // namespace

TEST_CASE("MAC mode: replies carry a MAC for their client, and commits one MAC per replica after a signature") {
  Cluster c(1, {}, Authentication::macs);
  std::vector<Bytes> commits;
  c.drop = [&](const synod::test::InFlight& m) {
    if (m.type() == wire::MsgType::commit) commits.push_back(m.frame);
    return false;
  };
  increment(c, 1, 1);
  for (ReplicaId i = 0; i < c.n(); ++i) CHECK(c.nodes[i]->app.value() == 1);
  auto replies = c.replies(1, 1);  // each MAC checked by the client's own pair key
  CHECK(replies.size() == c.n());
  for (const auto& m : c.client_inbox) {
    auto env = wire::decode_envelope(m.frame);
    REQUIRE(env.has_value());
    CHECK(env->authenticator.size() == kMacBytes);
    // It is a MAC for client 1 only: client 2 (another pair key) rejects it.
    CHECK_FALSE(wire::reply_authentic(c.config, c.client_crypto(2), *env));
  }
  REQUIRE_FALSE(commits.empty());
  for (const Bytes& frame : commits) {
    auto env = wire::decode_envelope(frame);
    REQUIRE(env.has_value());
    REQUIRE(env->authenticator.size() == crypto::kSignatureBytes + c.n() * kMacBytes);
    // The signature part is the sender's real signature over the commit.
    const Bytes input = wire::signing_input(env->type, env->sender, env->payload);
    const ByteView signature = ByteView(env->authenticator).first(crypto::kSignatureBytes);
    CHECK(c.crypto_of(0).verify(env->sender, input, signature));
  }
}

TEST_CASE("MAC mode: a commit is counted on its MAC alone, and a bad signature never reaches a served commit proof") {
  Cluster c(1, {}, Authentication::macs);
  // Commits from replicas 1 and 2 are held back; nothing commits without one of them.
  Held held;
  c.drop = [&](const synod::test::InFlight& m) {
    if (m.type() != wire::MsgType::commit || (m.from != Principal::replica(1) && m.from != Principal::replica(2)))
      return false;
    held.frames.push_back(m);
    return true;
  };
  increment(c, 1, 1);
  CHECK(c.status(0).last_executed == 0);
  REQUIRE(held.between(2, 0).size() == 1);

  // Replica 1 turns faulty: its commit to replica 0 has a good MAC and a bad signature.
  Bytes bad = held.between(1, 0).at(0);
  auto env = wire::decode_envelope(bad);
  REQUIRE(env.has_value());
  env->authenticator[0] ^= 0x01;  // inside the signature
  c.input(0, wire::encode_envelope(*env));
  CHECK(c.status(0).last_executed == 1);  // 0, 1 and 3 committed: the MAC is what counts
  CHECK(c.rejected(0, Rejection::bad_authenticator) == 0);

  // A wrong MAC for the receiver is rejected, whatever the signature.
  Bytes wrong_mac = held.between(2, 0).at(0);
  wrong_mac[wrong_mac.size() - 1 - 3 * kMacBytes] ^= 0x01;  // last byte of replica 0's MAC (the first of 4, last in the frame)
  c.input(0, wrong_mac);
  CHECK(c.rejected(0, Rejection::bad_authenticator) == 1);

  // Replica 3 asks replica 0 for seq 1: 0 holds only two valid signatures, so it serves no proof.
  const auto ask = [&] {
    c.network.clear();
    c.input(0, c.frame_as(3, wire::FetchBatches{0, 1, 8}));
    std::optional<wire::CommittedBatches> served;
    for (const auto& m : c.network)
      if (m.type() == wire::MsgType::committed_batches) served = Cluster::decode_as<wire::CommittedBatches>(m.frame);
    c.network.clear();
    return served;
  };
  CHECK_FALSE(ask().has_value());
  CHECK(c.rejected(0, Rejection::bad_authenticator) == 2);  // the bad signature, found when proving

  // Replica 2's genuine commit arrives late: now 0 proves seq 1 with three valid signatures.
  c.input(0, held.between(2, 0).at(0));
  c.now += 1'000'000;  // past the catch-up rate limit
  auto served = ask();
  REQUIRE(served.has_value());
  REQUIRE(served->batches.size() == 1);
  const wire::CommittedBatch& cb = served->batches[0];
  std::set<ReplicaId> signers;
  for (const auto& s : cb.commits) signers.insert(s.signer);
  CHECK(signers == std::set<ReplicaId>{0, 2, 3});
  const pbft::CertificateVerifier verify(c.config, c.crypto_of(3), 3);
  CHECK(verify.commit_proof(cb.view, cb.seq, c.crypto_of(3).digest(wire::encode_batch(cb.batch)), cb.commits));
}

TEST_CASE("MAC mode: a request is accepted on the receiving replica's own MAC, or else on its signature") {
  Cluster c(1, {}, Authentication::macs);
  // Client 1's request with signature || 4 MACs; byte offsets inside the authenticator.
  const wire::Request req{1, 1, false, counter::encode_inc()};
  const Bytes input = wire::signing_input_of(Principal::client(1), req);
  const Bytes good = wire::request_authenticator(c.config, c.client_crypto(1), input);
  REQUIRE(good.size() == crypto::kSignatureBytes + c.n() * kMacBytes);
  const auto mac_of = [](ReplicaId i) { return crypto::kSignatureBytes + i * kMacBytes; };
  const auto at = [&](ReplicaId i, const Bytes& authenticator) {
    return wire::request_authentic(c.config, c.crypto_of(i), i, Principal::client(1), input, authenticator);
  };
  for (ReplicaId i = 0; i < c.n(); ++i) CHECK(at(i, good));

  Bytes bad_signature = good;
  bad_signature[0] ^= 0x01;
  for (ReplicaId i = 0; i < c.n(); ++i) CHECK(at(i, bad_signature));  // each replica's MAC suffices

  Bytes bad_mac_2 = good;
  bad_mac_2[mac_of(2)] ^= 0x01;
  CHECK(at(2, bad_mac_2));  // replica 2 falls back to the signature

  Bytes bad_both = bad_mac_2;
  bad_both[0] ^= 0x01;
  CHECK_FALSE(at(2, bad_both));
  CHECK(at(1, bad_both));  // replica 1's MAC still holds: it convinces replica 1 only

  // Another replica's MAC does not stand in for one's own.
  Bytes swapped = bad_both;
  std::copy_n(good.begin() + static_cast<std::ptrdiff_t>(mac_of(1)), kMacBytes,
              swapped.begin() + static_cast<std::ptrdiff_t>(mac_of(2)));
  CHECK_FALSE(at(2, swapped));

  // End to end: the primary and one backup hold good MACs, replica 2 holds neither a
  // good MAC nor a good signature and refuses the pre-prepare; the other three commit.
  wire::Envelope env;
  env.type = wire::MsgType::request;
  env.sender = Principal::client(1);
  env.payload = wire::encode(req);
  env.authenticator = bad_both;
  c.client_sends(1, wire::encode_envelope(env), 0);
  c.deliver_all();
  CHECK(c.rejected(2, Rejection::invalid) == 1);
  CHECK(c.status(0).last_executed == 1);
  CHECK(c.status(1).last_executed == 1);
  CHECK(c.status(3).last_executed == 1);
  CHECK(c.status(2).last_executed == 0);
}

TEST_CASE("a prepare or commit that arrives after its certificate formed is dropped unverified") {
  Cluster c;
  increment(c, 1, 1);
  REQUIRE(c.status(2).last_executed == 1);
  const Digest d = c.nodes[2]->executed.at(0).batch_digest;
  // Garbage signatures: verified, they would count as bad authenticators.
  auto garbage = [&](auto message) {
    Bytes frame = c.frame_as(1, message);
    frame.back() ^= 0x01;
    return frame;
  };
  c.input(2, garbage(wire::Prepare{0, 1, d}));
  c.input(2, garbage(wire::Commit{0, 1, d}));
  CHECK(c.rejected(2, Rejection::bad_authenticator) == 0);
  c.input(2, garbage(wire::Prepare{0, 2, d}));  // seq 2 has no certificate: checked and refused
  CHECK(c.rejected(2, Rejection::bad_authenticator) == 1);
}

namespace {

// Seq 1 holds client 1's request alone, seq 2 clients 2 and 3 together (they
// arrive while seq 1 is in flight and wait for the batch timeout).
void propose_batches_of_1_and_2(Cluster& c) {
  c.input(0, c.request(1, 1, counter::encode_add(1)));
  c.input(0, c.request(2, 1, counter::encode_add(10)));
  c.input(0, c.request(3, 1, counter::encode_add(100)));
  c.now += c.config.batch_timeout_us;
  synod::Effects fx;
  c.core(0).tick(c.now, fx);
  c.apply(0, fx);
  c.deliver_all();
}

}  // namespace

// batch_max_requests (like batch_max_bytes and max_request_bytes) bounds what
// a primary may propose; a batch the cluster already accepted under a larger
// bound must still execute after the replicas restart with a smaller one.
TEST_CASE("a lower batch bound after a restart: a prepared larger batch still executes in the next view") {
  Cluster c;
  // Replica 3 never sees view 0's pre-prepares: it gets seq 2's batch from a later view's primary.
  c.drop = [](const synod::test::InFlight& m) {
    return commit_of_view_0(m) || (m.to == ReplicaId{3} && m.type() == wire::MsgType::pre_prepare);
  };
  propose_batches_of_1_and_2(c);
  CHECK(c.status(1).last_executed == 0);
  for (ReplicaId i = 0; i < c.n(); ++i) c.crash(i);
  c.config.batch_max_requests = 1;
  for (ReplicaId i = 1; i < c.n(); ++i) c.start(i);  // replica 0, view 0's primary, stays down
  // Nor can it fetch it as a committed batch (the next test's path), and no
  // commit arrives until view 1's primary has retransmitted its pre-prepares.
  const auto no_committed_batches_to_3 = [](const synod::test::InFlight& m) {
    return m.to == ReplicaId{3} && m.type() == wire::MsgType::committed_batches;
  };
  c.drop = [&](const synod::test::InFlight& m) {
    return no_committed_batches_to_3(m) || m.type() == wire::MsgType::commit;
  };
  c.client_sends(2, c.request(2, 1, counter::encode_add(10)));
  c.deliver_all();
  c.advance(3'000'000);
  REQUIRE(c.status(1).view >= 1);
  REQUIRE(c.status(1).last_executed == 0);
  c.drop = no_committed_batches_to_3;
  c.advance(2'000'000);
  for (ReplicaId i = 1; i < c.n(); ++i) {
    CHECK(c.status(i).view >= 1);
    CHECK(c.status(i).last_executed >= 2);
    CHECK(c.nodes[i]->app.value() == 111);
  }
}

TEST_CASE("a lower batch bound after a restart: a replica fetches committed batches larger than it would accept") {
  Cluster c;
  c.drop = [](const synod::test::InFlight& m) { return m.to == ReplicaId{3}; };
  propose_batches_of_1_and_2(c);
  REQUIRE(c.status(0).last_executed == 2);
  c.crash(3);
  c.config.batch_max_requests = 1;  // only replica 3 restarts with it
  c.start(3);
  c.drop = [](const synod::test::InFlight&) { return false; };
  increment(c, 1, 2);  // seq 3 shows replica 3 that it is behind
  c.advance(1'000'000);
  CHECK(c.status(3).last_executed == 3);
  CHECK(c.nodes[3]->app.value() == 112);
  CHECK(c.status(3).view == 0);
}

TEST_CASE("durable state written under another checkpoint interval, window or f is refused, naming the change") {
  Cluster c;
  increment(c, 1, 1);
  REQUIRE(c.nodes[1]->disk.contains("shape"));
  examples::Counter app;
  ClusterConfig changed = c.config;
  changed.checkpoint_interval = 2;
  changed.window = 6;
  auto r = pbft::make_replica(changed, 1, c.crypto_of(1), app, c.nodes[1]->disk);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::invalid_config);
  CHECK(r.error().message.find("written with checkpoint_interval = 4, window = 8") != std::string::npos);
  CHECK(r.error().message.find("the config has checkpoint_interval = 2, window = 6") != std::string::npos);
  // Limits on what a primary proposes are not part of it.
  changed = c.config;
  changed.batch_max_requests = 1;
  changed.max_request_bytes = 16;
  CHECK(pbft::make_replica(changed, 1, c.crypto_of(1), app, c.nodes[1]->disk).has_value());
}
