// wire/serialize.hpp — PRIVATE to lib/wire and its tests: the field order of
// every message on the wire (Cereal serialize functions), and each struct's
// WireBound (its members' types, in the same order) for bounded decoding.
//
// Fields are encoded in declaration order with no tags or names. Changing the
// order, a field's type, or adding a field changes the format: bump
// kFormatVersion. Two tripwires keep the three lists (struct, serialize,
// WireBound) in step:
//   - serialize() unpacks each struct with a structured binding, so a field
//     added to messages.hpp stops this header compiling until it is encoded;
//   - tests/wire checks each WireBound's min_bytes against the encoding of a
//     default-constructed value, so a WireBound that misses a member fails.
#pragma once

#include "wire/archive.hpp"
#include "wire/messages.hpp"

namespace synod::wire {

// ---------------------------------------------------------------- both modes

template <class Archive>
void serialize(Archive& ar, Request& m) {
  auto& [client, t, read_only, op] = m;
  ar(client, t, read_only, op);
}
template <class Archive>
void serialize(Archive& ar, SignedRequest& m) {
  auto& [request, signature] = m;
  ar(request, signature);
}
template <class Archive>
void serialize(Archive& ar, Reply& m) {
  auto& [view, client, t, status, leader, read_only, result] = m;
  ar(view, client, t, detail::enum_field(status), leader, read_only, result);
}

// ---------------------------------------------------------------- pbft

template <class Archive>
void serialize(Archive& ar, PrePrepareHeader& m) {
  auto& [view, seq, digest] = m;
  ar(view, seq, digest);
}
template <class Archive>
void serialize(Archive& ar, PrePrepare& m) {
  auto& [header, batch] = m;
  ar(header, batch);
}
template <class Archive>
void serialize(Archive& ar, Prepare& m) {
  auto& [view, seq, digest] = m;
  ar(view, seq, digest);
}
template <class Archive>
void serialize(Archive& ar, Commit& m) {
  auto& [view, seq, digest] = m;
  ar(view, seq, digest);
}
template <class Archive>
void serialize(Archive& ar, Checkpoint& m) {
  auto& [seq, state_digest] = m;
  ar(seq, state_digest);
}
template <class Archive, class M>
void serialize(Archive& ar, Signed<M>& m) {
  auto& [signer, message, signature] = m;
  ar(signer, message, signature);
}
template <class Archive>
void serialize(Archive& ar, PreparedCertificate& m) {
  auto& [pre_prepare, prepares] = m;
  ar(pre_prepare, prepares);
}
template <class Archive>
void serialize(Archive& ar, ViewChange& m) {
  auto& [new_view, stable_seq, checkpoint_proof, prepared] = m;
  ar(new_view, stable_seq, checkpoint_proof, prepared);
}
template <class Archive>
void serialize(Archive& ar, NewView& m) {
  auto& [view, view_changes, pre_prepares] = m;
  ar(view, view_changes, pre_prepares);
}
template <class Archive>
void serialize(Archive& ar, FetchState& m) {
  auto& [have_seq, seq, offset] = m;
  ar(have_seq, seq, offset);
}
template <class Archive>
void serialize(Archive& ar, StateSnapshot& m) {
  auto& [seq, proof, total_bytes, offset, chunk] = m;
  ar(seq, proof, total_bytes, offset, chunk);
}
template <class Archive>
void serialize(Archive& ar, FetchBatches& m) {
  auto& [view, from, to] = m;
  ar(view, from, to);
}
template <class Archive>
void serialize(Archive& ar, CommittedBatch& m) {
  auto& [view, seq, batch, commits] = m;
  ar(view, seq, batch, commits);
}
template <class Archive>
void serialize(Archive& ar, CommittedBatches& m) {
  auto& [batches] = m;
  ar(batches);
}

// ---------------------------------------------------------------- paxos

template <class Archive>
void serialize(Archive& ar, Ballot& m) {
  auto& [round, replica] = m;
  ar(round, replica);
}
template <class Archive>
void serialize(Archive& ar, PaxosPrepare& m) {
  auto& [ballot, from_slot] = m;
  ar(ballot, from_slot);
}
template <class Archive>
void serialize(Archive& ar, AcceptedEntry& m) {
  auto& [slot, ballot, batch] = m;
  ar(slot, ballot, batch);
}
template <class Archive>
void serialize(Archive& ar, Promise& m) {
  auto& [ballot, from_slot, chosen_through, accepted, more] = m;
  ar(ballot, from_slot, chosen_through, accepted, more);
}
template <class Archive>
void serialize(Archive& ar, Accept& m) {
  auto& [ballot, slot, batch, commit_index] = m;
  ar(ballot, slot, batch, commit_index);
}
template <class Archive>
void serialize(Archive& ar, Accepted& m) {
  auto& [ballot, slot] = m;
  ar(ballot, slot);
}
template <class Archive>
void serialize(Archive& ar, Nack& m) {
  auto& [promised] = m;
  ar(promised);
}
template <class Archive>
void serialize(Archive& ar, Heartbeat& m) {
  auto& [ballot, commit_index, sequence] = m;
  ar(ballot, commit_index, sequence);
}
template <class Archive>
void serialize(Archive& ar, CatchUpRequest& m) {
  auto& [from_slot, snapshot_slot, offset] = m;
  ar(from_slot, snapshot_slot, offset);
}
template <class Archive>
void serialize(Archive& ar, ChosenEntry& m) {
  auto& [slot, batch] = m;
  ar(slot, batch);
}
template <class Archive>
void serialize(Archive& ar, CatchUp& m) {
  auto& [ballot, snapshot_slot, snapshot_total, snapshot_offset, snapshot, chosen] = m;
  ar(ballot, snapshot_slot, snapshot_total, snapshot_offset, snapshot, chosen);
}

// ---------------------------------------------------------------- Merkle state transfer
// Every vector and byte string here has a limit (messages.hpp), checked as it
// decodes (detail::at_most).

template <class Archive>
void serialize(Archive& ar, TreeNodeRef& m) {
  auto& [level, index] = m;
  ar(level, index);
}
template <class Archive>
void serialize(Archive& ar, FetchTree& m) {
  auto& [seq, nodes] = m;
  ar(seq, detail::at_most<kMaxTreeNodesPerFetch>(nodes));
}
template <class Archive>
void serialize(Archive& ar, TreeChildren& m) {
  auto& [node, children] = m;
  ar(node, detail::at_most<kTreeFanout>(children));
}
template <class Archive>
void serialize(Archive& ar, TreeNodes& m) {
  auto& [seq, nodes] = m;
  ar(seq, detail::at_most<kMaxTreeNodesPerFetch>(nodes));
}
template <class Archive>
void serialize(Archive& ar, LeafRef& m) {
  auto& [bucket, from] = m;
  ar(bucket, from);
}
template <class Archive>
void serialize(Archive& ar, FetchLeaves& m) {
  auto& [seq, leaves] = m;
  ar(seq, detail::at_most<kMaxLeavesPerFetch>(leaves));
}
template <class Archive>
void serialize(Archive& ar, LeafEntry& m) {
  auto& [key, digest] = m;
  ar(detail::at_most<kMaxStateKeyBytes>(key), digest);
}
template <class Archive>
void serialize(Archive& ar, LeafPart& m) {
  auto& [bucket, from, total, entries] = m;
  ar(bucket, from, total, detail::at_most<kMaxLeafEntriesPerPart>(entries));
}
template <class Archive>
void serialize(Archive& ar, LeafEntries& m) {
  auto& [seq, parts] = m;
  ar(seq, detail::at_most<kMaxLeavesPerFetch>(parts));
}
template <class Archive>
void serialize(Archive& ar, FetchValues& m) {
  auto& [seq, keys] = m;
  ar(seq, detail::at_most<kMaxKeysPerFetch, kMaxStateKeyBytes>(keys));
}
template <class Archive>
void serialize(Archive& ar, KeyValue& m) {
  auto& [key, present, value] = m;
  ar(detail::at_most<kMaxStateKeyBytes>(key), present, detail::at_most<kMaxStateValueBytes>(value));
}
template <class Archive>
void serialize(Archive& ar, Values& m) {
  auto& [seq, values] = m;
  ar(seq, detail::at_most<kMaxKeysPerFetch>(values));
}

// ---------------------------------------------------------------- status

template <class Archive>
void serialize(Archive& ar, StatusRequest& m) {
  auto& [nonce] = m;
  ar(nonce);
}
template <class Archive>
void serialize(Archive& ar, StatusReply& m) {
  auto& [nonce, protocol, view, leader, is_leader, changing_view, last_executed, stable_checkpoint, state_digest,
         view_changes, state_transfers, rejected] = m;
  ar(nonce, protocol, view, leader, is_leader, changing_view, last_executed, stable_checkpoint, state_digest,
     view_changes, state_transfers, rejected);
}

}  // namespace synod::wire

namespace synod::wire::detail {

// Members in the order serialize() writes them.
template <> struct WireBound<Request> : StructBound<ClientId, RequestNo, bool, Bytes> {};
template <> struct WireBound<SignedRequest> : StructBound<Request, Bytes> {};
template <> struct WireBound<Reply>
    : StructBound<View, ClientId, RequestNo, ReplyStatus, ReplicaId, bool, Bytes> {};
template <> struct WireBound<PrePrepareHeader> : StructBound<View, Seq, Digest> {};
template <> struct WireBound<PrePrepare> : StructBound<PrePrepareHeader, Batch> {};
template <> struct WireBound<Prepare> : StructBound<View, Seq, Digest> {};
template <> struct WireBound<Commit> : StructBound<View, Seq, Digest> {};
template <> struct WireBound<Checkpoint> : StructBound<Seq, Digest> {};
template <class M> struct WireBound<Signed<M>> : StructBound<ReplicaId, M, Bytes> {};
template <> struct WireBound<PreparedCertificate>
    : StructBound<Signed<PrePrepareHeader>, std::vector<Signed<Prepare>>> {};
template <> struct WireBound<ViewChange>
    : StructBound<View, Seq, std::vector<Signed<Checkpoint>>, std::vector<PreparedCertificate>> {};
template <> struct WireBound<NewView>
    : StructBound<View, std::vector<Signed<ViewChange>>, std::vector<Signed<PrePrepareHeader>>> {};
template <> struct WireBound<FetchState> : StructBound<Seq, Seq, std::uint64_t> {};
template <> struct WireBound<StateSnapshot>
    : StructBound<Seq, std::vector<Signed<Checkpoint>>, std::uint64_t, std::uint64_t, Bytes> {};
template <> struct WireBound<FetchBatches> : StructBound<View, Seq, Seq> {};
template <> struct WireBound<CommittedBatch>
    : StructBound<View, Seq, Batch, std::vector<Signed<Commit>>> {};
template <> struct WireBound<CommittedBatches> : StructBound<std::vector<CommittedBatch>> {};
template <> struct WireBound<Ballot> : StructBound<std::uint64_t, ReplicaId> {};
template <> struct WireBound<PaxosPrepare> : StructBound<Ballot, Slot> {};
template <> struct WireBound<AcceptedEntry> : StructBound<Slot, Ballot, Batch> {};
template <> struct WireBound<Promise> : StructBound<Ballot, Slot, Slot, std::vector<AcceptedEntry>, bool> {};
template <> struct WireBound<Accept> : StructBound<Ballot, Slot, Batch, Slot> {};
template <> struct WireBound<Accepted> : StructBound<Ballot, Slot> {};
template <> struct WireBound<Nack> : StructBound<Ballot> {};
template <> struct WireBound<Heartbeat> : StructBound<Ballot, Slot, std::uint64_t> {};
template <> struct WireBound<CatchUpRequest> : StructBound<Slot, Slot, std::uint64_t> {};
template <> struct WireBound<ChosenEntry> : StructBound<Slot, Batch> {};
template <> struct WireBound<CatchUp>
    : StructBound<Ballot, Slot, std::uint64_t, std::uint64_t, Bytes, std::vector<ChosenEntry>> {};
// (A limit only tightens a vector's bound; the factors are the plain vectors'.)
template <> struct WireBound<TreeNodeRef> : StructBound<std::uint8_t, std::uint32_t> {};
template <> struct WireBound<FetchTree> : StructBound<Seq, std::vector<TreeNodeRef>> {};
template <> struct WireBound<TreeChildren> : StructBound<TreeNodeRef, std::vector<Digest>> {};
template <> struct WireBound<TreeNodes> : StructBound<Seq, std::vector<TreeChildren>> {};
template <> struct WireBound<LeafRef> : StructBound<std::uint32_t, std::uint32_t> {};
template <> struct WireBound<FetchLeaves> : StructBound<Seq, std::vector<LeafRef>> {};
template <> struct WireBound<LeafEntry> : StructBound<Bytes, Digest> {};
template <> struct WireBound<LeafPart>
    : StructBound<std::uint32_t, std::uint32_t, std::uint32_t, std::vector<LeafEntry>> {};
template <> struct WireBound<LeafEntries> : StructBound<Seq, std::vector<LeafPart>> {};
template <> struct WireBound<FetchValues> : StructBound<Seq, std::vector<Bytes>> {};
template <> struct WireBound<KeyValue> : StructBound<Bytes, bool, Bytes> {};
template <> struct WireBound<Values> : StructBound<Seq, std::vector<KeyValue>> {};
template <> struct WireBound<StatusRequest> : StructBound<std::uint64_t> {};
template <> struct WireBound<StatusReply>
    : StructBound<std::uint64_t, std::uint8_t, View, ReplicaId, bool, bool, Seq, Seq, Digest, std::uint64_t,
                  std::uint64_t, std::vector<std::uint64_t>> {};

}  // namespace synod::wire::detail
