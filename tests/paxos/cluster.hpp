// tests/paxos/cluster.hpp — a scripted Multi-Paxos cluster for unit tests:
// real OpenSSL signatures, the counter app (or the store-backed kv example),
// a FIFO network the test controls (drop, intercept, deliver), a manual
// clock, crash and restart from what each replica persisted. Drives the core
// only through its inputs.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/store_backend.hpp"
#include "paxos/paxos.hpp"
#include "runtime/openssl_crypto.hpp"
#include "synod/examples/counter.hpp"
#include "synod/examples/store_kv.hpp"
#include "wire/authenticate.hpp"
#include "wire/codec.hpp"

namespace synod::test {

struct InFlight {
  Principal from;
  std::optional<ReplicaId> to;  // nullopt: to a client (see client)
  ClientId client = 0;
  Bytes frame;
  wire::MsgType type() const {
    auto env = wire::decode_envelope(frame);
    REQUIRE(env.has_value());
    return env->type;
  }
};

class PaxosCluster {
 public:
  static constexpr std::uint32_t kClients = 3;

  // A store-backed cluster runs the kv example on a MemoryStore per replica
  // (committed with the persist ops, crashed with the core); the others the
  // counter.
  enum class App { counter, store_kv };

  // `configure` may change the config (limits, leases) before the replicas start.
  explicit PaxosCluster(std::uint32_t f = 1, paxos::Bugs bugs = {},
                        const std::function<void(ClusterConfig&)>& configure = {}, App app = App::counter)
      : app_(app), bugs_(bugs) {
    config.protocol = Protocol::paxos;
    config.f = f;
    config.checkpoint_interval = 4;
    config.window = 8;
    config.batch_max_requests = 8;
    config.heartbeat_interval_ms = 50;
    config.election_timeout_ms = 300;
    const std::uint32_t n = 2 * f + 1;
    for (ReplicaId i = 0; i < n; ++i) {
      auto key = crypto::PrivateKey::generate();
      REQUIRE(key.has_value());
      replica_keys_.push_back(std::move(*key));
      ReplicaInfo info;  // by field: more fields may follow, all defaulted
      info.id = i;
      info.endpoint = "tcp://127.0.0.1:" + std::to_string(7000 + i);
      info.public_key = pem(replica_keys_.back());
      config.replicas.push_back(std::move(info));
    }
    for (ClientId c = 1; c <= kClients; ++c) {
      auto key = crypto::PrivateKey::generate();
      REQUIRE(key.has_value());
      client_keys_.emplace(c, std::move(*key));
      config.clients.push_back({.id = c, .public_key = pem(client_keys_.at(c))});
    }
    if (configure) configure(config);
    const auto valid = config.validate();
    const std::string why = valid.has_value() ? std::string("ok") : valid.error().describe();
    INFO(why);
    REQUIRE(valid.has_value());
    for (ReplicaId i = 0; i < n; ++i) {
      auto node = std::make_unique<Node>();
      node->crypto = make_crypto(replica_keys_[i]);
      nodes.push_back(std::move(node));
      start(i);
    }
    for (ClientId c = 1; c <= kClients; ++c) client_crypto_.emplace(c, make_crypto(client_keys_.at(c)));
  }

  struct Node {
    std::unique_ptr<runtime::OpenSslCrypto> crypto;
    examples::Counter app;
    examples::StoreKv store_app;
    MemoryStore store;  // App::store_kv: the store's tables, as durable as `disk`
    DurableState disk;
    std::unique_ptr<Replica> core;
    std::vector<ExecutedBatch> executed;
    std::uint64_t starts = 0;
  };

  ClusterConfig config;
  std::vector<std::unique_ptr<Node>> nodes;
  std::deque<InFlight> network;
  std::vector<InFlight> client_inbox;
  TimeUs now = 1;
  // Return true to drop a frame instead of queueing it.
  std::function<bool(const InFlight&)> drop = [](const InFlight&) { return false; };

  std::uint32_t n() const { return config.n(); }
  Replica& core(ReplicaId i) { return *nodes[i]->core; }
  ReplicaStatus status(ReplicaId i) { return nodes[i]->core->status(); }
  const runtime::OpenSslCrypto& crypto_of(ReplicaId i) const { return *nodes[i]->crypto; }
  bool up(ReplicaId i) const { return nodes[i]->core != nullptr; }
  void heal() {
    drop = [](const InFlight&) { return false; };
  }

  void crash(ReplicaId i) {
    nodes[i]->core.reset();
    nodes[i]->app = examples::Counter{};
    nodes[i]->store.crash();
    nodes[i]->executed.clear();
  }
  void start(ReplicaId i) {
    // A new seed per start: a restarted replica draws new timeouts.
    Node& node = *nodes[i];
    const std::uint64_t seed = 1000 * (i + 1) + node.starts++;
    auto core = app_ == App::store_kv
                    ? paxos::make_replica(config, i, *node.crypto, node.store_app, node.store, node.disk, seed, bugs_)
                    : paxos::make_replica(config, i, *node.crypto, node.app, node.disk, seed, bugs_);
    REQUIRE(core.has_value());
    node.core = std::move(*core);
  }

  // A client's signed request frame.
  Bytes request(ClientId c, RequestNo t, Bytes op, bool read_only = false) {
    const wire::Request req{c, t, read_only, std::move(op)};
    const auto& crypto = *client_crypto_.at(c);
    return wire::make_frame(Principal::client(c), req, [&](ByteView in) { return crypto.sign(in); });
  }
  // The request as it travels inside a batch (with the client's signature).
  wire::SignedRequest signed_request(ClientId c, RequestNo t, Bytes op) {
    const wire::Request req{c, t, false, std::move(op)};
    const auto& crypto = *client_crypto_.at(c);
    return {req, crypto.sign(wire::signing_input_of(Principal::client(c), req))};
  }
  void client_sends(ClientId c, Bytes frame, ReplicaId to) { network.push_back({Principal::client(c), to, 0, frame}); }

  // Hand one frame to replica i and carry out the effects.
  void input(ReplicaId i, const Bytes& frame) {
    if (!up(i)) return;
    Effects fx;
    nodes[i]->core->receive(now, frame, fx);
    apply(i, fx);
  }
  void tick(ReplicaId i) {
    if (!up(i)) return;
    Effects fx;
    nodes[i]->core->tick(now, fx);
    apply(i, fx);
  }

  void apply(ReplicaId i, Effects& fx) {
    for (auto& op : fx.persist) {
      if (op.value) nodes[i]->disk[op.key] = *op.value;
      else nodes[i]->disk.erase(op.key);
    }
    nodes[i]->store.commit();  // one commit with the persist ops
    for (auto& e : fx.executed) nodes[i]->executed.push_back(e);
    for (auto& out : fx.send) {
      std::vector<InFlight> copies;
      switch (out.to.kind) {
        case Destination::Kind::replica: copies.push_back({Principal::replica(i), out.to.id, 0, out.frame}); break;
        case Destination::Kind::all_replicas:
          for (ReplicaId r = 0; r < n(); ++r)
            if (r != i) copies.push_back({Principal::replica(i), r, 0, out.frame});
          break;
        case Destination::Kind::client:
          copies.push_back({Principal::replica(i), std::nullopt, out.to.id, out.frame});
          break;
      }
      for (auto& m : copies) {
        if (drop(m)) continue;
        if (m.to) network.push_back(std::move(m));
        else client_inbox.push_back(std::move(m));
      }
    }
  }

  // Deliver queued frames (FIFO) until the network is empty.
  void deliver_all(std::size_t limit = 100000) {
    for (std::size_t k = 0; k < limit && !network.empty(); ++k) {
      InFlight m = std::move(network.front());
      network.pop_front();
      input(*m.to, m.frame);
    }
    REQUIRE(network.empty());
  }

  // Advance the clock, firing due timers, delivering after each step.
  void advance(TimeUs us, TimeUs step_us = 10000) {
    for (TimeUs t = 0; t < us; t += step_us) {
      now += step_us;
      for (ReplicaId i = 0; i < n(); ++i) {
        if (up(i) && nodes[i]->core->next_deadline() <= now) tick(i);
      }
      deliver_all();
    }
  }

  // Every replica takes its first input (arming its timers); then replica
  // `leader` alone reaches its election timeout, campaigns and wins.
  void elect(ReplicaId leader) {
    for (ReplicaId i = 0; i < n(); ++i) tick(i);
    deliver_all();
    now = std::max(now, core(leader).next_deadline());
    tick(leader);
    deliver_all();
    REQUIRE(status(leader).is_leader);
  }

  // The replica that leads, if exactly one does.
  std::optional<ReplicaId> the_leader() {
    std::optional<ReplicaId> found;
    for (ReplicaId i = 0; i < n(); ++i) {
      if (!up(i) || !status(i).is_leader) continue;
      if (found) return std::nullopt;
      found = i;
    }
    return found;
  }

  // Replies a client received for t, in arrival order, decoded and verified.
  std::vector<std::pair<ReplicaId, wire::Reply>> replies(ClientId c, RequestNo t) {
    std::vector<std::pair<ReplicaId, wire::Reply>> out;
    for (const auto& m : client_inbox) {
      if (m.client != c) continue;
      auto env = wire::decode_envelope(m.frame);
      REQUIRE(env.has_value());
      auto reply = wire::decode<wire::Reply>(env->payload);
      REQUIRE(reply.has_value());
      const bool ok = client_crypto_.at(c)->verify(env->sender, wire::signing_input_of(env->sender, *reply),
                                                   env->authenticator);
      REQUIRE(ok);
      if (reply->t == t) out.emplace_back(env->sender.id, *reply);
    }
    return out;
  }

  // A message as replica `as` sends it, signed or with MACs as the config
  // says (tests use it to script a peer).
  template <class M>
  Bytes frame_as(ReplicaId as, const M& m) {
    const auto& crypto = *nodes[as]->crypto;
    return wire::make_frame(Principal::replica(as), m, [&](ByteView in) {
      return wire::paxos_replica_authenticator(config, crypto, as, in);
    });
  }

  template <class M>
  static std::optional<M> decode_as(const Bytes& frame) {
    auto env = wire::decode_envelope(frame);
    if (!env) return std::nullopt;
    auto m = wire::decode<M>(env->payload);
    if (!m) return std::nullopt;
    return *m;
  }

  // Queued frames of type M (optionally only from / to one replica), decoded.
  template <class M>
  std::vector<M> queued(std::optional<ReplicaId> from = std::nullopt, std::optional<ReplicaId> to = std::nullopt) {
    std::vector<M> out;
    for (const auto& m : network) {
      if (m.type() != wire::type_of<M>) continue;
      if (from && m.from != Principal::replica(*from)) continue;
      if (to && m.to != to) continue;
      auto decoded = decode_as<M>(m.frame);
      REQUIRE(decoded.has_value());
      out.push_back(*decoded);
    }
    return out;
  }

  std::uint64_t rejected(ReplicaId i, Rejection why) { return status(i).rejected[static_cast<std::size_t>(why)]; }

 private:
  static std::string pem(const crypto::PrivateKey& key) {
    auto pub = key.public_key();
    REQUIRE(pub.has_value());
    auto text = pub->to_pem();
    REQUIRE(text.has_value());
    return *text;
  }
  std::unique_ptr<runtime::OpenSslCrypto> make_crypto(const crypto::PrivateKey& key) {
    auto own = key.clone();
    REQUIRE(own.has_value());
    auto c = runtime::OpenSslCrypto::from_config(config, std::move(*own));
    REQUIRE(c.has_value());
    return std::move(*c);
  }

  App app_;
  paxos::Bugs bugs_;
  std::vector<crypto::PrivateKey> replica_keys_;
  std::map<ClientId, crypto::PrivateKey> client_keys_;
  std::map<ClientId, std::unique_ptr<runtime::OpenSslCrypto>> client_crypto_;
};

}  // namespace synod::test
