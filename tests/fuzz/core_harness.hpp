// tests/fuzz/core_harness.hpp — a protocol core cluster driven by a fuzzer.
//
// Every replica runs the real core (PBFT or Multi-Paxos) with the counter
// app, an in-memory disk and a test signature scheme (below); the fuzzer's
// bytes are a script that decides everything else, one step at a time:
//   deliver the in-flight frame k (or the oldest), drop it, duplicate it;
//   advance the clock and fire due timers; crash a replica and restart it
//   from what it persisted; a correct client (1 or 2) sends a signed
//   request; the faulty client 3 sends anything, signed; replica `forged`
//   sends anything, signed with its key — either fresh fuzzed bytes or an
//   in-flight frame with fuzzed edits (so the mutation starts from real
//   structure) — to any replica; raw garbage arrives unsigned.
// Because the forged messages carry valid signatures, the cores' logic
// past authentication is reached. The cores' own invariants (SYNOD_ASSERT,
// which aborts) are checked on every step; the harness adds agreement
// checks over what the replicas report as executed:
//   * one batch digest per sequence number;
//   * a request (client, t) executes at one sequence number only, with one
//     operation digest and one result digest.
// Replicas whose identity the fuzzer used are excluded (they are the
// Byzantine ones); in Multi-Paxos, a crash-fault protocol, any forged
// replica message switches the agreement checks off for the rest of the
// input (a lying acceptor may break Paxos safety by design), leaving "no
// crash, no invariant, no unbounded allocation".
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "synod/examples/counter.hpp"
#include "synod/replica.hpp"
#include "wire/authenticate.hpp"
#include "wire/codec.hpp"

namespace synod::fuzz {

inline void require(bool ok) {
  if (!ok) __builtin_trap();
}

// A 64-bit mixing step (splitmix64's finaliser).
inline std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

inline std::uint64_t keyed_hash(ByteView data, std::uint64_t key) {
  std::uint64_t h = mix(key ^ data.size());
  std::size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, data.data() + i, 8);
    h = mix(h ^ w) + 0x9e3779b97f4a7c15ull;
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, data.data() + i, data.size() - i);
  return mix(h ^ tail ^ 0x5bd1e995ull);
}

// Test keys: each principal's secret is a fixed function of its identity,
// a signature is a keyed hash of the signed bytes (8 bytes), the digest is
// four keyed hashes. Not cryptographic; it keeps what the cores rely on (a
// changed byte or another signer fails verification) at fuzzing speed.
inline std::uint64_t secret_of(Principal p) {
  return mix((static_cast<std::uint64_t>(p.kind) << 40) ^ p.id ^ 0x7e57'0000'0000'0000ull);
}

class TestCrypto final : public Crypto {
 public:
  explicit TestCrypto(Principal self) : self_(self) {}
  Digest digest(ByteView data) const override {
    Digest d{};
    for (std::uint64_t lane = 0; lane < 4; ++lane) {
      const std::uint64_t h = keyed_hash(data, 0xd16e57 + lane);
      std::memcpy(d.data() + 8 * lane, &h, 8);
    }
    return d;
  }
  Bytes sign(ByteView data) const override { return sign_as(self_, data); }
  bool verify(Principal signer, ByteView data, ByteView signature) const override {
    const Bytes expected = sign_as(signer, data);
    return signature.size() == expected.size() && std::equal(expected.begin(), expected.end(), signature.begin());
  }
  Bytes mac(Principal peer, ByteView data) const override { return mac_between(self_, peer, data); }
  bool verify_mac(Principal peer, ByteView data, ByteView tag) const override {
    const Bytes expected = mac_between(self_, peer, data);
    return tag.size() == expected.size() && std::equal(expected.begin(), expected.end(), tag.begin());
  }
  // The MAC both ends of a pair compute (the fuzzer may forge any of them).
  static Bytes mac_between(Principal a, Principal b, ByteView data) {
    const std::uint64_t x = secret_of(a), y = secret_of(b);
    const std::uint64_t h = keyed_hash(data, mix(std::min(x, y) ^ mix(std::max(x, y))));
    Bytes out(kMacBytes);
    std::memcpy(out.data(), &h, 8);
    return out;
  }
  static Bytes sign_as(Principal who, ByteView data) {
    const std::uint64_t h = keyed_hash(data, secret_of(who));
    Bytes out(8);
    std::memcpy(out.data(), &h, 8);
    return out;
  }

 private:
  Principal self_;
};

// Signs `payload` of `type` as `sender` the way a correct node would
// (a pre-prepare signs its header only), whether or not it decodes.
inline Bytes forge_frame(const ClusterConfig& config, Principal sender, wire::MsgType type, Bytes payload) {
  wire::Envelope e;
  e.type = type;
  e.sender = sender;
  e.payload = std::move(payload);
  ByteView signed_part = as_view(e.payload);
  Bytes header;
  if (type == wire::MsgType::pre_prepare) {
    if (auto m = wire::decode<wire::PrePrepare>(as_view(e.payload))) {
      header = wire::encode(m->header);
      signed_part = as_view(header);
    }
  }
  const Bytes input = wire::signing_input(type, sender, signed_part);
  e.authenticator = TestCrypto::sign_as(sender, input);
  // MAC mode: requests and commits also carry one MAC per replica, as the
  // sender's own crypto computes them (wire/authenticate.hpp).
  // And a paxos replica's message carries one MAC per replica instead.
  if (config.authentication == Authentication::macs &&
      (type == wire::MsgType::request || (type == wire::MsgType::commit && config.protocol == Protocol::pbft))) {
    e.authenticator = wire::signature_and_macs(TestCrypto(sender), config.n(), input, std::move(e.authenticator));
  } else if (sender.is_replica()) {
    e.authenticator = wire::paxos_replica_authenticator(config, TestCrypto(sender), sender.id, input);
  }
  return wire::encode_envelope(e);
}

struct InFlight {
  Principal from;
  ReplicaId to = 0;
  Bytes frame;
};

// MakeCore(config, id, crypto, app, disk) -> Result<unique_ptr<Replica>>.
template <class MakeCore>
class Harness {
 public:
  static constexpr std::size_t kMaxSteps = 400;
  static constexpr std::size_t kMaxInFlight = 2048;
  static constexpr ClientId kFaultyClient = 3;

  Harness(ClusterConfig config, ReplicaId forged, bool byzantine_protocol, MakeCore make)
      : config_(std::move(config)), forged_(forged), byzantine_protocol_(byzantine_protocol), make_(make) {
    require(config_.validate().has_value());
    for (ReplicaId i = 0; i < config_.n(); ++i) {
      auto node = std::make_unique<Node>(Principal::replica(i));
      nodes_.push_back(std::move(node));
      start(i);
    }
  }

  void run(FuzzedDataProvider& in) {
    for (std::size_t step = 0; step < kMaxSteps && in.remaining_bytes() > 0; ++step) {
      switch (in.ConsumeIntegralInRange<int>(0, 11)) {
        case 0:
        case 1: deliver(in.ConsumeIntegral<std::uint16_t>()); break;
        case 2: deliver(0); break;
        case 3:
          if (!network_.empty()) network_.erase(network_.begin() + pick(in));
          break;
        case 4:
          if (!network_.empty() && network_.size() < kMaxInFlight) network_.push_back(network_[pick(in)]);
          break;
        case 5: advance(in.ConsumeIntegralInRange<TimeUs>(1, 3'000'000)); break;
        case 6: restart(in.ConsumeIntegralInRange<ReplicaId>(0, config_.n() - 1)); break;
        case 7: correct_request(in); break;
        case 8: faulty_client(in); break;
        case 9: forged_fresh(in); break;
        case 10: forged_edit(in); break;
        case 11: {
          const ReplicaId to = in.ConsumeIntegralInRange<ReplicaId>(0, config_.n() - 1);
          input(to, in.ConsumeBytes<std::uint8_t>(in.ConsumeIntegralInRange<std::size_t>(0, 512)));
          break;
        }
      }
    }
    // Let the cluster settle, then check status() on every replica.
    for (int k = 0; k < 4; ++k) advance(1'000'000);
    for (auto& node : nodes_) (void)node->core->status();
  }

 private:
  struct Node {
    explicit Node(Principal p) : crypto(p) {}
    TestCrypto crypto;
    examples::Counter app;
    DurableState disk;
    std::unique_ptr<Replica> core;
  };

  std::size_t pick(FuzzedDataProvider& in) { return in.ConsumeIntegral<std::uint16_t>() % network_.size(); }

  void start(ReplicaId i) {
    Node& node = *nodes_[i];
    node.app = examples::Counter{};
    auto core = make_(config_, i, node.crypto, node.app, node.disk);
    require(core.has_value());  // a core restarts from anything it persisted
    node.core = std::move(*core);
  }

  void restart(ReplicaId i) {
    nodes_[i]->core.reset();
    start(i);
  }

  void input(ReplicaId to, const Bytes& frame) {
    Effects fx;
    nodes_[to]->core->receive(now_, as_view(frame), fx);
    apply(to, fx);
  }

  void deliver(std::size_t k) {
    if (network_.empty()) return;
    k %= network_.size();
    InFlight m = std::move(network_[k]);
    network_.erase(network_.begin() + static_cast<std::ptrdiff_t>(k));
    input(m.to, m.frame);
  }

  void advance(TimeUs us) {
    now_ += us;
    for (ReplicaId i = 0; i < config_.n(); ++i) {
      if (nodes_[i]->core->next_deadline() > now_) continue;
      Effects fx;
      nodes_[i]->core->tick(now_, fx);
      apply(i, fx);
    }
  }

  void apply(ReplicaId i, Effects& fx) {
    Node& node = *nodes_[i];
    for (auto& op : fx.persist) {
      if (op.value) node.disk[op.key] = std::move(*op.value);
      else node.disk.erase(op.key);
    }
    for (const auto& batch : fx.executed) check_executed(i, batch);
    for (auto& out : fx.send) {
      switch (out.to.kind) {
        case Destination::Kind::replica:
          require(out.to.id < config_.n());
          queue({Principal::replica(i), out.to.id, std::move(out.frame)});
          break;
        case Destination::Kind::all_replicas:
          for (ReplicaId r = 0; r < config_.n(); ++r)
            if (r != i) queue({Principal::replica(i), r, out.frame});
          break;
        case Destination::Kind::client: break;  // replies are not checked here
      }
    }
  }

  void queue(InFlight m) {
    if (network_.size() < kMaxInFlight) network_.push_back(std::move(m));
  }

  bool checked(ReplicaId i) const {
    if (!byzantine_protocol_ && forged_any_) return false;
    return !(forged_any_ && i == forged_);
  }

  void check_executed(ReplicaId i, const ExecutedBatch& batch) {
    if (!checked(i)) return;
    auto [it, fresh] = batch_at_.emplace(batch.seq, batch.batch_digest);
    require(fresh || it->second == batch.batch_digest);
    for (const auto& r : batch.requests) {
      auto [rit, rfresh] =
          request_at_.emplace(std::make_pair(r.client, r.request),
                              std::make_tuple(batch.seq, r.operation_digest, r.result_digest));
      require(rfresh || rit->second == std::make_tuple(batch.seq, r.operation_digest, r.result_digest));
    }
  }

  // Clients 1 and 2: well-formed counter operations, signed, request numbers
  // increasing (sometimes a retransmission of the last one).
  void correct_request(FuzzedDataProvider& in) {
    const ClientId c = in.ConsumeBool() ? 1 : 2;
    RequestNo& t = next_t_[c];
    if (!in.ConsumeBool() || t == 0) ++t;
    const bool read_only = in.ConsumeIntegralInRange<int>(0, 7) == 0;
    const Bytes op = read_only ? examples::counter::encode_get()
                               : examples::counter::encode_add(in.ConsumeIntegralInRange<std::uint64_t>(0, 9));
    const wire::Request req{c, t, read_only, op};
    const Bytes frame = wire::make_frame(Principal::client(c), req,
                                         [&](ByteView data) { return TestCrypto::sign_as(Principal::client(c), data); });
    const int to = in.ConsumeIntegralInRange<int>(-1, static_cast<int>(config_.n()) - 1);
    for (ReplicaId r = 0; r < config_.n(); ++r)
      if (to < 0 || static_cast<ReplicaId>(to) == r) input(r, frame);
  }

  wire::MsgType fuzzed_type(FuzzedDataProvider& in) {
    static constexpr wire::MsgType kTypes[] = {
        wire::MsgType::request,        wire::MsgType::reply,          wire::MsgType::pre_prepare,
        wire::MsgType::prepare,        wire::MsgType::commit,         wire::MsgType::checkpoint,
        wire::MsgType::view_change,    wire::MsgType::new_view,       wire::MsgType::fetch_state,
        wire::MsgType::state_snapshot, wire::MsgType::fetch_batches,  wire::MsgType::committed_batches,
        wire::MsgType::paxos_prepare,  wire::MsgType::promise,        wire::MsgType::accept,
        wire::MsgType::accepted,       wire::MsgType::nack,           wire::MsgType::heartbeat,
        wire::MsgType::catch_up_request, wire::MsgType::catch_up,     wire::MsgType::status_request};
    return kTypes[in.ConsumeIntegralInRange<std::size_t>(0, std::size(kTypes) - 1)];
  }

  void faulty_client(FuzzedDataProvider& in) {
    const ReplicaId to = in.ConsumeIntegralInRange<ReplicaId>(0, config_.n() - 1);
    const wire::MsgType type = in.ConsumeBool() ? wire::MsgType::request : fuzzed_type(in);
    Bytes payload = in.ConsumeBytes<std::uint8_t>(in.ConsumeIntegralInRange<std::size_t>(0, 256));
    input(to, forge_frame(config_, Principal::client(kFaultyClient), type, std::move(payload)));
  }

  void forged_fresh(FuzzedDataProvider& in) {
    const ReplicaId to = in.ConsumeIntegralInRange<ReplicaId>(0, config_.n() - 1);
    const wire::MsgType type = fuzzed_type(in);
    Bytes payload = in.ConsumeBytes<std::uint8_t>(in.ConsumeIntegralInRange<std::size_t>(0, 1024));
    forged_any_ = true;
    input(to, forge_frame(config_, Principal::replica(forged_), type, std::move(payload)));
  }

  // An in-flight frame, edited byte-wise by the fuzzer, re-signed by the
  // forged replica and sent to any replica.
  void forged_edit(FuzzedDataProvider& in) {
    if (network_.empty()) return;
    const InFlight& m = network_[pick(in)];
    auto env = wire::decode_envelope(as_view(m.frame));
    if (!env) return;
    Bytes payload = env->payload;
    const int edits = in.ConsumeIntegralInRange<int>(0, 4);
    for (int k = 0; k < edits && !payload.empty(); ++k) {
      const std::size_t at = in.ConsumeIntegral<std::uint16_t>() % payload.size();
      payload[at] = in.ConsumeIntegral<std::uint8_t>();
    }
    const ReplicaId to = in.ConsumeIntegralInRange<ReplicaId>(0, config_.n() - 1);
    forged_any_ = true;
    input(to, forge_frame(config_, Principal::replica(forged_), env->type, std::move(payload)));
  }

  ClusterConfig config_;
  ReplicaId forged_;
  bool byzantine_protocol_;
  MakeCore make_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::deque<InFlight> network_;
  TimeUs now_ = 1;
  bool forged_any_ = false;
  std::map<ClientId, RequestNo> next_t_;
  std::map<Seq, Digest> batch_at_;
  std::map<std::pair<ClientId, RequestNo>, std::tuple<Seq, Digest, Digest>> request_at_;
};

// A small cluster config: f = 1, clients 1..3, short windows so that
// checkpoints, garbage collection and view changes happen within a few
// hundred steps.
inline ClusterConfig small_config(Protocol protocol) {
  ClusterConfig config;
  config.protocol = protocol;
  config.f = 1;
  config.checkpoint_interval = 2;
  config.window = 4;
  config.batch_max_requests = 2;
  config.batch_timeout_us = 1000;
  config.view_change_timeout_ms = 100;
  config.request_timeout_ms = 50;
  config.heartbeat_interval_ms = 10;
  config.election_timeout_ms = 50;
  config.max_pending_per_client = 4;
  for (ReplicaId i = 0; i < config.required_replicas(); ++i)
    config.replicas.push_back({i, "tcp://127.0.0.1:" + std::to_string(7000 + i), "test-key"});
  for (ClientId c = 1; c <= 3; ++c) config.clients.push_back({c, "test-key"});
  return config;
}

// One fuzz input against small_config(protocol) in both authentication
// modes (MAC mode parses authenticators of its own: signature || one MAC
// per replica).
template <class MakeCore>
void run_in_both_modes(const std::uint8_t* data, std::size_t size, Protocol protocol, ReplicaId forged,
                       bool byzantine_protocol, MakeCore make) {
  for (const Authentication auth : {Authentication::signatures, Authentication::macs}) {
    ClusterConfig config = small_config(protocol);
    config.authentication = auth;
    FuzzedDataProvider in(data, size);
    Harness<MakeCore> harness(config, forged, byzantine_protocol, make);
    harness.run(in);
  }
}

}  // namespace synod::fuzz
