// PBFT core: what a replica makes durable, and how it comes back.
//
// PROTOCOL.md pitfall: a restarted honest replica must never contradict what
// it sent. So before a message reveals a vote, its basis is persisted (the
// driver applies Effects::persist before Effects::send):
//   "view"   view and whether it is active (before VIEW-CHANGE / NEW-VIEW)
//   "vc"     our VIEW-CHANGE frame while changing view (resent unchanged)
//   "nv"     the NEW-VIEW frame of the current view
//   "e/<s>"  the pre-prepare accepted at s (before PREPARE) and the prepared
//            certificate (before COMMIT), with their batches
//   "ckpt"   the stable checkpoint and its 2f+1 proof, "snap" its state
//            (a whole state's; a store-backed state is the store itself)
// A store-backed state (core/replicated_state.hpp) also keeps, in the same
// commit as the store's writes:
//   "applied"  the last batch executed on the store (what a restart resumes)
//   "oc/<s>"   the digest of our own checkpoint at s, until s is stable (a
//              restart still votes for it)
//   "sync"     while a tree-walk transfer runs: its seq and 2f+1 proof; the
//              store is then partly the certified state, and a restart
//              finishes that transfer before it executes anything
//   "shape"  the cluster parameters all this was written under
//            (core/durable_shape.hpp), with the first effects
// A whole state's execution is not persisted: it is rebuilt from the stable
// checkpoint and batches fetched from the others.
#include <algorithm>
#include <charconv>
#include <cstdio>

#include "core/bytes_io.hpp"
#include "pbft/replica.hpp"
#include "synod/assert.hpp"

namespace synod::pbft {

namespace {

constexpr std::string_view kEntryPrefix = "e/";

template <class M>
Bytes encode_blob(const M& m) {
  return wire::encode(m);
}

template <class M>
Result<M> decode_blob(std::optional<ByteView> b, const char* what) {
  if (!b) return fail(ErrorCode::corrupt, std::string("durable state: truncated ") + what);
  auto m = wire::decode<M>(*b);
  if (!m) return fail(ErrorCode::corrupt, std::string("durable state: bad ") + what + ": " + wire::to_string(m.error()));
  return std::move(*m);
}

// The stable checkpoint's record ("ckpt", "sync"): seq, then the proof.
Bytes encode_checkpoint_record(Seq seq, const std::vector<Signed<wire::Checkpoint>>& proof) {
  ByteWriter w;
  w.u64(seq);
  w.u64(proof.size());
  for (const auto& s : proof) w.bytes(encode_blob(s));
  return w.take();
}

struct CheckpointRecord {
  Seq seq = 0;
  std::vector<Signed<wire::Checkpoint>> proof;
};

Result<CheckpointRecord> decode_checkpoint_record(const Bytes& record, std::uint32_t n) {
  ByteReader r(record);
  auto seq = r.u64();
  auto count = r.u64();
  if (!seq || !count || *count > n) return fail(ErrorCode::corrupt, "durable state: bad checkpoint record");
  CheckpointRecord out{*seq, {}};
  for (std::uint64_t i = 0; i < *count; ++i) {
    auto s = decode_blob<Signed<wire::Checkpoint>>(r.bytes(), "checkpoint proof");
    if (!s) return std::unexpected(s.error());
    out.proof.push_back(std::move(*s));
  }
  return out;
}

}  // namespace

std::string own_checkpoint_key(Seq seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "oc/%020llu", static_cast<unsigned long long>(seq));
  return buf;
}

std::string entry_key(Seq seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "e/%020llu", static_cast<unsigned long long>(seq));
  return buf;
}

void PbftReplica::persist_entry(Seq seq, Entry& e) {
  ByteWriter w;
  w.u64(e.view);
  w.u8(e.pre_prepare ? 1 : 0);
  if (e.pre_prepare) w.bytes(encode_blob(*e.pre_prepare));
  // The deliberately broken variant forgets what it prepared.
  const bool keep_cert = e.prepared_cert && !bugs_.forget_prepared_on_restart;
  w.u8(keep_cert ? 1 : 0);
  if (keep_cert) w.bytes(encode_blob(*e.prepared_cert));
  w.u64(e.batches.size());
  for (const auto& [digest, batch] : e.batches) w.bytes(encode_blob(batch));
  out_->persist.push_back(PersistOp{entry_key(seq), w.take()});
  e.persisted = true;
}

void PbftReplica::erase_entry(Seq seq) {
  auto it = log_.find(seq);
  SYNOD_ASSERT(it != log_.end(), "erasing an entry that exists");
  if (it->second.persisted) out_->persist.push_back(PersistOp{entry_key(seq), std::nullopt});
  log_.erase(it);
}

void PbftReplica::persist_view() {
  ByteWriter w;
  w.u64(view_);
  w.u8(active_ ? 1 : 0);
  out_->persist.push_back(PersistOp{"view", w.take()});
  out_->persist.push_back(PersistOp{"vc", own_view_change_frame_});
  out_->persist.push_back(PersistOp{"nv", new_view_frame_});
}

void PbftReplica::persist_stable() {
  out_->persist.push_back(PersistOp{"ckpt", encode_checkpoint_record(low_, stable_proof_)});
  if (store() == nullptr) out_->persist.push_back(PersistOp{"snap", own_checkpoints_.at(low_).snapshot});
}

void PbftReplica::persist_applied() {
  ByteWriter w;
  w.u64(last_executed_);
  out_->persist.push_back(PersistOp{"applied", w.take()});
}

void PbftReplica::persist_sync() {
  if (!sync_) return out_->persist.push_back(PersistOp{"sync", std::nullopt});
  out_->persist.push_back(PersistOp{"sync", encode_checkpoint_record(sync_->seq(), sync_proof_)});
}

Result<void> PbftReplica::restore(const DurableState& durable) {
  if (durable.empty()) return {};
  auto find = [&](const std::string& key) -> const Bytes* {
    auto it = durable.find(key);
    return it == durable.end() ? nullptr : &it->second;
  };

  // The stable checkpoint and its state.
  if (auto ok = store() != nullptr ? restore_store(durable) : restore_stable(find("ckpt"), find("snap")); !ok) return ok;

  if (const Bytes* v = find("view")) {
    ByteReader r(*v);
    auto view = r.u64();
    auto active = r.u8();
    if (!view || !active || *active > 1) return fail(ErrorCode::corrupt, "durable state: bad view record");
    view_ = *view;
    active_ = *active == 1;
  }
  if (const Bytes* vc = find("vc")) {
    auto env = wire::decode_envelope(*vc, config_.max_frame_bytes);
    if (!env || env->type != wire::MsgType::view_change) return fail(ErrorCode::corrupt, "durable state: bad view change");
    auto m = wire::decode<wire::ViewChange>(env->payload);
    if (!m || m->new_view != view_) return fail(ErrorCode::corrupt, "durable state: view change for another view");
    view_changes_[self_] = Signed<wire::ViewChange>{self_, *m, env->authenticator};
    own_view_change_frame_ = *vc;
  }
  if (!active_ && !own_view_change_frame_) return fail(ErrorCode::corrupt, "durable state: changing view without a view change");
  if (const Bytes* nv = find("nv")) {
    auto env = wire::decode_envelope(*nv, config_.max_frame_bytes);
    if (!env || env->type != wire::MsgType::new_view) return fail(ErrorCode::corrupt, "durable state: bad new view");
    auto m = wire::decode<wire::NewView>(env->payload);
    if (!m || m->view != view_) return fail(ErrorCode::corrupt, "durable state: new view for another view");
    new_view_frame_ = *nv;
    if (active_) new_view_order_ = m->pre_prepares;
  }

  for (auto it = durable.lower_bound(std::string(kEntryPrefix));
       it != durable.end() && it->first.starts_with(kEntryPrefix); ++it) {
    Seq seq = 0;
    const std::string_view digits = std::string_view(it->first).substr(kEntryPrefix.size());
    if (std::from_chars(digits.data(), digits.data() + digits.size(), seq).ec != std::errc{}) {
      return fail(ErrorCode::corrupt, "durable state: bad entry key " + it->first);
    }
    if (seq <= low_) continue;  // garbage the last run did not get to delete
    if (seq > low_ + config_.window) return fail(ErrorCode::corrupt, "durable state: entry beyond the window");
    if (auto ok = restore_entry(seq, it->second); !ok) return ok;
  }
  // A store resumes after the last batch it executed: those batches of the
  // log are done.
  for (auto& [seq, e] : log_) e.executed = seq <= last_executed_;
  // A primary never reuses a seq it assigned in this view: not those of its
  // log, nor those its NEW-VIEW's O assigned beyond its window.
  next_seq_ = low_ + 1;
  for (const auto& [seq, e] : log_) {
    if (e.pre_prepare && e.view == view_ && e.pre_prepare->signer == self_) next_seq_ = std::max(next_seq_, seq + 1);
  }
  for (const auto& pp : new_view_order_) next_seq_ = std::max(next_seq_, pp.message.seq + 1);
  return {};
}

Result<void> PbftReplica::restore_stable(const Bytes* ckpt, const Bytes* snap) {
  if ((ckpt == nullptr) != (snap == nullptr)) return fail(ErrorCode::corrupt, "durable state: checkpoint without state");
  if (ckpt == nullptr) return {};
  auto record = decode_checkpoint_record(*ckpt, n_);
  if (!record) return std::unexpected(record.error());
  const Digest digest = crypto_.digest(*snap);
  const CertificateVerifier verify(config_, crypto_, checkpoint_quorum());
  if (verify.checkpoint_proof(record->seq, record->proof) != digest) return fail(ErrorCode::corrupt, "durable state: checkpoint proof does not match its state");
  if (auto ok = whole().restore(*snap); !ok) return ok;
  low_ = last_executed_ = executed_at_last_retransmit_ = record->seq;
  stable_digest_ = digest;
  stable_proof_ = std::move(record->proof);
  own_checkpoints_[low_] = OwnCheckpoint{digest, *snap, sign(wire::Checkpoint{low_, digest})};
  return {};
}

// A store-backed state: the store is as the last commit left it, at
// "applied" (or partly transferred, with "sync").
Result<void> PbftReplica::restore_store(const DurableState& durable) {
  auto find = [&](const std::string& key) -> const Bytes* {
    auto it = durable.find(key);
    return it == durable.end() ? nullptr : &it->second;
  };
  if (durable.contains("snap")) return fail(ErrorCode::corrupt, "durable state: a whole state's snapshot, and a store-backed application");
  const CertificateVerifier verify(config_, crypto_, checkpoint_quorum());
  if (const Bytes* ckpt = find("ckpt")) {
    auto record = decode_checkpoint_record(*ckpt, n_);
    if (!record) return std::unexpected(record.error());
    auto digest = verify.checkpoint_proof(record->seq, record->proof);
    if (!digest) return fail(ErrorCode::corrupt, "durable state: bad checkpoint proof");
    low_ = record->seq;
    stable_digest_ = *digest;
    stable_proof_ = std::move(record->proof);
    own_checkpoints_[low_] = OwnCheckpoint{*digest, {}, sign(wire::Checkpoint{low_, *digest})};
  }
  if (const Bytes* applied = find("applied")) {
    ByteReader r(*applied);
    auto seq = r.u64();
    if (!seq || !r.at_end() || *seq < low_) return fail(ErrorCode::corrupt, "durable state: bad applied record");
    last_executed_ = executed_at_last_retransmit_ = *seq;
  } else if (low_ > 0) {
    return fail(ErrorCode::corrupt, "durable state: a stable checkpoint and no applied record");
  }
  // Our own checkpoints above the stable one: we vote for them again.
  constexpr std::string_view kOwnPrefix = "oc/";
  for (auto it = durable.lower_bound(std::string(kOwnPrefix)); it != durable.end() && it->first.starts_with(kOwnPrefix); ++it) {
    Seq seq = 0;
    const std::string_view digits = std::string_view(it->first).substr(kOwnPrefix.size());
    if (std::from_chars(digits.data(), digits.data() + digits.size(), seq).ec != std::errc{} || it->second.size() != kDigestBytes) {
      return fail(ErrorCode::corrupt, "durable state: bad own checkpoint " + it->first);
    }
    if (seq <= low_ || seq > last_executed_) continue;
    Digest digest;
    std::copy(it->second.begin(), it->second.end(), digest.begin());
    own_checkpoints_[seq] = OwnCheckpoint{digest, {}, sign(wire::Checkpoint{seq, digest})};
  }
  if (auto ok = static_cast<StoreState&>(*state_).reload_clients(); !ok) return ok;
  if (const Bytes* sync = find("sync")) {
    // A transfer was under way: the store is partly its state, so it must
    // finish before anything executes (the retransmission timer goes on).
    auto record = decode_checkpoint_record(*sync, n_);
    if (!record) return std::unexpected(record.error());
    auto digest = verify.checkpoint_proof(record->seq, record->proof);
    if (!digest || record->seq <= last_executed_) return fail(ErrorCode::corrupt, "durable state: bad transfer record");
    transfer_target_ = record->seq;
    transfer_proof_ = record->proof;
    sync_.emplace(*store(), record->seq, *digest, config_.max_snapshot_bytes, sync_bugs());
    sync_proof_ = std::move(record->proof);
  }
  return {};
}

Result<void> PbftReplica::restore_entry(Seq seq, const Bytes& record) {
  ByteReader r(record);
  Entry e;
  auto view = r.u64();
  auto has_pp = r.u8();
  if (!view || !has_pp || *view > view_) return fail(ErrorCode::corrupt, "durable state: bad entry " + std::to_string(seq));
  e.view = *view;
  if (*has_pp == 1) {
    auto pp = decode_blob<Signed<wire::PrePrepareHeader>>(r.bytes(), "pre-prepare");
    if (!pp) return std::unexpected(pp.error());
    e.pre_prepare = std::move(*pp);
  }
  auto has_cert = r.u8();
  if (!has_cert) return fail(ErrorCode::corrupt, "durable state: truncated entry");
  if (*has_cert == 1) {
    auto cert = decode_blob<wire::PreparedCertificate>(r.bytes(), "prepared certificate");
    if (!cert) return std::unexpected(cert.error());
    e.prepared_cert = std::move(*cert);
  }
  auto batches = r.u64();
  if (!batches || *batches > 3) return fail(ErrorCode::corrupt, "durable state: bad batch count");
  for (std::uint64_t i = 0; i < *batches; ++i) {
    auto batch = decode_blob<Batch>(r.bytes(), "batch");
    if (!batch) return std::unexpected(batch.error());
    const Digest d = batch_digest(*batch);
    e.batches.emplace(d, std::move(*batch));
  }
  if (!r.at_end()) return fail(ErrorCode::corrupt, "durable state: trailing bytes in entry");
  e.persisted = true;

  // Votes of the current view come back exactly as they were (or would have
  // been) sent: the same digests, so resending them contradicts nothing.
  if (e.view == view_ && active_ && e.pre_prepare) {
    const Digest d = e.pre_prepare->message.digest;
    if (e.pre_prepare->signer != self_) {
      e.prepares.add(self_, d, sign(wire::Prepare{view_, seq, d}));
      e.sent_prepare = true;
    }
    if (e.prepared_cert && e.prepared_cert->pre_prepare.message.view == view_) {
      for (const auto& p : e.prepared_cert->prepares) e.prepares.add(p.signer, d, p);
      e.prepared = true;
      e.commits.add(self_, d, sign(wire::Commit{view_, seq, d}));
      e.sent_commit = true;
    }
  } else if (e.view != view_ || !active_) {
    e.pre_prepare.reset();
    e.view = view_;
  }
  log_.emplace(seq, std::move(e));
  return {};
}

}  // namespace synod::pbft
