// wire/messages.hpp — every message of both protocols as a plain C++ type.
// Encoding (Cereal portable binary, bounded decoding) is in wire/codec.hpp.
// Names follow PROTOCOL.md. The sender of a message is never a field of the
// message: it is the envelope's sender, authenticated by the envelope's
// authenticator (or, inside certificates, Signed<M>::signer).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <variant>
#include <vector>

#include "synod/types.hpp"

namespace synod::wire {

inline constexpr std::uint16_t kFormatVersion = 1;

enum class MsgType : std::uint8_t {
  // both modes
  request = 1,
  reply = 2,
  // pbft
  pre_prepare = 10,
  prepare = 11,
  commit = 12,
  checkpoint = 13,
  view_change = 14,
  new_view = 15,
  fetch_state = 16,
  state_snapshot = 17,
  fetch_batches = 18,
  committed_batches = 19,
  // Merkle state transfer (both modes)
  fetch_tree = 20,
  tree_nodes = 21,
  fetch_leaves = 22,
  leaf_entries = 23,
  fetch_values = 24,
  values = 25,
  // paxos
  paxos_prepare = 30,
  promise = 31,
  accept = 32,
  accepted = 33,
  nack = 34,
  heartbeat = 35,
  catch_up_request = 36,
  catch_up = 37,
  // operator status (answered by the driver, never seen by a core)
  status_request = 40,
  status_reply = 41,
};

const char* to_string(MsgType t);

// ---------------------------------------------------------------- both modes

// REQUEST(op, t, c). Authenticated by the client (SignedRequest::signature,
// or the envelope authenticator when sent directly).
struct Request {
  ClientId client = 0;
  RequestNo t = 0;
  bool read_only = false;
  Bytes op;
  friend bool operator==(const Request&, const Request&) = default;
};

// A request as it travels inside a batch: with its client's signature over
// signing_input(MsgType::request, client, encode(request)), so every backup
// can authenticate every request it is asked to order.
struct SignedRequest {
  Request request;
  Bytes signature;
  friend bool operator==(const SignedRequest&, const SignedRequest&) = default;
};

using Batch = std::vector<SignedRequest>;  // empty = null batch (no-op)

enum class ReplyStatus : std::uint8_t {
  ok = 0,
  not_leader = 1,  // paxos: redirect to `leader`
};

// REPLY(v, t, c, i, result); i is the envelope sender.
struct Reply {
  View view = 0;
  ClientId client = 0;
  RequestNo t = 0;
  ReplyStatus status = ReplyStatus::ok;
  ReplicaId leader = 0;  // the primary / leader the replica believes in
  bool read_only = false;
  Bytes result;
  friend bool operator==(const Reply&, const Reply&) = default;
};

// ---------------------------------------------------------------- pbft

// What the primary signs for PRE-PREPARE(v, s, d); the batch travels beside
// it and is bound by d = digest(encode(batch)).
struct PrePrepareHeader {
  View view = 0;
  Seq seq = 0;
  Digest digest{};
  friend bool operator==(const PrePrepareHeader&, const PrePrepareHeader&) = default;
};

struct PrePrepare {
  PrePrepareHeader header;
  Batch batch;
  friend bool operator==(const PrePrepare&, const PrePrepare&) = default;
};

struct Prepare {
  View view = 0;
  Seq seq = 0;
  Digest digest{};
  friend bool operator==(const Prepare&, const Prepare&) = default;
};

struct Commit {
  View view = 0;
  Seq seq = 0;
  Digest digest{};
  friend bool operator==(const Commit&, const Commit&) = default;
};

// CHECKPOINT(s, state_digest).
struct Checkpoint {
  Seq seq = 0;
  Digest state_digest{};
  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// A replica message kept as proof inside another message: the signer and its
// signature over signing_input(type of M, replica signer, encode(message)).
template <class M>
struct Signed {
  ReplicaId signer = 0;
  M message;
  Bytes signature;
  friend bool operator==(const Signed&, const Signed&) = default;
};

// A pre-prepare and 2f matching prepares from distinct backups.
struct PreparedCertificate {
  Signed<PrePrepareHeader> pre_prepare;
  std::vector<Signed<Prepare>> prepares;
  friend bool operator==(const PreparedCertificate&, const PreparedCertificate&) = default;
};

// VIEW-CHANGE(v+1, s_stable, C, P).
struct ViewChange {
  View new_view = 0;
  Seq stable_seq = 0;
  std::vector<Signed<Checkpoint>> checkpoint_proof;  // C: 2f+1, empty when stable_seq == 0
  std::vector<PreparedCertificate> prepared;         // P: one per seq > stable_seq
  friend bool operator==(const ViewChange&, const ViewChange&) = default;
};

// NEW-VIEW(v+1, V, O).
struct NewView {
  View view = 0;
  std::vector<Signed<ViewChange>> view_changes;       // V: 2f+1
  std::vector<Signed<PrePrepareHeader>> pre_prepares;  // O, in seq order
  friend bool operator==(const NewView&, const NewView&) = default;
};

// State transfer: "I have executed up to have_seq; send me your stable
// checkpoint if it is beyond that", from byte offset of checkpoint seq's
// snapshot when the asker holds its first offset bytes already (else
// seq = offset = 0: from the start).
struct FetchState {
  Seq have_seq = 0;
  Seq seq = 0;
  std::uint64_t offset = 0;
  friend bool operator==(const FetchState&, const FetchState&) = default;
};

// One chunk of a stable checkpoint's snapshot (application state plus
// synod's client table): bytes [offset, offset + chunk.size()) of
// total_bytes. The first chunk (offset 0) carries the 2f+1 signed
// checkpoints that agree on the whole snapshot's digest; later ones none.
struct StateSnapshot {
  Seq seq = 0;
  std::vector<Signed<Checkpoint>> proof;
  std::uint64_t total_bytes = 0;
  std::uint64_t offset = 0;
  Bytes chunk;
  friend bool operator==(const StateSnapshot&, const StateSnapshot&) = default;
};

// Catch-up: ask for the committed batches in [from, to].
struct FetchBatches {
  View view = 0;  // the asker's view: a responder in a later view sends its NEW-VIEW too
  Seq from = 0;
  Seq to = 0;
  friend bool operator==(const FetchBatches&, const FetchBatches&) = default;
};

// A batch proven committed by 2f+1 signed commits for (view, seq, digest(batch)).
struct CommittedBatch {
  View view = 0;
  Seq seq = 0;
  Batch batch;
  std::vector<Signed<Commit>> commits;
  friend bool operator==(const CommittedBatch&, const CommittedBatch&) = default;
};

struct CommittedBatches {
  std::vector<CommittedBatch> batches;
  friend bool operator==(const CommittedBatches&, const CommittedBatches&) = default;
};

// ---------------------------------------------------------------- paxos

// Ballot (round, replica), ordered lexicographically.
struct Ballot {
  std::uint64_t round = 0;
  ReplicaId replica = 0;
  friend auto operator<=>(const Ballot&, const Ballot&) = default;
};

using Slot = std::uint64_t;

// Phase 1a: PREPARE(b) for every slot from from_slot on.
struct PaxosPrepare {
  Ballot ballot;
  Slot from_slot = 0;
  friend bool operator==(const PaxosPrepare&, const PaxosPrepare&) = default;
};

struct AcceptedEntry {
  Slot slot = 0;
  Ballot ballot;
  Batch batch;
  friend bool operator==(const AcceptedEntry&, const AcceptedEntry&) = default;
};

// Phase 1b: PROMISE(b, accepted). A promise that would not fit in a frame
// comes in parts: `more` says this part reports every accepted slot from
// from_slot through its last entry only, and the proposer asks for the rest
// with another PREPARE(b) from the slot after it.
struct Promise {
  Ballot ballot;
  Slot from_slot = 0;
  Slot chosen_through = 0;  // the acceptor's known-chosen prefix
  std::vector<AcceptedEntry> accepted;
  bool more = false;
  friend bool operator==(const Promise&, const Promise&) = default;
};

// Phase 2a: ACCEPT(b, slot, batch), with the leader's commit index.
struct Accept {
  Ballot ballot;
  Slot slot = 0;
  Batch batch;
  Slot commit_index = 0;
  friend bool operator==(const Accept&, const Accept&) = default;
};

// Phase 2b: ACCEPTED(b, slot).
struct Accepted {
  Ballot ballot;
  Slot slot = 0;
  friend bool operator==(const Accepted&, const Accepted&) = default;
};

// Rejection of a prepare or accept: the acceptor promised a higher ballot.
struct Nack {
  Ballot promised;
  friend bool operator==(const Nack&, const Nack&) = default;
};

// Leader liveness and commit index (learners execute through it). With
// leases on, a follower echoes it back unchanged as its lease grant; the
// leader numbers its heartbeats (sequence) so an echo names the send it
// answers, and an idle leader's grants keep counting from recent sends.
struct Heartbeat {
  Ballot ballot;
  Slot commit_index = 0;
  std::uint64_t sequence = 0;
  friend bool operator==(const Heartbeat&, const Heartbeat&) = default;
};

// "Send me the chosen slots from from_slot on", or the snapshot from byte
// offset of the one through snapshot_slot, when the asker holds its first
// offset bytes already (else snapshot_slot = offset = 0: from the start).
struct CatchUpRequest {
  Slot from_slot = 0;
  Slot snapshot_slot = 0;
  std::uint64_t offset = 0;
  friend bool operator==(const CatchUpRequest&, const CatchUpRequest&) = default;
};

struct ChosenEntry {
  Slot slot = 0;
  Batch batch;
  friend bool operator==(const ChosenEntry&, const ChosenEntry&) = default;
};

// Chosen slots from from_slot on; or a chunk of the snapshot through
// snapshot_slot (bytes [snapshot_offset, snapshot_offset + snapshot.size())
// of snapshot_total), with the chosen slots after it in its last chunk.
// snapshot_slot is 0 when no snapshot is needed. A store-backed replica
// (synod/store.hpp) sends no snapshot bytes: snapshot_total = 0,
// snapshot_offset = 0, `snapshot` is the 32-byte Merkle root of the store it
// keeps pinned at snapshot_slot, and no chosen slots; the asker fetches that
// state by tree walk (FETCH-TREE below) and then asks for the slots after it.
struct CatchUp {
  Ballot ballot;
  Slot snapshot_slot = 0;
  std::uint64_t snapshot_total = 0;
  std::uint64_t snapshot_offset = 0;
  Bytes snapshot;
  std::vector<ChosenEntry> chosen;
  friend bool operator==(const CatchUp&, const CatchUp&) = default;
};

// ---------------------------------------------------------------- Merkle state transfer

// A lagging replica walks the Merkle tree of a state pinned at a stable
// checkpoint (core/merkle_store.hpp) from the root down, asking only for the
// subtrees whose digests differ from its own, then for the entries of the
// leaf buckets that differ, then for the values of the keys that differ.
// Replica to replica in both modes, each message signed by its sender like
// FETCH-STATE. The limits below bound what a message may ask for or carry:
// decoding rejects a longer vector or byte string (length_overflow) before
// allocating for it, and a replica asks for and answers at most that much.

inline constexpr std::size_t kMaxTreeNodesPerFetch = 256;    // FetchTree::nodes, TreeNodes::nodes
inline constexpr std::size_t kTreeFanout = 16;               // TreeChildren::children (MerkleStore::kFanout)
inline constexpr std::size_t kMaxLeavesPerFetch = 1024;      // FetchLeaves::leaves, LeafEntries::parts
inline constexpr std::size_t kMaxLeafEntriesPerPart = 4096;  // LeafPart::entries (~2 MiB at most)
inline constexpr std::size_t kMaxKeysPerFetch = 1024;        // FetchValues::keys, Values::values
// A key of the replica's store as the tree holds it: a namespace byte, then
// at most synod::kMaxStoreKeyBytes (synod/store.hpp; codec.cpp checks both).
inline constexpr std::size_t kMaxStateKeyBytes = 1 + 448;
inline constexpr std::size_t kMaxStateValueBytes = std::size_t{1} << 20;  // synod::kMaxStoreValueBytes

// One node of the state's Merkle tree (core/merkle_store.hpp): level 0 is
// the root, level 5 the leaves (index = bucket).
struct TreeNodeRef {
  std::uint8_t level = 0;
  std::uint32_t index = 0;
  friend bool operator==(const TreeNodeRef&, const TreeNodeRef&) = default;
};

// "Send me the child digests of these nodes of the state pinned at seq."
// At most kMaxTreeNodesPerFetch nodes.
struct FetchTree {
  Seq seq = 0;
  std::vector<TreeNodeRef> nodes;
  friend bool operator==(const FetchTree&, const FetchTree&) = default;
};

// A node's kTreeFanout child digests, in child order (decoding admits at
// most kTreeFanout; a receiver rejects any other count).
struct TreeChildren {
  TreeNodeRef node;
  std::vector<Digest> children;
  friend bool operator==(const TreeChildren&, const TreeChildren&) = default;
};

// The answer: the children of some of the nodes asked for (the sender may
// answer fewer), at most kMaxTreeNodesPerFetch.
struct TreeNodes {
  Seq seq = 0;
  std::vector<TreeChildren> nodes;
  friend bool operator==(const TreeNodes&, const TreeNodes&) = default;
};

// One bucket's entries from entry number `from` on.
struct LeafRef {
  std::uint32_t bucket = 0;
  std::uint32_t from = 0;
  friend bool operator==(const LeafRef&, const LeafRef&) = default;
};

// "Send me the entries of these buckets" (at most kMaxLeavesPerFetch).
struct FetchLeaves {
  Seq seq = 0;
  std::vector<LeafRef> leaves;
  friend bool operator==(const FetchLeaves&, const FetchLeaves&) = default;
};

// A bucket entry: a key (at most kMaxStateKeyBytes) and the digest of its
// entry (key and value).
struct LeafEntry {
  Bytes key;
  Digest digest{};
  friend bool operator==(const LeafEntry&, const LeafEntry&) = default;
};

// Entries [from, from + entries.size()) of bucket's total entries, in
// ascending key order; at most kMaxLeafEntriesPerPart of them, so a large
// bucket comes in several parts.
struct LeafPart {
  std::uint32_t bucket = 0;
  std::uint32_t from = 0;
  std::uint32_t total = 0;
  std::vector<LeafEntry> entries;
  friend bool operator==(const LeafPart&, const LeafPart&) = default;
};

// The answer to FETCH-LEAVES: parts of some of the buckets asked for (at
// most kMaxLeavesPerFetch).
struct LeafEntries {
  Seq seq = 0;
  std::vector<LeafPart> parts;
  friend bool operator==(const LeafEntries&, const LeafEntries&) = default;
};

// "Send me the values of these keys" (at most kMaxKeysPerFetch, each at most
// kMaxStateKeyBytes).
struct FetchValues {
  Seq seq = 0;
  std::vector<Bytes> keys;
  friend bool operator==(const FetchValues&, const FetchValues&) = default;
};

// A key and its value (at most kMaxStateValueBytes) in the pinned state, or
// present = false (and no value) if the key is not in it.
struct KeyValue {
  Bytes key;
  bool present = false;
  Bytes value;
  friend bool operator==(const KeyValue&, const KeyValue&) = default;
};

// The answer to FETCH-VALUES: some of the keys asked for (the sender may
// answer fewer, to stay within a frame), at most kMaxKeysPerFetch.
struct Values {
  Seq seq = 0;
  std::vector<KeyValue> values;
  friend bool operator==(const Values&, const Values&) = default;
};

// ---------------------------------------------------------------- status

// "How are you?" from a configured client (signed by it like a Request). The
// driver (runtime event loop) answers it from Replica::status() without
// involving the protocol core; nonce pairs the reply with the question.
struct StatusRequest {
  std::uint64_t nonce = 0;
  friend bool operator==(const StatusRequest&, const StatusRequest&) = default;
};

// A replica's own view of itself (signed by the replica). Only what that
// one replica claims: under pbft a Byzantine replica can lie here, so tools
// compare the answers of all replicas rather than trust one.
struct StatusReply {
  std::uint64_t nonce = 0;
  std::uint8_t protocol = 0;  // synod::Protocol as its underlying value
  View view = 0;
  ReplicaId leader = 0;
  bool is_leader = false;
  bool changing_view = false;
  Seq last_executed = 0;
  Seq stable_checkpoint = 0;
  Digest state_digest{};
  std::uint64_t view_changes = 0;
  std::uint64_t state_transfers = 0;
  std::vector<std::uint64_t> rejected;  // indexed by synod::Rejection
  friend bool operator==(const StatusReply&, const StatusReply&) = default;
};

// ---------------------------------------------------------------- all

using Message = std::variant<Request, Reply, PrePrepare, Prepare, Commit, Checkpoint, ViewChange,
                             NewView, FetchState, StateSnapshot, FetchBatches, CommittedBatches,
                             PaxosPrepare, Promise, Accept, Accepted, Nack, Heartbeat,
                             CatchUpRequest, CatchUp, StatusRequest, StatusReply, FetchTree, TreeNodes,
                             FetchLeaves, LeafEntries, FetchValues, Values>;

template <class M>
struct TypeOf;
#define SYNOD_WIRE_TYPE(M, T) \
  template <>                 \
  struct TypeOf<M> {          \
    static constexpr MsgType value = MsgType::T; \
  }
SYNOD_WIRE_TYPE(Request, request);
SYNOD_WIRE_TYPE(Reply, reply);
SYNOD_WIRE_TYPE(PrePrepare, pre_prepare);
SYNOD_WIRE_TYPE(PrePrepareHeader, pre_prepare);  // signed as the pre-prepare
SYNOD_WIRE_TYPE(Prepare, prepare);
SYNOD_WIRE_TYPE(Commit, commit);
SYNOD_WIRE_TYPE(Checkpoint, checkpoint);
SYNOD_WIRE_TYPE(ViewChange, view_change);
SYNOD_WIRE_TYPE(NewView, new_view);
SYNOD_WIRE_TYPE(FetchState, fetch_state);
SYNOD_WIRE_TYPE(StateSnapshot, state_snapshot);
SYNOD_WIRE_TYPE(FetchBatches, fetch_batches);
SYNOD_WIRE_TYPE(CommittedBatches, committed_batches);
SYNOD_WIRE_TYPE(PaxosPrepare, paxos_prepare);
SYNOD_WIRE_TYPE(Promise, promise);
SYNOD_WIRE_TYPE(Accept, accept);
SYNOD_WIRE_TYPE(Accepted, accepted);
SYNOD_WIRE_TYPE(Nack, nack);
SYNOD_WIRE_TYPE(Heartbeat, heartbeat);
SYNOD_WIRE_TYPE(CatchUpRequest, catch_up_request);
SYNOD_WIRE_TYPE(CatchUp, catch_up);
SYNOD_WIRE_TYPE(StatusRequest, status_request);
SYNOD_WIRE_TYPE(StatusReply, status_reply);
SYNOD_WIRE_TYPE(FetchTree, fetch_tree);
SYNOD_WIRE_TYPE(TreeNodes, tree_nodes);
SYNOD_WIRE_TYPE(FetchLeaves, fetch_leaves);
SYNOD_WIRE_TYPE(LeafEntries, leaf_entries);
SYNOD_WIRE_TYPE(FetchValues, fetch_values);
SYNOD_WIRE_TYPE(Values, values);
#undef SYNOD_WIRE_TYPE

template <class M>
inline constexpr MsgType type_of = TypeOf<M>::value;

}  // namespace synod::wire
