// core/merkle_store.hpp — a store-backed replica's state (synod/store.hpp):
// the key-value tables of a StoreBackend plus a Merkle index over them, kept
// up to date write by write, so a checkpoint digest costs O(keys changed ×
// depth) and never O(state). docs/PROTOCOL.md, "State of any size".
//
// The tree (deterministic: the same keys and values give the same digests
// on every replica):
//  * a key's bucket is the first 20 bits of digest(key) (kBuckets leaves);
//  * entry digest  = digest("synod-entry" | u32 len key | key | u32 len value | value);
//  * leaf digest   = zero if the bucket is empty, else
//                    digest("synod-leaf" | u32 count | (u32 len key | key | entry digest)*),
//                    entries in ascending key order;
//  * node digest   = zero if all kFanout children are zero, else
//                    digest("synod-node" | u8 level | the kFanout child digests);
//  * levels 0 (the root, one node) .. kLevels (the leaves); node i of level
//    l has children i*kFanout .. i*kFanout+kFanout-1 on level l+1.
// The root is the state's digest. It covers synod's client table too, which
// lives in the store under its own namespace.
//
// Checkpoints without a copy: pin(s) keeps the state as it is at that
// moment servable (children_at, bucket_at, value_at) while writes go on.
// The first write to a bucket after a pin saves that bucket's old entries
// (copy-on-write of the changed leaves only); release_below() drops what no
// pin needs any more. Memory: the buckets changed since the oldest pin.
//
// Not thread-safe: one thread (the core's) uses it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/store_backend.hpp"
#include "synod/replica.hpp"
#include "synod/result.hpp"
#include "synod/store.hpp"

namespace synod {

class MerkleStore {
 public:
  static constexpr std::uint32_t kFanout = 16;
  static constexpr std::uint32_t kLevels = 5;
  static constexpr std::uint32_t kBuckets = 1u << 20;  // kFanout ^ kLevels
  // The namespaces of backend keys (their first byte).
  static constexpr std::uint8_t kAppNamespace = 'a';
  static constexpr std::uint8_t kClientNamespace = 'c';

  struct Node {
    std::uint8_t level = 0;  // 0 = root .. kLevels = a leaf (index = its bucket)
    std::uint32_t index = 0;
    friend auto operator<=>(const Node&, const Node&) = default;
  };
  using Children = std::array<Digest, kFanout>;

  // Reads the leaf digests the backend holds (O(non-empty buckets)).
  MerkleStore(const Crypto& crypto, StoreBackend& backend);
  MerkleStore(const MerkleStore&) = delete;
  MerkleStore& operator=(const MerkleStore&) = delete;
  ~MerkleStore();

  // ---- the rules of the tree (also what a receiver verifies with)
  Bucket bucket_of(ByteView key) const;
  Digest entry_digest(ByteView key, ByteView value) const;
  Digest leaf_digest(std::span<const BucketEntry> entries) const;
  Digest node_digest(std::uint8_t level, const Children& children) const;
  static bool valid(Node n);

  // ---- the current state (backend keys, namespace byte first)
  std::optional<Bytes> get(ByteView key) const;
  void scan(ByteView from, ByteView to, const std::function<bool(ByteView, ByteView)>& visit) const;
  // Refuses a key longer than 1 + kMaxStoreKeyBytes or a value longer than
  // kMaxStoreValueBytes.
  Result<void> put(ByteView key, ByteView value);
  void erase(ByteView key);
  // The application's view: its keys only, without the namespace byte.
  StoreWriter& app();
  const StoreReader& app() const;

  // Recomputes the leaf digests of the buckets written since the last fold
  // and hands the changed ones to the backend (set_leaf), so its next commit
  // stores leaves that match its data: call it before every commit that
  // carries writes. O(buckets written); the interior nodes wait for the
  // next root(), node(), children() or pin(), which recompute each changed
  // node once however many batches changed it — or until
  // kMaxUnpropagatedLeaves changed leaves wait, when fold_leaves recomputes
  // their ancestors itself (so no fold has more than that many to do).
  static constexpr std::size_t kMaxUnpropagatedLeaves = 256;
  void fold_leaves();
  // Current digests; root(), node() and children() first fold in every
  // write so far.
  Digest root();
  Digest node(Node n);
  Children children(Node n);  // n above the leaves
  std::vector<BucketEntry> bucket(Bucket b) const;
  // Makes bucket b hold exactly `entries` (backend key, value), which must be
  // ascending, unique and all of bucket b (a verified transfer; asserted).
  void replace_bucket(Bucket b, std::span<const std::pair<Bytes, Bytes>> entries);
  // The same for a transferred bucket whose listing the caller verified:
  // `entries` (ascending, unique) hash to leaf digest `leaf`, and values[i]
  // is entries[i]'s value, checked against its entry digest, or nullopt if
  // the store holds entries[i] already (same key and digest; asserted).
  // Costs the writes of the changed entries only: no entry digest is
  // computed again and the bucket is not read back to fold its leaf.
  void install_bucket(Bucket b, std::span<const BucketEntry> entries, std::span<const std::optional<Bytes>> values,
                      const Digest& leaf);

  // ---- checkpoints
  // Keeps the state as of now servable under seq; seqs pinned increase.
  // Returns the root.
  Digest pin(Seq seq);
  void release_below(Seq seq);
  bool pinned(Seq seq) const;
  // The pinned state at seq (nullopt: seq is not pinned, or n is invalid).
  std::optional<Digest> node_at(Seq seq, Node n) const;
  std::optional<Children> children_at(Seq seq, Node n) const;
  std::optional<std::vector<BucketEntry>> bucket_at(Seq seq, Bucket b) const;
  // The value of a backend key at seq: nullopt if seq is not pinned, an
  // empty optional inside if the key was absent.
  std::optional<std::optional<Bytes>> value_at(Seq seq, ByteView key) const;

  // Bytes held for pins (saved buckets), for metrics and tests.
  std::size_t pinned_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace synod
