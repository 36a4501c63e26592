// fault/byzantine.hpp — a Byzantine PBFT replica, shared by the simulator
// (lib/sim, strategies mixed per node and chosen by the seed) and by
// `synod-replica --fault MODE` (lib/fault/faulty_core.hpp, one strategy).
//
// It runs an honest core (two for Twins) and corrupts what that core sends:
// outbound frames are decoded, mutated, re-encoded and re-signed with the
// node's own key, and extra messages are injected. It signs only with its
// own key (Crypto::sign); the inner honest core verifies what it receives
// with the others' public keys like any replica. Like a real adversary it
// cannot produce another node's signature, so forged certificates carry
// garbage signatures for other signers.
//
// Randomness comes from a sim::Prng (header-only, deterministic): the
// simulator replays a seed bit for bit; the runtime seeds it at random.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/store_backend.hpp"
#include "pbft/pbft.hpp"
#include "sim/prng.hpp"
#include "synod/replica.hpp"
#include "synod/state_machine.hpp"
#include "wire/messages.hpp"

namespace synod::fault {

using sim::mix64;
using sim::Prng;

namespace byzantine {
enum Strategy : std::uint32_t {
  silent = 1u << 0,              // sends nothing (to a chosen subset, or to everyone)
  equivocate = 1u << 1,          // as primary: another batch to half the backups (re-digested,
                                 // or under the original signed digest: a lying batch)
  corrupt_signatures = 1u << 2,  // flips authenticator bytes on some frames
  conflicting_votes = 1u << 3,   // PREPARE / COMMIT with random digests to some replicas
  replay = 1u << 4,              // resends old frames (its own and others') later
  bad_view_change = 1u << 5,     // VIEW-CHANGE without P, or with forged certificates
  bad_checkpoint = 1u << 6,      // CHECKPOINT with a wrong state digest
  flood = 1u << 7,               // validly signed far-future seqs and views
  twins = 1u << 8,               // two honest cores, one key, each shown to half the cluster
  bad_new_view = 1u << 9,        // as new primary: NEW-VIEW whose O is not the one V implies
  bad_state_transfer = 1u << 10, // snapshots, committed batches and tree-walk answers (wrong child
                                 // digests, leaves, values, truncated listings, uncertified roots)
                                 // that do not match their proofs
  censor = 1u << 11,             // as primary: orders everyone's requests except one client's
  count_ = 12,
};
}  // namespace byzantine

std::string describe_strategies(std::uint32_t strategies);

class ByzantineReplica {
 public:
  // How the replica is set up. The defaults are the simulator's: choices
  // drawn from the Prng per node.
  struct Options {
    // The inner core's application: `app` (not owned, must outlive the
    // replica; one core only, so not with twins), else one from make_app
    // per inner core.
    StateMachine* app = nullptr;
    std::function<std::unique_ptr<StateMachine>()> make_app;
    // Or a store-backed application (synod/store.hpp), one per inner core,
    // each on its own MemoryStore that prepare_store (if set) fills first.
    std::function<std::unique_ptr<StoreStateMachine>()> make_store_app;
    std::function<void(MemoryStore&)> prepare_store;
    // What the inner cores start from (each its own copy).
    DurableState durable;
    // Keep inner core 0's persist ops for the driver (take_persisted()), so
    // a restarted process resumes where its honest core was.
    bool forward_persist = false;
    // Half B (shown another batch / vote / checkpoint) is every other peer,
    // rather than a coin per peer: with n = 4 a coin leaves all three
    // backups in one half one time in four.
    bool even_halves = false;
    // silent drops everything (to every replica and client), rather than
    // what goes to a drawn subset.
    bool silent_to_all = false;
    // corrupt-signatures corrupts one frame to a replica in this many.
    std::uint64_t corrupt_one_in = 4;
    // The operation of the request no client signed that an equivocating
    // primary slips into a batch; empty: the bytes "forged".
    Bytes forged_operation;
  };

  // config, crypto (and options.app) must outlive it. `collusion` is shared
  // by all Byzantine replicas of a run: they agree on the wrong checkpoint
  // digests they claim, like a coordinated adversary.
  ByzantineReplica(const ClusterConfig& config, ReplicaId self, const Crypto& crypto, std::uint32_t strategies,
                   Prng prng, std::uint64_t collusion, Options options);

  // `from` is who the network says sent the frame (routes Twins' input).
  void receive(TimeUs now, Principal from, ByteView frame, std::vector<OutboundFrame>& out);
  void tick(TimeUs now, std::vector<OutboundFrame>& out);
  // Misbehaviour of its own (replays, floods); the simulator calls it
  // periodically.
  void inject(TimeUs now, std::vector<OutboundFrame>& out);
  TimeUs next_deadline() const;
  std::uint32_t strategies() const { return strategies_; }
  View view() const;
  // Inner core 0's status: what this replica would report if it were honest.
  ReplicaStatus status() const;
  // The persist ops inner core 0 produced since the last call (empty
  // unless options.forward_persist).
  std::vector<PersistOp> take_persisted();

  // Bounds on what it remembers for replays.
  static constexpr std::size_t kMaxRemembered = 64;
  static constexpr std::size_t kMaxRequestPool = 32;

 private:
  struct Inner {
    std::unique_ptr<StateMachine> owned_app;
    StateMachine* app = nullptr;
    std::unique_ptr<StoreStateMachine> store_app;
    std::unique_ptr<MemoryStore> store;  // committed after every step (never crashed)
    DurableState durable;
    std::unique_ptr<Replica> core;
  };

  bool has(std::uint32_t strategy) const { return (strategies_ & strategy) != 0; }
  // Which core serves replica `peer` (Twins) — 0 unless twins.
  std::size_t core_for(ReplicaId peer) const;
  void drain(std::size_t core, Effects& effects, std::vector<OutboundFrame>& out);
  void emit(std::size_t core, const OutboundFrame& frame, std::vector<OutboundFrame>& out);
  void emit_to(ReplicaId peer, const Bytes& frame, std::vector<OutboundFrame>& out);
  Bytes sign_frame_as_self(const wire::Message& message) const;
  Bytes frame_as_self_to(ReplicaId to, const wire::Message& message) const;
  Bytes corrupt_authenticator(const Bytes& frame);
  std::optional<Bytes> equivocating_pre_prepare(const wire::PrePrepare& original);
  std::optional<Bytes> conflicting_vote(const wire::Message& message);
  std::optional<Bytes> tampered_view_change(const wire::ViewChange& original);
  std::optional<Bytes> tampered_new_view(const wire::NewView& original);
  std::optional<Bytes> tampered_state(const wire::Message& message);
  std::optional<Bytes> tampered_tree_answer(std::size_t core, ReplicaId to, const wire::Message& message);
  std::optional<Bytes> other_state_answer(std::size_t core, ReplicaId to, const wire::Message& message);
  std::optional<Bytes> censored_pre_prepare(const wire::PrePrepare& original);
  wire::PreparedCertificate forged_certificate(View view, Seq seq);
  void remember(const Bytes& frame);
  void remember_request(ByteView frame);
  Digest random_digest();
  Bytes random_signature();

  std::optional<bool> other_state_leaves_;  // bad_state_transfer's way of lying in a tree walk
  const ClusterConfig* config_;
  ReplicaId self_;
  const Crypto* crypto_;
  std::uint32_t strategies_;
  Prng prng_;
  std::uint64_t collusion_;
  std::vector<Inner> inner_;
  std::vector<bool> half_b_;      // per replica: in the second half (twins / equivocation target)
  std::vector<bool> silent_to_;   // per replica: dropped when silent
  bool silent_to_clients_ = false;
  std::deque<Bytes> remembered_;  // frames seen or sent, for replays
  std::deque<wire::SignedRequest> request_pool_;
  Effects effects_;
  bool forward_persist_ = false;
  std::uint64_t corrupt_one_in_ = 4;
  Bytes forged_operation_;
  std::vector<PersistOp> persisted_;
};

}  // namespace synod::fault
