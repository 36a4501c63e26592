#include "pbft/new_view.hpp"

#include <map>
#include <set>

#include "synod/assert.hpp"

namespace synod::pbft {

std::optional<Digest> CertificateVerifier::checkpoint_proof(
    Seq seq, const std::vector<wire::Signed<wire::Checkpoint>>& proof) const {
  if (proof.empty() || proof.size() > n_) return std::nullopt;
  const Digest digest = proof.front().message.state_digest;
  std::set<ReplicaId> signers;
  for (const auto& s : proof) {
    if (s.message.seq != seq || s.message.state_digest != digest) return std::nullopt;
    if (!signers.insert(s.signer).second) return std::nullopt;
    if (!signature_ok(s)) return std::nullopt;
  }
  if (signers.size() < checkpoint_quorum_) return std::nullopt;
  return digest;
}

bool CertificateVerifier::prepared_certificate(const wire::PreparedCertificate& cert, View below_view) const {
  const auto& pp = cert.pre_prepare;
  const wire::PrePrepareHeader& h = pp.message;
  if (h.view >= below_view || h.seq == 0) return false;
  if (pp.signer != primary(h.view) || !signature_ok(pp)) return false;
  if (cert.prepares.size() < 2 * f_ || cert.prepares.size() > n_) return false;
  std::set<ReplicaId> signers;
  for (const auto& p : cert.prepares) {
    if (p.message.view != h.view || p.message.seq != h.seq || p.message.digest != h.digest) return false;
    if (p.signer == pp.signer || !signers.insert(p.signer).second) return false;
    if (!signature_ok(p)) return false;
  }
  return true;
}

bool CertificateVerifier::commit_proof(View view, Seq seq, const Digest& digest,
                                       const std::vector<wire::Signed<wire::Commit>>& commits) const {
  if (commits.size() < 2 * f_ + 1 || commits.size() > n_) return false;
  std::set<ReplicaId> signers;
  for (const auto& c : commits) {
    if (c.message.view != view || c.message.seq != seq || c.message.digest != digest) return false;
    if (!signers.insert(c.signer).second || !signature_ok(c)) return false;
  }
  return true;
}

bool CertificateVerifier::view_change(const wire::Signed<wire::ViewChange>& svc) const {
  const wire::ViewChange& vc = svc.message;
  if (vc.new_view == 0 || vc.prepared.size() > window_) return false;
  if (!signature_ok(svc)) return false;
  if (vc.stable_seq == 0) {
    if (!vc.checkpoint_proof.empty()) return false;
  } else if (!checkpoint_proof(vc.stable_seq, vc.checkpoint_proof)) {
    return false;
  }
  Seq previous = vc.stable_seq;
  for (const auto& cert : vc.prepared) {
    const Seq s = cert.pre_prepare.message.seq;
    // One certificate per seq, ascending, inside the sender's window.
    if (s <= previous || s > vc.stable_seq + window_) return false;
    if (!prepared_certificate(cert, vc.new_view)) return false;
    previous = s;
  }
  return true;
}

NewViewPlan plan_new_view(View view, const std::vector<wire::Signed<wire::ViewChange>>& v,
                          const Digest& null_digest) {
  NewViewPlan plan;
  plan.view = view;
  for (const auto& svc : v) {
    SYNOD_ASSERT(svc.message.new_view == view, "V holds view changes for this view only");
    if (svc.message.stable_seq > plan.min_s) {
      plan.min_s = svc.message.stable_seq;
      plan.checkpoint_proof = svc.message.checkpoint_proof;
      plan.min_digest = plan.checkpoint_proof.empty() ? Digest{} : plan.checkpoint_proof.front().message.state_digest;
    }
  }
  // The highest-view certificate per seq above min_s.
  std::map<Seq, std::pair<View, Digest>> best;
  for (const auto& svc : v) {
    for (const auto& cert : svc.message.prepared) {
      const auto& h = cert.pre_prepare.message;
      if (h.seq <= plan.min_s) continue;
      auto [it, fresh] = best.try_emplace(h.seq, h.view, h.digest);
      if (fresh) continue;
      if (h.view > it->second.first || (h.view == it->second.first && h.digest < it->second.second)) {
        it->second = {h.view, h.digest};
      }
    }
  }
  plan.max_s = best.empty() ? plan.min_s : best.rbegin()->first;
  for (Seq s = plan.min_s + 1; s <= plan.max_s; ++s) {
    auto it = best.find(s);
    plan.order.emplace_back(s, it == best.end() ? null_digest : it->second.second);
  }
  return plan;
}

}  // namespace synod::pbft
