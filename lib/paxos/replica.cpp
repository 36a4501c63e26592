// Multi-Paxos core: inputs, client requests, batching, timers and status.
// PROTOCOL.md, "Multi-Paxos" — every rule cited below is from there.
#include "paxos/replica.hpp"

#include <algorithm>

#include "core/batching.hpp"
#include "core/durable_shape.hpp"
#include "synod/assert.hpp"

namespace synod::paxos {

namespace {

TimeUs ms_to_us(std::uint32_t ms) { return static_cast<TimeUs>(ms) * 1000; }

// Distinct, well-mixed generator states per replica from one seed.
std::uint64_t replica_seed(std::uint64_t seed, ReplicaId self) {
  return seed ^ (0xd1b54a32d192ed03ull * (static_cast<std::uint64_t>(self) + 1));
}

}  // namespace

PaxosReplica::PaxosReplica(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                           std::unique_ptr<ReplicatedState> state, std::uint64_t seed, Bugs bugs)
    : config_(config),
      self_(self),
      n_(config.n()),
      f_(config.f),
      crypto_(crypto),
      state_(std::move(state)),
      bugs_(bugs),
      heartbeat_interval_us_(ms_to_us(config.heartbeat_interval_ms)),
      election_timeout_us_(ms_to_us(config.election_timeout_ms)),
      lease_us_(ms_to_us(config.lease_duration_ms)),
      prng_(replica_seed(seed, self)),
      pending_(config.max_pending_per_client) {
  SYNOD_ASSERT(config.protocol == Protocol::paxos, "the Multi-Paxos core needs a paxos config");
  SYNOD_ASSERT(self < n_, "replica id inside the configuration");
  SYNOD_ASSERT(n_ == 2 * f_ + 1, "paxos needs n = 2f+1");
  SYNOD_ASSERT(election_timeout_us_ > heartbeat_interval_us_, "a follower waits longer than a heartbeat");
}

namespace {

Result<std::unique_ptr<Replica>> make_paxos(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                            std::unique_ptr<ReplicatedState> state, const DurableState& durable,
                                            std::uint64_t seed, Bugs bugs) {
  if (auto ok = config.validate(); !ok) return std::unexpected(ok.error());
  if (config.protocol != Protocol::paxos) return fail(ErrorCode::invalid_config, "config protocol is not paxos");
  if (self >= config.n()) {
    return fail(ErrorCode::invalid_argument, "replica id " + std::to_string(self) + " not in config");
  }
  auto replica = std::make_unique<PaxosReplica>(config, self, crypto, std::move(state), seed, bugs);
  if (auto ok = check_durable_shape(config, durable); !ok) return std::unexpected(ok.error());
  if (auto ok = replica->restore(durable); !ok) return std::unexpected(ok.error());
  return std::unique_ptr<Replica>(std::move(replica));
}

}  // namespace

Result<std::unique_ptr<Replica>> make_replica(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                              StateMachine& app, const DurableState& durable, std::uint64_t seed,
                                              Bugs bugs) {
  return make_paxos(config, self, crypto, std::make_unique<WholeState>(app), durable, seed, bugs);
}

Result<std::unique_ptr<Replica>> make_replica(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                              StoreStateMachine& app, StoreBackend& backend,
                                              const DurableState& durable, std::uint64_t seed, Bugs bugs) {
  return make_paxos(config, self, crypto, std::make_unique<StoreState>(app, crypto, backend), durable, seed, bugs);
}

WholeState& PaxosReplica::whole() const {
  SYNOD_ASSERT(store() == nullptr, "a whole state, not a store");
  return static_cast<WholeState&>(*state_);
}

TimeUs PaxosReplica::random_election_timeout_us() {
  // PROTOCOL.md, leader liveness: a randomised timeout in [E, 2E), widened
  // (at most 8x) after campaigns that failed, so dueling proposers settle.
  const std::uint32_t widen = 1u << std::min<std::uint32_t>(failed_campaigns_, 3);
  const TimeUs timeout_us = election_timeout_us_ + prng_.below(election_timeout_us_ * widen);
  SYNOD_ASSERT(timeout_us >= election_timeout_us_ && timeout_us < election_timeout_us_ * 9, "timeout in range");
  return timeout_us;
}

// ------------------------------------------------------------------ inputs

void PaxosReplica::begin(TimeUs now, Effects& out) {
  SYNOD_ASSERT(now >= now_, "time never goes backwards");
  SYNOD_ASSERT(out_ == nullptr, "one input at a time");
  now_ = now;
  out_ = &out;
  if (started_) return;
  started_ = true;
  out.persist.push_back(durable_shape_record(config_));  // before anything else becomes durable
  arm_election_timer();
  if (promised_.round > 0) {
    // A restart into a running cluster: the leader's heartbeats need a
    // reconnect to reach us, so campaigning at once would depose a live
    // leader. One election timeout more first.
    election_deadline_ += election_timeout_us_;
  }
  if (leases_on()) {
    // Lease grants are not durable: after a (re)start this replica may have
    // promised someone a lease it forgot, so it promises no phase 1 to
    // anyone for one lease duration (PROTOCOL.md, "Leases").
    lease_holder_known_ = false;
    lease_promised_until_ = now_ + lease_us_;
  }
}

void PaxosReplica::end() {
  invariants();
  out_ = nullptr;
}

void PaxosReplica::receive(TimeUs now, ByteView frame, Effects& out) {
  begin(now, out);
  auto env = wire::decode_envelope(frame, config_.max_frame_bytes);
  if (!env) {
    reject(Rejection::malformed);
  } else if (auto msg = wire::decode_message(*env); !msg) {
    reject(Rejection::malformed);
  } else {
    dispatch(*env, *msg);
  }
  end();
}

void PaxosReplica::dispatch(const wire::Envelope& env, const wire::Message& msg) {
  const Principal sender = env.sender;
  if (sender.is_client()) {
    // Clients send requests and nothing else.
    const auto* req = std::get_if<wire::Request>(&msg);
    if (req == nullptr) return reject(Rejection::invalid);
    if (req->client != sender.id || config_.find_client(sender.id) == nullptr) {
      return reject(Rejection::unknown_sender);
    }
    if (!screen_request(*req, env.authenticator)) return;
  } else if (sender.id >= n_ || sender.id == self_) {
    return reject(Rejection::unknown_sender);
  }
  // Every message is authenticated by its sender over its whole payload
  // (clients and replicas alike): the envelope sender is the authenticated
  // identity. A client's request may carry MACs (wire/authenticate.hpp).
  const Bytes input = wire::signing_input(env.type, sender, env.payload);
  if (!wire::sender_authentic(config_, crypto_, self_, sender, input, env.authenticator))
    return reject(Rejection::bad_authenticator);
  const ReplicaId from = sender.id;
  std::visit(
      [&](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, wire::Request>) {
          if (sender.is_client()) on_request(m, env.authenticator);
          else reject(Rejection::invalid);  // replicas redirect, they never forward
        } else if constexpr (std::is_same_v<M, wire::PaxosPrepare>) on_prepare(from, m);
        else if constexpr (std::is_same_v<M, wire::Promise>) on_promise(from, m);
        else if constexpr (std::is_same_v<M, wire::Accept>) on_accept(from, m);
        else if constexpr (std::is_same_v<M, wire::Accepted>) on_accepted(from, m);
        else if constexpr (std::is_same_v<M, wire::Nack>) on_nack(from, m);
        else if constexpr (std::is_same_v<M, wire::Heartbeat>) on_heartbeat(from, m);
        else if constexpr (std::is_same_v<M, wire::CatchUpRequest>) on_catch_up_request(from, m);
        else if constexpr (std::is_same_v<M, wire::CatchUp>) on_catch_up(from, m);
        else if constexpr (std::is_same_v<M, wire::FetchTree>) on_fetch_tree(from, m);
        else if constexpr (std::is_same_v<M, wire::FetchLeaves>) on_fetch_leaves(from, m);
        else if constexpr (std::is_same_v<M, wire::FetchValues>) on_fetch_values(from, m);
        // Tree-walk answers feed the transfer under way (a late one, none).
        else if constexpr (std::is_same_v<M, wire::TreeNodes>)
          after_sync_answer(from, sync_ ? sync_->on_tree_nodes(m, from == sync_source_) : transfer::Outcome::progress);
        else if constexpr (std::is_same_v<M, wire::LeafEntries>)
          after_sync_answer(from, sync_ ? sync_->on_leaf_entries(m, from == sync_source_) : transfer::Outcome::progress);
        else if constexpr (std::is_same_v<M, wire::Values>)
          after_sync_answer(from, sync_ ? sync_->on_values(m, from == sync_source_) : transfer::Outcome::progress);
        else reject(Rejection::invalid);  // replies and PBFT messages have no business here
      },
      msg);
}

// ------------------------------------------------------------------ clients

// Before the signature check: a request that is too large, stale, over its
// client's quota or already held (a retransmission, dropped as a duplicate)
// is dealt with here, without a verify. True when the request must be
// verified and go on to on_request.
bool PaxosReplica::screen_request(const wire::Request& req, const Bytes& signature) {
  const RequestScreen screen =
      screen_client_request(pending_, clients().last_t(req.client), config_.max_request_bytes, req, signature);
  if (screen.verdict == RequestScreen::Verdict::rejected) reject(screen.why);
  return screen.verdict == RequestScreen::Verdict::verify;
}

// A verified request that passed screen_request().
void PaxosReplica::on_request(const wire::Request& req, const Bytes& signature) {
  // PROTOCOL.md, clients: send to the leader, others redirect.
  if (!is_leader()) return send_redirect(req);
  if (req.read_only && holds_lease()) {
    // PROTOCOL.md, leases: a local read at the leader, not ordered.
    return send_reply(req.client, req.t, true, state_->query(req.op));
  }
  // Writes, and reads without a lease, go through the log. At-most-once by
  // (client, t), exactly as in PBFT mode.
  const RequestNo last = clients().last_t(req.client);
  if (req.t == 0 || req.t < last) return reject(Rejection::invalid);  // reads skip the screen's t checks
  if (req.t == last) return send_reply(req.client, req.t, false, clients().find(req.client)->last_result);
  // A retransmission of a request in flight is dropped (duplicate).
  const auto admitted = pending_.add(req.client, req.t, wire::SignedRequest{req, signature}, req.op.size(), now_);
  if (admitted == PendingRequests<wire::SignedRequest>::Admit::over_limit) return reject(Rejection::limit);
  if (admitted == PendingRequests<wire::SignedRequest>::Admit::added) maybe_propose();
}

void PaxosReplica::send_redirect(const wire::Request& req) {
  SYNOD_ASSERT(!is_leader(), "only a non-leader redirects");
  const wire::Reply reply{leader_ballot_.round, req.client, req.t, wire::ReplyStatus::not_leader,
                          leader_ballot_.replica, false, {}};
  send(Destination::client(req.client), reply);
}

void PaxosReplica::send_reply(ClientId client, RequestNo t, bool read_only, const Bytes& result) {
  SYNOD_ASSERT(is_leader(), "in paxos mode the leader answers clients");
  const wire::Reply reply{ballot_.round, client, t, wire::ReplyStatus::ok, self_, read_only, result};
  send(Destination::client(client), reply);
}

void PaxosReplica::maybe_propose() {
  if (!is_leader()) return;
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
    switch (batch_decision(full, next_slot_, last_executed_, config_.max_batches_in_flight, now_, due)) {
      case BatchDecision::propose: break;
      case BatchDecision::wait_until_due: batch_deadline_ = due; return;
      case BatchDecision::wait_for_execution: batch_deadline_ = kNever; return;
    }
    // Several slots in flight, at most `window` past the executed prefix.
    if (next_slot_ > last_executed_ + config_.window) {
      batch_deadline_ = kNever;  // execution reopens the window
      return;
    }
    propose(keys);
  }
}

void PaxosReplica::propose(const std::vector<PendingKey>& keys) {
  SYNOD_ASSERT(!keys.empty() && keys.size() <= config_.batch_max_requests, "a batch within its bound");
  Batch batch;
  batch.reserve(keys.size());
  for (const PendingKey& k : keys) {
    pending_.mark_proposed(k);  // once per leadership
    batch.push_back(pending_.at(k).request);
  }
  const Slot slot = next_slot_++;
  propose_value(slot, batch);
}

void PaxosReplica::drop_executed_requests() {
  pending_.drop_if([&](const PendingKey& k, const auto&) { return k.second <= clients().last_t(k.first); });
}

void PaxosReplica::drop_pending() {
  // A replica that stops leading forgets its pending requests: their clients
  // retry at the new leader, whose client table filters what did execute.
  pending_.clear();
  batch_deadline_ = kNever;
}

// ------------------------------------------------------------------ timers

void PaxosReplica::tick(TimeUs now, Effects& out) {
  begin(now, out);
  if (now_ >= batch_deadline_) {
    batch_deadline_ = kNever;
    maybe_propose();
  }
  if (now_ >= heartbeat_deadline_) {
    heartbeat_deadline_ = now_ + heartbeat_interval_us_;
    on_heartbeat_timer();
  }
  if (now_ >= election_deadline_) {
    // PROTOCOL.md, leader liveness: nothing heard for a randomised election
    // timeout (or our phase 1 did not complete in one): phase 1, higher ballot.
    election_deadline_ = kNever;
    start_phase1();
  }
  if (now_ >= catch_up_deadline_) {
    catch_up_deadline_ = kNever;
    request_catch_up();
  }
  end();
}

void PaxosReplica::on_heartbeat_timer() {
  if (role_ == Role::candidate) {
    // Lost PREPAREs are resent (same ballot) to those that have not
    // promised, from where a promise in parts stopped.
    for (ReplicaId r = 0; r < n_; ++r) {
      if (r != self_ && !promises_.has_vote(r)) send(Destination::replica(r), prepare_for(r));
    }
    return;
  }
  if (!is_leader()) {
    heartbeat_deadline_ = kNever;
    return;
  }
  send_heartbeat();
  // Lost ACCEPTs are resent until their slot is chosen (bounded by the window).
  for (auto it = log_.upper_bound(last_executed_); it != log_.end() && it->first < next_slot_; ++it) {
    if (!it->second.chosen) send_accept(it->first, it->second);
  }
}

TimeUs PaxosReplica::next_deadline() const {
  if (!started_) return 0;  // the first tick arms the timers
  return std::min({batch_deadline_, heartbeat_deadline_, election_deadline_, catch_up_deadline_});
}

// ------------------------------------------------------------------ status

ReplicaStatus PaxosReplica::status() const {
  ReplicaStatus s;
  s.protocol = Protocol::paxos;
  s.id = self_;
  s.view = leader_ballot_.round;
  s.leader = leader_ballot_.replica;
  s.is_leader = is_leader();
  s.changing_view = role_ == Role::candidate;
  s.last_executed = last_executed_;
  s.stable_checkpoint = snapshot_slot_;
  s.state_digest = snapshot_digest_;
  s.view_changes = leader_changes_;
  s.state_transfers = state_transfers_;
  std::copy(std::begin(rejected_), std::end(rejected_), std::begin(s.rejected));
  return s;
}

void PaxosReplica::invariants() {
  SYNOD_ASSERT(promised_ >= promised_checked_, "the promised ballot is monotone");
  SYNOD_ASSERT(last_executed_ >= executed_checked_, "execution never goes back");
  promised_checked_ = promised_;
  executed_checked_ = last_executed_;
  SYNOD_ASSERT(leader_ballot_ <= promised_, "a replica follows no ballot above its promise");
  SYNOD_ASSERT(role_ == Role::follower || ballot_ == promised_,
               "a proposer's own ballot is its promise (a higher promise made it step down)");
  SYNOD_ASSERT(!is_leader() || leader_ballot_ == ballot_, "a leader follows itself");
  SYNOD_ASSERT(snapshot_slot_ == last_executed_ - last_executed_ % config_.checkpoint_interval,
               "the snapshot is the last multiple of K executed");
  SYNOD_ASSERT(log_.empty() || log_.begin()->first > snapshot_slot_, "the log is truncated at the snapshot");
  SYNOD_ASSERT(store() != nullptr || (!sync_ && resumed_at_ == 0), "a whole state goes by snapshot bytes");
  SYNOD_ASSERT(store() == nullptr || snapshot_.empty(), "a store's snapshot is its pin, not bytes");
  SYNOD_ASSERT(!sync_ || (sync_->seq() > last_executed_ && !is_leader()),
               "a transfer moves a follower's store forward");
  SYNOD_ASSERT(log_.empty() || log_.rbegin()->first <= kept_slot_max(), "the log is bounded");
  SYNOD_ASSERT(!is_leader() || (next_slot_ > last_executed_ && next_slot_ <= kept_slot_max() + 1),
               "the leader proposes above the executed prefix, inside the window");
  SYNOD_ASSERT(is_leader() || pending_.empty(), "only the leader keeps pending requests");
  SYNOD_ASSERT(pending_.indexed(), "pending requests are indexed once");
  SYNOD_ASSERT(promises_.voters() <= n_ && grants_.size() <= n_, "one vote per replica");
  SYNOD_ASSERT(partial_promises_.size() <= n_ && (role_ == Role::candidate || partial_promises_.empty()),
               "partial promises belong to a campaign, one per voter");
}

}  // namespace synod::paxos
