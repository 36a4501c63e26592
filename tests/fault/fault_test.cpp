// The faulty replicas behind `synod-replica --fault MODE`: each mode changes
// what leaves the replica as specified, and the runtime's factory refuses
// modes that the config does not allow or that the protocol does not
// tolerate. Real cores and real OpenSSL keys, driven in memory (no sockets,
// no clock: the tests pick every time).
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "fault/faulty_core.hpp"
#include "runtime/core_factory.hpp"
#include "runtime/openssl_crypto.hpp"
#include "synod/crypto/private_key.hpp"
#include "synod/examples/kv.hpp"
#include "wire/codec.hpp"

namespace synod {
namespace {

using runtime::FaultInjection;
using runtime::OpenSslCrypto;

constexpr TimeUs kStart = 1'000'000;

struct Decoded {
  wire::Envelope envelope;
  wire::Message message;
};

Decoded decode(const Bytes& frame) {
  auto envelope = wire::decode_envelope(frame);
  REQUIRE(envelope.has_value());
  auto message = wire::decode_message(*envelope);
  REQUIRE(message.has_value());
  return {std::move(*envelope), std::move(*message)};
}

// A cluster's config and keys: replicas 0..n-1 and one client, all
// Ed25519; every party's OpenSslCrypto knows every public key.
class Keys {
 public:
  explicit Keys(Protocol protocol, bool allow_faults = true) {
    config.protocol = protocol;
    config.f = 1;
    config.checkpoint_interval = 4;
    config.window = 8;
    config.batch_max_requests = 1;  // one request, one batch: one seq per request
    config.allow_fault_injection = allow_faults;
    std::vector<crypto::PrivateKey> keys;
    for (ReplicaId i = 0; i < config.required_replicas(); ++i) {
      auto key = crypto::PrivateKey::generate();
      REQUIRE(key);
      ReplicaInfo info;
      info.id = i;
      info.endpoint = "tcp://127.0.0.1:" + std::to_string(20000 + i);  // never bound: no sockets here
      info.public_key = *key->public_key()->to_pem();
      config.replicas.push_back(std::move(info));
      keys.push_back(std::move(*key));
    }
    auto client_key = crypto::PrivateKey::generate();
    REQUIRE(client_key);
    ClientInfo client_info;
    client_info.id = 0;
    client_info.public_key = *client_key->public_key()->to_pem();
    config.clients.push_back(std::move(client_info));
    REQUIRE(config.validate());
    for (auto& key : keys) {
      auto crypto = OpenSslCrypto::from_config(config, std::move(key));
      REQUIRE(crypto);
      replicas.push_back(std::move(*crypto));
    }
    auto crypto = OpenSslCrypto::from_config(config, std::move(*client_key));
    REQUIRE(crypto);
    client = std::move(*crypto);
  }

  Bytes request(RequestNo t, const std::string& key, const std::string& value) const {
    const wire::Request request{0, t, false, examples::kv::encode_put(key, value)};
    return wire::make_frame(Principal::client(0), request, [this](ByteView d) { return client->sign(d); });
  }

  // Whether the frame's authenticator verifies for the sender it names.
  bool verifies(const Bytes& frame) const {
    const Decoded d = decode(frame);
    const Bytes input =
        std::visit([&](const auto& m) { return wire::signing_input_of(d.envelope.sender, m); }, d.message);
    return client->verify(d.envelope.sender, input, d.envelope.authenticator);
  }

  ClusterConfig config;
  std::vector<std::unique_ptr<OpenSslCrypto>> replicas;
  std::unique_ptr<OpenSslCrypto> client;
};

// Every replica of a cluster in memory: a core each (replica `faulty` built
// with `mode`, the others honest), a FIFO network, and a record of every
// frame each replica sent, per destination replica.
class Cluster {
 public:
  struct Sent {
    ReplicaId from;
    ReplicaId to;
    Bytes frame;
  };

  Cluster(const Keys& keys, ReplicaId faulty, const std::string& mode) : keys_(keys) {
    for (ReplicaId i = 0; i < keys.config.n(); ++i) {
      apps_.push_back(std::make_unique<examples::KvStore>());
      FaultInjection fault;
      if (i == faulty) fault.mode = mode;
      auto core = runtime::make_core(keys.config, i, *keys.replicas[i], *apps_.back(), {}, 7 + i, fault);
      REQUIRE_MESSAGE(core, core.error().message);
      cores_.push_back(std::move(*core));
    }
    deaf_.assign(keys.config.n(), false);
    last_tick_.assign(keys.config.n(), 0);
  }

  Replica& core(ReplicaId i) { return *cores_[i]; }
  // Frames to a deaf replica are lost (client requests included).
  void set_deaf(ReplicaId i, bool deaf) { deaf_[i] = deaf; }

  // The client's request to the given replicas (all when empty).
  void submit(const Bytes& frame, std::vector<ReplicaId> to = {}) {
    if (to.empty()) {
      for (ReplicaId i = 0; i < cores_.size(); ++i) to.push_back(i);
    }
    submitted_.push_back(frame);
    for (ReplicaId i : to) {
      if (deaf_[i]) continue;
      Effects effects;
      cores_[i]->receive(now_, frame, effects);
      dispatch(i, effects);
    }
  }

  // Delivers everything queued (and what that causes), ticking every core
  // whose deadline has passed; at most `budget` frames.
  void settle(std::size_t budget = 20000) {
    for (std::size_t step = 0; step < budget; ++step) {
      tick_due();
      if (queue_.empty()) return;
      Sent next = std::move(queue_.front());
      queue_.pop_front();
      if (deaf_[next.to]) continue;
      Effects effects;
      cores_[next.to]->receive(now_, next.frame, effects);
      dispatch(next.to, effects);
    }
  }

  void advance(TimeUs by) {
    now_ += by;
    settle();
  }

  TimeUs now() const { return now_; }
  const std::vector<Sent>& sent() const { return sent_; }
  const std::vector<Bytes>& submitted() const { return submitted_; }
  const std::vector<Bytes>& to_clients() const { return to_clients_; }
  std::size_t client_replies(ReplicaId from) const { return client_replies_[from]; }

 private:
  // Each core at most once per instant: a flooding core is always due.
  void tick_due() {
    for (ReplicaId i = 0; i < cores_.size(); ++i) {
      if (cores_[i]->next_deadline() > now_ || last_tick_[i] == now_) continue;
      last_tick_[i] = now_;
      Effects effects;
      cores_[i]->tick(now_, effects);
      dispatch(i, effects);
    }
  }

  void dispatch(ReplicaId from, Effects& effects) {
    client_replies_.resize(cores_.size(), 0);
    for (OutboundFrame& out : effects.send) {
      if (out.to.kind == Destination::Kind::client) {
        ++client_replies_[from];
        to_clients_.push_back(out.frame);
        continue;
      }
      for (ReplicaId to = 0; to < cores_.size(); ++to) {
        if (to == from) continue;
        if (out.to.kind == Destination::Kind::replica && out.to.id != to) continue;
        sent_.push_back({from, to, out.frame});
        queue_.push_back({from, to, out.frame});
      }
    }
  }

  const Keys& keys_;
  std::vector<std::unique_ptr<examples::KvStore>> apps_;
  std::vector<std::unique_ptr<Replica>> cores_;
  std::vector<bool> deaf_;
  std::vector<TimeUs> last_tick_;
  std::vector<Bytes> submitted_;
  std::vector<Bytes> to_clients_;
  std::deque<Sent> queue_;
  std::vector<Sent> sent_;
  std::vector<std::size_t> client_replies_;
  TimeUs now_ = kStart;
};

// Frames `from` sent to other replicas, decoded, of message type M.
template <class M>
std::vector<std::pair<Cluster::Sent, M>> sent_of(const Cluster& cluster, ReplicaId from) {
  std::vector<std::pair<Cluster::Sent, M>> out;
  for (const auto& s : cluster.sent()) {
    if (s.from != from) continue;
    Decoded d = decode(s.frame);
    if (auto* m = std::get_if<M>(&d.message)) out.emplace_back(s, *m);
  }
  return out;
}

// Runs `requests` requests through a cluster whose replica `faulty` runs `mode`.
void run_requests(Cluster& cluster, const Keys& keys, int requests) {
  for (int t = 1; t <= requests; ++t) {
    cluster.submit(keys.request(static_cast<RequestNo>(t), "k" + std::to_string(t % 3), "v" + std::to_string(t)));
    cluster.settle();
    cluster.advance(1'000);  // past the batch timeout
    cluster.advance(1'000);
  }
}

// Seqs for which the primary sent different pre-prepares to different backups.
std::set<Seq> equivocated_seqs(const Cluster& cluster) {
  std::map<Seq, std::set<Bytes>> variants;
  for (const auto& [sent, pp] : sent_of<wire::PrePrepare>(cluster, 0)) variants[pp.header.seq].insert(wire::encode(pp));
  std::set<Seq> seqs;
  for (const auto& [seq, set] : variants) {
    if (set.size() > 1) seqs.insert(seq);
  }
  return seqs;
}

TEST_CASE("the modes: names parse, paxos takes the crash-style ones only") {
  CHECK(fault::modes().size() >= 9);
  for (const fault::ModeInfo& info : fault::modes()) {
    auto parsed = fault::parse_mode(info.name);
    REQUIRE(parsed);
    CHECK(*parsed == info.mode);
    CHECK(std::string(fault::to_string(info.mode)) == info.name);
    CHECK(fault::applies_to(info.mode, Protocol::pbft));
    CHECK(fault::applies_to(info.mode, Protocol::paxos) == info.crash_style);
    CHECK(fault::mode_names().find(info.name) != std::string::npos);
  }
  CHECK(fault::applies_to(fault::Mode::silent, Protocol::paxos));
  CHECK(fault::applies_to(fault::Mode::slow, Protocol::paxos));
  CHECK_FALSE(fault::applies_to(fault::Mode::equivocate, Protocol::paxos));
  const auto unknown = fault::parse_mode("evil");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message.find("equivocate") != std::string::npos);  // lists the modes
}

TEST_CASE("the factory refuses fault modes unless the config allows them, and Byzantine modes in paxos") {
  examples::KvStore app;
  SUBCASE("allow_fault_injection = false refuses every mode, and builds the honest core without one") {
    const Keys keys(Protocol::pbft, /*allow_faults=*/false);
    for (const fault::ModeInfo& info : fault::modes()) {
      auto core = runtime::make_core(keys.config, 1, *keys.replicas[1], app, {}, 1, FaultInjection{info.name, 200});
      REQUIRE_FALSE(core);
      CHECK(core.error().message.find("allow_fault_injection") != std::string::npos);
    }
    CHECK(runtime::make_core(keys.config, 1, *keys.replicas[1], app, {}, 1, FaultInjection{}));
  }
  SUBCASE("pbft with allow_fault_injection takes every mode") {
    const Keys keys(Protocol::pbft);
    for (const fault::ModeInfo& info : fault::modes()) {
      auto core = runtime::make_core(keys.config, 1, *keys.replicas[1], app, {}, 1, FaultInjection{info.name, 200});
      CHECK_MESSAGE(core, info.name);
    }
  }
  SUBCASE("paxos takes silent and slow and refuses the Byzantine modes, naming mode and protocol") {
    const Keys keys(Protocol::paxos);
    for (const fault::ModeInfo& info : fault::modes()) {
      auto core = runtime::make_core(keys.config, 1, *keys.replicas[1], app, {}, 1, FaultInjection{info.name, 200});
      if (info.crash_style) {
        CHECK_MESSAGE(core, info.name);
      } else {
        REQUIRE_FALSE(core);
        CHECK(core.error().message.find(info.name) != std::string::npos);
        CHECK(core.error().message.find("paxos") != std::string::npos);
      }
    }
  }
  SUBCASE("an unknown mode is an error naming it") {
    const Keys keys(Protocol::pbft);
    auto core = runtime::make_core(keys.config, 1, *keys.replicas[1], app, {}, 1, FaultInjection{"evil", 200});
    REQUIRE_FALSE(core);
    CHECK(core.error().message.find("evil") != std::string::npos);
  }
}

TEST_CASE("honest cluster (the control): one pre-prepare per seq, every frame verifies") {
  const Keys keys(Protocol::pbft);
  Cluster cluster(keys, 0, "");
  run_requests(cluster, keys, 12);
  CHECK(sent_of<wire::PrePrepare>(cluster, 0).size() >= 12 * 3);
  CHECK(equivocated_seqs(cluster).empty());
  for (const auto& s : cluster.sent()) CHECK(keys.verifies(s.frame));
  CHECK(cluster.core(1).status().last_executed >= 12);
}

TEST_CASE("equivocate: the primary sends different pre-prepares for one seq to different backups") {
  const Keys keys(Protocol::pbft);
  Cluster cluster(keys, 0, "equivocate");
  run_requests(cluster, keys, 12);
  const auto seqs = equivocated_seqs(cluster);
  CHECK_FALSE(seqs.empty());
  // Still signed with its own key: a lying batch keeps the signed header.
  for (const auto& [sent, pp] : sent_of<wire::PrePrepare>(cluster, 0)) CHECK(keys.verifies(sent.frame));
  // The correct replicas agree on whatever they executed (f = 1 tolerates it).
  for (ReplicaId i = 2; i < 4; ++i) {
    const auto a = cluster.core(1).status();
    const auto b = cluster.core(i).status();
    if (a.stable_checkpoint == b.stable_checkpoint) CHECK(a.state_digest == b.state_digest);
  }
}

TEST_CASE("corrupt-signatures: some frames to replicas fail verification, the rest verify") {
  const Keys keys(Protocol::pbft);
  Cluster cluster(keys, 1, "corrupt-signatures");
  run_requests(cluster, keys, 8);
  std::size_t bad = 0, good = 0;
  for (const auto& s : cluster.sent()) {
    const bool ok = keys.verifies(s.frame);
    if (s.from != 1) {
      CHECK(ok);
    } else {
      (ok ? good : bad) += 1;
    }
  }
  CHECK(bad > 0);
  CHECK(good > 0);
}

TEST_CASE("conflicting-votes: a backup's prepares or commits for one seq carry different digests") {
  const Keys keys(Protocol::pbft);
  Cluster cluster(keys, 1, "conflicting-votes");
  run_requests(cluster, keys, 12);
  std::map<std::pair<std::uint8_t, Seq>, std::set<Digest>> digests;
  for (const auto& [sent, p] : sent_of<wire::Prepare>(cluster, 1)) {
    CHECK(keys.verifies(sent.frame));
    digests[{0, p.seq}].insert(p.digest);
  }
  for (const auto& [sent, c] : sent_of<wire::Commit>(cluster, 1)) {
    CHECK(keys.verifies(sent.frame));
    digests[{1, c.seq}].insert(c.digest);
  }
  REQUIRE_FALSE(digests.empty());
  CHECK(std::any_of(digests.begin(), digests.end(), [](const auto& e) { return e.second.size() > 1; }));
  // The correct replicas still execute everything.
  CHECK(cluster.core(2).status().last_executed >= 12);
}

TEST_CASE("bad-checkpoint: the checkpoint digests differ from the correct replicas'") {
  const Keys keys(Protocol::pbft);
  Cluster cluster(keys, 3, "bad-checkpoint");
  run_requests(cluster, keys, 12);  // checkpoints at 4, 8, 12
  std::map<Seq, Digest> honest;
  for (const auto& [sent, cp] : sent_of<wire::Checkpoint>(cluster, 1)) honest[cp.seq] = cp.state_digest;
  REQUIRE(honest.size() >= 2);
  std::size_t wrong = 0;
  for (const auto& [sent, cp] : sent_of<wire::Checkpoint>(cluster, 3)) {
    CHECK(keys.verifies(sent.frame));
    if (honest.contains(cp.seq) && honest[cp.seq] != cp.state_digest) ++wrong;
  }
  CHECK(wrong > 0);
  CHECK(cluster.core(1).status().stable_checkpoint >= 8);
  CHECK(cluster.core(1).status().state_digest == cluster.core(2).status().state_digest);
}

TEST_CASE("stale-replay: the replica keeps resending frames it saw or sent earlier") {
  const Keys keys(Protocol::pbft);
  Cluster cluster(keys, 2, "stale-replay");
  run_requests(cluster, keys, 4);
  const std::size_t before = cluster.sent().size();
  for (int i = 0; i < 50; ++i) cluster.advance(2'000);  // no new input: replica 2 speaks on its own
  // Each frame replica 2 sent since is one that was on the wire earlier
  // (client traffic included: replies it sent, requests it received).
  std::set<Bytes> seen(cluster.submitted().begin(), cluster.submitted().end());
  seen.insert(cluster.to_clients().begin(), cluster.to_clients().end());
  std::size_t replays = 0;
  for (std::size_t i = 0; i < cluster.sent().size(); ++i) {
    const auto& s = cluster.sent()[i];
    if (i >= before && s.from == 2) {
      CHECK(seen.contains(s.frame));
      ++replays;
    }
    seen.insert(s.frame);
  }
  CHECK(replays >= 10);
}

TEST_CASE("flood: validly signed messages for far-future views and seqs, at every tick") {
  const Keys keys(Protocol::pbft);
  Cluster cluster(keys, 1, "flood");
  cluster.settle();
  // Full speed: the core is always due.
  CHECK(cluster.core(1).next_deadline() <= cluster.now());
  for (int i = 0; i < 10; ++i) {
    Effects effects;
    cluster.core(1).tick(cluster.now(), effects);
    for (const auto& out : effects.send) {
      const Decoded d = decode(out.frame);
      CHECK(keys.verifies(out.frame));
      CHECK(d.envelope.sender == Principal::replica(1));
      if (const auto* p = std::get_if<wire::Prepare>(&d.message)) {
        CHECK(p->view > 0);
        CHECK(p->seq > keys.config.window);
      } else if (const auto* c = std::get_if<wire::Commit>(&d.message)) {
        CHECK(c->seq > keys.config.window);
      } else if (const auto* cp = std::get_if<wire::Checkpoint>(&d.message)) {
        CHECK(cp->seq > keys.config.window);
      } else if (const auto* vc = std::get_if<wire::ViewChange>(&d.message)) {
        CHECK(vc->new_view > 0);
      } else {
        FAIL("a flood frame of an unexpected type");
      }
    }
    CHECK(effects.send.size() >= 4);
  }
  // The correct replicas shrug it off and keep executing.
  run_requests(cluster, keys, 4);
  CHECK(cluster.core(2).status().last_executed >= 4);
  CHECK(cluster.core(2).status().view == 0);
}

TEST_CASE("lying-view-change: the faulty replica's VIEW-CHANGE and NEW-VIEW are not what an honest one sends") {
  const Keys keys(Protocol::pbft);
  // Replica 1 is the primary of view 1: it sends the NEW-VIEW too.
  Cluster cluster(keys, 1, "lying-view-change");
  run_requests(cluster, keys, 6);
  // The primary hears nothing for a while: a request times out at the backups.
  cluster.set_deaf(0, true);
  cluster.submit(keys.request(100, "x", "y"), {1, 2, 3});
  cluster.settle();
  for (int i = 0; i < 40 && cluster.core(2).status().view == 0; ++i) cluster.advance(200'000);
  REQUIRE(cluster.core(2).status().view >= 1);
  // Healed: with the faulty replica's lies the correct ones need replica 0.
  cluster.set_deaf(0, false);
  const auto vcs = sent_of<wire::ViewChange>(cluster, 1);
  REQUIRE_FALSE(vcs.empty());
  // Its inner honest core prepared the seqs above the stable checkpoint
  // (6 requests, K = 4): an honest VIEW-CHANGE lists them with 2f valid
  // prepares from distinct backups. A lying one omits them or forges.
  std::size_t lies = 0;
  for (const auto& [sent, vc] : vcs) {
    CHECK(keys.verifies(sent.frame));
    bool honest = !vc.prepared.empty();
    for (const auto& cert : vc.prepared) {
      std::set<ReplicaId> signers;
      for (const auto& p : cert.prepares) {
        signers.insert(p.signer);
        const Bytes input = wire::signing_input(wire::MsgType::prepare, Principal::replica(p.signer), wire::encode(p.message));
        if (!keys.client->verify(Principal::replica(p.signer), input, p.signature)) honest = false;
      }
      if (signers.size() < 2 * keys.config.f) honest = false;
    }
    if (!honest) ++lies;
  }
  CHECK(lies > 0);
  // The correct replicas still move on and execute the timed-out request.
  for (int i = 0; i < 200 && cluster.core(2).status().last_executed < 7; ++i) cluster.advance(200'000);
  CHECK(cluster.core(2).status().last_executed >= 7);
}

TEST_CASE("silent: nothing leaves (to replicas or clients), but the honest core still persists") {
  const Keys keys(Protocol::pbft);
  Cluster cluster(keys, 2, "silent");
  run_requests(cluster, keys, 6);
  std::size_t from_silent = 0;
  for (const auto& s : cluster.sent()) from_silent += s.from == 2 ? 1 : 0;
  CHECK(from_silent == 0);
  CHECK(cluster.client_replies(2) == 0);
  CHECK(cluster.client_replies(1) >= 6);
  CHECK(cluster.core(2).status().last_executed >= 6);  // it follows, it only never speaks
  CHECK(cluster.core(1).status().last_executed >= 6);
}

TEST_CASE("slow: every frame leaves, unchanged and in order, only after the delay") {
  for (const Protocol protocol : {Protocol::pbft, Protocol::paxos}) {
    CAPTURE(to_string(protocol));
    const Keys keys(protocol);
    examples::KvStore honest_app, slow_app;
    constexpr std::uint32_t kDelayMs = 50;
    constexpr TimeUs kDelay = TimeUs{kDelayMs} * 1000;
    auto honest = runtime::make_core(keys.config, 0, *keys.replicas[0], honest_app, {}, 3);
    auto slow = runtime::make_core(keys.config, 0, *keys.replicas[0], slow_app, {}, 3, FaultInjection{"slow", kDelayMs});
    REQUIRE(honest);
    REQUIRE(slow);
    std::vector<Bytes> expected, got;
    std::vector<TimeUs> expected_at;  // when the honest core sent each
    TimeUs now = kStart;
    auto step = [&](const Bytes* frame) {
      Effects a, b;
      if (frame != nullptr) {
        (*honest)->receive(now, *frame, a);
        (*slow)->receive(now, *frame, b);
      } else {
        if ((*honest)->next_deadline() <= now) (*honest)->tick(now, a);
        if ((*slow)->next_deadline() <= now) (*slow)->tick(now, b);
      }
      CHECK(b.persist.size() == a.persist.size());  // persisting is not delayed
      for (auto& out : a.send) {
        expected.push_back(out.frame);
        expected_at.push_back(now);
      }
      for (auto& out : b.send) got.push_back(out.frame);
      // Only frames the honest core sent at least the delay ago are out.
      const auto due = std::count_if(expected_at.begin(), expected_at.end(), [&](TimeUs t) { return t + kDelay <= now; });
      CHECK(got.size() <= static_cast<std::size_t>(due));
    };
    // A second of requests and timers (paxos elects a leader in it).
    for (int ms = 0; ms < 1000; ms += 5) {
      if (ms % 100 == 0) {
        const Bytes request = keys.request(static_cast<RequestNo>(ms / 100 + 1), "k", std::to_string(ms));
        step(&request);
      }
      now += 5'000;
      step(nullptr);
    }
    const std::size_t sent_by_then = expected.size();
    REQUIRE(sent_by_then > 0);
    // The slow core asks to be ticked when its first held frame is due.
    CHECK((*slow)->next_deadline() <= now + kDelay);
    now += kDelay;
    Effects late;
    (*slow)->tick(now, late);
    for (auto& out : late.send) got.push_back(out.frame);
    REQUIRE(got.size() >= sent_by_then);
    got.resize(sent_by_then);
    expected.resize(sent_by_then);
    // Signatures are deterministic (Ed25519): the same frames, in the same order.
    CHECK(got == expected);
  }
}

}  // namespace
}  // namespace synod
