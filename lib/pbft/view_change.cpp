// PBFT core: view change and new view. PROTOCOL.md, "View change".
#include <algorithm>

#include "pbft/replica.hpp"
#include "synod/assert.hpp"

namespace synod::pbft {

void PbftReplica::start_view_change(View target) {
  SYNOD_ASSERT(target > view_, "view changes only move forward");
  view_ = target;
  active_ = false;
  new_view_order_.clear();
  request_deadline_ = kNever;
  batch_deadline_ = kNever;
  new_view_deadline_ = kNever;
  new_view_frame_.reset();
  std::erase_if(view_changes_, [&](const auto& kv) { return kv.second.message.new_view < target; });
  pending_.unpropose_all();

  // VIEW-CHANGE(v+1, s_stable, C, P): P holds, for every seq above the
  // stable checkpoint, the prepared certificate of the highest view.
  wire::ViewChange vc{target, low_, low_ > 0 ? stable_proof_ : std::vector<Signed<wire::Checkpoint>>{}, {}};
  for (const auto& [seq, e] : log_) {
    if (e.prepared_cert) vc.prepared.push_back(*e.prepared_cert);
  }
  const Signed<wire::ViewChange> own = sign(vc);
  own_view_change_frame_ = frame_of(own);
  view_changes_[self_] = own;
  persist_view();  // durable before VIEW-CHANGE leaves: a restart resends the same one
  send(Destination::all_replicas(), *own_view_change_frame_);
}

void PbftReplica::help_lagging(ReplicaId to) {
  // `to` is still in an older view: the signed NEW-VIEW of ours brings it in.
  if (!active_ || !new_view_frame_ || !may_serve(to)) return reject(Rejection::wrong_view);
  send(Destination::replica(to), *new_view_frame_);
}

void PbftReplica::on_view_change(ReplicaId from, const wire::ViewChange& vc, const Bytes& signature) {
  if (vc.new_view < view_ || (vc.new_view == view_ && active_)) return help_lagging(from);
  auto known = view_changes_.find(from);
  if (known != view_changes_.end() && known->second.message.new_view >= vc.new_view) return;
  Signed<wire::ViewChange> svc{from, vc, signature};
  const CertificateVerifier verify(config_, crypto_, checkpoint_quorum());
  if (!verify.view_change(svc)) return reject(Rejection::invalid);
  view_changes_[from] = std::move(svc);
  check_view_change_progress();
}

void PbftReplica::check_view_change_progress() {
  // Liveness: on f+1 valid VIEW-CHANGEs for views above ours, join the
  // smallest of them at once (a faulty replica alone never forces this).
  // Each round moves view_ up past at least one stored view change: at most n rounds.
  for (std::size_t rounds = 0; rounds < n_; ++rounds) {
    std::size_t above = 0;
    View smallest = ~View{0};
    for (const auto& [r, svc] : view_changes_) {
      if (r == self_ || svc.message.new_view <= view_) continue;
      ++above;
      smallest = std::min(smallest, svc.message.new_view);
    }
    if (above < f_ + 1) break;
    start_view_change(smallest);
  }
  if (active_) return;
  std::size_t exactly = 0;
  std::size_t at_least = 0;
  for (const auto& [r, svc] : view_changes_) {
    exactly += svc.message.new_view == view_ ? 1 : 0;
    at_least += svc.message.new_view >= view_ ? 1 : 0;
  }
  // 2f+1 VIEW-CHANGEs: wait T for the NEW-VIEW (PROTOCOL.md liveness rule).
  // Those for later views count too: replicas split across views (a faulty
  // one can arrange that) otherwise wait for each other forever. They show
  // f+1 correct replicas gave up on every view below theirs.
  if (at_least >= 2 * f_ + 1 && new_view_deadline_ == kNever) new_view_deadline_ = now_ + view_change_timeout_us_;
  if (exactly >= 2 * f_ + 1 && primary(view_) == self_) send_new_view();
}

void PbftReplica::send_new_view() {
  SYNOD_ASSERT(!active_ && primary(view_) == self_, "only the new primary sends NEW-VIEW");
  // V: our own view change first, then the lowest replica ids.
  std::vector<Signed<wire::ViewChange>> v{view_changes_.at(self_)};
  for (const auto& [r, svc] : view_changes_) {
    if (v.size() == 2 * f_ + 1) break;
    if (r != self_ && svc.message.new_view == view_) v.push_back(svc);
  }
  SYNOD_ASSERT(v.size() == 2 * f_ + 1, "NEW-VIEW carries 2f+1 view changes");
  const NewViewPlan plan = plan_new_view(view_, v, null_digest_);
  std::vector<Signed<wire::PrePrepareHeader>> o;
  o.reserve(plan.order.size());
  for (const auto& [seq, digest] : plan.order) o.push_back(sign(wire::PrePrepareHeader{view_, seq, digest}));
  const wire::NewView nv{view_, std::move(v), o};
  Bytes frame = wire::make_frame(me(), nv, [&](ByteView input) { return crypto_.sign(input); });
  install_new_view(plan, o, frame);  // persists the NEW-VIEW before it leaves
  send(Destination::all_replicas(), std::move(frame));
}

void PbftReplica::on_new_view(ReplicaId from, const wire::NewView& nv, const Bytes& signature, ByteView frame) {
  (void)signature;
  if (nv.view < view_ || (nv.view == view_ && active_)) return;
  if (from != primary(nv.view)) return reject(Rejection::invalid);
  if (nv.view_changes.size() < 2 * f_ + 1 || nv.view_changes.size() > n_) return reject(Rejection::invalid);
  const CertificateVerifier verify(config_, crypto_, checkpoint_quorum());
  std::vector<ReplicaId> signers;
  for (const auto& svc : nv.view_changes) {
    // A VIEW-CHANGE identical to one this replica verified on arrival (or
    // its own) is not verified again: at f = 3 with a full window each one
    // holds hundreds of signatures.
    const auto known = view_changes_.find(svc.signer);
    const bool verified = known != view_changes_.end() && known->second == svc;
    if (svc.message.new_view != nv.view || (!verified && !verify.view_change(svc))) return reject(Rejection::invalid);
    if (std::find(signers.begin(), signers.end(), svc.signer) != signers.end()) return reject(Rejection::invalid);
    signers.push_back(svc.signer);
  }
  const NewViewPlan plan = plan_new_view(nv.view, nv.view_changes, null_digest_);
  if (nv.pre_prepares.size() > config_.window) return reject(Rejection::invalid);
  for (const auto& o : nv.pre_prepares) {
    if (o.signer != from || o.message.view != nv.view || !verify.signature_ok(o)) return reject(Rejection::invalid);
  }
  // PROTOCOL.md: every backup recomputes O from V and rejects a NEW-VIEW
  // that differs (the deliberately broken variant skips this).
  if (!bugs_.skip_new_view_check) {
    if (nv.pre_prepares.size() != plan.order.size()) return reject(Rejection::invalid);
    for (std::size_t i = 0; i < plan.order.size(); ++i) {
      const auto& h = nv.pre_prepares[i].message;
      if (h.seq != plan.order[i].first || h.digest != plan.order[i].second) return reject(Rejection::invalid);
    }
  }
  if (nv.view > view_) {
    // We never sent VIEW-CHANGE for this view, but 2f+1 others did.
    view_ = nv.view;
    active_ = false;
  }
  install_new_view(plan, nv.pre_prepares, Bytes(frame.begin(), frame.end()));
}

void PbftReplica::adopt_new_view_order() {
  if (!active_) return;
  for (const auto& pp : new_view_order_) {
    const Seq seq = pp.message.seq;
    if (!in_window(seq)) continue;
    Entry& e = log_[seq];
    enter_view(e);
    if (e.pre_prepare) continue;  // adopted before
    e.pre_prepare = pp;
    prune_batches(e);
    if (is_primary()) {
      persist_entry(seq, e);
    } else {
      send_prepare(seq, e);
    }
    check_prepared(seq);
  }
}

void PbftReplica::install_new_view(const NewViewPlan& plan, const std::vector<Signed<wire::PrePrepareHeader>>& o,
                                   Bytes new_view_frame) {
  SYNOD_ASSERT(plan.view == view_ && !active_, "a NEW-VIEW is installed for the view being changed to");
  active_ = true;
  ++view_changes_installed_;
  new_view_deadline_ = kNever;
  own_view_change_frame_.reset();
  new_view_frame_ = std::move(new_view_frame);
  std::erase_if(view_changes_, [&](const auto& kv) { return kv.second.message.new_view <= view_; });
  persist_view();

  // The stable checkpoint of V: adopt it, or fetch its state.
  if (plan.min_s > low_) {
    auto own = own_checkpoints_.find(plan.min_s);
    if (own != own_checkpoints_.end() && own->second.digest == plan.min_digest) {
      make_stable(plan.min_s, plan.min_digest, plan.checkpoint_proof);
    } else if (plan.min_s > last_executed_) {
      begin_state_transfer(plan.min_s, plan.checkpoint_proof);
    }
  }
  // Old-view pre-prepares and votes are void; certificates and commit
  // proofs stay.
  for (auto& [seq, e] : log_) enter_view(e);
  new_view_order_ = o;
  adopt_new_view_order();
  // The new primary continues right after O: seqs above max_s carry no
  // pre-prepare in this view, and a gap would stall execution. (O entries
  // beyond a lagging replica's window are adopted once its window moves.)
  next_seq_ = std::max(plan.max_s, low_) + 1;
  // Requests not executed yet are proposed again by the new primary.
  pending_.unpropose_all();
  request_deadline_ = kNever;
  arm_request_timer();
  if (is_primary()) maybe_propose();
  execute_ready();
}

}  // namespace synod::pbft
