// PBFT core: checkpoints and garbage collection, state transfer, and
// catch-up of committed batches. PROTOCOL.md, "Checkpoints" and
// "State transfer".
#include <algorithm>
#include <set>

#include "pbft/replica.hpp"
#include "synod/assert.hpp"

namespace synod::pbft {

namespace {
// A catch-up reply carries at most this share of the frame cap.
constexpr std::size_t kCatchUpBytesDivisor = 2;
// A pin a peer fetched from within this many retransmission intervals
// lingers after the stable checkpoint moves on, while all pins together hold
// at most transfer::ServedPins::kMaxLingeringBytes of copy-on-write data.
constexpr TimeUs kServedPinLingerIntervals = 4;
}  // namespace

void PbftReplica::take_checkpoint(Seq seq) {
  SYNOD_ASSERT(seq == last_executed_ && seq % config_.checkpoint_interval == 0, "checkpoints at multiples of K");
  Bytes snapshot;
  Digest digest;
  if (MerkleStore* s = store()) {
    // No copy: the store keeps the state at seq servable (copy-on-write of
    // what changes after it), and its root is the digest.
    digest = s->pin(seq);
    out_->persist.push_back(PersistOp{own_checkpoint_key(seq), Bytes(digest.begin(), digest.end())});
  } else {
    snapshot = whole().snapshot();
    digest = crypto_.digest(snapshot);
  }
  const Signed<wire::Checkpoint> message = sign(wire::Checkpoint{seq, digest});
  own_checkpoints_[seq] = OwnCheckpoint{digest, std::move(snapshot), message};
  checkpoint_votes_[seq].add(self_, digest, message);
  send(Destination::all_replicas(), frame_of(message));
  try_stable(seq);
}

void PbftReplica::on_checkpoint(ReplicaId from, const wire::Checkpoint& cp, const Bytes& signature) {
  if (cp.seq == 0 || cp.seq % config_.checkpoint_interval != 0) return reject(Rejection::invalid);
  note_seen(cp.seq);
  Signed<wire::Checkpoint> vote{from, cp, signature};
  if (cp.seq <= low_) {
    // `from` is behind us or still lacks our vote: our own checkpoint for the
    // stable seq helps it complete a proof (or learn it must fetch state).
    if (may_serve(from)) {
      auto own = own_checkpoints_.find(low_);
      if (own != own_checkpoints_.end()) send(Destination::replica(from), frame_of(own->second.message));
    }
    return;
  }
  if (cp.seq > low_ + config_.window) {
    // Beyond the window: keep only the newest per replica (bounded), and
    // learn from 2f+1 matching ones that we must fetch state.
    auto& slot = far_checkpoints_[from];
    if (slot.message.seq >= cp.seq) return;
    slot = vote;
    std::vector<Signed<wire::Checkpoint>> proof;
    for (const auto& [r, v] : far_checkpoints_)
      if (v.message == cp) proof.push_back(v);
    if (proof.size() >= checkpoint_quorum()) begin_state_transfer(cp.seq, std::move(proof));
    return;
  }
  const VoteOutcome outcome = checkpoint_votes_[cp.seq].add(from, cp.state_digest, std::move(vote));
  if (outcome == VoteOutcome::conflicting) return reject(Rejection::conflicting);
  try_stable(cp.seq);
  adopt_new_view_order();  // the window may have moved
  maybe_propose();
}

void PbftReplica::try_stable(Seq seq) {
  if (seq <= low_) return;
  auto votes = checkpoint_votes_.find(seq);
  if (votes == checkpoint_votes_.end()) return;
  const Digest* digest = votes->second.value_with(checkpoint_quorum());
  if (digest == nullptr) return;
  std::vector<Signed<wire::Checkpoint>> proof = votes->second.matching(*digest, checkpoint_quorum());
  auto own = own_checkpoints_.find(seq);
  if (own != own_checkpoints_.end() && own->second.digest == *digest) {
    return make_stable(seq, *digest, std::move(proof));
  }
  // Stable elsewhere but not executed here (or our state differs from the
  // certified one): fetch the certified state.
  begin_state_transfer(seq, std::move(proof));
}

void PbftReplica::make_stable(Seq seq, const Digest& digest, std::vector<Signed<wire::Checkpoint>> proof) {
  SYNOD_ASSERT(seq > low_, "the stable checkpoint only moves forward");
  SYNOD_ASSERT(!sync_ || sync_->seq() > seq, "no state becomes stable under a store being transferred");
  SYNOD_ASSERT(seq <= last_executed_, "a checkpoint becomes stable here only once executed here");
  SYNOD_ASSERT(own_checkpoints_.contains(seq) && own_checkpoints_.at(seq).digest == digest,
               "the stable state is our own");
  low_ = seq;
  stable_digest_ = digest;
  stable_proof_ = std::move(proof);
  persist_stable();
  // Garbage collection of everything at or below the new low water mark.
  while (!log_.empty() && log_.begin()->first <= seq) {
    erase_entry(log_.begin()->first);
  }
  std::erase_if(checkpoint_votes_, [&](const auto& kv) { return kv.first <= seq; });
  for (auto it = own_checkpoints_.begin(); it != own_checkpoints_.end() && it->first <= seq;) {
    if (store() != nullptr) out_->persist.push_back(PersistOp{own_checkpoint_key(it->first), std::nullopt});
    it = it->first < seq ? own_checkpoints_.erase(it) : std::next(it);
  }
  if (MerkleStore* s = store()) {
    // A pin a peer still walks lingers (transfer::ServedPins).
    s->release_below(served_pins_.floor(seq, now_, kServedPinLingerIntervals * retransmit_interval_us_,
                                        s->pinned_bytes()));
  }
  std::erase_if(far_checkpoints_, [&](const auto& kv) { return kv.second.message.seq <= seq; });
  next_seq_ = std::max(next_seq_, seq + 1);
  if (transfer_target_ && *transfer_target_ <= seq) {
    transfer_target_.reset();
    transfer_proof_.clear();
  }
  if (incoming_ && incoming_->seq <= seq) incoming_.reset();
  // What we sent before belongs to a snapshot we no longer serve.
  std::erase_if(next_chunk_, [&](const auto& kv) { return kv.second.first < seq; });
  // No proposal from here: a NEW-VIEW being installed calls this before its
  // O is in place. Callers propose once their state is whole.
}

void PbftReplica::begin_state_transfer(Seq seq, std::vector<Signed<wire::Checkpoint>> proof) {
  if (seq <= last_executed_) {
    // We executed past it with a different digest: our state is not the
    // certified one. That is a bug (non-deterministic application?).
    auto own = own_checkpoints_.find(seq);
    SYNOD_ASSERT(own == own_checkpoints_.end() || own->second.digest == proof.front().message.state_digest,
                 "state diverged from a 2f+1-certified checkpoint: is the StateMachine deterministic?");
    return;
  }
  if (!transfer_target_ || *transfer_target_ < seq) {
    transfer_target_ = seq;
    transfer_proof_ = std::move(proof);
  }
  if (store() != nullptr) return begin_tree_sync(*transfer_target_, transfer_proof_);
  if (incoming_ && incoming_->seq <= last_executed_) incoming_.reset();  // executed past it meanwhile
  // A snapshot arriving asks for its next chunk itself; the retransmission
  // timer retries (retry_state_transfer).
  if (incoming_) return;
  // Ask one signer of the proof at a time, rotating on every retry.
  std::vector<ReplicaId> sources;
  for (const auto& s : transfer_proof_)
    if (s.signer != self_) sources.push_back(s.signer);
  if (sources.empty()) return;
  ask_for_state(sources[fetch_rotation_++ % sources.size()]);
}

void PbftReplica::retry_state_transfer() {
  SYNOD_ASSERT(transfer_target_ && *transfer_target_ > last_executed_, "a transfer is wanted");
  if (store() != nullptr) return retry_tree_sync();
  if (incoming_ && incoming_->seq <= last_executed_) incoming_.reset();  // executed past it meanwhile
  if (!incoming_) return begin_state_transfer(*transfer_target_, transfer_proof_);
  SYNOD_ASSERT(incoming_->seq <= *transfer_target_, "the target covers the snapshot under way");
  // Chunks arrived since the last retry: the source works, ask it again
  // (the request or its answer may be lost). None did: the next signer of
  // the snapshot's proof goes on from where this one stopped.
  IncomingSnapshot& in = *incoming_;
  if (in.bytes.size() == in.bytes_at_retry) {
    std::vector<ReplicaId> sources;
    for (const auto& s : in.proof)
      if (s.signer != self_) sources.push_back(s.signer);
    if (!sources.empty()) in.source = sources[fetch_rotation_++ % sources.size()];
  }
  in.bytes_at_retry = in.bytes.size();
  ask_for_state(in.source);
}

void PbftReplica::ask_for_state(ReplicaId to) {
  wire::FetchState fs{last_executed_, 0, 0};
  if (incoming_) {
    incoming_->source = to;
    fs.seq = incoming_->seq;
    fs.offset = incoming_->bytes.size();
  }
  send(Destination::replica(to), frame_of(sign(fs)));
}

bool PbftReplica::may_serve(ReplicaId to) {
  // At most one catch-up answer per peer per half retransmission interval:
  // a Byzantine peer cannot turn us into an amplifier.
  auto [it, fresh] = last_served_.try_emplace(to, now_);
  if (!fresh && now_ < it->second + retransmit_interval_us_ / 2) return false;
  it->second = now_;
  return true;
}

void PbftReplica::on_fetch_state(ReplicaId from, const wire::FetchState& fs) {
  if (store() != nullptr) return reject(Rejection::invalid);  // a store's state goes by tree walk
  if (fs.have_seq >= low_ || low_ == 0) return;
  // Going on with our stable snapshot from where the asker is; anything else
  // (an older snapshot, no offset) starts it over with the first chunk.
  const bool going_on = fs.seq == low_ && fs.offset > 0;
  if (going_on && fs.offset >= own_checkpoints_.at(low_).snapshot.size()) return reject(Rejection::invalid);
  // The chunk after one we just sent is not rate-limited: each byte of a
  // snapshot then goes once per first chunk, and first chunks are.
  auto next = next_chunk_.find(from);
  const bool streaming = going_on && next != next_chunk_.end() && next->second == std::pair{low_, fs.offset};
  if (!streaming && !may_serve(from)) return reject(Rejection::limit);
  send_snapshot_chunk(from, going_on ? fs.offset : 0);
}

void PbftReplica::send_snapshot_chunk(ReplicaId to, std::uint64_t offset) {
  if (store() != nullptr) {
    // A store's state goes by tree walk: this STATE-SNAPSHOT carries no
    // bytes, only the stable checkpoint's proof, so `to` can start one.
    return send(Destination::replica(to), frame_of(sign(wire::StateSnapshot{low_, stable_proof_, 0, 0, {}})));
  }
  const Bytes& snapshot = own_checkpoints_.at(low_).snapshot;
  SYNOD_ASSERT(offset == 0 || offset < snapshot.size(), "a chunk inside the snapshot");
  const std::uint64_t size = std::min<std::uint64_t>(config_.snapshot_chunk(), snapshot.size() - offset);
  wire::StateSnapshot chunk{low_, {}, snapshot.size(), offset,
                            Bytes(snapshot.begin() + static_cast<std::ptrdiff_t>(offset),
                                  snapshot.begin() + static_cast<std::ptrdiff_t>(offset + size))};
  if (offset == 0) chunk.proof = stable_proof_;
  if (offset + size < snapshot.size()) {
    next_chunk_[to] = {low_, offset + size};
  } else {
    next_chunk_.erase(to);
  }
  send(Destination::replica(to), frame_of(sign(chunk)));
}

void PbftReplica::on_state_snapshot(ReplicaId from, const wire::StateSnapshot& ss) {
  if (ss.seq <= last_executed_ || ss.seq % config_.checkpoint_interval != 0) return;
  if (ss.total_bytes > config_.max_snapshot_bytes) return reject(Rejection::limit);
  // Every chunk but an empty snapshot's one moves the transfer forward.
  if (ss.offset > ss.total_bytes || ss.chunk.size() > ss.total_bytes - ss.offset ||
      (ss.chunk.empty() && ss.offset < ss.total_bytes)) {
    return reject(Rejection::invalid);
  }
  if (store() != nullptr) {
    // A store's state goes by tree walk: only the proof counts here.
    if (ss.offset != 0 || ss.total_bytes != 0) return reject(Rejection::invalid);
    const CertificateVerifier verify(config_, crypto_, checkpoint_quorum());
    if (!verify.checkpoint_proof(ss.seq, ss.proof)) return reject(Rejection::invalid);
    return begin_state_transfer(ss.seq, ss.proof);
  }
  if (ss.offset == 0) {
    // A first chunk starts a transfer, unless one of this or a later
    // snapshot is under way (a duplicate answer, or one overtaken).
    if (incoming_ && (incoming_->seq > ss.seq || (incoming_->seq == ss.seq && !incoming_->bytes.empty()))) return;
    const CertificateVerifier verify(config_, crypto_, checkpoint_quorum());
    const auto digest = verify.checkpoint_proof(ss.seq, ss.proof);
    // PROTOCOL.md pitfall: never trust a checkpoint digest without 2f+1 proof.
    if (!digest) return reject(Rejection::invalid);
    incoming_ = IncomingSnapshot{ss.seq, *digest, ss.proof, ss.total_bytes, {}, from, 0};
    // The transfer's target covers it, so the retransmission timer retries it.
    if (!transfer_target_ || *transfer_target_ < ss.seq) {
      transfer_target_ = ss.seq;
      transfer_proof_ = ss.proof;
    }
  } else if (!incoming_ || incoming_->seq != ss.seq || incoming_->source != from) {
    return;  // not the chunk we asked for: a late duplicate, or an answer to an earlier request
  } else if (incoming_->total_bytes != ss.total_bytes) {
    // The source we asked and the one that sent the first chunk disagree on
    // the snapshot's size: one of them lies. Start over from the next source.
    incoming_.reset();
    reject(Rejection::invalid);
    return begin_state_transfer(*transfer_target_, transfer_proof_);
  } else if (incoming_->bytes.size() != ss.offset) {
    return;  // an answer to an earlier request
  }
  IncomingSnapshot& in = *incoming_;
  in.bytes.insert(in.bytes.end(), ss.chunk.begin(), ss.chunk.end());
  if (in.bytes.size() < in.total_bytes) return ask_for_state(from);
  install_snapshot(from);
}

// The last chunk is in: the whole snapshot must match its proof's digest.
void PbftReplica::install_snapshot(ReplicaId from) {
  IncomingSnapshot in = std::move(*incoming_);
  incoming_.reset();
  // A wrong byte anywhere (a Byzantine source) costs this transfer; the
  // retransmission timer starts another, from the next source.
  if (crypto_.digest(in.bytes) != in.digest) return reject(Rejection::invalid);
  if (auto ok = whole().restore(in.bytes); !ok) return reject(Rejection::invalid);
  own_checkpoints_[in.seq] = OwnCheckpoint{in.digest, std::move(in.bytes), {}};
  installed_state(in.seq, in.digest, std::move(in.proof), from);
}

void PbftReplica::installed_state(Seq seq, const Digest& digest, std::vector<Signed<wire::Checkpoint>> proof,
                                  ReplicaId from) {
  ++state_transfers_;
  last_executed_ = seq;
  const Signed<wire::Checkpoint> message = sign(wire::Checkpoint{seq, digest});
  own_checkpoints_[seq].digest = digest;
  own_checkpoints_[seq].message = message;
  // Entries above the snapshot that were executed before can't be: we were behind.
  make_stable(seq, digest, std::move(proof));
  drop_executed_requests();
  send(Destination::all_replicas(), frame_of(message));
  // Then the batches committed after it, and the NEW-VIEW order that the
  // moved window now reaches.
  send_fetch_batches(from);
  adopt_new_view_order();
  execute_ready();
  maybe_propose();
}

// ---------------------------------------------------------------- tree walk
// A store-backed state (core/replicated_state.hpp) is transferred by
// walking its Merkle tree from the certified root (transfer/state_sync.hpp,
// docs/PROTOCOL.md "State transfer by tree walk"): one source at a time, the
// next signer of the proof when one lies or stalls.

namespace {
// Tree-walk answers served to one peer per half retransmission interval: a
// transfer pipelines a few requests per kind, so this is ample for an honest
// peer and bounds what a Byzantine one can make us send.
constexpr std::uint32_t kTreeAnswersPerWindow = 64;
}  // namespace

void PbftReplica::begin_tree_sync(Seq seq, const std::vector<Signed<wire::Checkpoint>>& proof) {
  SYNOD_ASSERT(seq > last_executed_ && !proof.empty(), "a certified state ahead of us");
  // Under way: a newer certified state is taken up only when the walk stalls
  // (retry_tree_sync), since moving costs a walk of everything pending and
  // the sources keep a pin we still fetch from (transfer::ServedPins).
  if (sync_) return;
  const Digest root = proof.front().message.state_digest;
  sync_.emplace(*store(), seq, root, config_.max_snapshot_bytes, sync_bugs());
  sync_proof_ = proof;
  sync_bytes_at_retry_ = 0;
  persist_sync();  // before any of the certified state lands in the store
  std::vector<ReplicaId> sources;
  for (const auto& s : sync_proof_)
    if (s.signer != self_) sources.push_back(s.signer);
  sync_source_ = sources.empty() ? self_ : sources[fetch_rotation_++ % sources.size()];
  if (sync_->done()) return finish_tree_sync();
  send_sync_requests();
}

void PbftReplica::retry_tree_sync() {
  if (!sync_) return begin_tree_sync(*transfer_target_, transfer_proof_);
  if (sync_->done()) return finish_tree_sync();  // resumed after a restart with nothing left
  // Nothing new arrived since the last retry: the next signer goes on from
  // where this one stopped (everything kept so far is verified). While
  // answers bring something, what is outstanding is queued behind them.
  if (sync_->stats().bytes == sync_bytes_at_retry_) {
    if (transfer_target_ && *transfer_target_ > sync_->seq()) {
      // Probably no longer served: the walk moves on to the newest certified
      // state, keeping what its root still certifies (StateSync::retarget).
      sync_->retarget(*transfer_target_, transfer_proof_.front().message.state_digest);
      sync_proof_ = transfer_proof_;
      persist_sync();
    }
    std::vector<ReplicaId> sources;
    for (const auto& s : sync_proof_)
      if (s.signer != self_) sources.push_back(s.signer);
    if (!sources.empty()) sync_source_ = sources[fetch_rotation_++ % sources.size()];
    sync_->retry();
    if (sync_->done()) return finish_tree_sync();
  }
  sync_bytes_at_retry_ = sync_->stats().bytes;
  send_sync_requests();
}

void PbftReplica::send_sync_requests() {
  for (wire::Message& m : sync_->next_requests()) {
    std::visit(
        [&](auto& request) {
          using M = std::decay_t<decltype(request)>;
          if constexpr (std::is_same_v<M, wire::FetchTree> || std::is_same_v<M, wire::FetchLeaves> ||
                        std::is_same_v<M, wire::FetchValues>) {
            send(Destination::replica(sync_source_), frame_to(sync_source_, request));
          }
        },
        m);
  }
}

void PbftReplica::after_sync_answer(ReplicaId from, transfer::Outcome outcome) {
  if (!sync_ || from != sync_source_) return;  // not the source we asked (any more)
  if (outcome == transfer::Outcome::bad) {
    // The source served something its certified digests do not cover: the
    // next signer goes on.
    reject(Rejection::invalid);
    sync_bytes_at_retry_ = sync_->stats().bytes;  // the rotation below counts as this round's
    std::vector<ReplicaId> sources;
    for (const auto& s : sync_proof_)
      if (s.signer != self_ && s.signer != from) sources.push_back(s.signer);
    if (!sources.empty()) sync_source_ = sources[fetch_rotation_++ % sources.size()];
    sync_->retry();
  }
  if (sync_->done()) return finish_tree_sync();
  send_sync_requests();
}

void PbftReplica::finish_tree_sync() {
  const Seq seq = sync_->seq();
  const Digest digest = sync_->root();
  std::vector<Signed<wire::Checkpoint>> proof = std::move(sync_proof_);
  const ReplicaId from = sync_source_;
  sync_.reset();
  auto& state = static_cast<StoreState&>(*state_);
  SYNOD_ASSERT(state.reload_clients().has_value(), "a certified state holds a well-formed client table");
  const Digest pinned = store()->pin(seq);
  SYNOD_ASSERT(pinned == digest || bugs_.unverified_tree_leaves || bugs_.stale_subtree_after_transfer,
               "the transferred state is the certified one");
  last_executed_ = seq;
  persist_applied();
  persist_sync();  // the transfer record goes
  installed_state(seq, digest, std::move(proof), from);
}

bool PbftReplica::may_serve_tree(ReplicaId to) {
  auto& [start, answers] = tree_served_[to];
  if (now_ >= start + retransmit_interval_us_ / 2) {
    start = now_;
    answers = 0;
  }
  return ++answers <= kTreeAnswersPerWindow;
}

void PbftReplica::on_fetch_tree(ReplicaId from, const wire::FetchTree& m) {
  if (store() == nullptr) return reject(Rejection::invalid);
  if (!store()->pinned(m.seq)) return;  // not (or no longer) ours to serve
  if (!may_serve_tree(from)) return reject(Rejection::limit);
  served_pins_.served(m.seq, now_);
  send(Destination::replica(from), frame_to(from, transfer::serve_tree(*store(), m)));
}

void PbftReplica::on_fetch_leaves(ReplicaId from, const wire::FetchLeaves& m) {
  if (store() == nullptr) return reject(Rejection::invalid);
  if (!store()->pinned(m.seq)) return;
  if (!may_serve_tree(from)) return reject(Rejection::limit);
  served_pins_.served(m.seq, now_);
  send(Destination::replica(from), frame_to(from, transfer::serve_leaves(*store(), m, config_.snapshot_chunk())));
}

void PbftReplica::on_fetch_values(ReplicaId from, const wire::FetchValues& m) {
  if (store() == nullptr) return reject(Rejection::invalid);
  if (!store()->pinned(m.seq)) return;
  if (!may_serve_tree(from)) return reject(Rejection::limit);
  served_pins_.served(m.seq, now_);
  send(Destination::replica(from), frame_to(from, transfer::serve_values(*store(), m, config_.snapshot_chunk())));
}

void PbftReplica::send_fetch_batches(std::optional<ReplicaId> to) {
  const wire::FetchBatches fb{view_, last_executed_ + 1, last_executed_ + config_.window};
  if (to) return send(Destination::replica(*to), frame_of(sign(fb)));
  // Round-robin over the others, so one silent replica cannot stall us.
  ReplicaId target = static_cast<ReplicaId>(fetch_rotation_++ % (n_ - 1));
  if (target >= self_) ++target;
  send(Destination::replica(target), frame_of(sign(fb)));
}

void PbftReplica::on_fetch_batches(ReplicaId from, const wire::FetchBatches& fb) {
  if (fb.from == 0 || fb.to < fb.from) return reject(Rejection::invalid);
  if (!may_serve(from)) return reject(Rejection::limit);
  if (fb.view < view_ && active_) help_lagging(from);
  if (fb.from <= low_ && low_ > 0) {
    // What it asks for is garbage-collected here: send the stable state.
    send_snapshot_chunk(from, 0);
  }
  wire::CommittedBatches reply;
  std::size_t bytes = 0;
  const std::size_t budget = config_.max_frame_bytes / kCatchUpBytesDivisor;
  for (Seq s = std::max(fb.from, low_ + 1); s <= fb.to && s <= low_ + config_.window; ++s) {
    auto it = log_.find(s);
    if (it == log_.end() || !it->second.committed) break;
    const Entry& e = it->second;
    const Batch* batch = find_batch(e, e.committed->digest);
    if (batch == nullptr || !provable_commit(it->second)) break;
    std::size_t size = 0;
    for (const auto& r : *batch) size += r.request.op.size() + r.signature.size() + 64;
    if (!reply.batches.empty() && bytes + size > budget) break;
    bytes += size;
    reply.batches.push_back(wire::CommittedBatch{e.committed->view, s, *batch, e.committed->commits});
  }
  if (!reply.batches.empty()) send(Destination::replica(from), frame_of(sign(reply)));
}

// True when e's commit proof holds 2f+1 valid signatures. In MAC mode the
// commits counted toward committed-local were authenticated by MAC only, so
// a Byzantine replica may have sent a good MAC with a bad signature: the
// signatures are checked here, once, and a bad one is replaced by another
// matching commit of the same view if this replica holds one.
bool PbftReplica::provable_commit(Entry& e) {
  Entry::Committed& c = *e.committed;
  if (c.signatures_checked) return c.commits.size() >= 2 * f_ + 1;
  const CertificateVerifier verify(config_, crypto_, checkpoint_quorum());
  std::vector<Signed<wire::Commit>> candidates = c.commits;
  if (e.view == c.view) {
    for (auto& extra : e.commits.matching(c.digest, n_)) candidates.push_back(std::move(extra));
  }
  std::vector<Signed<wire::Commit>> good;
  std::set<ReplicaId> tried;
  for (auto& commit : candidates) {
    if (good.size() == 2 * f_ + 1) break;
    if (!tried.insert(commit.signer).second) continue;
    if (verify.signature_ok(commit)) good.push_back(std::move(commit));
    else reject(Rejection::bad_authenticator);
  }
  if (good.size() < 2 * f_ + 1) return false;
  c.commits = std::move(good);
  c.signatures_checked = true;
  return true;
}

void PbftReplica::on_committed_batches(ReplicaId from, const wire::CommittedBatches& cbs) {
  (void)from;
  if (cbs.batches.size() > config_.window) return reject(Rejection::limit);
  const CertificateVerifier verify(config_, crypto_, checkpoint_quorum());
  for (const wire::CommittedBatch& cb : cbs.batches) {
    if (cb.seq <= last_executed_) continue;
    if (!in_window(cb.seq)) return reject(Rejection::out_of_window);
    // No batch bound here: the proof below shows the cluster accepted this
    // batch, maybe under larger bounds than this replica's (a restart with
    // smaller ones); the frame's size bounds its memory.
    const Digest d = batch_digest(cb.batch);
    // 2f+1 signed commits prove (view, seq, d) committed: f+1 correct
    // replicas prepared it, so no other digest can commit at seq.
    if (!verify.commit_proof(cb.view, cb.seq, d, cb.commits)) return reject(Rejection::invalid);
    Entry& e = log_[cb.seq];
    if (e.committed) {
      SYNOD_ASSERT(e.committed->digest == d, "two digests committed at one seq");
    } else {
      e.committed = Entry::Committed{cb.view, d, cb.commits, true};
    }
    e.batches.try_emplace(d, cb.batch);
  }
  execute_ready();
}

}  // namespace synod::pbft
