// Multi-Paxos core: phase 1 (PREPARE / PROMISE) once per leadership,
// taking over the slots that are not known chosen, heartbeats, and stepping
// down on a higher ballot. PROTOCOL.md, "Multi-Paxos": Ballots, Phase 1,
// Leader liveness.
#include <algorithm>

#include "paxos/replica.hpp"
#include "synod/assert.hpp"

namespace synod::paxos {

namespace {
// A promise sent over the network carries at most this share of the frame
// cap (the rest follows in parts), counting this much encoding overhead per
// entry and per request in it.
constexpr std::size_t kPromiseBytesDivisor = 2;
constexpr std::size_t kEntryOverheadBytes = 64;
}  // namespace

void PaxosReplica::arm_election_timer() {
  SYNOD_ASSERT(!is_leader(), "a leader runs no election timer");
  election_deadline_ = now_ + random_election_timeout_us();
  SYNOD_ASSERT(election_deadline_ > now_, "the election timer lies in the future");
}

void PaxosReplica::start_phase1() {
  SYNOD_ASSERT(!is_leader(), "a leader does not campaign");
  if (!may_promise(self_)) {
    // PROTOCOL.md, leases: we promised someone else no phase 1 until the
    // lease runs out on our clock; that includes our own.
    election_deadline_ = lease_promised_until_;
    return;
  }
  if (role_ == Role::candidate) ++failed_campaigns_;  // the last phase 1 did not complete in time
  // A ballot above everything seen, unique to us: (round, self).
  ballot_ = Ballot{std::max(promised_.round, max_round_seen_) + 1, self_};
  note_round(ballot_.round);
  role_ = Role::candidate;
  // The proposer is an acceptor too: its own promise is durable before
  // PREPARE leaves (a restart never reuses the ballot) and counts as a vote.
  promised_ = ballot_;
  persist_promised();
  const Slot from_slot = last_executed_ + 1;
  clear_promises();
  promises_.add(self_, ballot_, {self_, own_promise(ballot_, from_slot, /*bounded=*/false)});
  send(Destination::all_replicas(), wire::PaxosPrepare{ballot_, from_slot});
  heartbeat_deadline_ = now_ + heartbeat_interval_us_;  // resend PREPARE to the silent
  arm_election_timer();                                 // or try again, higher, after this
  SYNOD_ASSERT(ballot_ > leader_ballot_ && ballot_ == promised_, "a campaign raises the ballot");
}

void PaxosReplica::clear_promises() {
  promises_.clear();
  partial_promises_.clear();
}

wire::PaxosPrepare PaxosReplica::prepare_for(ReplicaId voter) const {
  const auto part = partial_promises_.find(voter);
  if (part == partial_promises_.end()) return wire::PaxosPrepare{ballot_, last_executed_ + 1};
  SYNOD_ASSERT(!part->second.accepted.empty(), "a partial promise reported something");
  return wire::PaxosPrepare{ballot_, part->second.accepted.back().slot + 1};
}

wire::Promise PaxosReplica::own_promise(const Ballot& b, Slot from_slot, bool bounded) const {
  // PROMISE(b, accepted): every accepted (slot, ballot, value) above our
  // chosen prefix; slots up to chosen_through are chosen and the new leader
  // learns them by catch-up instead. A promise sent over the network stays
  // within a share of max_frame_bytes: what does not fit follows in parts.
  wire::Promise p{b, from_slot, last_executed_, {}, false};
  const std::size_t budget = config_.max_frame_bytes / kPromiseBytesDivisor;
  std::size_t bytes = 0;
  for (auto it = log_.lower_bound(std::max(from_slot, last_executed_ + 1)); it != log_.end(); ++it) {
    const Instance& in = it->second;
    if (!in.accepted_ballot) continue;
    std::size_t size = kEntryOverheadBytes;
    for (const auto& sr : in.accepted_value) size += sr.request.op.size() + sr.signature.size() + kEntryOverheadBytes;
    if (bounded && !p.accepted.empty() && bytes + size > budget) {
      p.more = true;
      break;
    }
    bytes += size;
    p.accepted.push_back(wire::AcceptedEntry{it->first, *in.accepted_ballot, in.accepted_value});
  }
  SYNOD_ASSERT(p.accepted.size() <= log_.size(), "a promise reports each slot once");
  return p;
}

void PaxosReplica::on_prepare(ReplicaId from, const wire::PaxosPrepare& p) {
  if (p.ballot.replica != from || p.ballot.round == 0 || p.from_slot == 0) return reject(Rejection::invalid);
  note_round(p.ballot.round);
  if (p.ballot < promised_) {
    send(Destination::replica(from), wire::Nack{promised_});
    return reject(Rejection::wrong_view);
  }
  if (p.ballot > promised_) {
    // Under a lease we stay silent: the proposer retries after its timeout.
    if (!may_promise(from)) return;
    if (role_ != Role::follower) step_down();
    promised_ = p.ballot;
    persist_promised();  // durable before the PROMISE leaves
    arm_election_timer();  // give the candidate time to finish
  }
  // A repeated PREPARE for the promised ballot gets the same answer again.
  SYNOD_ASSERT(promised_ == p.ballot && role_ == Role::follower, "we promised the proposer's ballot");
  send(Destination::replica(from), own_promise(p.ballot, p.from_slot, /*bounded=*/true));
}

void PaxosReplica::on_promise(ReplicaId from, const wire::Promise& p) {
  if (role_ != Role::candidate || p.ballot != ballot_) return reject(Rejection::wrong_view);
  if (p.accepted.size() > config_.window + config_.checkpoint_interval) return reject(Rejection::limit);
  if (promises_.has_vote(from)) return;  // a duplicate of a complete promise
  const auto part = partial_promises_.find(from);
  if (part == partial_promises_.end()) {
    if (p.from_slot == 0 || p.from_slot > last_executed_ + 1) return reject(Rejection::invalid);
  } else if (p.from_slot != part->second.accepted.back().slot + 1) {
    return reject(Rejection::invalid);  // not the part we asked for next (a duplicate or a stale one)
  }
  if (p.more && p.accepted.empty()) return reject(Rejection::invalid);  // a part that reports nothing
  // The promiser's snapshot is the last multiple of K it executed: its log
  // ends window + K after it (kept_slot_max).
  const Slot promiser_snapshot = p.chosen_through - p.chosen_through % config_.checkpoint_interval;
  Slot previous = 0;
  for (const wire::AcceptedEntry& e : p.accepted) {
    const bool in_range = e.slot > previous && e.slot >= p.from_slot && e.slot > p.chosen_through &&
                          e.slot <= promiser_snapshot + config_.window + config_.checkpoint_interval;
    if (!in_range || e.ballot > p.ballot || !valid_batch(e.batch)) return reject(Rejection::invalid);
    previous = e.slot;
  }
  wire::Promise merged;
  if (part == partial_promises_.end()) {
    merged = p;
  } else {
    merged = std::move(part->second);
    partial_promises_.erase(part);
    if (merged.accepted.size() + p.accepted.size() > config_.window + config_.checkpoint_interval) {
      return reject(Rejection::limit);
    }
    merged.chosen_through = std::max(merged.chosen_through, p.chosen_through);
    merged.accepted.insert(merged.accepted.end(), p.accepted.begin(), p.accepted.end());
    merged.more = p.more;
  }
  if (merged.more) {
    // Ask for the next part; the voter counts once its promise is whole.
    const Slot next = merged.accepted.back().slot + 1;
    partial_promises_.insert_or_assign(from, std::move(merged));
    send(Destination::replica(from), wire::PaxosPrepare{ballot_, next});
    SYNOD_ASSERT(partial_promises_.size() <= n_, "one partial promise per voter");
    return;
  }
  if (promises_.add(from, ballot_, {from, std::move(merged)}) != VoteOutcome::added) return;  // a duplicate
  try_lead();
}

void PaxosReplica::try_lead() {
  if (role_ != Role::candidate || promises_.count(ballot_) < quorum()) return;
  // A promiser knows more chosen slots than we do: learn them first (they
  // need no proposal, and our own acceptor window must reach the rest).
  Slot chosen_through = last_executed_;
  ReplicaId source = self_;
  for (const auto& [voter, p] : promises_.matching(ballot_, n_)) {
    if (p.chosen_through > chosen_through) {
      chosen_through = p.chosen_through;
      source = voter;
    }
  }
  if (chosen_through > last_executed_) return want_catch_up(chosen_through, source);
  // A store partly transferred is no state to lead from: the transfer
  // finishes first (finish_tree_sync tries again).
  if (sync_) return;
  become_leader();
}

std::map<Slot, wire::AcceptedEntry> PaxosReplica::highest_accepted() const {
  std::map<Slot, wire::AcceptedEntry> best;
  // The deliberately broken variant forgets what the promises report.
  if (bugs_.ignore_promised_values) return best;
  for (const auto& [voter, p] : promises_.matching(ballot_, n_)) {
    for (const wire::AcceptedEntry& e : p.accepted) {
      if (e.slot <= last_executed_) continue;
      auto [it, fresh] = best.try_emplace(e.slot, e);
      if (!fresh && e.ballot > it->second.ballot) it->second = e;
    }
  }
  return best;
}

void PaxosReplica::become_leader() {
  SYNOD_ASSERT(role_ == Role::candidate && ballot_ == promised_, "a candidate with its own promise leads");
  SYNOD_ASSERT(promises_.count(ballot_) >= quorum(), "phase 1 needs f+1 promises");
  const std::map<Slot, wire::AcceptedEntry> best = highest_accepted();
  role_ = Role::leader;
  failed_campaigns_ = 0;
  if (leader_ballot_ != ballot_) ++leader_changes_;
  leader_ballot_ = ballot_;
  election_deadline_ = kNever;
  clear_promises();
  grants_.clear();
  heartbeat_sent_.clear();
  // PROTOCOL.md, leases: no lease read before the old leader's lease has
  // surely run out, whoever held it.
  lease_reads_from_ = now_ + lease_us_ + lease_us_ * 2 * config_.max_clock_drift_ppm / 1'000'000;

  // PROTOCOL.md, phase 1: for every slot above the chosen prefix, the value
  // of the highest ballot, a no-op (empty batch) for a gap.
  const Slot last = best.empty() ? last_executed_ : best.rbegin()->first;
  SYNOD_ASSERT(last <= kept_slot_max(), "promised slots lie inside the window");
  next_slot_ = last_executed_ + 1;
  for (Slot slot = last_executed_ + 1; slot <= last; ++slot) {
    const auto known = log_.find(slot);
    const auto reported = best.find(slot);
    Batch value;
    if (known != log_.end() && known->second.chosen) value = *known->second.chosen;  // Paxos: the same value
    else if (reported != best.end()) value = reported->second.batch;
    next_slot_ = slot + 1;
    propose_value(slot, value);
  }
  next_slot_ = std::max(next_slot_, last_executed_ + 1);
  takeover_through_ = last;
  send_heartbeat();  // announces the leader at once
  heartbeat_deadline_ = now_ + heartbeat_interval_us_;
  maybe_propose();
}

void PaxosReplica::on_nack(ReplicaId from, const wire::Nack& nack) {
  (void)from;
  note_round(nack.promised.round);
  // PROTOCOL.md, leader liveness: a proposer that sees a higher ballot steps
  // down and backs off. A Nack for a ballot we no longer use is stale.
  if (role_ == Role::follower || nack.promised <= ballot_) return;
  step_down();
}

void PaxosReplica::step_down() {
  SYNOD_ASSERT(role_ != Role::follower, "only a proposer steps down");
  if (role_ == Role::candidate) ++failed_campaigns_;
  role_ = Role::follower;
  clear_promises();
  drop_pending();
  grants_.clear();
  heartbeat_sent_.clear();
  lease_reads_from_ = kNever;
  heartbeat_deadline_ = kNever;
  arm_election_timer();  // randomised back-off before campaigning again
  SYNOD_ASSERT(!is_leader() && pending_.empty(), "a follower keeps no pending requests");
}

void PaxosReplica::follow(const Ballot& b) {
  SYNOD_ASSERT(b >= promised_ && b.replica != self_, "we follow another proposer's current ballot");
  if (b > promised_) {
    // A leader of b finished phase 1: promising b here only narrows what we
    // accept, and keeps leader_ballot_ <= promised_.
    promised_ = b;
    persist_promised();
  }
  if (role_ != Role::follower) step_down();
  if (leader_ballot_ != b) {
    leader_ballot_ = b;
    ++leader_changes_;
    failed_campaigns_ = 0;
  }
  arm_election_timer();  // the leader is alive
}

void PaxosReplica::on_heartbeat(ReplicaId from, const wire::Heartbeat& hb) {
  if (hb.ballot.replica == self_) {
    // A follower echoes our heartbeat: its lease grant (PROTOCOL.md, leases).
    if (!is_leader() || hb.ballot != ballot_) return reject(Rejection::wrong_view);
    return note_grant(from, heartbeat_sent_us(hb.sequence));
  }
  if (hb.ballot.replica != from || hb.ballot.round == 0) return reject(Rejection::invalid);
  note_round(hb.ballot.round);
  if (hb.ballot < promised_) {
    send(Destination::replica(from), wire::Nack{promised_});  // a stale leader steps down
    return reject(Rejection::wrong_view);
  }
  follow(hb.ballot);
  if (leases_on()) {
    grant_lease(from);
    send(Destination::replica(from), wire::Heartbeat{hb.ballot, hb.commit_index, hb.sequence});
  }
  learn_commit_index(hb.ballot, hb.commit_index, from);
}

void PaxosReplica::send_heartbeat() {
  SYNOD_ASSERT(is_leader(), "only the leader sends heartbeats");
  const wire::Heartbeat hb{ballot_, last_executed_, note_heartbeat_sent()};
  grant_lease(self_);
  note_grant(self_, now_);
  send(Destination::all_replicas(), hb);
}

}  // namespace synod::paxos
