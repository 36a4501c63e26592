// PBFT core: inputs, client requests, batching, the normal case
// (pre-prepare / prepare / commit), execution and timers.
// PROTOCOL.md, "PBFT" — every rule cited below is from there.
#include "pbft/replica.hpp"

#include <algorithm>

#include "core/batching.hpp"
#include "core/durable_shape.hpp"
#include "synod/assert.hpp"
#include "wire/authenticate.hpp"

namespace synod::pbft {

namespace {

// How many uncommitted log entries one retransmission round resends.
constexpr std::size_t kRetransmitEntriesMax = 64;
// T may double (exponential backoff) up to this multiple of its base.
constexpr TimeUs kViewChangeBackoffMax = 64;

TimeUs ms_to_us(std::uint32_t ms) { return static_cast<TimeUs>(ms) * 1000; }

}  // namespace

PbftReplica::PbftReplica(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                         std::unique_ptr<ReplicatedState> state, Bugs bugs)
    : config_(config),
      self_(self),
      n_(config.n()),
      f_(config.f),
      crypto_(crypto),
      state_(std::move(state)),
      bugs_(bugs),
      null_digest_(crypto.digest(wire::encode_batch(Batch{}))),
      base_view_change_timeout_us_(ms_to_us(config.view_change_timeout_ms)),
      retransmit_interval_us_(std::max<TimeUs>(1000, ms_to_us(config.view_change_timeout_ms) / 4)),
      view_change_timeout_us_(base_view_change_timeout_us_),
      pending_(config.max_pending_per_client) {
  SYNOD_ASSERT(config.protocol == Protocol::pbft, "the PBFT core needs a pbft config");
  SYNOD_ASSERT(self < n_, "replica id inside the configuration");
  SYNOD_ASSERT(n_ >= 3 * f_ + 1, "pbft needs n >= 3f+1");
}

namespace {

Result<std::unique_ptr<Replica>> make(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                      std::unique_ptr<ReplicatedState> state, const DurableState& durable, Bugs bugs) {
  if (auto ok = config.validate(); !ok) return std::unexpected(ok.error());
  if (config.protocol != Protocol::pbft) return fail(ErrorCode::invalid_config, "config protocol is not pbft");
  if (self >= config.n()) return fail(ErrorCode::invalid_argument, "replica id " + std::to_string(self) + " not in config");
  auto replica = std::make_unique<PbftReplica>(config, self, crypto, std::move(state), bugs);
  if (auto ok = check_durable_shape(config, durable); !ok) return std::unexpected(ok.error());
  if (auto ok = replica->restore(durable); !ok) return std::unexpected(ok.error());
  return std::unique_ptr<Replica>(std::move(replica));
}

}  // namespace

Result<std::unique_ptr<Replica>> make_replica(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                              StateMachine& app, const DurableState& durable, Bugs bugs) {
  return make(config, self, crypto, std::make_unique<WholeState>(app), durable, bugs);
}

Result<std::unique_ptr<Replica>> make_replica(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                              StoreStateMachine& app, StoreBackend& backend,
                                              const DurableState& durable, Bugs bugs) {
  return make(config, self, crypto, std::make_unique<StoreState>(app, crypto, backend), durable, bugs);
}

WholeState& PbftReplica::whole() const {
  SYNOD_ASSERT(store() == nullptr, "a whole state, not a store");
  return static_cast<WholeState&>(*state_);
}

// ------------------------------------------------------------------ helpers

Digest PbftReplica::batch_digest(const Batch& batch) const { return crypto_.digest(wire::encode_batch(batch)); }

const Batch* PbftReplica::find_batch(const Entry& e, const Digest& d) const {
  if (d == null_digest_) {
    static const Batch kNull;
    return &kNull;
  }
  auto it = e.batches.find(d);
  return it == e.batches.end() ? nullptr : &it->second;
}

void PbftReplica::prune_batches(Entry& e) {
  for (auto it = e.batches.begin(); it != e.batches.end();) {
    const Digest& d = it->first;
    const bool needed = (e.pre_prepare && e.pre_prepare->message.digest == d) ||
                        (e.prepared_cert && e.prepared_cert->pre_prepare.message.digest == d) ||
                        (e.committed && e.committed->digest == d);
    it = needed ? std::next(it) : e.batches.erase(it);
  }
}

Bytes PbftReplica::frame_of(const Signed<wire::Commit>& s) const {
  if (!macs()) return frame_of<wire::Commit>(s);
  wire::Envelope env;
  env.type = wire::MsgType::commit;
  env.sender = Principal::replica(s.signer);
  env.payload = wire::encode(s.message);
  env.authenticator = wire::signature_and_macs(crypto_, n_, wire::signing_input(env.type, env.sender, env.payload),
                                               s.signature);
  return wire::encode_envelope(env);
}

Bytes PbftReplica::frame_of_pre_prepare(const Signed<wire::PrePrepareHeader>& h, const Batch& batch) const {
  wire::Envelope env;
  env.type = wire::MsgType::pre_prepare;
  env.sender = Principal::replica(h.signer);
  env.payload = wire::encode(wire::PrePrepare{h.message, batch});
  env.authenticator = h.signature;
  return wire::encode_envelope(env);
}

void PbftReplica::enter_view(Entry& e) const {
  if (e.view == view_) return;
  // Votes and the pre-prepare belong to one view; the prepared certificate,
  // commit proof and batches outlive it.
  e.view = view_;
  e.pre_prepare.reset();
  e.prepares.clear();
  e.commits.clear();
  e.sent_prepare = e.sent_commit = e.prepared = false;
}

// ------------------------------------------------------------------ inputs

void PbftReplica::begin(TimeUs now, Effects& out) {
  SYNOD_ASSERT(now >= now_, "time never goes backwards");
  now_ = now;
  out_ = &out;
  if (!started_) {
    started_ = true;
    out.persist.push_back(durable_shape_record(config_));  // before anything else becomes durable
    retransmit_deadline_ = now_ + retransmit_interval_us_;
    // After a restart, ask the others for what was committed meanwhile.
    if (low_ > 0 || !log_.empty() || view_ > 0) send_fetch_batches(std::nullopt);
  }
}

void PbftReplica::receive(TimeUs now, ByteView frame, Effects& out) {
  begin(now, out);
  auto env = wire::decode_envelope(frame, config_.max_frame_bytes);
  if (!env) return reject(Rejection::malformed);
  auto msg = wire::decode_message(*env);
  if (!msg) return reject(Rejection::malformed);
  dispatch(*env, *msg, frame);
  invariants();
  out_ = nullptr;
}

void PbftReplica::dispatch(const wire::Envelope& env, wire::Message& msg, ByteView frame) {
  const Principal sender = env.sender;
  if (sender.is_client()) {
    // Clients send requests and nothing else.
    auto* req = std::get_if<wire::Request>(&msg);
    if (req == nullptr) return reject(Rejection::invalid);
    if (req->client != sender.id || config_.find_client(sender.id) == nullptr) return reject(Rejection::unknown_sender);
    if (!screen_request(*req, env.authenticator, frame)) return;
  } else if (sender.id >= n_ || sender.id == self_) {
    return reject(Rejection::unknown_sender);
  } else if (std::holds_alternative<wire::Request>(msg)) {
    // Backups forward the client's own frame; a request signed by a
    // replica is never one a client made.
    return reject(Rejection::invalid);
  }
  if (late_vote(msg)) return;
  // The authenticator covers the signed part: the whole payload, except for
  // PRE-PREPARE where it covers the header (the digest binds the batch).
  const bool whole_payload = env.type != wire::MsgType::pre_prepare;
  const Bytes input = whole_payload
                          ? wire::signing_input(env.type, sender, env.payload)
                          : wire::signing_input(env.type, sender, wire::encode(std::get<wire::PrePrepare>(msg).header));
  if (macs() && env.type == wire::MsgType::commit) {
    // MAC mode: our MAC authenticates the sender; the signature is kept for
    // commit proofs and checked when one is served.
    auto signature = wire::check_own_mac(crypto_, n_, self_, sender, input, env.authenticator);
    if (!signature) return reject(Rejection::bad_authenticator);
    return on_commit(sender.id, std::get<wire::Commit>(msg), *signature);
  }
  const bool authentic = macs() && wire::point_to_point(env.type)
                            ? wire::point_to_point_authentic(crypto_, sender, input, env.authenticator)
                            : wire::sender_authentic(config_, crypto_, self_, sender, input, env.authenticator);
  if (!authentic) return reject(Rejection::bad_authenticator);

  const ReplicaId from = sender.id;
  std::visit(
      [&](auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, wire::Request>) on_request(m, env, frame);
        else if constexpr (std::is_same_v<M, wire::PrePrepare>) on_pre_prepare(from, m, env.authenticator);
        else if constexpr (std::is_same_v<M, wire::Prepare>) on_prepare(from, m, env.authenticator);
        else if constexpr (std::is_same_v<M, wire::Commit>) on_commit(from, m, env.authenticator);
        else if constexpr (std::is_same_v<M, wire::Checkpoint>) on_checkpoint(from, m, env.authenticator);
        else if constexpr (std::is_same_v<M, wire::ViewChange>) on_view_change(from, m, env.authenticator);
        else if constexpr (std::is_same_v<M, wire::NewView>) on_new_view(from, m, env.authenticator, frame);
        else if constexpr (std::is_same_v<M, wire::FetchState>) on_fetch_state(from, m);
        else if constexpr (std::is_same_v<M, wire::StateSnapshot>) on_state_snapshot(from, m);
        else if constexpr (std::is_same_v<M, wire::FetchBatches>) on_fetch_batches(from, m);
        else if constexpr (std::is_same_v<M, wire::CommittedBatches>) on_committed_batches(from, m);
        else if constexpr (std::is_same_v<M, wire::FetchTree>) on_fetch_tree(from, m);
        else if constexpr (std::is_same_v<M, wire::FetchLeaves>) on_fetch_leaves(from, m);
        else if constexpr (std::is_same_v<M, wire::FetchValues>) on_fetch_values(from, m);
        else if constexpr (std::is_same_v<M, wire::TreeNodes>) after_sync_answer(from, sync_ ? sync_->on_tree_nodes(m, from == sync_source_) : transfer::Outcome::progress);
        else if constexpr (std::is_same_v<M, wire::LeafEntries>) after_sync_answer(from, sync_ ? sync_->on_leaf_entries(m, from == sync_source_) : transfer::Outcome::progress);
        else if constexpr (std::is_same_v<M, wire::Values>) after_sync_answer(from, sync_ ? sync_->on_values(m, from == sync_source_) : transfer::Outcome::progress);
        else reject(Rejection::invalid);  // replies and paxos messages have no business here
      },
      msg);
}

// A PREPARE for an entry already prepared in this view, or (signature mode)
// a COMMIT for one already committed in it, can change nothing (the
// certificate is formed): it is dropped before its signature is checked.
// With f = 3 a replica needs 2f = 6 of the 8 prepares it receives, so this
// saves a quarter of its prepare verifications.
bool PbftReplica::late_vote(const wire::Message& msg) const {
  const auto* prepare = std::get_if<wire::Prepare>(&msg);
  const auto* commit = std::get_if<wire::Commit>(&msg);
  // In MAC mode a late commit costs one MAC, and provable_commit may need it.
  if (prepare == nullptr && (commit == nullptr || macs())) return false;
  const View v = prepare != nullptr ? prepare->view : commit->view;
  const Seq s = prepare != nullptr ? prepare->seq : commit->seq;
  if (v != view_ || !active_) return false;
  const auto it = log_.find(s);
  if (it == log_.end() || it->second.view != view_) return false;
  return prepare != nullptr ? it->second.prepared : it->second.committed.has_value() && it->second.committed->view == view_;
}

// ------------------------------------------------------------------ requests

// Before the signature check: a request that is too large, stale or over
// its client's quota is rejected, and a byte-identical copy of a held
// request is a retransmission; none of these needs a verify. True when the
// request must be verified and go on to on_request.
bool PbftReplica::screen_request(const wire::Request& req, const Bytes& signature, ByteView frame) {
  const RequestScreen screen =
      screen_client_request(pending_, clients().last_t(req.client), config_.max_request_bytes, req, signature);
  if (screen.verdict == RequestScreen::Verdict::rejected) reject(screen.why);
  if (screen.verdict == RequestScreen::Verdict::held) forward_retransmission(*pending_.find({req.client, req.t}), frame);
  return screen.verdict == RequestScreen::Verdict::verify;
}

// A retransmission of a held request: a backup forwards it to the primary
// again, at most once per retransmission interval.
void PbftReplica::forward_retransmission(PendingRequests<wire::SignedRequest>::Entry& held, ByteView frame) {
  if (is_primary() || now_ < held.forwarded_us + retransmit_interval_us_) return;
  held.forwarded_us = now_;
  send(Destination::replica(primary(view_)), Bytes(frame.begin(), frame.end()));
}

// A verified request that passed screen_request().
void PbftReplica::on_request(const wire::Request& req, const wire::Envelope& env, ByteView frame) {
  if (req.read_only) {
    // PROTOCOL.md: read-only requests execute without ordering; the client
    // needs 2f+1 matching replies.
    return send_reply(req.client, req.t, true, state_->query(req.op));
  }
  if (req.t == clients().last_t(req.client)) {
    // At-most-once: the cached reply again.
    const ClientTable::Entry* e = clients().find(req.client);
    return send_reply(req.client, req.t, false, e->last_result);
  }
  // A held request with other bytes (its client signed two versions of t):
  // the held one stands.
  if (auto* p = pending_.find({req.client, req.t})) return forward_retransmission(*p, frame);
  const auto admitted =
      pending_.add(req.client, req.t, wire::SignedRequest{req, env.authenticator}, req.op.size(), now_);
  if (admitted == PendingRequests<wire::SignedRequest>::Admit::over_limit) return reject(Rejection::limit);
  if (is_primary()) {
    if (active_) maybe_propose();
    return;
  }
  // A backup forwards the request to the primary and starts its timer.
  send(Destination::replica(primary(view_)), Bytes(frame.begin(), frame.end()));
  arm_request_timer();
}

void PbftReplica::arm_request_timer() {
  // PROTOCOL.md: a backup's timer runs for a pending request until that
  // request executes; then it restarts for another waiting one. Progress of
  // other clients does not reset it, so a primary censoring one client is
  // still replaced.
  //
  // Progress of the timed request's own client does: the primary executes
  // a client's requests in t order, so while that client's earlier requests
  // execute the primary is serving it (a client that floods more requests
  // than its quota leaves each replica holding a different slice of them,
  // and the primary works through its own slice first; without this rule
  // such a client forced a view change every T). The timer then moves to
  // the next request of another client in arrival order, with a fresh T:
  // moving forward through the held requests, it reaches every client's
  // before it comes back to any, so a primary that serves some clients
  // slowly (even colluding ones taking turns) while censoring another is
  // still replaced.
  if (!active_ || is_primary() || pending_.empty()) {
    request_deadline_ = kNever;
    return;
  }
  const bool timed_held = request_deadline_ != kNever && pending_.find(timed_request_) != nullptr;
  const bool timed_client_progressed = timed_held && clients().last_t(timed_request_.first) != timed_client_last_t_;
  if (timed_held && !timed_client_progressed) return;
  const PendingKey* next = timed_client_progressed ? pending_.next_of_another_client(timed_request_) : nullptr;
  timed_request_ = next != nullptr ? *next : *pending_.oldest();
  timed_client_last_t_ = clients().last_t(timed_request_.first);
  timed_request_deferred_ = false;
  request_deadline_ = now_ + view_change_timeout_us_;
}

// True when others have moved on past what this replica executed: a state
// transfer is under way; or a batch above the last executed one is
// committed here (2f+1 commits: decided) while an earlier one is not, or
// lacks its body; or f+1 other replicas committed to the next batch, which
// does not commit here (so at least one correct replica prepared it). That
// is a replica that missed messages, e.g. those sent while it or its peers
// restarted, which the others stop resending once they committed.
//
// A backup whose request timer expires while behind fetches what it lacks
// and gives the request one more T instead of starting a view change at
// once. Without this, a backup that restarted or lagged under load changed
// view alone and stayed out of the protocol until the next view change (a
// lone VIEW-CHANGE pulls no one along): the cluster ran with one replica
// fewer. Once per timed request, so a primary that censors a request is
// still suspected, after at most 2T. (A primary that crashes leaves the
// batches it pre-prepared to commit among the backups, and nothing after
// them: no backup is behind, and the view change starts at T.)
bool PbftReplica::behind() const {
  if (transfer_target_ && *transfer_target_ > last_executed_) return true;
  const auto next = log_.find(last_executed_ + 1);
  if (next != log_.end() && next->second.view == view_ && !next->second.committed) {
    // Our own commit may be among the votes: f+1 others means f+2 in all then.
    const auto& commits = next->second.commits;
    if (commits.value_with(f_ + 1 + (commits.has_vote(self_) ? 1 : 0)) != nullptr) return true;
  }
  for (auto it = log_.upper_bound(last_executed_); it != log_.end(); ++it)
    if (it->second.committed) return true;
  return false;
}

void PbftReplica::maybe_propose() {
  if (!is_primary() || !active_) return;
  for (std::size_t rounds = 0; rounds <= config_.window; ++rounds) {
    TimeUs oldest = kNever;
    std::vector<PendingKey> keys = pending_.next_batch(config_.batch_max_requests, config_.batch_max_bytes, &oldest);
    if (keys.empty()) {
      batch_deadline_ = kNever;
      return;
    }
    // Batching adapts to load (core/batching.hpp).
    std::size_t bytes = 0;
    for (const PendingKey& k : keys) bytes += pending_.at(k).bytes;
    const bool full = keys.size() == config_.batch_max_requests || bytes >= config_.batch_max_bytes;
    const TimeUs due = oldest + config_.batch_timeout_us;
    switch (batch_decision(full, next_seq_, last_executed_, config_.max_batches_in_flight, now_, due)) {
      case BatchDecision::propose: break;
      case BatchDecision::wait_until_due: batch_deadline_ = due; return;
      case BatchDecision::wait_for_execution: batch_deadline_ = kNever; return;
    }
    // PROTOCOL.md: the primary assigns s inside the water marks.
    if (!in_window(next_seq_)) {
      batch_deadline_ = kNever;
      return;
    }
    propose(keys);
  }
}

void PbftReplica::propose(const std::vector<PendingKey>& keys) {
  Batch batch;
  batch.reserve(keys.size());
  for (const PendingKey& k : keys) {
    pending_.mark_proposed(k);
    batch.push_back(pending_.at(k).request);
  }
  const Seq seq = next_seq_++;
  Entry& e = log_[seq];
  SYNOD_ASSERT(!e.pre_prepare || e.view < view_, "the primary assigns each seq once per view");
  enter_view(e);
  const wire::PrePrepareHeader header{view_, seq, batch_digest(batch)};
  e.pre_prepare = sign(header);
  e.batches[header.digest] = batch;
  prune_batches(e);
  persist_entry(seq, e);  // durable before the pre-prepare leaves
  send(Destination::all_replicas(), frame_of_pre_prepare(*e.pre_prepare, batch));
  check_prepared(seq);
}

// ------------------------------------------------------------------ normal case

bool PbftReplica::within_proposal_bounds(const Batch& batch) const {
  if (batch.size() > config_.batch_max_requests) return false;
  std::size_t bytes = 0;
  for (const wire::SignedRequest& sr : batch) {
    if (sr.request.op.size() > config_.max_request_bytes) return false;
    bytes += sr.request.op.size();
  }
  return bytes <= config_.batch_max_bytes;
}

bool PbftReplica::valid_batch(const Batch& batch, const Digest& digest) {
  if (!bugs_.skip_pre_prepare_digest_check && batch_digest(batch) != digest) return false;
  // PROTOCOL.md pitfall: every request in the batch must authenticate. A
  // request this replica already verified (pending, same signature) is
  // not verified twice; the others are checked together (verify_all).
  std::vector<Bytes> inputs;
  std::vector<wire::RequestAuthenticator> to_check;
  inputs.reserve(batch.size());  // to_check points into inputs: no reallocation
  to_check.reserve(batch.size());
  for (const wire::SignedRequest& sr : batch) {
    const wire::Request& r = sr.request;
    if (r.read_only || config_.find_client(r.client) == nullptr) return false;
    if (bugs_.skip_request_authentication) continue;
    if (const auto* p = pending_.find({r.client, r.t}); p != nullptr && p->request == sr) continue;
    const Principal client = Principal::client(r.client);
    inputs.push_back(wire::signing_input_of(client, r));
    to_check.push_back({client, inputs.back(), sr.signature});
  }
  return wire::all_requests_authentic(config_, crypto_, self_, to_check);
}

void PbftReplica::on_pre_prepare(ReplicaId from, wire::PrePrepare& pp, const Bytes& signature) {
  const wire::PrePrepareHeader& h = pp.header;
  note_seen(h.seq);
  if (h.view < view_) return help_lagging(from);
  if (!active_ || h.view != view_) return reject(Rejection::wrong_view);
  if (from != primary(view_)) return reject(Rejection::invalid);
  if (!in_window(h.seq)) return reject(Rejection::out_of_window);
  Entry& e = log_[h.seq];
  if (e.pre_prepare && e.view == view_) {
    if (e.pre_prepare->message.digest != h.digest) return reject(Rejection::conflicting);
    // Same pre-prepare again: it may bring a batch a NEW-VIEW named.
    if (find_batch(e, h.digest) == nullptr && valid_batch(pp.batch, h.digest)) e.batches[h.digest] = std::move(pp.batch);
    return execute_ready();
  }
  if (!within_proposal_bounds(pp.batch) || !valid_batch(pp.batch, h.digest)) return reject(Rejection::invalid);

  enter_view(e);
  e.pre_prepare = Signed<wire::PrePrepareHeader>{from, h, signature};
  e.batches[h.digest] = std::move(pp.batch);
  prune_batches(e);
  send_prepare(h.seq, e);
  check_prepared(h.seq);
}

void PbftReplica::send_prepare(Seq seq, Entry& e) {
  SYNOD_ASSERT(e.pre_prepare && e.view == view_ && !is_primary(), "backups prepare what they accepted");
  persist_entry(seq, e);  // the accepted digest is durable before PREPARE reveals it
  const Signed<wire::Prepare> p = sign(wire::Prepare{view_, seq, e.pre_prepare->message.digest});
  const VoteOutcome outcome = e.prepares.add(self_, p.message.digest, p);
  SYNOD_ASSERT(outcome != VoteOutcome::conflicting, "a correct replica never prepares two digests");
  e.sent_prepare = true;
  send(Destination::all_replicas(), frame_of(p));
}

void PbftReplica::on_prepare(ReplicaId from, const wire::Prepare& p, const Bytes& signature) {
  note_seen(p.seq);
  if (p.view < view_) return help_lagging(from);
  if (!active_ || p.view != view_) return reject(Rejection::wrong_view);
  if (from == primary(view_)) return reject(Rejection::invalid);  // the primary does not prepare
  if (!in_window(p.seq)) return reject(Rejection::out_of_window);
  Entry& e = log_[p.seq];
  enter_view(e);
  const VoteOutcome outcome = e.prepares.add(from, p.digest, Signed<wire::Prepare>{from, p, signature});
  if (outcome == VoteOutcome::conflicting) return reject(Rejection::conflicting);
  if (outcome != VoteOutcome::added) return;  // a retransmission; lost votes come back on our own timer
  check_prepared(p.seq);
}

void PbftReplica::on_commit(ReplicaId from, const wire::Commit& c, const Bytes& signature) {
  note_seen(c.seq);
  if (c.view < view_) return help_lagging(from);
  if (!active_ || c.view != view_) return reject(Rejection::wrong_view);
  if (!in_window(c.seq)) return reject(Rejection::out_of_window);
  Entry& e = log_[c.seq];
  enter_view(e);
  const VoteOutcome outcome = e.commits.add(from, c.digest, Signed<wire::Commit>{from, c, signature});
  if (outcome == VoteOutcome::conflicting) return reject(Rejection::conflicting);
  if (outcome != VoteOutcome::added) return;
  check_committed(c.seq);
}

void PbftReplica::check_prepared(Seq seq) {
  Entry& e = log_.at(seq);
  if (e.prepared || !e.pre_prepare || e.view != view_) return;
  const Digest d = e.pre_prepare->message.digest;
  // prepared(v, s, d): the pre-prepare plus 2f matching prepares from
  // distinct backups (the primary's prepares are refused on arrival).
  if (e.prepares.count(d) < 2 * f_) return;
  e.prepared = true;
  e.prepared_cert = wire::PreparedCertificate{*e.pre_prepare, e.prepares.matching(d, 2 * f_)};
  prune_batches(e);
  persist_entry(seq, e);  // the certificate is durable before COMMIT reveals it
  const Signed<wire::Commit> c = sign(wire::Commit{view_, seq, d});
  const VoteOutcome outcome = e.commits.add(self_, d, c);
  SYNOD_ASSERT(outcome != VoteOutcome::conflicting, "a correct replica never commits two digests");
  e.sent_commit = true;
  send(Destination::all_replicas(), frame_of(c));
  check_committed(seq);
}

void PbftReplica::check_committed(Seq seq) {
  Entry& e = log_.at(seq);
  if (e.committed || !e.prepared || e.view != view_) return;
  const Digest d = e.pre_prepare->message.digest;
  // committed-local(v, s, d): prepared plus 2f+1 matching commits.
  if (e.commits.count(d) < commit_quorum()) return;
  e.committed = Entry::Committed{view_, d, e.commits.matching(d, 2 * f_ + 1), !macs()};
  execute_ready();
}

// ------------------------------------------------------------------ execution

void PbftReplica::execute_ready() {
  // A store being transferred holds parts of the certified state: nothing
  // executes on it until the transfer is whole.
  if (sync_) return;
  // Strictly in sequence order, each batch once, a gap stops execution.
  for (std::size_t steps = 0; steps <= config_.window; ++steps) {
    if (transfer_target_ && *transfer_target_ > last_executed_) {
      // A stable checkpoint beyond us is being fetched; batches below it
      // may already be garbage-collected everywhere.
      if (!log_.contains(last_executed_ + 1)) return;
    }
    auto it = log_.find(last_executed_ + 1);
    if (it == log_.end() || !it->second.committed) return;
    Entry& e = it->second;
    const Batch* batch = find_batch(e, e.committed->digest);
    if (batch == nullptr) return;  // fetched by catch-up (FetchBatches)
    SYNOD_ASSERT(!e.executed, "each batch executes once");
    execute(it->first, e, *batch);
  }
}

void PbftReplica::execute(Seq seq, Entry& e, const Batch& batch) {
  std::vector<Operation> ops;
  ops.reserve(batch.size());
  for (const wire::SignedRequest& sr : batch) {
    ops.push_back(Operation{sr.request.client, sr.request.t, sr.request.op});
  }
  auto results = state_->execute(ops, bugs_.execute_duplicates);
  ExecutedBatch done{seq, e.committed->digest, {}};
  bool executed_a_request = false;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (!results[i]) continue;
    executed_a_request = true;
    done.requests.push_back(
        ExecutedRequest{ops[i].client, ops[i].request, crypto_.digest(ops[i].payload), crypto_.digest(*results[i])});
    send_reply(ops[i].client, ops[i].request, false, *results[i]);
  }
  e.executed = true;
  last_executed_ = seq;
  if (store() != nullptr) persist_applied();  // with the batch's writes, in one commit
  out_->executed.push_back(std::move(done));
  drop_executed_requests();
  if (executed_a_request) {
    // Progress in this view: T returns to its base.
    view_change_timeout_us_ = base_view_change_timeout_us_;
    arm_request_timer();
  }
  if (seq % config_.checkpoint_interval == 0) take_checkpoint(seq);
  if (is_primary()) maybe_propose();  // the pipeline may have room again
}

void PbftReplica::send_reply(ClientId client, RequestNo t, bool read_only, const Bytes& result) {
  const wire::Reply reply{view_, client, t, wire::ReplyStatus::ok, primary(view_), read_only, result};
  send(Destination::client(client), wire::reply_frame(config_, crypto_, self_, reply));
}

void PbftReplica::drop_executed_requests() {
  pending_.drop_if([&](const PendingKey& k, const auto&) { return k.second <= clients().last_t(k.first); });
}

// ------------------------------------------------------------------ timers

void PbftReplica::tick(TimeUs now, Effects& out) {
  begin(now, out);
  if (now_ >= batch_deadline_) {
    batch_deadline_ = kNever;
    maybe_propose();
  }
  if (now_ >= request_deadline_ && !timed_request_deferred_ && behind()) {
    // This backup is behind the others: catch up before suspecting the
    // primary, once per timed request (see behind()).
    timed_request_deferred_ = true;
    request_deadline_ = now_ + view_change_timeout_us_;
    send_fetch_batches(std::nullopt);
  }
  if (now_ >= request_deadline_) {
    // A request waited T without executing: suspect the primary. T doubles
    // here too (execute() resets it on progress): views that install but
    // cannot redo their work within T must not churn at the base T forever
    // (PROTOCOL.md pitfall: timers that never back off; synod-torture
    // corrupt-signatures f=2 live-locked through view 48 without it).
    request_deadline_ = kNever;
    view_change_timeout_us_ = std::min(view_change_timeout_us_ * 2, base_view_change_timeout_us_ * kViewChangeBackoffMax);
    start_view_change(view_ + 1);
    check_view_change_progress();
  }
  if (now_ >= new_view_deadline_) {
    // 2f+1 view changes but no NEW-VIEW within T: try the next view, 2T.
    new_view_deadline_ = kNever;
    view_change_timeout_us_ = std::min(view_change_timeout_us_ * 2, base_view_change_timeout_us_ * kViewChangeBackoffMax);
    start_view_change(view_ + 1);
    check_view_change_progress();
  }
  if (now_ >= retransmit_deadline_) {
    retransmit_deadline_ = now_ + retransmit_interval_us_;
    on_retransmit();
  }
  invariants();
  out_ = nullptr;
}

TimeUs PbftReplica::next_deadline() const {
  if (!started_) return 0;  // the first tick arms the timers (and catches up after a restart)
  return std::min({batch_deadline_, request_deadline_, new_view_deadline_, retransmit_deadline_});
}

void PbftReplica::retransmit_entry(const Entry& e) {
  if (e.view != view_ || !active_) return;
  if (e.pre_prepare && is_primary()) {
    if (const Batch* b = find_batch(e, e.pre_prepare->message.digest)) {
      send(Destination::all_replicas(), frame_of_pre_prepare(*e.pre_prepare, *b));
    }
  }
  const Digest d = e.pre_prepare ? e.pre_prepare->message.digest : Digest{};
  if (e.sent_prepare) {
    for (const auto& p : e.prepares.matching(d, n_))
      if (p.signer == self_) send(Destination::all_replicas(), frame_of(p));
  }
  if (e.sent_commit) {
    for (const auto& c : e.commits.matching(d, n_))
      if (c.signer == self_) send(Destination::all_replicas(), frame_of(c));
  }
}

void PbftReplica::on_retransmit() {
  // Messages get lost; every replica periodically resends what it is still
  // waiting on, so a healed network always converges.
  if (!active_) {
    if (own_view_change_frame_) send(Destination::all_replicas(), *own_view_change_frame_);
  } else {
    std::size_t resent = 0;
    for (auto it = log_.upper_bound(last_executed_); it != log_.end() && resent < kRetransmitEntriesMax; ++it) {
      if (it->second.committed) continue;
      retransmit_entry(it->second);
      ++resent;
    }
    if (!is_primary()) {
      pending_.for_each([&](const PendingKey&, auto& p) {
        if (now_ < p.forwarded_us + retransmit_interval_us_) return;
        p.forwarded_us = now_;
        const wire::Envelope env{wire::kFormatVersion, wire::MsgType::request,
                                 Principal::client(p.request.request.client), wire::encode(p.request.request),
                                 p.request.signature};
        send(Destination::replica(primary(view_)), wire::encode_envelope(env));
      });
    } else {
      maybe_propose();
    }
  }
  // The newest checkpoint of ours that is not stable yet.
  if (!own_checkpoints_.empty() && own_checkpoints_.rbegin()->first > low_) {
    send(Destination::all_replicas(), frame_of(own_checkpoints_.rbegin()->second.message));
  }
  if (transfer_target_ && *transfer_target_ > last_executed_) {
    retry_state_transfer();
  } else if (last_executed_ == executed_at_last_retransmit_) {
    // No progress since the last round: if anyone is ahead, catch up.
    auto next = log_.find(last_executed_ + 1);
    const bool stuck = next != log_.end() && next->second.committed;
    if (max_seen_seq_ > last_executed_ || stuck) send_fetch_batches(std::nullopt);
  }
  executed_at_last_retransmit_ = last_executed_;
}

// ------------------------------------------------------------------ status

ReplicaStatus PbftReplica::status() const {
  ReplicaStatus s;
  s.protocol = Protocol::pbft;
  s.id = self_;
  s.view = view_;
  s.leader = primary(view_);
  s.is_leader = is_primary() && active_;
  s.changing_view = !active_;
  s.last_executed = last_executed_;
  s.stable_checkpoint = low_;
  s.state_digest = stable_digest_;
  s.view_changes = view_changes_installed_;
  s.state_transfers = state_transfers_;
  std::copy(std::begin(rejected_), std::end(rejected_), std::begin(s.rejected));
  return s;
}

void PbftReplica::invariants() const {
  SYNOD_ASSERT(low_ <= last_executed_, "the stable checkpoint was executed");
  SYNOD_ASSERT(last_executed_ <= low_ + config_.window, "execution stays inside the window");
  SYNOD_ASSERT(log_.empty() || log_.begin()->first > low_, "nothing below the low water mark is kept");
  SYNOD_ASSERT(low_ == 0 || stable_proof_.size() >= checkpoint_quorum(), "a stable checkpoint has its proof");
  SYNOD_ASSERT(active_ || own_view_change_frame_.has_value(), "a replica changing view has sent VIEW-CHANGE");
  SYNOD_ASSERT(pending_.indexed(), "pending requests are indexed once");
  SYNOD_ASSERT(view_changes_.size() <= n_, "one view change kept per replica");
  SYNOD_ASSERT(far_checkpoints_.size() <= n_, "one far checkpoint kept per replica");
  SYNOD_ASSERT(!is_primary() || !active_ || next_seq_ > low_, "the primary assigns above the low water mark");
}

}  // namespace synod::pbft
