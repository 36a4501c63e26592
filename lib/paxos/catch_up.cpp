// Multi-Paxos core: snapshots and log truncation every checkpoint_interval
// slots, and catch-up of a lagging or restarted replica with chosen slots,
// or a snapshot plus the slots after it. PROTOCOL.md, "Multi-Paxos":
// Catch-up. A store-backed state (core/replicated_state.hpp) pins its store
// instead of copying it, and its snapshot travels by tree walk
// (transfer/state_sync.hpp; docs/PROTOCOL.md, "State transfer by tree walk").
#include <algorithm>

#include "paxos/replica.hpp"
#include "synod/assert.hpp"

namespace synod::paxos {

namespace {
// A tree walk's source is stalled when this many heartbeats bring nothing new.
constexpr std::uint64_t kSyncStallHeartbeats = 5;
// A pin a peer fetched from within this many heartbeats lingers after the
// next snapshot, while all pins together hold at most
// transfer::ServedPins::kMaxLingeringBytes of copy-on-write data.
constexpr TimeUs kServedPinLingerHeartbeats = 20;
// A catch-up answer carries at most this share of the frame cap.
constexpr std::size_t kCatchUpBytesDivisor = 2;
// Encoding overhead per request in a batch, for the answer's size budget.
constexpr std::size_t kRequestOverheadBytes = 64;
}  // namespace

void PaxosReplica::take_snapshot() {
  SYNOD_ASSERT(last_executed_ % config_.checkpoint_interval == 0, "snapshots at multiples of K");
  SYNOD_ASSERT(last_executed_ > snapshot_slot_, "the snapshot only moves forward");
  if (MerkleStore* s = store()) {
    // No copy: the store keeps the state at this slot servable (copy-on-write
    // of what changes after it), and its root is the digest. Only the latest
    // snapshot is served, so the older pin goes.
    snapshot_slot_ = last_executed_;
    snapshot_digest_ = s->pin(snapshot_slot_);
    // An older pin a peer still walks lingers (transfer::ServedPins).
    s->release_below(served_pins_.floor(snapshot_slot_, now_, kServedPinLingerHeartbeats * heartbeat_interval_us_,
                                        s->pinned_bytes()));
  } else {
    // The client table goes with the application state, so a replica restored
    // from it never executes a retried request twice (PROTOCOL.md pitfall).
    snapshot_ = whole().snapshot();
    snapshot_slot_ = last_executed_;
    snapshot_digest_ = crypto_.digest(snapshot_);
  }
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
  if (auto ok = whole().restore(snapshot); !ok) return false;
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
  if (catch_up_target_ <= last_executed_ && !sync_) {
    catch_up_deadline_ = kNever;
    return;
  }
  // One request per heartbeat interval; the timer asks again if it is lost.
  if (catch_up_deadline_ != kNever) return;
  if (sync_) {
    catch_up_deadline_ = now_ + heartbeat_interval_us_;
    return retry_tree_sync();
  }
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
    if (store() != nullptr) return serve_root(from, cu);
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
    if (store() != nullptr && slot <= resumed_at_ && (it == log_.end() || !it->second.chosen)) break;
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
  if (store() != nullptr && cu.snapshot_slot != 0) return on_root(from, cu);
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
  // A store being transferred: what was chosen waits for it, and its own
  // retries go on (asking at once here would ask again for every answer).
  if (sync_) return;
  catch_up_deadline_ = kNever;
  request_catch_up();  // still behind: the next part at once
  if (role_ == Role::candidate) try_lead();  // phase 1 waited for this
}

// ---------------------------------------------------------------- tree walk
// A store-backed state's snapshot is its store pinned at snapshot_slot_. An
// asker behind it gets the snapshot's root in a CATCH-UP (snapshot_total =
// 0, the 32-byte root as `snapshot`, no chosen slots; wire/messages.hpp):
// the word of a correct peer suffices under crash faults (paxos.hpp), like
// the batches it sends. The asker walks the tree from that root, fetching
// from the announcer only what differs, and asks for the chosen slots after
// the snapshot once the state is whole.

void PaxosReplica::serve_root(ReplicaId to, wire::CatchUp& cu) {
  SYNOD_ASSERT(store() != nullptr && snapshot_.empty(), "a store's snapshot is its pin");
  // Resumed after a restart between two snapshots: the store is past the
  // last one, so none is servable until the next.
  if (snapshot_slot_ == 0 || !store()->pinned(snapshot_slot_)) return;
  cu.snapshot_slot = snapshot_slot_;
  cu.snapshot.assign(snapshot_digest_.begin(), snapshot_digest_.end());
  SYNOD_ASSERT(cu.snapshot_total == 0 && cu.chosen.empty(), "an announcement carries the root alone");
  send(Destination::replica(to), cu);
}

void PaxosReplica::on_root(ReplicaId from, const wire::CatchUp& cu) {
  SYNOD_ASSERT(store() != nullptr && !is_leader(), "a follower's store catches up");
  if (cu.snapshot_total != 0 || cu.snapshot_offset != 0 || cu.snapshot.size() != kDigestBytes ||
      !cu.chosen.empty() || cu.snapshot_slot % config_.checkpoint_interval != 0) {
    return reject(Rejection::invalid);
  }
  if (cu.snapshot_slot <= last_executed_) return;  // executed past it meanwhile
  Digest root;
  std::copy(cu.snapshot.begin(), cu.snapshot.end(), root.begin());
  if (sync_) {
    // One transfer at a time, toward the snapshot of the replica we catch up
    // from: that source's newer snapshot, or another source's (the latest
    // informant; the old one may be gone), replaces it. The store stays
    // consistent bucket by bucket, so the new walk goes on from it.
    if (from != catch_up_source_) return;
    if (sync_->seq() == cu.snapshot_slot) {
      // Execution is deterministic: one state per slot, whoever serves it.
      if (sync_->root() != root) return reject(Rejection::conflicting);
      if (from == sync_source_) return;  // a duplicate: the transfer is under way
      sync_source_ = from;
      persist_sync();
      sync_->retry();
      return send_sync_requests();
    }
    if (from == sync_source_ && cu.snapshot_slot < sync_->seq()) return;  // overtaken
  }
  begin_tree_sync(cu.snapshot_slot, root, from);
}

void PaxosReplica::begin_tree_sync(Slot slot, const Digest& root, ReplicaId source) {
  SYNOD_ASSERT(store() != nullptr && slot > last_executed_ && slot % config_.checkpoint_interval == 0,
               "a snapshot ahead of us");
  SYNOD_ASSERT(source != self_ && source < n_, "transferred from another replica");
  // A newer snapshot: the walk moves on to it, keeping what its root still
  // certifies (StateSync::retarget); an older one (another source's) starts over.
  if (sync_ && slot > sync_->seq())
    sync_->retarget(slot, root);
  else
    sync_.emplace(*store(), slot, root, config_.max_snapshot_bytes);
  sync_source_ = catch_up_source_ = source;  // its retries ask the source which snapshot it serves
  sync_bytes_at_retry_ = 0;
  catch_up_target_ = std::max(catch_up_target_, slot);
  persist_sync();  // before any of that state lands in the store
  if (sync_->done()) return finish_tree_sync();
  send_sync_requests();
  SYNOD_ASSERT(sync_ && sync_->seq() == slot, "the transfer is under way");
}

void PaxosReplica::retry_tree_sync() {
  SYNOD_ASSERT(sync_.has_value(), "a transfer is under way");
  if (sync_->done()) return finish_tree_sync();  // resumed after a restart with nothing left
  // Judged over several heartbeats: an answer of a megabyte may take longer
  // than one to come, and asking again what is merely queued doubles it.
  if (now_ >= sync_checked_us_ + kSyncStallHeartbeats * heartbeat_interval_us_) {
    sync_checked_us_ = now_;
    if (sync_->stats().bytes == sync_bytes_at_retry_) {
      // Nothing new arrived: requests or answers were lost, or the source
      // keeps this snapshot no more (it took a newer one, or restarted).
      // Everything asked is asked again, and the source says which snapshot
      // it serves now (on_root moves the transfer to it).
      send(Destination::replica(catch_up_source_), wire::CatchUpRequest{last_executed_ + 1, 0, 0});
      sync_->retry();
    }
    sync_bytes_at_retry_ = sync_->stats().bytes;
  }
  send_sync_requests();
}

void PaxosReplica::send_sync_requests() {
  SYNOD_ASSERT(sync_.has_value() && sync_source_ != self_, "a transfer from another replica");
  for (wire::Message& m : sync_->next_requests()) {
    std::visit(
        [&](const auto& request) {
          using M = std::decay_t<decltype(request)>;
          if constexpr (std::is_same_v<M, wire::FetchTree> || std::is_same_v<M, wire::FetchLeaves> ||
                        std::is_same_v<M, wire::FetchValues>) {
            send(Destination::replica(sync_source_), request);
          } else {
            SYNOD_ASSERT(false, "a transfer asks with FETCH-TREE, FETCH-LEAVES and FETCH-VALUES only");
          }
        },
        m);
  }
}

void PaxosReplica::after_sync_answer(ReplicaId from, transfer::Outcome outcome) {
  if (store() == nullptr) return reject(Rejection::invalid);  // a whole state goes in CATCH-UP chunks
  // The answer was fed to the transfer whoever sent it (it checks every
  // digest); only the source's answers drive the next requests.
  if (!sync_ || from != sync_source_) return;
  if (outcome == transfer::Outcome::bad) {
    // Not the snapshot's state: no correct replica serves that (crash
    // faults). Everything is asked again when the retransmission timer
    // fires, not at once, so a broken peer cannot keep us busy.
    reject(Rejection::invalid);
    sync_->retry();
    return;
  }
  if (sync_->done()) return finish_tree_sync();
  send_sync_requests();
}

void PaxosReplica::finish_tree_sync() {
  SYNOD_ASSERT(sync_ && sync_->done(), "a finished transfer");
  const Slot slot = sync_->seq();
  const Digest root = sync_->root();
  sync_.reset();
  // The client table came with the state: at-most-once goes on from it.
  auto reloaded = static_cast<StoreState&>(*state_).reload_clients();
  SYNOD_ASSERT(reloaded.has_value(), "a served state holds a well-formed client table");
  // The transferred state is our snapshot now, and servable.
  SYNOD_ASSERT(store()->pin(slot) == root, "the transferred state is the one announced");
  store()->release_below(slot);
  last_executed_ = slot;
  snapshot_slot_ = slot;
  snapshot_digest_ = root;
  ++state_transfers_;
  persist_applied();
  persist_snapshot();
  persist_sync();  // the transfer record goes, in the same commit
  truncate_through(slot);
  drop_executed_requests();
  SYNOD_ASSERT(snapshot_slot_ == last_executed_, "the snapshot is our state");
  // Then the slots chosen after it: those we know, and the rest by catch-up.
  execute_ready();
  catch_up_deadline_ = kNever;
  request_catch_up();
  if (role_ == Role::candidate) try_lead();  // phase 1 waited for this
}

// A tree-walk request for a snapshot older than ours (we keep only the
// latest): the asker is told which one we serve now, so its walk moves on to
// it at once (on_root) instead of waiting for its retry.
bool PaxosReplica::serving(ReplicaId from, Slot slot) {
  if (store()->pinned(slot)) {
    served_pins_.served(slot, now_);
    return true;
  }
  if (slot < snapshot_slot_) {
    wire::CatchUp cu{promised_, 0, 0, 0, {}, {}};
    serve_root(from, cu);
  }
  return false;
}

void PaxosReplica::on_fetch_tree(ReplicaId from, const wire::FetchTree& m) {
  if (store() == nullptr) return reject(Rejection::invalid);  // a whole state goes in CATCH-UP chunks
  if (!serving(from, m.seq)) return;
  send(Destination::replica(from), transfer::serve_tree(*store(), m));
}

void PaxosReplica::on_fetch_leaves(ReplicaId from, const wire::FetchLeaves& m) {
  if (store() == nullptr) return reject(Rejection::invalid);
  if (!serving(from, m.seq)) return;
  send(Destination::replica(from), transfer::serve_leaves(*store(), m, config_.snapshot_chunk()));
}

void PaxosReplica::on_fetch_values(ReplicaId from, const wire::FetchValues& m) {
  if (store() == nullptr) return reject(Rejection::invalid);
  if (!serving(from, m.seq)) return;
  send(Destination::replica(from), transfer::serve_values(*store(), m, config_.snapshot_chunk()));
}

}  // namespace synod::paxos
