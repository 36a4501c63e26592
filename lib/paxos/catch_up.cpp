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

bool PaxosReplica::install_snapshot(Slot slot, Bytes snapshot) {
  SYNOD_ASSERT(slot > last_executed_, "a snapshot from catch-up moves us forward");
  if (slot % config_.checkpoint_interval != 0) return false;
  if (auto ok = restore_checkpoint_snapshot(snapshot, clients_, app_); !ok) return false;
  last_executed_ = slot;
  snapshot_slot_ = slot;
  snapshot_ = std::move(snapshot);
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
  if (incoming_ && incoming_->slot <= last_executed_) incoming_.reset();  // overtaken: executed past it
  if (catch_up_target_ <= last_executed_) {
    catch_up_deadline_ = kNever;
    return;
  }
  // One request per heartbeat interval; the timer asks again if it is lost.
  if (catch_up_deadline_ != kNever) return;
  wire::CatchUpRequest req{last_executed_ + 1, 0, 0};
  if (incoming_) {
    req.snapshot_slot = incoming_->slot;
    req.offset = incoming_->bytes.size();
  }
  send(Destination::replica(catch_up_source_), req);
  catch_up_deadline_ = now_ + heartbeat_interval_us_;
}

void PaxosReplica::on_catch_up_request(ReplicaId from, const wire::CatchUpRequest& req) {
  const Slot from_slot = std::max<Slot>(req.from_slot, 1);
  wire::CatchUp cu{promised_, 0, 0, 0, {}, {}};
  Slot slot = from_slot;
  if (from_slot <= snapshot_slot_) {
    // What it asks for is truncated here: the snapshot, chunk by chunk (from
    // where the asker is, if it is fetching this one), then the slots after it.
    const bool going_on = req.snapshot_slot == snapshot_slot_ && req.offset > 0 && req.offset < snapshot_.size();
    const std::uint64_t offset = going_on ? req.offset : 0;
    const std::uint64_t size = std::min<std::uint64_t>(config_.snapshot_chunk(), snapshot_.size() - offset);
    cu.snapshot_slot = snapshot_slot_;
    cu.snapshot_total = snapshot_.size();
    cu.snapshot_offset = offset;
    cu.snapshot.assign(snapshot_.begin() + static_cast<std::ptrdiff_t>(offset),
                       snapshot_.begin() + static_cast<std::ptrdiff_t>(offset + size));
    if (offset + size < snapshot_.size()) return send(Destination::replica(from), cu);
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
  if (cu.snapshot_slot == 0 && cu.chosen.empty()) return;  // nothing it lacks
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
  if (cu.snapshot_slot > last_executed_) {
    if (cu.snapshot_total > config_.max_snapshot_bytes) return reject(Rejection::limit);
    if (cu.snapshot_offset > cu.snapshot_total || cu.snapshot.size() > cu.snapshot_total - cu.snapshot_offset ||
        (cu.snapshot.empty() && cu.snapshot_offset < cu.snapshot_total)) {
      return reject(Rejection::invalid);
    }
    if (cu.snapshot_offset == 0) {
      // A first chunk starts over, unless this snapshot is under way already
      // or a later one is (a duplicate answer, or one overtaken).
      if (incoming_ && (incoming_->slot > cu.snapshot_slot ||
                        (incoming_->slot == cu.snapshot_slot && !incoming_->bytes.empty()))) {
        return;
      }
      incoming_ = IncomingSnapshot{cu.snapshot_slot, cu.snapshot_total, {}};
    } else if (!incoming_ || incoming_->slot != cu.snapshot_slot || incoming_->total_bytes != cu.snapshot_total ||
               incoming_->bytes.size() != cu.snapshot_offset) {
      return;  // not the chunk we asked for: a late duplicate
    }
    incoming_->bytes.insert(incoming_->bytes.end(), cu.snapshot.begin(), cu.snapshot.end());
    if (incoming_->bytes.size() < incoming_->total_bytes) {
      catch_up_deadline_ = kNever;
      return request_catch_up();  // the next chunk at once
    }
    IncomingSnapshot in = std::move(*incoming_);
    incoming_.reset();
    if (!install_snapshot(in.slot, std::move(in.bytes))) return reject(Rejection::invalid);
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
