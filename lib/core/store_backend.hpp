// core/store_backend.hpp — where a store-backed replica keeps its state
// (synod/store.hpp): the durable tables under core/merkle_store.hpp.
//
// Three tables, all keyed by "backend keys" (a namespace byte, then the
// application's or synod's own key; core/merkle_store.hpp assigns them):
//  * data:   key -> value, scanned in ascending key order;
//  * index:  (bucket, key) -> entry digest, listed per bucket in key order
//            (the Merkle leaves are computed from it);
//  * leaves: bucket -> leaf digest, for every non-empty bucket (so a restart
//            rebuilds the tree from at most kBuckets digests, not the data).
// put/erase/set_leaf keep data and index consistent only together: the
// caller (MerkleStore) always writes both.
//
// Atomicity: writes become durable only with the driver's next commit, in
// the same transaction as the protocol core's persist ops of the same inputs
// (runtime: LmdbStorage::apply; simulator: MemoryStore::commit). Reads see
// every write made so far, committed or not. After a crash the tables are
// exactly as of the last commit.
//
// Not thread-safe: the driver thread owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "synod/types.hpp"

namespace synod {

using Bucket = std::uint32_t;

struct BucketEntry {
  Bytes key;      // backend key
  Digest digest;  // MerkleStore::entry_digest(key, value)
  friend bool operator==(const BucketEntry&, const BucketEntry&) = default;
};

class StoreBackend {
 public:
  virtual ~StoreBackend() = default;

  virtual std::optional<Bytes> get(ByteView key) const = 0;
  // visit(key, value) for each key in [from, to) ascending (empty `to`: no
  // bound) until it returns false.
  virtual void scan(ByteView from, ByteView to, const std::function<bool(ByteView, ByteView)>& visit) const = 0;
  // Every entry of bucket b, ascending by key.
  virtual std::vector<BucketEntry> bucket(Bucket b) const = 0;
  // visit(bucket, digest) for every stored leaf digest, ascending by bucket.
  virtual void leaves(const std::function<void(Bucket, const Digest&)>& visit) const = 0;

  virtual void put(Bucket b, ByteView key, ByteView value, const Digest& entry_digest) = 0;
  virtual void erase(Bucket b, ByteView key) = 0;
  // Stores bucket b's leaf digest; the zero digest (an empty bucket) removes it.
  virtual void set_leaf(Bucket b, const Digest& digest) = 0;
};

// The backend of the simulator and the tests: everything in memory, with
// the commit/crash semantics above made explicit. commit() makes every write
// so far durable; crash() forgets every write since the last commit.
class MemoryStore final : public StoreBackend {
 public:
  std::optional<Bytes> get(ByteView key) const override;
  void scan(ByteView from, ByteView to, const std::function<bool(ByteView, ByteView)>& visit) const override;
  std::vector<BucketEntry> bucket(Bucket b) const override;
  void leaves(const std::function<void(Bucket, const Digest&)>& visit) const override;
  void put(Bucket b, ByteView key, ByteView value, const Digest& entry_digest) override;
  void erase(Bucket b, ByteView key) override;
  void set_leaf(Bucket b, const Digest& digest) override;

  void commit();
  void crash();
  std::size_t size() const;  // keys in the data table (live view)

 private:
  // Orders byte strings as memcmp does and lets a ByteView look up a Bytes
  // key without a copy.
  struct BytesLess {
    using is_transparent = void;
    bool operator()(ByteView a, ByteView b) const;
  };
  using IndexKey = std::pair<Bucket, Bytes>;
  struct IndexLess {
    bool operator()(const IndexKey& a, const IndexKey& b) const;
  };
  // The durable tables, and every write since the last commit on top of them
  // (an empty optional: erased). commit() folds `pending_` into `durable_`
  // in O(writes), crash() drops it; reads merge the two.
  struct Tables {
    std::map<Bytes, Bytes, BytesLess> data;
    std::map<IndexKey, Digest, IndexLess> index;
    std::map<Bucket, Digest> leaves;
  };
  struct Overlay {
    std::map<Bytes, std::optional<Bytes>, BytesLess> data;
    std::map<IndexKey, std::optional<Digest>, IndexLess> index;
    std::map<Bucket, std::optional<Digest>> leaves;
  };
  Tables durable_;
  Overlay pending_;
  std::size_t live_keys_ = 0;  // size(), kept up to date by put/erase
};

}  // namespace synod
