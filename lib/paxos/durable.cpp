// Multi-Paxos core: what a replica makes durable, and how it comes back.
//
// PROTOCOL.md, "Durable before visible": the acceptor state is persisted
// before the message that reveals it leaves (the driver applies
// Effects::persist before Effects::send):
//   "promised"  the promised ballot (before PROMISE, and before our own
//               PREPARE: a restarted proposer never reuses a ballot)
//   "a/<slot>"  the value accepted at slot and its ballot (before ACCEPTED,
//               and before the leader counts its own accept)
//   "snap"      the latest snapshot (client table + application) and its
//               slot; accepted values at or below it are deleted with it
//               (a whole state's; a store-backed state is the store itself)
// A store-backed state (core/replicated_state.hpp) keeps instead, in the same
// commit as the store's writes:
//   "applied"   the last slot executed on the store (what a restart resumes)
//   "root"      the latest snapshot's slot and root (the store is pinned
//               there while the replica runs)
//   "sync"      while a tree-walk transfer runs: the slot and root of the
//               snapshot it fetches, and its source; the store is then
//               partly that state, and a restart finishes the transfer
//               before it executes anything
//   "shape"     the cluster parameters all this was written under
//               (core/durable_shape.hpp), with the first effects
// Which slots are chosen is not persisted: a restarted replica learns it
// again from the leader's commit index or by catch-up. A store-backed one
// resumes after "applied" and learns only the slots after it.
#include <algorithm>
#include <charconv>
#include <cstdio>

#include "core/bytes_io.hpp"
#include "core/durable_shape.hpp"
#include "paxos/replica.hpp"
#include "synod/assert.hpp"

namespace synod::paxos {

namespace {
constexpr std::string_view kAcceptedPrefix = "a/";
constexpr std::string_view kPromisedKey = "promised";
constexpr std::string_view kSnapshotKey = "snap";
constexpr std::string_view kAppliedKey = "applied";
constexpr std::string_view kRootKey = "root";
constexpr std::string_view kSyncKey = "sync";

Result<void> corrupt(const std::string& what) { return fail(ErrorCode::corrupt, "durable state: " + what); }
}  // namespace

std::string accepted_key(Slot slot) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "a/%020llu", static_cast<unsigned long long>(slot));
  return buf;
}

void PaxosReplica::persist_promised() {
  if (bugs_.skip_promise_persistence) return;  // the deliberately broken variant forgets on restart
  ByteWriter w;
  w.u64(promised_.round);
  w.u32(promised_.replica);
  out_->persist.push_back(PersistOp{std::string(kPromisedKey), w.take()});
}

void PaxosReplica::persist_accepted(Slot slot, Instance& in) {
  SYNOD_ASSERT(in.accepted_ballot.has_value(), "only an accepted value is persisted");
  if (bugs_.skip_promise_persistence) return;
  const wire::AcceptedEntry entry{slot, *in.accepted_ballot, in.accepted_value};
  out_->persist.push_back(PersistOp{accepted_key(slot), wire::encode(entry)});
  in.persisted = true;
}

void PaxosReplica::erase_accepted(Slot slot) {
  SYNOD_ASSERT(slot <= snapshot_slot_, "accepted values are erased only under the snapshot");
  out_->persist.push_back(PersistOp{accepted_key(slot), std::nullopt});
}

void PaxosReplica::persist_snapshot() {
  if (store() != nullptr) {
    SYNOD_ASSERT(snapshot_slot_ > 0 && snapshot_.empty() && store()->pinned(snapshot_slot_), "a pinned snapshot");
    ByteWriter w;
    w.u64(snapshot_slot_);
    w.raw(snapshot_digest_);
    out_->persist.push_back(PersistOp{std::string(kRootKey), w.take()});
    return;
  }
  SYNOD_ASSERT(snapshot_slot_ > 0 && !snapshot_.empty(), "a snapshot to persist");
  ByteWriter w;
  w.u64(snapshot_slot_);
  w.bytes(snapshot_);
  out_->persist.push_back(PersistOp{std::string(kSnapshotKey), w.take()});
}

void PaxosReplica::persist_applied() {
  SYNOD_ASSERT(store() != nullptr, "a whole state's execution is rebuilt from its snapshot");
  ByteWriter w;
  w.u64(last_executed_);
  out_->persist.push_back(PersistOp{std::string(kAppliedKey), w.take()});
}

void PaxosReplica::persist_sync() {
  SYNOD_ASSERT(store() != nullptr, "only a store is transferred by tree walk");
  if (!sync_) return out_->persist.push_back(PersistOp{std::string(kSyncKey), std::nullopt});
  ByteWriter w;
  w.u64(sync_->seq());
  w.raw(sync_->root());
  w.u32(sync_source_);
  out_->persist.push_back(PersistOp{std::string(kSyncKey), w.take()});
}

Result<void> PaxosReplica::restore(const DurableState& durable) {
  if (durable.empty() && store() == nullptr) return {};
  for (const auto& [key, value] : durable) {
    if (key == kPromisedKey) {
      ByteReader r(value);
      auto round = r.u64();
      auto replica = r.u32();
      if (!round || !replica || !r.at_end() || *replica >= n_) return corrupt("bad promised ballot");
      promised_ = Ballot{*round, *replica};
    } else if (key == kSnapshotKey) {
      if (store() != nullptr) return corrupt("a whole state's snapshot, and a store-backed application");
      if (auto ok = restore_snapshot(value); !ok) return ok;
    } else if (key == kAppliedKey || key == kRootKey || key == kSyncKey) {
      if (store() == nullptr) return corrupt("a store-backed application's " + key + ", and a whole-state application");
    } else if (key != kDurableShapeKey && !key.starts_with(kAcceptedPrefix)) {
      return corrupt("unknown key " + key);
    }
  }
  if (store() != nullptr) {
    if (auto ok = restore_store(durable); !ok) return ok;
  }
  // Accepted values after the promise and the snapshot they are checked against.
  for (auto it = durable.lower_bound(std::string(kAcceptedPrefix));
       it != durable.end() && it->first.starts_with(kAcceptedPrefix); ++it) {
    if (auto ok = restore_accepted(it->first, it->second); !ok) return ok;
  }
  max_round_seen_ = promised_.round;
  promised_checked_ = promised_;
  executed_checked_ = last_executed_;
  return {};
}

Result<void> PaxosReplica::restore_snapshot(const Bytes& record) {
  ByteReader r(record);
  auto slot = r.u64();
  auto snapshot = r.bytes();
  if (!slot || !snapshot || !r.at_end()) return corrupt("bad snapshot record");
  if (*slot == 0 || *slot % config_.checkpoint_interval != 0) return corrupt("snapshot at a slot that takes none");
  snapshot_.assign(snapshot->begin(), snapshot->end());
  if (auto ok = whole().restore(snapshot_); !ok) {
    return corrupt("snapshot does not restore: " + ok.error().message);
  }
  snapshot_slot_ = last_executed_ = *slot;
  snapshot_digest_ = crypto_.digest(snapshot_);
  return {};
}

// A store-backed state: the store is as the last commit left it, at
// "applied" (or partly transferred, with "sync").
Result<void> PaxosReplica::restore_store(const DurableState& durable) {
  auto find = [&](std::string_view key) -> const Bytes* {
    auto it = durable.find(std::string(key));
    return it == durable.end() ? nullptr : &it->second;
  };
  Slot applied = 0;
  if (const Bytes* record = find(kAppliedKey)) {
    ByteReader r(*record);
    auto slot = r.u64();
    if (!slot || !r.at_end()) return corrupt("bad applied record");
    applied = *slot;
  }
  // Every snapshot is taken (or installed) in the commit of its slot's
  // "applied": the last multiple of K applied.
  const Slot snapshot = applied - applied % config_.checkpoint_interval;
  if (const Bytes* record = find(kRootKey)) {
    ByteReader r(*record);
    auto slot = r.u64();
    auto root = r.raw(kDigestBytes);
    if (!slot || !root || !r.at_end() || *slot == 0) return corrupt("bad snapshot record");
    if (*slot != snapshot) return corrupt("the snapshot record is not at the last multiple of K applied");
    std::copy(root->begin(), root->end(), snapshot_digest_.begin());
  } else if (snapshot > 0) {
    return corrupt("applied past a snapshot slot, and no snapshot record");
  }
  snapshot_slot_ = snapshot;
  last_executed_ = resumed_at_ = applied;
  auto& state = static_cast<StoreState&>(*state_);
  if (auto ok = state.reload_clients(); !ok) return ok;
  if (const Bytes* record = find(kSyncKey)) {
    // A transfer was under way: the store is partly its state, so it must
    // finish before anything executes; the first tick goes on with it.
    ByteReader r(*record);
    auto slot = r.u64();
    auto root = r.raw(kDigestBytes);
    auto source = r.u32();
    if (!slot || !root || !source || !r.at_end() || *slot <= applied || *slot % config_.checkpoint_interval != 0 ||
        *source >= n_ || *source == self_) {
      return corrupt("bad transfer record");
    }
    Digest digest;
    std::copy(root->begin(), root->end(), digest.begin());
    sync_.emplace(*store(), *slot, digest, config_.max_snapshot_bytes);
    sync_source_ = catch_up_source_ = *source;
    catch_up_target_ = *slot;
    catch_up_deadline_ = 0;
  } else if (snapshot > 0 && applied == snapshot) {
    // The store is exactly the snapshot's state: servable again.
    if (store()->pin(snapshot) != snapshot_digest_) return corrupt("the store is not the state of its snapshot");
  }
  return {};
}

Result<void> PaxosReplica::restore_accepted(const std::string& key, const Bytes& record) {
  Slot slot = 0;
  const std::string_view digits = std::string_view(key).substr(kAcceptedPrefix.size());
  if (std::from_chars(digits.data(), digits.data() + digits.size(), slot).ec != std::errc{}) {
    return corrupt("bad key " + key);
  }
  auto entry = wire::decode<wire::AcceptedEntry>(record);
  if (!entry || entry->slot != slot) return corrupt("bad accepted value at " + key);
  if (slot <= snapshot_slot_) return {};  // under the snapshot: no longer needed
  if (slot > kept_slot_max()) return corrupt("accepted value beyond the window at " + key);
  if (entry->ballot > promised_) return corrupt("accepted ballot above the promise at " + key);
  if (!valid_batch(entry->batch)) return corrupt("accepted batch out of bounds at " + key);
  Instance& in = log_[slot];
  in.accepted_ballot = entry->ballot;
  in.accepted_value = std::move(entry->batch);
  in.persisted = true;
  return {};
}

}  // namespace synod::paxos
