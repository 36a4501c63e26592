// Multi-Paxos core: snapshots and log truncation every checkpoint_interval
// slots, and catch-up of a lagging or restarted replica with chosen slots,
// or a snapshot plus the slots after it. PROTOCOL.md, "Multi-Paxos":
// Catch-up.
#include <algorithm>

#include "paxos/replica.hpp"
#include "synod/assert.hpp"

namespace synod::paxos {

namespace {
// A catch-up answer carries at most this share of the frame cap.
constexpr std::size_t kCatchUpBytesDivisor = 2;
// Encoding overhead per request in a batch, for the answer's size budget.
constexpr std::size_t kRequestOverheadBytes = 64;
}  // namespace

void PaxosReplica::take_snapshot() {
  SYNOD_ASSERT(last_executed_ % config_.checkpoint_interval == 0, "snapshots at multiples of K");
  SYNOD_ASSERT(last_executed_ > snapshot_slot_, "the snapshot only moves forward");
  // The client table goes with the application state, so a replica restored
  // from it never executes a retried request twice (PROTOCOL.md pitfall).
  snapshot_ = make_checkpoint_snapshot(clients_, app_);
  snapshot_slot_ = last_executed_;
  snapshot_digest_ = crypto_.digest(snapshot_);
  persist_snapshot();
  truncate_through(snapshot_slot_);
}

void PaxosReplica::truncate_through(Slot slot) {
  SYNOD_ASSERT(slot <= last_executed_, "only executed slots are truncated");
  // Accepted values of executed slots are no longer needed: a PROMISE says
  // they are chosen (chosen_through), and catch-up sends the snapshot.
  std::size_t erased = 0;
  while (!log_.empty() && log_.begin()->first <= slot) {
    if (log_.begin()->second.persisted) erase_accepted(log_.begin()->first);
    log_.erase(log_.begin());
    ++erased;
  }
  SYNOD_ASSERT(log_.empty() || log_.begin()->first > slot, "nothing at or below the snapshot is kept");
  SYNOD_ASSERT(erased <= slot, "at most one entry per slot");
}

bool PaxosReplica::install_snapshot(Slot slot, const Bytes& snapshot) {
  SYNOD_ASSERT(slot > last_executed_, "a snapshot from catch-up moves us forward");
  if (slot % config_.checkpoint_interval != 0) return false;
  if (auto ok = restore_checkpoint_snapshot(snapshot, clients_, app_); !ok) return false;
  last_executed_ = slot;
  snapshot_slot_ = slot;
  snapshot_ = snapshot;
  snapshot_digest_ = crypto_.digest(snapshot_);
  ++state_transfers_;
  persist_snapshot();  // the latest snapshot stays durable for a restart
  truncate_through(slot);
  drop_executed_requests();
  SYNOD_ASSERT(snapshot_slot_ == last_executed_, "the snapshot is our state");
  return true;
}

void PaxosReplica::want_catch_up(Slot target, ReplicaId source) {
  SYNOD_ASSERT(source != self_ && source < n_, "catch up from another replica");
  if (target <= last_executed_) return;
  catch_up_target_ = std::max(catch_up_target_, target);
  catch_up_source_ = source;  // the latest informant knows at least target
  request_catch_up();
}

void PaxosReplica::request_catch_up() {
  if (catch_up_target_ <= last_executed_) {
    catch_up_deadline_ = kNever;
    return;
  }
  // One request per heartbeat interval; the timer asks again if it is lost.
  if (catch_up_deadline_ != kNever) return;
  send(Destination::replica(catch_up_source_), wire::CatchUpRequest{last_executed_ + 1});
  catch_up_deadline_ = now_ + heartbeat_interval_us_;
}

void PaxosReplica::on_catch_up_request(ReplicaId from, const wire::CatchUpRequest& req) {
  const Slot from_slot = std::max<Slot>(req.from_slot, 1);
  wire::CatchUp cu{promised_, 0, {}, {}};
  Slot slot = from_slot;
  if (from_slot <= snapshot_slot_) {
    // What it asks for is truncated here: the snapshot, then the slots after it.
    cu.snapshot_slot = snapshot_slot_;
    cu.snapshot = snapshot_;
    slot = snapshot_slot_ + 1;
  }
  const std::size_t budget = config_.max_frame_bytes / kCatchUpBytesDivisor;
  std::size_t bytes = cu.snapshot.size();
  for (; slot <= last_executed_ && cu.chosen.size() < config_.window; ++slot) {
    const auto it = log_.find(slot);
    SYNOD_ASSERT(it != log_.end() && it->second.chosen, "executed slots above the snapshot are kept");
    std::size_t size = kRequestOverheadBytes;
    for (const auto& sr : *it->second.chosen) {
      size += sr.request.op.size() + sr.signature.size() + kRequestOverheadBytes;
    }
    if (!cu.chosen.empty() && bytes + size > budget) break;
    bytes += size;
    cu.chosen.push_back(wire::ChosenEntry{slot, *it->second.chosen});
  }
  if (cu.snapshot.empty() && cu.chosen.empty()) return;  // nothing it lacks
  send(Destination::replica(from), cu);
}

void PaxosReplica::on_catch_up(ReplicaId from, const wire::CatchUp& cu) {
  (void)from;
  note_round(cu.ballot.round);
  // A leader finished catching up before phase 1 completed and learns
  // nothing chosen that it did not propose: an answer now is stale, or a
  // peer outside the crash-fault model (found by fuzz_paxos: it moved the
  // leader's execution past its own proposals).
  if (is_leader()) return reject(Rejection::wrong_view);
  if (cu.chosen.size() > config_.window) return reject(Rejection::limit);
  Slot previous = cu.snapshot_slot;
  for (const wire::ChosenEntry& e : cu.chosen) {
    if (e.slot <= previous || !valid_batch(e.batch)) return reject(Rejection::invalid);
    previous = e.slot;
  }
  if (!cu.snapshot.empty() && cu.snapshot_slot > last_executed_) {
    if (!install_snapshot(cu.snapshot_slot, cu.snapshot)) return reject(Rejection::invalid);
  }
  for (const wire::ChosenEntry& e : cu.chosen) {
    if (e.slot <= last_executed_) continue;
    if (e.slot > kept_slot_max()) break;
    mark_chosen(e.slot, e.batch);
  }
  execute_ready();
  catch_up_deadline_ = kNever;
  request_catch_up();  // still behind: the next part at once
  if (role_ == Role::candidate) try_lead();  // phase 1 waited for this
}

}  // namespace synod::paxos
