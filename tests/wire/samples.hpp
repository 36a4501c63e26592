// Sample values of every wire type, with non-trivial contents: nested
// certificates, non-empty batches, extreme integers (so that a wrong width or
// byte order shows), and distinct bytes everywhere (so that a swapped field
// shows). Shared by the wire tests and the fuzz-corpus check.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "synod/types.hpp"
#include "wire/messages.hpp"

namespace synod::wire::samples {

inline constexpr std::uint64_t kMax64 = std::numeric_limits<std::uint64_t>::max();
inline constexpr std::uint32_t kMax32 = std::numeric_limits<std::uint32_t>::max();

inline Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

inline Digest digest(std::uint8_t seed) {
  Digest d{};
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<std::uint8_t>(seed * 31 + i * 7 + 1);
  return d;
}

// Not a real signature: a deterministic 32-byte function of its input, so a
// test can tell which signing input a frame's authenticator was made from.
inline Bytes fake_signature(ByteView input) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  Bytes out;
  for (int block = 0; block < 4; ++block) {
    for (std::uint8_t b : input) h = (h ^ b) * 0x100000001b3ull;
    h ^= static_cast<std::uint64_t>(block);
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(h >> (8 * i)));
  }
  return out;
}

template <class M>
Signed<M> signed_by(ReplicaId signer, M message) {
  Signed<M> s;
  s.signer = signer;
  s.message = std::move(message);
  s.signature = text("sig-by-replica-" + std::to_string(signer));
  return s;
}

inline Request request(ClientId client, RequestNo t) {
  return Request{client, t, t % 2 == 1, text("op:put k" + std::to_string(t) + " v" + std::to_string(client))};
}

inline SignedRequest signed_request(ClientId client, RequestNo t) {
  return SignedRequest{request(client, t), text("client-sig-" + std::to_string(client) + "-" + std::to_string(t))};
}

inline Batch batch(std::size_t n, RequestNo first_t = 1) {
  Batch b;
  for (std::size_t i = 0; i < n; ++i) b.push_back(signed_request(static_cast<ClientId>(100 + i), first_t + i));
  return b;
}

inline Reply reply() {
  return Reply{kMax64 - 1, kMax32, 0x0102030405060708ull, ReplyStatus::not_leader, 3, true, text("result:ok")};
}

inline PrePrepareHeader pre_prepare_header(View v, Seq s) { return PrePrepareHeader{v, s, digest(static_cast<std::uint8_t>(s))}; }
inline PrePrepare pre_prepare() { return PrePrepare{pre_prepare_header(7, 42), batch(3)}; }
inline Prepare prepare(View v, Seq s) { return Prepare{v, s, digest(static_cast<std::uint8_t>(s))}; }
inline Commit commit(View v, Seq s) { return Commit{v, s, digest(static_cast<std::uint8_t>(s))}; }
inline Checkpoint checkpoint(Seq s) { return Checkpoint{s, digest(static_cast<std::uint8_t>(s + 100))}; }

inline PreparedCertificate prepared_certificate(View v, Seq s) {
  PreparedCertificate c;
  c.pre_prepare = signed_by(0, pre_prepare_header(v, s));
  for (ReplicaId r = 1; r <= 2; ++r) c.prepares.push_back(signed_by(r, prepare(v, s)));
  return c;
}

inline ViewChange view_change(View new_view, ReplicaId from) {
  ViewChange vc;
  vc.new_view = new_view;
  vc.stable_seq = 128;
  for (ReplicaId r = 0; r < 3; ++r) vc.checkpoint_proof.push_back(signed_by(r, checkpoint(128)));
  vc.prepared.push_back(prepared_certificate(new_view - 1, 129 + from));
  vc.prepared.push_back(prepared_certificate(new_view - 1, 130 + from));
  return vc;
}

inline NewView new_view() {
  NewView nv;
  nv.view = 8;
  for (ReplicaId r = 0; r < 3; ++r) nv.view_changes.push_back(signed_by(r, view_change(8, r)));
  nv.pre_prepares.push_back(signed_by(0, pre_prepare_header(8, 129)));
  nv.pre_prepares.push_back(signed_by(0, pre_prepare_header(8, 130)));
  return nv;
}

inline StateSnapshot state_snapshot() {
  StateSnapshot s;
  s.seq = 256;
  for (ReplicaId r = 0; r < 3; ++r) s.proof.push_back(signed_by(r, checkpoint(256)));
  s.chunk = text("snapshot: application state and client table");
  s.total_bytes = 1000;
  s.offset = 0;
  return s;
}

inline CommittedBatch committed_batch(Seq s) {
  CommittedBatch b;
  b.view = 7;
  b.seq = s;
  b.batch = batch(2, s * 10);
  for (ReplicaId r = 0; r < 3; ++r) b.commits.push_back(signed_by(r, commit(7, s)));
  return b;
}

inline CommittedBatches committed_batches() {
  return CommittedBatches{{committed_batch(43), committed_batch(44), CommittedBatch{7, 45, {}, {}}}};
}

inline Ballot ballot() { return Ballot{kMax64, 4}; }

inline AcceptedEntry accepted_entry(Slot s) { return AcceptedEntry{s, Ballot{3, 1}, batch(2, s)}; }
inline ChosenEntry chosen_entry(Slot s) { return ChosenEntry{s, batch(1, s)}; }

inline Promise promise() {
  return Promise{ballot(), 10, 9, {accepted_entry(10), accepted_entry(11), AcceptedEntry{12, {}, {}}}, true};
}
inline Accept accept() { return Accept{ballot(), 12, batch(4), 11}; }
inline CatchUp catch_up() {
  const Bytes chunk = text("paxos snapshot");
  return CatchUp{Ballot{5, 2}, 100, 200 + chunk.size(), 200, chunk, {chosen_entry(101), chosen_entry(102)}};
}

// Merkle state transfer: a node's kTreeFanout children, buckets and indexes
// at their extremes, empty keys and vectors.
inline TreeChildren tree_children(std::uint8_t level, std::uint32_t index) {
  TreeChildren c{TreeNodeRef{level, index}, {}};
  for (std::size_t i = 0; i < kTreeFanout; ++i) c.children.push_back(digest(static_cast<std::uint8_t>(level * 16 + i)));
  return c;
}
inline FetchTree fetch_tree() { return FetchTree{kMax64 - 3, {{0, 0}, {1, 15}, {5, kMax32}, {4, 0x00010203u}}}; }
inline TreeNodes tree_nodes() {
  return TreeNodes{512, {tree_children(0, 0), tree_children(3, 0x0abc), TreeChildren{{5, 7}, {}}}};
}
inline FetchLeaves fetch_leaves() { return FetchLeaves{512, {{0x000fffffu, 0}, {17, 4096}, {kMax32, kMax32}}}; }
inline LeafEntry leaf_entry(std::uint8_t seed) {
  return LeafEntry{text("a:key-" + std::to_string(seed)), digest(seed)};
}
inline LeafPart leaf_part() {
  return LeafPart{0x000abcdeu, 4096, 4099, {leaf_entry(1), leaf_entry(2), LeafEntry{{}, digest(3)}}};
}
inline LeafEntries leaf_entries() { return LeafEntries{512, {leaf_part(), LeafPart{kMax32, 0, 0, {}}}}; }
inline FetchValues fetch_values() { return FetchValues{512, {text("a:alpha"), {}, text("c:client-7")}}; }
inline KeyValue key_value() { return KeyValue{text("a:alpha"), true, text("value of alpha")}; }
inline Values values() {
  return Values{512, {key_value(), KeyValue{text("a:gone"), false, {}}, KeyValue{{}, true, {}}}};
}

inline StatusReply status_reply() {
  return StatusReply{kMax64, 1, kMax64 - 2, 2, true, true, 1000, 896, digest(77), 3, 1, {0, 5, kMax64, 0, 0, 0, 0, 9}};
}

// One non-trivial value of every Message alternative, in variant order.
inline std::vector<Message> messages() {
  return {
      request(7, 9),
      reply(),
      pre_prepare(),
      prepare(7, 42),
      commit(7, 42),
      checkpoint(128),
      view_change(8, 1),
      new_view(),
      FetchState{kMax64, 256, kMax64},
      state_snapshot(),
      FetchBatches{.view = 9, .from = 40, .to = 44},
      committed_batches(),
      PaxosPrepare{ballot(), 10},
      promise(),
      accept(),
      Accepted{ballot(), 12},
      Nack{Ballot{kMax64, kMax32}},
      Heartbeat{ballot(), 11, 7},
      CatchUpRequest{101, 100, 4096},
      catch_up(),
      StatusRequest{0x0102030405060708ull},
      status_reply(),
      fetch_tree(),
      tree_nodes(),
      fetch_leaves(),
      leaf_entries(),
      fetch_values(),
      values(),
  };
}

// Senders of both kinds, with ids that exercise all four bytes.
inline Principal sender_of(const Message& m) {
  return m.index() % 2 == 0 ? Principal::replica(static_cast<ReplicaId>(m.index()) + 0x01020300u)
                            : Principal::client(0xA0B0C0D0u + static_cast<ClientId>(m.index()));
}

}  // namespace synod::wire::samples
