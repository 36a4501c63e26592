// tests/pbft/cluster.hpp — a scripted PBFT cluster for unit tests: real
// OpenSSL signatures, the counter app, a FIFO network the test controls
// (drop, intercept, deliver), a manual clock, crash and restart from what
// each replica persisted. Drives the core only through its inputs.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/store_backend.hpp"
#include "pbft/pbft.hpp"
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

// A node's crypto as its core sees it: forwards to the real one and counts
// the signatures checked (tests read `verifies`).
class CountingCrypto final : public Crypto {
 public:
  explicit CountingCrypto(const Crypto& inner) : inner_(inner) {}
  Digest digest(ByteView data) const override { return inner_.digest(data); }
  Bytes sign(ByteView data) const override { return inner_.sign(data); }
  bool verify(Principal signer, ByteView data, ByteView signature) const override {
    ++verifies;
    return inner_.verify(signer, data, signature);
  }
  bool verify_all(std::span<const SignatureCheck> checks) const override {
    verifies += checks.size();
    return inner_.verify_all(checks);
  }
  Bytes mac(Principal peer, ByteView data) const override { return inner_.mac(peer, data); }
  bool verify_mac(Principal peer, ByteView data, ByteView tag) const override {
    return inner_.verify_mac(peer, data, tag);
  }
  mutable std::uint64_t verifies = 0;

 private:
  const Crypto& inner_;
};

class Cluster {
 public:
  static constexpr std::uint32_t kClients = 3;

  // A store-backed cluster runs the kv example on a MemoryStore per replica
  // (committed with the persist ops, crashed with the core); the others the
  // counter.
  enum class App { counter, store_kv };

  explicit Cluster(std::uint32_t f = 1, pbft::Bugs bugs = {}, Authentication auth = Authentication::signatures,
                   App app = App::counter)
      : app_(app), bugs_(bugs) {
    config.protocol = Protocol::pbft;
    config.authentication = auth;
    config.f = f;
    config.checkpoint_interval = 4;
    config.window = 8;
    config.batch_max_requests = 8;
    config.view_change_timeout_ms = 1000;
    const std::uint32_t n = 3 * f + 1;
    for (ReplicaId i = 0; i < n; ++i) {
      auto key = crypto::PrivateKey::generate();
      REQUIRE(key.has_value());
      replica_keys_.push_back(std::move(*key));
      config.replicas.push_back({i, "tcp://127.0.0.1:" + std::to_string(7000 + i), pem(replica_keys_.back())});
    }
    for (ClientId c = 1; c <= kClients; ++c) {
      auto key = crypto::PrivateKey::generate();
      REQUIRE(key.has_value());
      client_keys_.emplace(c, std::move(*key));
      config.clients.push_back({c, pem(client_keys_.at(c))});
    }
    REQUIRE(config.validate().has_value());
    for (ReplicaId i = 0; i < n; ++i) {
      auto node = std::make_unique<Node>();
      node->crypto = make_crypto(replica_keys_[i]);
      node->crypto->use_verify_helpers(2);  // a batch's requests are checked in parallel, as in synod-replica
      node->counting = std::make_unique<CountingCrypto>(*node->crypto);
      nodes.push_back(std::move(node));
      start(i);
    }
    for (ClientId c = 1; c <= kClients; ++c) client_crypto_.emplace(c, make_crypto(client_keys_.at(c)));
  }

  struct Node {
    std::unique_ptr<runtime::OpenSslCrypto> crypto;
    std::unique_ptr<CountingCrypto> counting;  // what the core uses
    examples::Counter app;
    examples::StoreKv store_app;
    MemoryStore store;  // App::store_kv: the store's tables, as durable as `disk`
    DurableState disk;
    std::unique_ptr<Replica> core;
    std::vector<ExecutedBatch> executed;
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

  void crash(ReplicaId i) {
    nodes[i]->core.reset();
    nodes[i]->app = examples::Counter{};
    nodes[i]->store.crash();
  }
  void start(ReplicaId i) {
    Node& node = *nodes[i];
    auto core = app_ == App::store_kv
                    ? pbft::make_replica(config, i, *node.counting, node.store_app, node.store, node.disk, bugs_)
                    : pbft::make_replica(config, i, *node.counting, node.app, node.disk, bugs_);
    REQUIRE(core.has_value());
    node.core = std::move(*core);
  }

  // A client's signed request frame.
  Bytes request(ClientId c, RequestNo t, Bytes op, bool read_only = false) {
    const wire::Request req{c, t, read_only, std::move(op)};
    const auto& crypto = *client_crypto_.at(c);
    return wire::make_frame(Principal::client(c), req, [&](ByteView in) { return crypto.sign(in); });
  }
  void client_sends(ClientId c, Bytes frame, std::optional<ReplicaId> to = std::nullopt) {
    for (ReplicaId i = 0; i < n(); ++i) {
      if (to && *to != i) continue;
      network.push_back({Principal::client(c), i, 0, frame});
    }
  }

  // Hand one frame to replica i and carry out the effects.
  void input(ReplicaId i, const Bytes& frame) {
    if (!up(i)) return;
    Effects fx;
    nodes[i]->core->receive(now, frame, fx);
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
        case Destination::Kind::client: copies.push_back({Principal::replica(i), std::nullopt, out.to.id, out.frame}); break;
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
        if (!up(i) || nodes[i]->core->next_deadline() > now) continue;
        Effects fx;
        nodes[i]->core->tick(now, fx);
        apply(i, fx);
      }
      deliver_all();
    }
  }

  // Replies a client received for t, by replica, decoded and verified.
  std::map<ReplicaId, wire::Reply> replies(ClientId c, RequestNo t) {
    std::map<ReplicaId, wire::Reply> out;
    for (const auto& m : client_inbox) {
      if (m.client != c) continue;
      auto env = wire::decode_envelope(m.frame);
      REQUIRE(env.has_value());
      auto reply = wire::decode<wire::Reply>(env->payload);
      REQUIRE(reply.has_value());
      REQUIRE(wire::reply_authentic(config, *client_crypto_.at(c), *env));
      if (reply->t == t) out[env->sender.id] = *reply;
    }
    return out;
  }

  const runtime::OpenSslCrypto& client_crypto(ClientId c) const { return *client_crypto_.at(c); }

  // Re-sign a message as replica `as` (tests use it to play a faulty replica).
  template <class M>
  Bytes frame_as(ReplicaId as, const M& m) {
    const auto& crypto = *nodes[as]->crypto;
    return wire::make_frame(Principal::replica(as), m, [&](ByteView in) { return crypto.sign(in); });
  }

  template <class M>
  static std::optional<M> decode_as(const Bytes& frame) {
    auto env = wire::decode_envelope(frame);
    if (!env) return std::nullopt;
    auto m = wire::decode<M>(env->payload);
    if (!m) return std::nullopt;
    return *m;
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
  pbft::Bugs bugs_;
  std::vector<crypto::PrivateKey> replica_keys_;
  std::map<ClientId, crypto::PrivateKey> client_keys_;
  std::map<ClientId, std::unique_ptr<runtime::OpenSslCrypto>> client_crypto_;
};

}  // namespace synod::test
