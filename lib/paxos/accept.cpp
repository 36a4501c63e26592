// Multi-Paxos core: phase 2 (ACCEPT / ACCEPTED), learning chosen values
// from f+1 accepts or the leader's commit index, and execution in slot
// order. PROTOCOL.md, "Multi-Paxos": Phase 2.
#include <algorithm>

#include "paxos/replica.hpp"
#include "synod/assert.hpp"

namespace synod::paxos {

bool PaxosReplica::valid_batch(const Batch& batch) const {
  // Well-formed only: the leader authenticated every request on arrival, and
  // replica messages are signed (crash faults, see paxos.hpp). No batch
  // bounds (batch_max_requests, batch_max_bytes, max_request_bytes): they
  // govern what this replica proposes when it leads, and a value accepted
  // or chosen under larger ones, before a restart with smaller ones, must
  // still load from disk, travel in promises and catch-up, and be chosen.
  // A frame's size bounds the memory a batch takes.
  for (const wire::SignedRequest& sr : batch) {
    const wire::Request& r = sr.request;
    if (r.t == 0 || config_.find_client(r.client) == nullptr) return false;
  }
  return true;
}

// ------------------------------------------------------------------ leader

void PaxosReplica::propose_value(Slot slot, const Batch& value) {
  SYNOD_ASSERT(is_leader() && slot > last_executed_ && slot < next_slot_, "the leader proposes an assigned slot");
  SYNOD_ASSERT(slot <= kept_slot_max(), "proposals stay inside the window");
  auto known = log_.find(slot);
  SYNOD_ASSERT(known == log_.end() || !known->second.accepted_ballot || *known->second.accepted_ballot < ballot_,
               "one proposal per slot per ballot");
  accept_locally(slot, ballot_, value);  // the leader is an acceptor too
  Instance& in = log_.at(slot);
  in.accepts.clear();
  in.accepts.add(self_, ballot_, ballot_);
  in.accept_sent_us = now_;
  send_accept(slot, in);
  check_chosen(slot);
}

void PaxosReplica::send_accept(Slot slot, const Instance& in) {
  SYNOD_ASSERT(is_leader() && in.accepted_ballot == ballot_, "the leader sends its own proposal");
  grant_lease(self_);
  note_grant(self_, now_);
  send(Destination::all_replicas(), wire::Accept{ballot_, slot, in.accepted_value, last_executed_});
}

void PaxosReplica::on_accepted(ReplicaId from, const wire::Accepted& a) {
  if (!is_leader() || a.ballot != ballot_) return reject(Rejection::wrong_view);
  auto it = log_.find(a.slot);
  if (it != log_.end() && it->second.accepted_ballot == ballot_) note_grant(from, it->second.accept_sent_us);
  if (a.slot <= last_executed_) return;  // a late vote for a slot already chosen
  if (it == log_.end() || it->second.accepted_ballot != ballot_) return reject(Rejection::invalid);
  if (it->second.accepts.add(from, ballot_, ballot_) != VoteOutcome::added) return;
  check_chosen(a.slot);
}

void PaxosReplica::check_chosen(Slot slot) {
  Instance& in = log_.at(slot);
  if (in.chosen || in.accepted_ballot != ballot_) return;
  // PROTOCOL.md, phase 2: f+1 accepts choose the value (the leader's own
  // included); the deliberately broken variant settles for f.
  if (in.accepts.count(ballot_) < chosen_quorum()) return;
  mark_chosen(slot, in.accepted_value);
  const Slot executed_before = last_executed_;
  execute_ready();
  if (last_executed_ == executed_before) return;
  // Learners hear the commit index on the next ACCEPT; with none in flight
  // the leader tells them at once (a heartbeat carries it).
  if (next_slot_ == last_executed_ + 1) send_heartbeat();
  maybe_propose();  // the window moved
}

// ------------------------------------------------------------------ acceptor

void PaxosReplica::accept_locally(Slot slot, const Ballot& b, const Batch& value) {
  SYNOD_ASSERT(b == promised_, "an acceptor accepts at its promised ballot only");
  SYNOD_ASSERT(slot > last_executed_ && slot <= kept_slot_max(), "accepted slots lie inside the window");
  Instance& in = log_[slot];
  SYNOD_ASSERT(!in.accepted_ballot || *in.accepted_ballot <= b, "accepted ballots only grow per slot");
  if (in.accepted_ballot == b) {
    SYNOD_ASSERT(in.accepted_value == value, "one value per slot per ballot");
    return;  // a retransmission: already durable
  }
  in.accepted_ballot = b;
  in.accepted_value = value;
  persist_accepted(slot, in);  // durable before ACCEPTED (or our own count) reveals it
}

void PaxosReplica::on_accept(ReplicaId from, const wire::Accept& a) {
  if (a.ballot.replica != from || a.ballot.round == 0 || a.slot == 0) return reject(Rejection::invalid);
  note_round(a.ballot.round);
  if (a.ballot < promised_) {
    send(Destination::replica(from), wire::Nack{promised_});  // a stale leader steps down
    return reject(Rejection::wrong_view);
  }
  if (!valid_batch(a.batch)) return reject(Rejection::invalid);
  const auto it = log_.find(a.slot);
  if (it != log_.end() && it->second.accepted_ballot == a.ballot && it->second.accepted_value != a.batch) {
    return reject(Rejection::conflicting);  // a correct leader proposes one value per slot per ballot
  }
  if (it != log_.end() && it->second.chosen && *it->second.chosen != a.batch) return reject(Rejection::conflicting);
  follow(a.ballot);
  if (a.slot > kept_slot_max()) {
    reject(Rejection::out_of_window);  // we are behind: the commit index starts a catch-up
  } else {
    // A slot we executed is chosen: by Paxos the leader proposes the chosen
    // value, so our vote changes nothing and needs no record.
    if (a.slot > last_executed_) accept_locally(a.slot, a.ballot, a.batch);
    grant_lease(from);
    send(Destination::replica(from), wire::Accepted{a.ballot, a.slot});
  }
  learn_commit_index(a.ballot, a.commit_index, from);
}

// ------------------------------------------------------------------ learner

void PaxosReplica::learn_commit_index(const Ballot& b, Slot commit_index, ReplicaId leader) {
  // Every slot up to the leader's commit index is chosen, and the value this
  // acceptor holds under the leader's own ballot is the one it chose (one
  // value per slot per ballot). Anything else is fetched by catch-up.
  const Slot last = std::min(commit_index, kept_slot_max());
  for (Slot slot = last_executed_ + 1; slot <= last; ++slot) {
    const auto it = log_.find(slot);
    if (it == log_.end()) break;
    if (it->second.chosen) continue;
    if (it->second.accepted_ballot != b) break;
    mark_chosen(slot, it->second.accepted_value);
  }
  execute_ready();
  if (commit_index > last_executed_) want_catch_up(commit_index, leader);
}

void PaxosReplica::mark_chosen(Slot slot, const Batch& value) {
  SYNOD_ASSERT(slot > last_executed_ && slot <= kept_slot_max(), "only slots not yet executed are learned");
  Instance& in = log_[slot];
  if (in.chosen) {
    SYNOD_ASSERT(*in.chosen == value, "a chosen value never changes");
    return;
  }
  in.chosen = value;
}

void PaxosReplica::execute_ready() {
  // A store being transferred holds parts of another state: nothing
  // executes on it until the transfer is whole.
  if (sync_) return;
  // Strictly in slot order, each slot once; a gap stops execution.
  for (std::size_t steps = 0; steps <= config_.window + config_.checkpoint_interval; ++steps) {
    const auto it = log_.find(last_executed_ + 1);
    if (it == log_.end() || !it->second.chosen) return;
    const Batch batch = *it->second.chosen;  // execute() may truncate the log
    execute(last_executed_ + 1, batch);
  }
}

void PaxosReplica::execute(Slot slot, const Batch& batch) {
  SYNOD_ASSERT(slot == last_executed_ + 1, "execution in slot order without gaps");
  std::vector<Operation> ops;
  ops.reserve(batch.size());
  for (const wire::SignedRequest& sr : batch) ops.push_back(Operation{sr.request.client, sr.request.t, sr.request.op});
  const auto results = state_->execute(ops, /*allow_duplicates=*/false);
  SYNOD_ASSERT(results.size() == ops.size(), "one result slot per operation");
  ExecutedBatch done{slot, crypto_.digest(wire::encode_batch(batch)), {}};
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const Operation& op = ops[i];
    if (results[i]) {
      done.requests.push_back(
          ExecutedRequest{op.client, op.request, crypto_.digest(op.payload), crypto_.digest(*results[i])});
      if (is_leader()) send_reply(op.client, op.request, false, *results[i]);
    } else if (const ClientTable::Entry* e = clients().find(op.client);
               is_leader() && e != nullptr && op.request == e->last_t) {
      // A retried request that executed before: its reply may have been lost.
      send_reply(op.client, op.request, false, e->last_result);
    }
  }
  last_executed_ = slot;
  if (store() != nullptr) persist_applied();  // with the batch's writes, in one commit
  out_->executed.push_back(std::move(done));
  drop_executed_requests();
  if (slot % config_.checkpoint_interval == 0) take_snapshot();
  SYNOD_ASSERT(last_executed_ == slot && snapshot_slot_ <= slot, "executed through slot");
}

}  // namespace synod::paxos
