// pbft/replica.hpp — internal: the PBFT core's state and handlers.
//
// One door per input (receive / tick); each handler opens with guard clauses
// that count why a message is rejected, then changes state, then asserts what
// must hold. invariants() runs after every input. Everything the replica keeps
// is bounded: the log by the water marks, votes by one per replica, pending
// requests by max_pending_per_client, view changes and far-ahead checkpoints
// by one per replica. Messages for a later view or beyond the window are
// never buffered (the bound is zero, PROTOCOL.md pitfall): they are counted
// and dropped, and retransmission brings what matters again.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "core/pending_requests.hpp"
#include "core/quorum.hpp"
#include "core/replicated_state.hpp"
#include "pbft/new_view.hpp"
#include "pbft/pbft.hpp"
#include "transfer/state_sync.hpp"
#include "wire/authenticate.hpp"
#include "wire/codec.hpp"
#include "wire/messages.hpp"

namespace synod::pbft {

using wire::Batch;
using wire::Signed;

inline constexpr TimeUs kNever = ~TimeUs{0};

// One sequence number inside the water marks.
struct Entry {
  View view = 0;  // the view the pre-prepare and votes below belong to
  std::optional<Signed<wire::PrePrepareHeader>> pre_prepare;
  QuorumCertificate<Signed<wire::Prepare>, Digest> prepares;
  QuorumCertificate<Signed<wire::Commit>, Digest> commits;
  bool sent_prepare = false;
  bool sent_commit = false;
  bool prepared = false;  // prepared(view, seq, pre_prepare digest)
  // The prepared certificate of the highest view this replica prepared in;
  // survives view changes (it goes into VIEW-CHANGE's P).
  std::optional<wire::PreparedCertificate> prepared_cert;
  // Proof that a digest is committed: local (2f+1 commits) or fetched.
  struct Committed {
    View view = 0;
    Digest digest{};
    std::vector<Signed<wire::Commit>> commits;
    // MAC mode: the commits were accepted on their MACs, so their signatures
    // are checked only when the proof is first served (provable_commit).
    bool signatures_checked = false;
  };
  std::optional<Committed> committed;
  bool executed = false;
  bool persisted = false;  // a durable record exists under entry_key(seq)
  // Batches known for this seq, by digest: those of the pre-prepare, the
  // prepared certificate and the committed digest (pruned to those).
  std::map<Digest, Batch> batches;
};

class PbftReplica final : public Replica {
 public:
  PbftReplica(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
              std::unique_ptr<ReplicatedState> state, Bugs bugs);
  Result<void> restore(const DurableState& durable);

  void receive(TimeUs now, ByteView frame, Effects& out) override;
  void tick(TimeUs now, Effects& out) override;
  TimeUs next_deadline() const override;
  ReplicaStatus status() const override;

 private:
  // ---- input handling (replica.cpp)
  void begin(TimeUs now, Effects& out);
  void dispatch(const wire::Envelope& env, wire::Message& msg, ByteView frame);
  bool late_vote(const wire::Message& msg) const;
  bool screen_request(const wire::Request& req, const Bytes& signature, ByteView frame);
  void forward_retransmission(PendingRequests<wire::SignedRequest>::Entry& held, ByteView frame);
  void on_request(const wire::Request& req, const wire::Envelope& env, ByteView frame);
  void on_pre_prepare(ReplicaId from, wire::PrePrepare& pp, const Bytes& signature);
  void on_prepare(ReplicaId from, const wire::Prepare& p, const Bytes& signature);
  void on_commit(ReplicaId from, const wire::Commit& c, const Bytes& signature);
  void reject(Rejection why) { ++rejected_[static_cast<std::size_t>(why)]; }

  // ---- normal case
  void maybe_propose();
  using PendingKey = PendingRequests<wire::SignedRequest>::Key;
  void propose(const std::vector<PendingKey>& keys);
  // Whether a pre-prepare's batch may be accepted: it matches the digest and
  // every request authenticates.
  bool valid_batch(const Batch& batch, const Digest& digest);
  // This replica's bounds on a fresh proposal (batch_max_requests,
  // batch_max_bytes, max_request_bytes). A batch a NEW-VIEW carries over
  // from a prepared certificate is not held to them: a correct replica
  // accepted it, maybe under larger bounds before a restart with smaller ones.
  bool within_proposal_bounds(const Batch& batch) const;
  void send_prepare(Seq seq, Entry& e);
  void check_prepared(Seq seq);
  void check_committed(Seq seq);
  void execute_ready();
  void execute(Seq seq, Entry& e, const Batch& batch);
  void send_reply(ClientId client, RequestNo t, bool read_only, const Bytes& result);
  void drop_executed_requests();
  void arm_request_timer();
  bool behind() const;

  // ---- checkpoints, state transfer, catch-up (checkpoint.cpp)
  void take_checkpoint(Seq seq);
  void on_checkpoint(ReplicaId from, const wire::Checkpoint& cp, const Bytes& signature);
  void try_stable(Seq seq);
  void make_stable(Seq seq, const Digest& digest, std::vector<Signed<wire::Checkpoint>> proof);
  void begin_state_transfer(Seq seq, std::vector<Signed<wire::Checkpoint>> proof);
  void retry_state_transfer();
  void ask_for_state(ReplicaId to);
  void on_fetch_state(ReplicaId from, const wire::FetchState& fs);
  void send_snapshot_chunk(ReplicaId to, std::uint64_t offset);
  void on_state_snapshot(ReplicaId from, const wire::StateSnapshot& ss);
  void install_snapshot(ReplicaId from);
  // The certified state at seq is in place (either kind): it becomes stable
  // and the replica goes on from it.
  void installed_state(Seq seq, const Digest& digest, std::vector<Signed<wire::Checkpoint>> proof, ReplicaId from);
  // ---- a store-backed state: transfer by tree walk (checkpoint.cpp)
  void begin_tree_sync(Seq seq, const std::vector<Signed<wire::Checkpoint>>& proof);
  void retry_tree_sync();
  void send_sync_requests();
  void after_sync_answer(ReplicaId from, transfer::Outcome outcome);
  void finish_tree_sync();
  bool may_serve_tree(ReplicaId to);
  void on_fetch_tree(ReplicaId from, const wire::FetchTree& m);
  void on_fetch_leaves(ReplicaId from, const wire::FetchLeaves& m);
  void on_fetch_values(ReplicaId from, const wire::FetchValues& m);
  void on_fetch_batches(ReplicaId from, const wire::FetchBatches& fb);
  void on_committed_batches(ReplicaId from, const wire::CommittedBatches& cbs);
  void send_fetch_batches(std::optional<ReplicaId> to);
  bool may_serve(ReplicaId to);

  // ---- view change (view_change.cpp)
  void start_view_change(View target);
  void on_view_change(ReplicaId from, const wire::ViewChange& vc, const Bytes& signature);
  void on_new_view(ReplicaId from, const wire::NewView& nv, const Bytes& signature, ByteView frame);
  void check_view_change_progress();
  void send_new_view();
  void install_new_view(const NewViewPlan& plan, const std::vector<Signed<wire::PrePrepareHeader>>& o,
                        Bytes new_view_frame);
  void help_lagging(ReplicaId to);
  void adopt_new_view_order();

  // ---- timers (replica.cpp)
  void on_retransmit();
  void retransmit_entry(const Entry& e);

  // ---- durability (durable.cpp)
  void persist_entry(Seq seq, Entry& e);
  void persist_view();
  void erase_entry(Seq seq);
  void persist_stable();
  void persist_applied();
  void persist_sync();
  Result<void> restore_entry(Seq seq, const Bytes& record);
  Result<void> restore_stable(const Bytes* ckpt, const Bytes* snap);
  Result<void> restore_store(const DurableState& durable);

  // ---- helpers
  ReplicaId primary(View v) const { return static_cast<ReplicaId>(v % n_); }
  bool is_primary() const { return primary(view_) == self_; }
  bool in_window(Seq s) const { return s > low_ && s <= low_ + config_.window; }
  std::size_t commit_quorum() const { return bugs_.commit_quorum_f_plus_1 ? f_ + 1 : 2 * f_ + 1; }
  std::size_t checkpoint_quorum() const { return 2 * f_ + 1; }
  Principal me() const { return Principal::replica(self_); }
  Digest batch_digest(const Batch& batch) const;
  const Batch* find_batch(const Entry& e, const Digest& d) const;
  void prune_batches(Entry& e);
  void enter_view(Entry& e) const;
  template <class M>
  Signed<M> sign(const M& m) const;
  template <class M>
  Bytes frame_to(ReplicaId to, const M& m) const;
  template <class M>
  Bytes frame_of(const Signed<M>& s) const;
  // A COMMIT: in MAC mode its signature travels with one MAC per replica
  // (wire/authenticate.hpp).
  Bytes frame_of(const Signed<wire::Commit>& s) const;
  bool macs() const { return config_.authentication == Authentication::macs; }
  bool provable_commit(Entry& e);
  Bytes frame_of_pre_prepare(const Signed<wire::PrePrepareHeader>& h, const Batch& batch) const;
  void send(Destination to, Bytes frame) { out_->send.push_back({to, std::move(frame)}); }
  void note_seen(Seq s) { max_seen_seq_ = std::max(max_seen_seq_, s); }
  void invariants() const;
  const ClientTable& clients() const { return state_->clients(); }
  MerkleStore* store() const { return state_->store(); }
  WholeState& whole() const;
  transfer::SyncBugs sync_bugs() const { return {bugs_.unverified_tree_leaves, bugs_.stale_subtree_after_transfer}; }

  const ClusterConfig config_;
  const ReplicaId self_;
  const std::uint32_t n_;
  const std::uint32_t f_;
  const Crypto& crypto_;
  const std::unique_ptr<ReplicatedState> state_;
  const Bugs bugs_;
  const Digest null_digest_;
  const TimeUs base_view_change_timeout_us_;
  const TimeUs retransmit_interval_us_;

  TimeUs now_ = 0;
  Effects* out_ = nullptr;
  bool started_ = false;

  // View.
  View view_ = 0;
  bool active_ = true;  // false between sending VIEW-CHANGE(view_) and installing NEW-VIEW(view_)
  std::map<ReplicaId, Signed<wire::ViewChange>> view_changes_;  // newest per replica
  std::optional<Bytes> own_view_change_frame_;
  std::optional<Bytes> new_view_frame_;  // NEW-VIEW of view_ (to help lagging replicas)
  std::vector<Signed<wire::PrePrepareHeader>> new_view_order_;  // its O, adopted as the window reaches it
  TimeUs view_change_timeout_us_;        // T, doubled per failed view change
  std::uint64_t view_changes_installed_ = 0;

  // Log.
  Seq low_ = 0;  // h: the stable checkpoint
  Seq last_executed_ = 0;
  Seq next_seq_ = 1;  // primary only
  std::map<Seq, Entry> log_;

  // Checkpoints.
  struct OwnCheckpoint {
    Digest digest{};
    Bytes snapshot;  // a whole state's; a store-backed state is pinned in the store instead
    Signed<wire::Checkpoint> message;
  };
  std::map<Seq, OwnCheckpoint> own_checkpoints_;
  std::map<Seq, QuorumCertificate<Signed<wire::Checkpoint>, Digest>> checkpoint_votes_;
  std::map<ReplicaId, Signed<wire::Checkpoint>> far_checkpoints_;  // beyond the window: newest per replica
  std::vector<Signed<wire::Checkpoint>> stable_proof_;
  Digest stable_digest_{};

  // State transfer and catch-up.
  std::optional<Seq> transfer_target_;
  std::vector<Signed<wire::Checkpoint>> transfer_proof_;
  // The certified snapshot arriving chunk by chunk, asked of one source at
  // a time (PROTOCOL.md, "State transfer").
  struct IncomingSnapshot {
    Seq seq = 0;
    Digest digest{};  // from the 2f+1 proof of the first chunk
    std::vector<Signed<wire::Checkpoint>> proof;
    std::uint64_t total_bytes = 0;
    Bytes bytes;                     // the first bytes.size() bytes, in order
    ReplicaId source = 0;            // asked for the next chunk
    std::size_t bytes_at_retry = 0;  // bytes.size() at the last retransmission
  };
  std::optional<IncomingSnapshot> incoming_;
  // Per replica we sent a chunk to: the (seq, offset) of the chunk after it,
  // which it may ask for without waiting out may_serve().
  std::map<ReplicaId, std::pair<Seq, std::uint64_t>> next_chunk_;
  // A store-backed state's transfer (transfer/state_sync.hpp): the store is
  // partly the certified state's while it runs, so nothing executes.
  std::optional<transfer::StateSync> sync_;
  std::vector<Signed<wire::Checkpoint>> sync_proof_;
  ReplicaId sync_source_ = 0;
  std::uint64_t sync_bytes_at_retry_ = 0;
  transfer::ServedPins served_pins_;
  std::map<ReplicaId, std::pair<TimeUs, std::uint32_t>> tree_served_;  // per peer: window start, answers in it
  std::uint64_t state_transfers_ = 0;
  Seq max_seen_seq_ = 0;
  Seq executed_at_last_retransmit_ = 0;
  std::uint32_t fetch_rotation_ = 0;
  std::map<ReplicaId, TimeUs> last_served_;

  // Requests.
  PendingRequests<wire::SignedRequest> pending_;  // fair batches, bounded per client

  // Timers (PROTOCOL.md: T with exponential backoff; batching timeout).
  TimeUs batch_deadline_ = kNever;
  TimeUs request_deadline_ = kNever;   // backup waiting for a request to execute
  std::pair<ClientId, RequestNo> timed_request_{};  // the pending request request_deadline_ is for
  RequestNo timed_client_last_t_ = 0;  // its client's last executed t when the timer started
  bool timed_request_deferred_ = false;  // its timer was given one more T (behind())
  TimeUs new_view_deadline_ = kNever;  // 2f+1 VIEW-CHANGEs seen, waiting for NEW-VIEW
  TimeUs retransmit_deadline_ = kNever;

  std::uint64_t rejected_[static_cast<std::size_t>(Rejection::count_)] = {};
};

std::string entry_key(Seq seq);
std::string own_checkpoint_key(Seq seq);

template <class M>
inline Signed<M> PbftReplica::sign(const M& m) const {
  return Signed<M>{self_, m, crypto_.sign(wire::signing_input_of(me(), m))};
}

// A tree-walk request or answer for one replica: one MAC for it in MAC mode
// (wire::point_to_point), signed otherwise.
template <class M>
inline Bytes PbftReplica::frame_to(ReplicaId to, const M& m) const {
  static_assert(wire::point_to_point_v<M>);
  if (!macs()) return frame_of(sign(m));
  return wire::make_frame(me(), m,
                          [&](ByteView input) { return wire::point_to_point_authenticator(crypto_, to, input); });
}

template <class M>
inline Bytes PbftReplica::frame_of(const Signed<M>& s) const {
  wire::Envelope env;
  env.type = wire::type_of<M>;
  env.sender = Principal::replica(s.signer);
  env.payload = wire::encode(s.message);
  env.authenticator = s.signature;
  return wire::encode_envelope(env);
}


}  // namespace synod::pbft
