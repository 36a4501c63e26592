// pbft/new_view.hpp — pure functions over certificates: verifying the proofs
// replicas send each other (checkpoint proofs, prepared certificates, commit
// proofs, VIEW-CHANGE messages) and computing NEW-VIEW's O deterministically
// from a set V of view changes (PROTOCOL.md: view change, O). The primary and
// every backup run the same plan_new_view(), so a backup can reject a
// NEW-VIEW whose O differs.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "synod/config.hpp"
#include "synod/replica.hpp"
#include "wire/codec.hpp"
#include "wire/messages.hpp"

namespace synod::pbft {

class CertificateVerifier {
 public:
  CertificateVerifier(const ClusterConfig& config, const Crypto& crypto, std::size_t checkpoint_quorum)
      : n_(config.n()), f_(config.f), window_(config.window), crypto_(crypto),
        checkpoint_quorum_(checkpoint_quorum) {}

  template <class M>
  bool signature_ok(const wire::Signed<M>& s) const {
    if (s.signer >= n_) return false;
    const Principal signer = Principal::replica(s.signer);
    return crypto_.verify(signer, wire::signing_input(wire::type_of<M>, signer, wire::encode(s.message)),
                          s.signature);
  }

  // The digest the proof certifies for `seq`, if it holds checkpoint_quorum
  // validly signed CHECKPOINT(seq, d) from distinct replicas, all for one d.
  std::optional<Digest> checkpoint_proof(Seq seq, const std::vector<wire::Signed<wire::Checkpoint>>& proof) const;

  // A pre-prepare signed by the primary of its view (< below_view) and 2f
  // matching prepares from distinct backups.
  bool prepared_certificate(const wire::PreparedCertificate& cert, View below_view) const;

  // 2f+1 validly signed COMMIT(view, seq, digest) from distinct replicas.
  bool commit_proof(View view, Seq seq, const Digest& digest,
                    const std::vector<wire::Signed<wire::Commit>>& commits) const;

  // Signature and content of a VIEW-CHANGE: checkpoint proof for its stable
  // seq, one valid prepared certificate per seq inside its window.
  bool view_change(const wire::Signed<wire::ViewChange>& vc) const;

 private:
  ReplicaId primary(View v) const { return static_cast<ReplicaId>(v % n_); }
  std::uint32_t n_;
  std::uint32_t f_;
  std::uint32_t window_;
  const Crypto& crypto_;
  std::size_t checkpoint_quorum_;
};

struct NewViewPlan {
  View view = 0;
  Seq min_s = 0;  // highest stable checkpoint in V
  Digest min_digest{};
  std::vector<wire::Signed<wire::Checkpoint>> checkpoint_proof;  // its proof (empty when min_s == 0)
  Seq max_s = 0;  // highest seq of any prepared certificate in V (>= min_s)
  std::vector<std::pair<Seq, Digest>> order;  // O: every seq in (min_s, max_s], ascending
};

// V must hold only VIEW-CHANGEs for `view` that passed
// CertificateVerifier::view_change. For every seq in (min_s, max_s] O takes
// the digest of the certificate with the highest view (ties: the smaller
// digest, so the choice never depends on the order of V) or the null batch.
NewViewPlan plan_new_view(View view, const std::vector<wire::Signed<wire::ViewChange>>& v,
                          const Digest& null_digest);

}  // namespace synod::pbft
