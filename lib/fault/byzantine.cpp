#include "fault/byzantine.hpp"

#include <algorithm>
#include <limits>
#include <variant>

#include "synod/assert.hpp"
#include "wire/authenticate.hpp"
#include "wire/codec.hpp"

namespace synod::fault {

namespace {

constexpr const char* kStrategyNames[byzantine::count_] = {
    "silent", "equivocate", "corrupt-signatures", "conflicting-votes", "replay",
    "bad-view-change", "bad-checkpoint", "flood", "twins", "bad-new-view", "bad-state-transfer", "censor"};

constexpr TimeUs kNever = std::numeric_limits<TimeUs>::max();

}  // namespace

std::string describe_strategies(std::uint32_t strategies) {
  std::string text;
  for (std::uint32_t i = 0; i < byzantine::count_; ++i) {
    if ((strategies & (1u << i)) == 0) continue;
    if (!text.empty()) text += "+";
    text += kStrategyNames[i];
  }
  return text.empty() ? "none" : text;
}

ByzantineReplica::ByzantineReplica(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                   std::uint32_t strategies, Prng prng, std::uint64_t collusion, Options options)
    : config_(&config),
      self_(self),
      crypto_(&crypto),
      strategies_(strategies),
      prng_(prng),
      collusion_(collusion),
      forward_persist_(options.forward_persist),
      corrupt_one_in_(options.corrupt_one_in),
      forged_operation_(std::move(options.forged_operation)) {
  SYNOD_ASSERT(self < config.n(), "a Byzantine replica is a replica");
  SYNOD_ASSERT(strategies < (1u << byzantine::count_), "known strategies only");
  SYNOD_ASSERT(corrupt_one_in_ > 0, "corrupt one frame in a positive number");
  if (forged_operation_.empty()) forged_operation_ = {'f', 'o', 'r', 'g', 'e', 'd'};
  const std::size_t cores = has(byzantine::twins) ? 2 : 1;
  SYNOD_ASSERT(options.app == nullptr || cores == 1, "an external application serves one inner core");
  SYNOD_ASSERT(options.app != nullptr || options.make_app || options.make_store_app, "an application for the inner core");
  inner_.resize(cores);
  for (Inner& inner : inner_) {
    inner.durable = options.durable;
    Result<std::unique_ptr<Replica>> core;
    if (options.make_store_app) {
      inner.store_app = options.make_store_app();
      inner.store = std::make_unique<MemoryStore>();
      if (options.prepare_store) options.prepare_store(*inner.store);
      core = pbft::make_replica(config, self, crypto, *inner.store_app, *inner.store, inner.durable);
    } else {
      if (options.app != nullptr) {
        inner.app = options.app;
      } else {
        inner.owned_app = options.make_app();
        inner.app = inner.owned_app.get();
      }
      core = pbft::make_replica(config, self, crypto, *inner.app, inner.durable);
    }
    SYNOD_ASSERT(core.has_value(), "a Byzantine replica's configuration is valid");
    inner.core = std::move(*core);
  }
  // The two halves: every other replica lands in one; equivocation and
  // twins show half B something else than half A.
  half_b_.assign(config.n(), false);
  silent_to_.assign(config.n(), false);
  const bool silent_to_everyone = prng_.chance(1, 2);
  for (ReplicaId j = 0; j < config.n(); ++j) {
    if (j == self) continue;
    half_b_[j] = prng_.chance(1, 2);
    silent_to_[j] = silent_to_everyone || prng_.chance(1, 2);
  }
  silent_to_clients_ = silent_to_everyone || prng_.chance(1, 2);
  // Overrides after the draws, so the simulator's draws stay as they were.
  if (options.even_halves) {
    bool next_b = false;
    for (ReplicaId j = 0; j < config.n(); ++j) {
      if (j == self) continue;
      half_b_[j] = next_b;
      next_b = !next_b;
    }
  }
  if (options.silent_to_all) {
    for (ReplicaId j = 0; j < config.n(); ++j) silent_to_[j] = j != self;
    silent_to_clients_ = true;
  }
}

View ByzantineReplica::view() const { return inner_[0].core->status().view; }

ReplicaStatus ByzantineReplica::status() const { return inner_[0].core->status(); }

std::vector<PersistOp> ByzantineReplica::take_persisted() {
  std::vector<PersistOp> ops;
  ops.swap(persisted_);
  return ops;
}

std::size_t ByzantineReplica::core_for(ReplicaId peer) const {
  return (inner_.size() == 2 && peer < half_b_.size() && half_b_[peer]) ? 1 : 0;
}

TimeUs ByzantineReplica::next_deadline() const {
  TimeUs earliest = kNever;
  for (const Inner& inner : inner_) earliest = std::min(earliest, inner.core->next_deadline());
  return earliest;
}

void ByzantineReplica::receive(TimeUs now, Principal from, ByteView frame, std::vector<OutboundFrame>& out) {
  if (has(byzantine::replay)) remember(Bytes(frame.begin(), frame.end()));
  if ((has(byzantine::equivocate) || has(byzantine::bad_state_transfer)) && from.is_client()) {
    remember_request(frame);
  }
  for (std::size_t i = 0; i < inner_.size(); ++i) {
    // Twins: a replica's messages reach only the twin that replica talks to;
    // client requests reach both.
    if (from.is_replica() && core_for(from.id) != i) continue;
    effects_.clear();
    inner_[i].core->receive(now, frame, effects_);
    drain(i, effects_, out);
  }
}

void ByzantineReplica::tick(TimeUs now, std::vector<OutboundFrame>& out) {
  for (std::size_t i = 0; i < inner_.size(); ++i) {
    if (inner_[i].core->next_deadline() > now) continue;
    effects_.clear();
    inner_[i].core->tick(now, effects_);
    drain(i, effects_, out);
  }
}

void ByzantineReplica::drain(std::size_t core, Effects& effects, std::vector<OutboundFrame>& out) {
  // The inner core is honest code: it gets its own durable map (never
  // crashed), so it stays internally consistent whatever we send.
  Inner& inner = inner_[core];
  if (forward_persist_ && core == 0) {
    persisted_.insert(persisted_.end(), effects.persist.begin(), effects.persist.end());
  }
  for (PersistOp& op : effects.persist) {
    if (op.value) {
      inner.durable[op.key] = std::move(*op.value);
    } else {
      inner.durable.erase(op.key);
    }
  }
  if (inner.store) inner.store->commit();
  for (const OutboundFrame& frame : effects.send) emit(core, frame, out);
}

void ByzantineReplica::emit_to(ReplicaId peer, const Bytes& frame, std::vector<OutboundFrame>& out) {
  if (has(byzantine::silent) && silent_to_[peer]) return;
  if (has(byzantine::corrupt_signatures) && prng_.chance(1, corrupt_one_in_)) {
    out.push_back({Destination::replica(peer), corrupt_authenticator(frame)});
    return;
  }
  out.push_back({Destination::replica(peer), frame});
}

void ByzantineReplica::emit(std::size_t core, const OutboundFrame& frame, std::vector<OutboundFrame>& out) {
  if (has(byzantine::replay)) remember(frame.frame);
  if (frame.to.kind == Destination::Kind::client) {
    if (has(byzantine::silent) && silent_to_clients_) return;
    out.push_back(frame);
    return;
  }
  // Decode once, to decide on a variant for half B.
  std::optional<Bytes> variant;
  std::optional<Bytes> replacement;  // sent to everyone instead of the original
  const bool inspect = has(byzantine::equivocate) || has(byzantine::conflicting_votes) ||
                       has(byzantine::bad_view_change) || has(byzantine::bad_checkpoint) ||
                       has(byzantine::bad_new_view) || has(byzantine::bad_state_transfer) ||
                       has(byzantine::censor);
  if (inspect) {
    const auto envelope = wire::decode_envelope(frame.frame);
    SYNOD_ASSERT(envelope.has_value(), "the inner honest core sends well-formed frames");
    const auto message = wire::decode_message(*envelope);
    SYNOD_ASSERT(message.has_value(), "the inner honest core sends well-formed messages");
    if (const auto* pp = std::get_if<wire::PrePrepare>(&*message); pp && has(byzantine::censor)) {
      replacement = censored_pre_prepare(*pp);  // the same censored batch to everyone
    } else if (const auto* pp = std::get_if<wire::PrePrepare>(&*message); pp && has(byzantine::equivocate)) {
      variant = equivocating_pre_prepare(*pp);
    } else if (std::holds_alternative<wire::Prepare>(*message) || std::holds_alternative<wire::Commit>(*message)) {
      if (has(byzantine::conflicting_votes)) variant = conflicting_vote(*message);
    } else if (const auto* vc = std::get_if<wire::ViewChange>(&*message); vc && has(byzantine::bad_view_change)) {
      replacement = tampered_view_change(*vc);
    } else if (const auto* nv = std::get_if<wire::NewView>(&*message); nv && has(byzantine::bad_new_view)) {
      // An O that V does not justify, to everyone (so that every correct
      // replica that has not executed a tampered seq yet can commit the
      // null batch there) or to half B only.
      if (prng_.chance(1, 2)) {
        replacement = tampered_new_view(*nv);
      } else {
        variant = tampered_new_view(*nv);
      }
    } else if ((std::holds_alternative<wire::StateSnapshot>(*message) ||
                std::holds_alternative<wire::CommittedBatches>(*message)) &&
               has(byzantine::bad_state_transfer)) {
      replacement = tampered_state(*message);
    } else if ((std::holds_alternative<wire::TreeNodes>(*message) ||
                std::holds_alternative<wire::LeafEntries>(*message) ||
                std::holds_alternative<wire::Values>(*message)) &&
               has(byzantine::bad_state_transfer)) {
      SYNOD_ASSERT(frame.to.kind == Destination::Kind::replica, "a tree-walk answer goes to one replica");
      replacement = tampered_tree_answer(core, frame.to.id, *message);
    } else if (const auto* cp = std::get_if<wire::Checkpoint>(&*message); cp && has(byzantine::bad_checkpoint)) {
      wire::Checkpoint wrong = *cp;
      // The same wrong digest from every Byzantine replica for this seq.
      Prng agreed(mix64(collusion_ ^ cp->seq));
      for (std::size_t i = 0; i < wrong.state_digest.size(); ++i) {
        wrong.state_digest[i] = static_cast<std::uint8_t>(agreed.next());
      }
      if (prng_.chance(1, 2)) {
        replacement = sign_frame_as_self(wrong);  // everyone gets the wrong digest
      } else {
        variant = sign_frame_as_self(wrong);  // half B gets the wrong digest
      }
    }
  }
  const Bytes& base = replacement ? *replacement : frame.frame;
  for (ReplicaId peer = 0; peer < config_->n(); ++peer) {
    if (peer == self_) continue;
    if (frame.to.kind == Destination::Kind::replica && frame.to.id != peer) continue;
    if (core_for(peer) != core) continue;  // Twins: the other twin serves this peer
    emit_to(peer, (variant && half_b_[peer]) ? *variant : base, out);
  }
}

Bytes ByzantineReplica::sign_frame_as_self(const wire::Message& message) const {
  return std::visit(
      [this](const auto& m) {
        return wire::make_frame(Principal::replica(self_), m, [this](ByteView d) { return crypto_->sign(d); });
      },
      message);
}

// A tree-walk answer is authenticated as an honest pbft replica's would be:
// one MAC for its receiver in MAC mode (wire::point_to_point).
Bytes ByzantineReplica::frame_as_self_to(ReplicaId to, const wire::Message& message) const {
  if (config_->authentication != Authentication::macs) return sign_frame_as_self(message);
  return std::visit(
      [&](const auto& m) {
        return wire::make_frame(Principal::replica(self_), m, [&](ByteView input) {
          return wire::point_to_point_authenticator(*crypto_, to, input);
        });
      },
      message);
}

Bytes ByzantineReplica::corrupt_authenticator(const Bytes& frame) {
  auto envelope = wire::decode_envelope(frame);
  SYNOD_ASSERT(envelope.has_value(), "we only corrupt frames we produced");
  if (envelope->authenticator.empty()) {
    envelope->authenticator.push_back(0x5a);
  } else {
    envelope->authenticator[prng_.below(envelope->authenticator.size())] ^=
        static_cast<std::uint8_t>(1u << prng_.below(8));
  }
  return wire::encode_envelope(*envelope);
}

Digest ByzantineReplica::random_digest() {
  Digest d;
  for (std::size_t i = 0; i < d.size(); i += 8) {
    const std::uint64_t word = prng_.next();
    for (std::size_t b = 0; b < 8; ++b) d[i + b] = static_cast<std::uint8_t>(word >> (8 * b));
  }
  return d;
}

Bytes ByzantineReplica::random_signature() {
  const Digest d = random_digest();
  return Bytes(d.begin(), d.begin() + 16);
}

std::optional<Bytes> ByzantineReplica::equivocating_pre_prepare(const wire::PrePrepare& original) {
  wire::PrePrepare other = original;
  wire::Batch& batch = other.batch;
  // Half the time the header (and its signature) stays as it is: the batch
  // no longer matches the signed digest, which only a backup that hashes the
  // batch notices (PROTOCOL.md: d = digest(batch)).
  const bool lying = prng_.chance(1, 2);
  const std::uint64_t how = prng_.below(5);
  if (how == 4 && !config_->clients.empty()) {
    // A request no client signed (it cannot sign as a client): a backup
    // must authenticate every request in a batch (PROTOCOL.md pitfall).
    const ClientInfo& victim = config_->clients[prng_.below(config_->clients.size())];
    wire::SignedRequest forged;
    forged.request = wire::Request{victim.id, 2'000'000 + prng_.below(1000), false, forged_operation_};
    forged.signature = random_signature();
    batch.push_back(std::move(forged));
  } else if (how == 0 && batch.size() >= 2) {
    std::reverse(batch.begin(), batch.end());
  } else if (how == 1 && !batch.empty()) {
    batch.pop_back();  // a request dropped (a null batch when it was the only one)
  } else if (how == 2 && !batch.empty()) {
    batch.push_back(batch.front());  // the same request twice: at-most-once bait
  } else if (!request_pool_.empty()) {
    // An old, validly client-signed request, maybe already executed.
    batch.push_back(request_pool_[prng_.below(request_pool_.size())]);
  } else {
    return std::nullopt;
  }
  if (lying) {
    // Re-encode the envelope with the original authenticator: the signature
    // covers only the header, which is unchanged.
    wire::Envelope envelope;
    envelope.type = wire::MsgType::pre_prepare;
    envelope.sender = Principal::replica(self_);
    envelope.payload = wire::encode(other);
    envelope.authenticator = crypto_->sign(
        wire::signing_input(wire::MsgType::pre_prepare, Principal::replica(self_), wire::encode(other.header)));
    return wire::encode_envelope(envelope);
  }
  other.header.digest = crypto_->digest(wire::encode_batch(batch));
  if (other.header.digest == original.header.digest) return std::nullopt;
  return sign_frame_as_self(other);
}

std::optional<Bytes> ByzantineReplica::censored_pre_prepare(const wire::PrePrepare& original) {
  // Client 0's requests never get ordered, everyone else's do: a correct
  // backup's timer for client 0's request must still expire and depose this
  // primary (PROTOCOL.md: view change on a pending request's timeout), even
  // though other requests keep executing.
  constexpr ClientId kVictim = 0;
  wire::PrePrepare censored = original;
  std::erase_if(censored.batch, [](const wire::SignedRequest& r) { return r.request.client == kVictim; });
  if (censored.batch.size() == original.batch.size()) return std::nullopt;
  censored.header.digest = crypto_->digest(wire::encode_batch(censored.batch));
  return sign_frame_as_self(censored);
}

// A tree-walk answer (transfer/state_sync.hpp) that its certified digests do
// not cover: a child digest, a listed entry, a listing's count or a value is
// wrong. The receiver must check each against the digest above it.
std::optional<Bytes> ByzantineReplica::tampered_tree_answer(std::size_t core, ReplicaId to,
                                                          const wire::Message& message) {
  // Drawn at the first answer (a whole-state run never gets here, so its
  // draws stay as they were): lie at random, or serve the current state's
  // leaves and values under the pinned state's honest interior digests.
  if (!other_state_leaves_) other_state_leaves_ = inner_[core].store != nullptr && prng_.chance(1, 2);
  if (*other_state_leaves_) return other_state_answer(core, to, message);
  // Some answers stay honest, so a walk from this source gets past the root
  // and meets lies at every depth.
  if (prng_.chance(1, 2)) return std::nullopt;
  if (const auto* nodes = std::get_if<wire::TreeNodes>(&message)) {
    wire::TreeNodes wrong = *nodes;
    if (wrong.nodes.empty()) return std::nullopt;
    wire::TreeChildren& tc = wrong.nodes[prng_.below(wrong.nodes.size())];
    if (prng_.chance(1, 4) && !tc.children.empty()) {
      tc.children.pop_back();
    } else if (!tc.children.empty()) {
      tc.children[prng_.below(tc.children.size())] = random_digest();
    }
    return frame_as_self_to(to, wrong);
  }
  if (const auto* leaves = std::get_if<wire::LeafEntries>(&message)) {
    wire::LeafEntries wrong = *leaves;
    if (wrong.parts.empty()) return std::nullopt;
    wire::LeafPart& part = wrong.parts[prng_.below(wrong.parts.size())];
    if (part.entries.empty()) return std::nullopt;
    switch (prng_.below(3)) {
      case 0: part.entries[prng_.below(part.entries.size())].digest = random_digest(); break;
      case 1:  // truncated, and the count says that is all
        part.entries.pop_back();
        part.total = part.from + static_cast<std::uint32_t>(part.entries.size());
        break;
      default: part.entries.front().key.push_back('~'); break;  // a key it never held
    }
    return frame_as_self_to(to, wrong);
  }
  const auto* values = std::get_if<wire::Values>(&message);
  SYNOD_ASSERT(values != nullptr, "a tree-walk answer is nodes, leaves or values");
  wire::Values wrong = *values;
  if (wrong.values.empty()) return std::nullopt;
  wire::KeyValue& kv = wrong.values[prng_.below(wrong.values.size())];
  if (prng_.chance(1, 4)) {
    kv.present = false;
    kv.value.clear();
  } else {
    kv.value.push_back(static_cast<std::uint8_t>(prng_.next()));
  }
  return frame_as_self_to(to, wrong);
}

// Another state's leaves: listings and values as the store holds them now,
// not as pinned. They agree with each other (each value hashes to its listed
// entry digest), and the interior digests are honest: only a listing's check
// against its leaf's certified digest tells them apart.
std::optional<Bytes> ByzantineReplica::other_state_answer(std::size_t core, ReplicaId to,
                                                        const wire::Message& message) {
  const MemoryStore& store = *inner_[core].store;
  if (const auto* leaves = std::get_if<wire::LeafEntries>(&message)) {
    wire::LeafEntries wrong = *leaves;
    bool changed = false;
    for (wire::LeafPart& part : wrong.parts) {
      std::vector<BucketEntry> now = store.bucket(part.bucket);
      if (now.empty() || part.from != 0 || now.size() > wire::kMaxLeafEntriesPerPart) continue;
      std::vector<wire::LeafEntry> entries;
      for (BucketEntry& e : now) entries.push_back(wire::LeafEntry{std::move(e.key), e.digest});
      if (entries == part.entries) continue;
      part.total = static_cast<std::uint32_t>(entries.size());
      part.entries = std::move(entries);
      changed = true;
    }
    return changed ? std::optional<Bytes>(frame_as_self_to(to, wrong)) : std::nullopt;
  }
  if (const auto* values = std::get_if<wire::Values>(&message)) {
    wire::Values wrong = *values;
    for (wire::KeyValue& v : wrong.values) {
      std::optional<Bytes> now = store.get(v.key);
      v.present = now.has_value();
      v.value = now.value_or(Bytes{});
    }
    return wrong == *values ? std::nullopt : std::optional<Bytes>(frame_as_self_to(to, wrong));
  }
  return std::nullopt;  // interior digests stay honest
}

std::optional<Bytes> ByzantineReplica::tampered_state(const wire::Message& message) {
  // Validly signed by us, but the content does not match its proof: the
  // receiver must check the snapshot digest against the 2f+1 checkpoint
  // proof and each batch against its 2f+1 commits (PROTOCOL.md pitfalls).
  if (const auto* snapshot = std::get_if<wire::StateSnapshot>(&message)) {
    // A wrong byte in a chunk, or a wrong size for the whole snapshot; or
    // (a store's announcement, no bytes) a root its proof does not certify.
    wire::StateSnapshot wrong = *snapshot;
    if (wrong.total_bytes == 0 && !wrong.proof.empty() && prng_.chance(1, 2)) {
      for (auto& vote : wrong.proof) vote.message.state_digest = random_digest();
      return sign_frame_as_self(wrong);
    }
    if (prng_.chance(1, 4)) {
      wrong.total_bytes = prng_.chance(1, 2) ? wrong.total_bytes + 1 + prng_.below(64) : ~std::uint64_t{0};
    } else {
      if (wrong.chunk.empty()) return std::nullopt;
      wrong.chunk[prng_.below(wrong.chunk.size())] ^= 0x01;
    }
    return sign_frame_as_self(wrong);
  }
  const auto* batches = std::get_if<wire::CommittedBatches>(&message);
  SYNOD_ASSERT(batches != nullptr, "state transfer is a snapshot or committed batches");
  wire::CommittedBatches wrong = *batches;
  bool changed = false;
  for (wire::CommittedBatch& b : wrong.batches) {
    if (!prng_.chance(1, 2)) continue;
    if (b.batch.empty() && !request_pool_.empty()) {
      b.batch.push_back(request_pool_[prng_.below(request_pool_.size())]);
    } else if (!b.batch.empty()) {
      b.batch.pop_back();
    } else {
      continue;
    }
    changed = true;
  }
  if (!changed) return std::nullopt;
  return sign_frame_as_self(wrong);
}

std::optional<Bytes> ByzantineReplica::tampered_new_view(const wire::NewView& original) {
  if (original.pre_prepares.empty()) return std::nullopt;
  wire::NewView nv = original;
  // Turn some re-proposed batches into null batches (or drop them): the
  // backups that believe it would order a no-op where a batch may already
  // have committed. The headers are signed by the new primary, i.e. by us.
  const Digest null_digest = crypto_->digest(wire::encode_batch(wire::Batch{}));
  bool changed = false;
  for (std::size_t i = 0; i < nv.pre_prepares.size(); ++i) {
    auto& pp = nv.pre_prepares[i];
    if (pp.message.digest == null_digest || !prng_.chance(1, 2)) continue;
    pp.message.digest = null_digest;
    pp.signature = crypto_->sign(
        wire::signing_input(wire::MsgType::pre_prepare, Principal::replica(self_), wire::encode(pp.message)));
    changed = true;
  }
  if (!changed) {
    nv.pre_prepares.pop_back();  // O shorter than V implies
  }
  return sign_frame_as_self(nv);
}

std::optional<Bytes> ByzantineReplica::conflicting_vote(const wire::Message& message) {
  if (!prng_.chance(1, 2)) return std::nullopt;
  if (const auto* p = std::get_if<wire::Prepare>(&message)) {
    wire::Prepare other = *p;
    other.digest = random_digest();
    return sign_frame_as_self(other);
  }
  const auto* c = std::get_if<wire::Commit>(&message);
  SYNOD_ASSERT(c != nullptr, "a vote is a prepare or a commit");
  wire::Commit other = *c;
  other.digest = random_digest();
  return sign_frame_as_self(other);
}

wire::PreparedCertificate ByzantineReplica::forged_certificate(View view, Seq seq) {
  wire::PreparedCertificate cert;
  const Digest digest = random_digest();
  const ReplicaId primary = static_cast<ReplicaId>(view % config_->n());
  cert.pre_prepare.signer = primary;
  cert.pre_prepare.message = {view, seq, digest};
  const std::uint64_t how = prng_.below(3);
  if (primary == self_ || how == 0) {
    // Signed by itself with a made-up digest: valid only if it was primary.
    cert.pre_prepare.signer = self_;
    cert.pre_prepare.signature = crypto_->sign(
        wire::signing_input(wire::MsgType::pre_prepare, Principal::replica(self_), wire::encode(cert.pre_prepare.message)));
  } else {
    cert.pre_prepare.signature = random_signature();  // cannot sign as the primary
  }
  for (std::uint32_t k = 0; k < 2 * config_->f; ++k) {
    wire::Signed<wire::Prepare> prepare;
    prepare.message = {view, seq, digest};
    if (how == 1) {
      // Validly signed, but all by itself: not 2f distinct backups.
      prepare.signer = self_;
      prepare.signature = crypto_->sign(
          wire::signing_input(wire::MsgType::prepare, Principal::replica(self_), wire::encode(prepare.message)));
    } else {
      prepare.signer = static_cast<ReplicaId>((primary + 1 + k) % config_->n());
      prepare.signature = random_signature();  // other signers: forged
    }
    cert.prepares.push_back(std::move(prepare));
  }
  return cert;
}

std::optional<Bytes> ByzantineReplica::tampered_view_change(const wire::ViewChange& original) {
  wire::ViewChange vc = original;
  const std::uint64_t how = prng_.below(3);
  if (how == 0 || vc.new_view == 0) {
    vc.prepared.clear();  // omits what it prepared
  } else {
    const View view = vc.new_view - 1 - prng_.below(std::min<View>(vc.new_view, 2));
    const Seq seq = vc.stable_seq + 1 + prng_.below(std::max<std::uint32_t>(config_->window / 2, 1));
    wire::PreparedCertificate cert = forged_certificate(view, seq);
    std::erase_if(vc.prepared, [seq](const wire::PreparedCertificate& c) { return c.pre_prepare.message.seq == seq; });
    vc.prepared.push_back(std::move(cert));
    std::sort(vc.prepared.begin(), vc.prepared.end(), [](const auto& a, const auto& b) {
      return a.pre_prepare.message.seq < b.pre_prepare.message.seq;
    });
    if (how == 2) vc.prepared.front().prepares.resize(config_->f);  // too few prepares
  }
  return sign_frame_as_self(vc);
}

void ByzantineReplica::inject(TimeUs now, std::vector<OutboundFrame>& out) {
  (void)now;
  const ReplicaId peer = static_cast<ReplicaId>(prng_.below(config_->n()));
  if (has(byzantine::replay) && !remembered_.empty() && peer != self_) {
    out.push_back({Destination::replica(peer), remembered_[prng_.below(remembered_.size())]});
  }
  if (has(byzantine::flood)) {
    // Validly signed by itself, far beyond any window or view: a correct
    // replica must drop or bound these (PROTOCOL.md pitfalls: unbounded
    // buffering of future messages).
    const View view = this->view();
    constexpr std::uint32_t kFloodBurst = 4;
    for (std::uint32_t k = 0; k < kFloodBurst; ++k) {
      const View far_view = view + 1 + prng_.below(1000);
      const Seq far_seq = 1 + prng_.below(std::uint64_t{1} << 40);
      wire::Message message;
      switch (prng_.below(4)) {
        case 0: message = wire::Prepare{far_view, far_seq, random_digest()}; break;
        case 1: message = wire::Commit{view, far_seq, random_digest()}; break;
        case 2: message = wire::Checkpoint{far_seq, random_digest()}; break;
        default: message = wire::ViewChange{far_view, 0, {}, {}}; break;
      }
      const Bytes frame = sign_frame_as_self(message);
      for (ReplicaId j = 0; j < config_->n(); ++j) {
        if (j != self_) out.push_back({Destination::replica(j), frame});
      }
    }
  }
}

void ByzantineReplica::remember(const Bytes& frame) {
  remembered_.push_back(frame);
  if (remembered_.size() > kMaxRemembered) remembered_.pop_front();
  SYNOD_ASSERT(remembered_.size() <= kMaxRemembered, "replay memory is bounded");
}

void ByzantineReplica::remember_request(ByteView frame) {
  const auto envelope = wire::decode_envelope(frame);
  if (!envelope || envelope->type != wire::MsgType::request) return;
  auto request = wire::decode<wire::Request>(envelope->payload);
  if (!request) return;
  request_pool_.push_back(wire::SignedRequest{std::move(*request), envelope->authenticator});
  if (request_pool_.size() > kMaxRequestPool) request_pool_.pop_front();
  SYNOD_ASSERT(request_pool_.size() <= kMaxRequestPool, "request pool is bounded");
}

}  // namespace synod::fault
