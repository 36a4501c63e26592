// paxos/replica.hpp — internal: the Multi-Paxos core's state and handlers.
//
// Every replica is proposer, acceptor and learner (PROTOCOL.md,
// "Multi-Paxos"). One door per input (receive / tick); each handler opens
// with guard clauses that count why a message is rejected, then changes
// state, then asserts what must hold; invariants() runs after every input.
//
// Bounds: the log holds slots in (snapshot_slot_, snapshot_slot_ + window +
// checkpoint_interval]; the leader starts new slots only up to
// last_executed_ + window; pending requests by max_pending_per_client per
// client; votes (promises, accepts, lease grants) one per replica; catch-up
// answers by a share of max_frame_bytes and by the window; tree-walk answers
// (a store-backed state) by snapshot_chunk() and the wire's per-message
// limits, and a transfer's requests by StateSync's pipeline.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "core/pending_requests.hpp"
#include "core/quorum.hpp"
#include "core/replicated_state.hpp"
#include "paxos/paxos.hpp"
#include "paxos/prng.hpp"
#include "transfer/state_sync.hpp"
#include "wire/authenticate.hpp"
#include "wire/codec.hpp"
#include "wire/messages.hpp"

namespace synod::paxos {

using wire::Ballot;
using wire::Batch;
using wire::Slot;

inline constexpr TimeUs kNever = ~TimeUs{0};

enum class Role : std::uint8_t {
  follower,   // follows leader_ballot_ (or nobody yet)
  candidate,  // phase 1 under ballot_ in progress
  leader,     // phase 1 done under ballot_: the distinguished proposer
};

// One slot of the replicated log.
struct Instance {
  // Acceptor: the value accepted with the highest ballot (durable).
  std::optional<Ballot> accepted_ballot;
  Batch accepted_value;
  bool persisted = false;  // a durable record exists under accepted_key(slot)
  // Learner: the chosen value, once known; never changes.
  std::optional<Batch> chosen;
  // Leader: ACCEPTED votes for its own proposal (its ballot_), and when the
  // ACCEPT for it first left (a lease grant counts from there).
  QuorumCertificate<Ballot, Ballot> accepts;
  TimeUs accept_sent_us = kNever;
};

class PaxosReplica final : public Replica {
 public:
  PaxosReplica(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
               std::unique_ptr<ReplicatedState> state, std::uint64_t seed, Bugs bugs);
  Result<void> restore(const DurableState& durable);

  void receive(TimeUs now, ByteView frame, Effects& out) override;
  void tick(TimeUs now, Effects& out) override;
  TimeUs next_deadline() const override;
  ReplicaStatus status() const override;

 private:
  // ---- inputs, clients, batching, timers (replica.cpp)
  void begin(TimeUs now, Effects& out);
  void end();
  void dispatch(const wire::Envelope& env, const wire::Message& msg);
  bool screen_request(const wire::Request& req, const Bytes& signature);
  void on_request(const wire::Request& req, const Bytes& signature);
  void maybe_propose();
  using PendingKey = PendingRequests<wire::SignedRequest>::Key;
  void propose(const std::vector<PendingKey>& keys);
  void send_reply(ClientId client, RequestNo t, bool read_only, const Bytes& result);
  void send_redirect(const wire::Request& req);
  void drop_executed_requests();
  void drop_pending();
  void on_heartbeat_timer();
  void reject(Rejection why) { ++rejected_[static_cast<std::size_t>(why)]; }

  // ---- phase 1, leadership, heartbeats (election.cpp)
  void start_phase1();
  void on_prepare(ReplicaId from, const wire::PaxosPrepare& p);
  void on_promise(ReplicaId from, const wire::Promise& p);
  void try_lead();
  void become_leader();
  std::map<Slot, wire::AcceptedEntry> highest_accepted() const;
  // bounded: at most a share of max_frame_bytes, the rest in later parts.
  wire::Promise own_promise(const Ballot& b, Slot from_slot, bool bounded) const;
  void clear_promises();
  wire::PaxosPrepare prepare_for(ReplicaId voter) const;
  void on_nack(ReplicaId from, const wire::Nack& nack);
  void on_heartbeat(ReplicaId from, const wire::Heartbeat& hb);
  void follow(const Ballot& b);
  void step_down();
  void send_heartbeat();
  void arm_election_timer();
  void note_round(std::uint64_t round) { max_round_seen_ = std::max(max_round_seen_, round); }

  // ---- leader leases (lease.cpp)
  bool leases_on() const { return lease_us_ > 0; }
  void grant_lease(ReplicaId leader);
  bool may_promise(ReplicaId proposer) const;
  void note_grant(ReplicaId from, TimeUs sent_us);
  std::uint64_t note_heartbeat_sent();
  TimeUs heartbeat_sent_us(std::uint64_t sequence) const;
  bool holds_lease() const;

  // ---- phase 2, learning, execution (accept.cpp)
  void propose_value(Slot slot, const Batch& value);
  void accept_locally(Slot slot, const Ballot& b, const Batch& value);
  void send_accept(Slot slot, const Instance& in);
  void on_accept(ReplicaId from, const wire::Accept& a);
  void on_accepted(ReplicaId from, const wire::Accepted& a);
  void check_chosen(Slot slot);
  void learn_commit_index(const Ballot& b, Slot commit_index, ReplicaId leader);
  void mark_chosen(Slot slot, const Batch& value);
  void execute_ready();
  void execute(Slot slot, const Batch& batch);
  bool valid_batch(const Batch& batch) const;

  // ---- snapshots, truncation, catch-up (catch_up.cpp)
  void take_snapshot();
  void truncate_through(Slot slot);
  bool install_snapshot(Slot slot, Bytes snapshot);
  void want_catch_up(Slot target, ReplicaId source);
  void request_catch_up();
  void on_catch_up_request(ReplicaId from, const wire::CatchUpRequest& req);
  void on_catch_up(ReplicaId from, const wire::CatchUp& cu);
  // ---- a store-backed state: snapshots by pin, catch-up by tree walk (catch_up.cpp)
  void serve_root(ReplicaId to, wire::CatchUp& cu);
  bool serving(ReplicaId from, Slot slot);
  void on_root(ReplicaId from, const wire::CatchUp& cu);
  void begin_tree_sync(Slot slot, const Digest& root, ReplicaId source);
  void retry_tree_sync();
  void send_sync_requests();
  void after_sync_answer(ReplicaId from, transfer::Outcome outcome);
  void finish_tree_sync();
  void on_fetch_tree(ReplicaId from, const wire::FetchTree& m);
  void on_fetch_leaves(ReplicaId from, const wire::FetchLeaves& m);
  void on_fetch_values(ReplicaId from, const wire::FetchValues& m);

  // ---- durability (durable.cpp)
  void persist_promised();
  void persist_accepted(Slot slot, Instance& in);
  void erase_accepted(Slot slot);
  void persist_snapshot();
  Result<void> restore_snapshot(const Bytes& record);
  void persist_applied();
  void persist_sync();
  Result<void> restore_store(const DurableState& durable);
  Result<void> restore_accepted(const std::string& key, const Bytes& record);

  // ---- helpers
  bool is_leader() const { return role_ == Role::leader; }
  // A majority, f+1 of n = 2f+1: any two quorums share an acceptor.
  std::size_t quorum() const { return n_ / 2 + 1; }
  std::size_t chosen_quorum() const { return bugs_.chosen_on_f_accepts ? quorum() - 1 : quorum(); }
  // Highest slot this replica stores or accepts. Relative to the snapshot,
  // not to execution: the snapshot survives a restart (execution restarts
  // from it), and every replica's snapshot is the last multiple of K it
  // executed, so a new leader that caught up to its promisers' chosen
  // prefixes can always store what their promises report.
  Slot kept_slot_max() const { return snapshot_slot_ + config_.window + config_.checkpoint_interval; }
  TimeUs random_election_timeout_us();
  Principal me() const { return Principal::replica(self_); }
  // Signed, or one MAC per replica in MAC mode (wire/authenticate.hpp).
  template <class M>
  Bytes frame_of(const M& m) const {
    return wire::make_frame(me(), m, [&](ByteView input) {
      return wire::paxos_replica_authenticator(config_, crypto_, self_, input);
    });
  }
  // Replies are MAC-authenticated in MAC mode (wire/authenticate.hpp).
  Bytes frame_of(const wire::Reply& r) const { return wire::reply_frame(config_, crypto_, self_, r); }
  template <class M>
  void send(Destination to, const M& m) {
    out_->send.push_back({to, frame_of(m)});
  }
  void invariants();
  const ClientTable& clients() const { return state_->clients(); }
  MerkleStore* store() const { return state_->store(); }
  WholeState& whole() const;

  const ClusterConfig config_;
  const ReplicaId self_;
  const std::uint32_t n_;
  const std::uint32_t f_;
  const Crypto& crypto_;
  const std::unique_ptr<ReplicatedState> state_;  // the client table and the application's state
  const Bugs bugs_;
  const TimeUs heartbeat_interval_us_;
  const TimeUs election_timeout_us_;
  const TimeUs lease_us_;  // 0: leases off
  SplitMix64 prng_;

  TimeUs now_ = 0;
  Effects* out_ = nullptr;
  bool started_ = false;

  // Acceptor.
  Ballot promised_;  // durable; monotone
  // Proposer.
  Role role_ = Role::follower;
  Ballot ballot_;  // our own ballot while candidate or leader
  std::uint64_t max_round_seen_ = 0;
  QuorumCertificate<std::pair<ReplicaId, wire::Promise>, Ballot> promises_;  // with the voter
  // Promises that came in parts (wire::Promise::more): what each voter
  // reported so far, merged; it votes once its last part arrives.
  std::map<ReplicaId, wire::Promise> partial_promises_;
  Slot next_slot_ = 1;         // leader: the next slot for a new batch
  Slot takeover_through_ = 0;  // leader: the highest slot re-proposed by phase 1
  std::uint32_t failed_campaigns_ = 0;
  // Learner: the leader this replica follows.
  Ballot leader_ballot_;
  std::uint64_t leader_changes_ = 0;

  // Log.
  std::map<Slot, Instance> log_;
  Slot last_executed_ = 0;

  // Snapshots (the latest is durable) and catch-up. A store-backed state's
  // snapshot is its store pinned at snapshot_slot_ (snapshot_ stays empty),
  // its digest the store's root.
  Slot snapshot_slot_ = 0;
  Bytes snapshot_;
  Digest snapshot_digest_{};
  Slot catch_up_target_ = 0;  // a slot known chosen elsewhere
  ReplicaId catch_up_source_ = 0;
  // A snapshot arriving chunk by chunk: its first bytes.size() bytes.
  struct IncomingSnapshot {
    Slot slot = 0;
    std::uint64_t total_bytes = 0;
    Bytes bytes;
  };
  std::optional<IncomingSnapshot> incoming_;
  // A store-backed state's transfer (transfer/state_sync.hpp) toward the
  // snapshot sync_source_ announced: the store is partly that state while it
  // runs, so nothing executes and this replica does not lead.
  std::optional<transfer::StateSync> sync_;
  ReplicaId sync_source_ = 0;
  std::uint64_t sync_bytes_at_retry_ = 0;
  TimeUs sync_checked_us_ = 0;  // when retry_tree_sync last judged progress
  transfer::ServedPins served_pins_;  // pins peers walk, lingering past the next snapshot
  // A store-backed state resumes after a restart at the last slot it
  // executed ("applied"), above its snapshot: the slots between were chosen,
  // but their values are not kept, so this replica serves none of them.
  Slot resumed_at_ = 0;
  std::uint64_t state_transfers_ = 0;

  // Leases (PROTOCOL.md, "Leases").
  ReplicaId lease_holder_ = 0;        // whom this replica promised no rival phase 1
  TimeUs lease_promised_until_ = 0;   // on our own clock
  bool lease_holder_known_ = false;   // false: a restart forgot whom; nobody may take phase 1
  std::map<ReplicaId, TimeUs> grants_;                 // leader: send time of the message earning each grant
  std::map<std::uint64_t, TimeUs> heartbeat_sent_;     // leader: send time per heartbeat sequence number
  std::uint64_t heartbeat_sequence_ = 0;               // leader: the last heartbeat's sequence number
  TimeUs lease_reads_from_ = kNever;                   // leader: no lease read before (old lease expired)

  // Requests (leader only).
  PendingRequests<wire::SignedRequest> pending_;  // fair batches, bounded per client

  // Timers (named; next_deadline() is their minimum).
  TimeUs batch_deadline_ = kNever;      // leader: a partial batch closes
  TimeUs heartbeat_deadline_ = kNever;  // leader: heartbeat + retransmit; candidate: resend PREPARE
  TimeUs election_deadline_ = kNever;   // follower/candidate: start (another) phase 1
  TimeUs catch_up_deadline_ = kNever;   // behind: ask again

  // Checked by invariants(): what must never move backwards.
  Ballot promised_checked_;
  Slot executed_checked_ = 0;

  std::uint64_t rejected_[static_cast<std::size_t>(Rejection::count_)] = {};
};

std::string accepted_key(Slot slot);

}  // namespace synod::paxos
