// One state machine, two protocols: the kv example (examples/kv), unchanged,
// replicated by PBFT (4 replicas) and by Multi-Paxos (3 replicas) in an
// in-process cluster. The same client workload must see the same results in
// both modes, and every replica of both clusters must end in the same state.
#include <doctest/doctest.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "client/session.hpp"
#include "paxos/paxos.hpp"
#include "pbft/pbft.hpp"
#include "sim/fake_crypto.hpp"
#include "synod/examples/kv.hpp"

namespace synod::sim {
namespace {

namespace kv = examples::kv;

struct Op {
  Bytes bytes;
  bool read_only = false;
};

// Writes, reads (ordered and read-only), deletes and compare-and-sets over
// a few keys, enough to pass several checkpoints (K = 4).
std::vector<Op> workload() {
  std::vector<Op> ops;
  for (int i = 0; i < 30; ++i) {
    const std::string key = "k" + std::to_string(i % 4);
    const std::string value = "v" + std::to_string(i);
    switch (i % 6) {
      case 0: ops.push_back({kv::encode_put(key, value)}); break;
      case 1: ops.push_back({kv::encode_get(key), true}); break;
      case 2: ops.push_back({kv::encode_cas(key, std::nullopt, value)}); break;
      case 3: ops.push_back({kv::encode_cas(key, "v" + std::to_string(i - 3), value)}); break;
      case 4: ops.push_back({kv::encode_get(key)}); break;
      default: ops.push_back({kv::encode_del(key)}); break;
    }
  }
  return ops;
}

ClusterConfig make_config(Protocol protocol) {
  ClusterConfig c;
  c.protocol = protocol;
  c.f = 1;
  const std::uint32_t n = protocol == Protocol::pbft ? 4 : 3;
  for (ReplicaId i = 0; i < n; ++i) {
    ReplicaInfo info;  // by field: more fields may follow, all defaulted
    info.id = i;
    info.endpoint = "sim://r" + std::to_string(i);
    info.public_key = "sim-key-r" + std::to_string(i);
    c.replicas.push_back(std::move(info));
  }
  c.clients.push_back({.id = 0, .public_key = "sim-key-c0"});
  c.checkpoint_interval = 4;
  c.window = 8;
  c.batch_max_requests = 2;
  return c;
}

// A fault-free in-process cluster: FIFO delivery, 100 us per message.
class Cluster {
 public:
  explicit Cluster(Protocol protocol)
      : config_(make_config(protocol)), keys_(42, config_.n(), 1), client_crypto_(keys_, Principal::client(0)),
        session_(config_, 0, client_crypto_) {
    REQUIRE(config_.validate().has_value());
    for (ReplicaId i = 0; i < config_.n(); ++i) {
      crypto_.push_back(std::make_unique<FakeCrypto>(keys_, Principal::replica(i)));
      apps_.push_back(std::make_unique<examples::KvStore>());
      durable_.emplace_back();
      auto core = protocol == Protocol::pbft
                      ? pbft::make_replica(config_, i, *crypto_[i], *apps_[i], durable_[i])
                      : paxos::make_replica(config_, i, *crypto_[i], *apps_[i], durable_[i], 7);
      REQUIRE(core.has_value());
      cores_.push_back(std::move(*core));
    }
  }

  // Runs one request to completion; its result.
  Bytes invoke(const Op& op) {
    client::SessionEffects out;
    REQUIRE(session_.submit(now_, op.bytes, op.read_only, out).has_value());
    client_effects(out);
    constexpr int kMaxSteps = 200'000;
    for (int step = 0; step < kMaxSteps && !completed_; ++step) this->step();
    REQUIRE(completed_.has_value());
    Bytes result = std::move(completed_->result);
    completed_.reset();
    return result;
  }

  // Lets every replica execute what was ordered (followers learn the
  // commit index from heartbeats / commits).
  void settle(TimeUs for_us) {
    const TimeUs until = now_ + for_us;
    constexpr int kMaxSteps = 200'000;
    for (int step = 0; step < kMaxSteps && now_ < until; ++step) this->step();
  }

  const examples::KvStore& app(ReplicaId i) const { return *apps_[i]; }
  Seq last_executed(ReplicaId i) const { return cores_[i]->status().last_executed; }
  std::uint32_t n() const { return config_.n(); }

 private:
  struct Message {
    Principal to;
    Bytes frame;
  };

  void step() {
    if (!queue_.empty()) {
      Message m = std::move(queue_.front());
      queue_.pop_front();
      now_ += 100;
      if (m.to.is_client()) {
        client::SessionEffects out;
        session_.receive(now_, m.frame, out);
        client_effects(out);
      } else {
        Effects out;
        cores_[m.to.id]->receive(now_, m.frame, out);
        replica_effects(m.to.id, out);
      }
      return;
    }
    // Nothing in flight: jump to the earliest timer.
    TimeUs next = session_.next_deadline();
    for (const auto& core : cores_) next = std::min(next, core->next_deadline());
    now_ = std::max(now_ + 1, std::min(next, now_ + 1'000'000));
    for (ReplicaId i = 0; i < cores_.size(); ++i) {
      if (cores_[i]->next_deadline() > now_) continue;
      Effects out;
      cores_[i]->tick(now_, out);
      replica_effects(i, out);
    }
    if (session_.next_deadline() <= now_) {
      client::SessionEffects out;
      session_.tick(now_, out);
      client_effects(out);
    }
  }

  void replica_effects(ReplicaId from, Effects& out) {
    for (PersistOp& op : out.persist) {
      if (op.value) durable_[from][op.key] = std::move(*op.value);
      else durable_[from].erase(op.key);
    }
    for (OutboundFrame& f : out.send) route(Principal::replica(from), f.to, std::move(f.frame));
  }

  void client_effects(client::SessionEffects& out) {
    for (OutboundFrame& f : out.send) route(Principal::client(0), f.to, std::move(f.frame));
    if (out.completed) completed_ = std::move(out.completed);
  }

  void route(Principal from, Destination to, Bytes frame) {
    switch (to.kind) {
      case Destination::Kind::all_replicas:
        for (ReplicaId j = 0; j < cores_.size(); ++j) {
          if (!(from.is_replica() && from.id == j)) queue_.push_back({Principal::replica(j), frame});
        }
        return;
      case Destination::Kind::replica: queue_.push_back({Principal::replica(to.id), std::move(frame)}); return;
      case Destination::Kind::client: queue_.push_back({Principal::client(to.id), std::move(frame)}); return;
    }
  }

  ClusterConfig config_;
  KeyTable keys_;
  FakeCrypto client_crypto_;
  client::Session session_;
  std::vector<std::unique_ptr<FakeCrypto>> crypto_;
  std::vector<std::unique_ptr<examples::KvStore>> apps_;
  std::vector<DurableState> durable_;
  std::vector<std::unique_ptr<Replica>> cores_;
  std::deque<Message> queue_;
  std::optional<client::Completion> completed_;
  TimeUs now_ = 1;
};

std::string show(const Bytes& result) {
  const auto r = kv::decode_result(result);
  if (!r) return "undecodable";
  return std::string(kv::to_string(r->status)) + (r->value ? " " + *r->value : "");
}

TEST_CASE("the kv example runs unchanged under pbft and paxos: same results, same final state") {
  const std::vector<Op> ops = workload();
  Cluster pbft_cluster(Protocol::pbft);
  Cluster paxos_cluster(Protocol::paxos);
  std::size_t ok = 0, mismatches = 0;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const Bytes a = pbft_cluster.invoke(ops[i]);
    const Bytes b = paxos_cluster.invoke(ops[i]);
    CAPTURE(i);
    CHECK(show(a) == show(b));
    CHECK(a == b);
    const auto decoded = kv::decode_result(a);
    REQUIRE(decoded.has_value());
    ok += decoded->status == kv::KvResult::Status::ok ? 1 : 0;
    mismatches += decoded->status == kv::KvResult::Status::cas_mismatch ? 1 : 0;
  }
  // The workload exercises more than one outcome (not a constant result).
  CHECK(ok > 10);
  CHECK(mismatches > 0);

  pbft_cluster.settle(2'000'000);
  paxos_cluster.settle(2'000'000);
  const Bytes reference = pbft_cluster.app(0).snapshot();
  CHECK_FALSE(reference.empty());
  for (ReplicaId i = 0; i < pbft_cluster.n(); ++i) {
    CAPTURE(i);
    CHECK(pbft_cluster.app(i).snapshot() == reference);
    CHECK(pbft_cluster.last_executed(i) > 0);
  }
  for (ReplicaId i = 0; i < paxos_cluster.n(); ++i) {
    CAPTURE(i);
    CHECK(paxos_cluster.app(i).snapshot() == reference);
    CHECK(paxos_cluster.last_executed(i) > 0);
  }
  // And it is what the workload should leave: a store that executes the
  // writes one by one, without replication, ends in the same state.
  examples::KvStore direct;
  RequestNo t = 0;
  for (const Op& op : ops) {
    ++t;
    if (op.read_only) continue;
    const Operation one{0, t, op.bytes};
    (void)direct.execute(std::span<const Operation>(&one, 1));
  }
  CHECK(direct.snapshot() == reference);
}

}  // namespace
}  // namespace synod::sim
