// runtime/lmdb_store.hpp — the runtime's StoreBackend (core/store_backend.hpp):
// the store's tables as two more named databases in the replica's own LMDB
// environment (runtime/lmdb_storage.hpp), so that a batch's store writes and
// the core's persist ops of the same inputs commit in ONE write transaction
// — the atomicity the StoreBackend contract asks for.
//
// Tables (LMDB orders keys by memcmp, then length: the byte order of scan):
//  * "store.data":   backend key -> value;
//  * "store.index":  two kinds of records, by key length:
//      u32 big-endian bucket ++ backend key -> entry digest (32 bytes), and
//      u32 big-endian bucket alone          -> the bucket's leaf digest.
//    Big-endian, so one bucket is one contiguous key range: its leaf record
//    first (the shortest key), then its entries in key order. A batch's
//    write to a bucket and the leaf digest it changes then land on the same
//    B-tree page, not on pages of two trees: one page copy per bucket per
//    commit instead of two.
// (A data dir from before had the leaf digests in a third table,
// "store.leaves"; LmdbStorage::open_store moves them into store.index once.)
//
// Writes (put/erase/set_leaf) only go to an in-memory overlay of pending
// writes. Reads merge that overlay over what LMDB holds, so they see every
// write made so far. LmdbStorage::apply(ops, this) writes the core's ops and
// the overlay in one transaction and, only once it has committed, empties
// the overlay; a failed apply stores nothing and keeps the overlay. A write
// never applied is gone after a restart (the tables are as of the last
// commit).
//
// Reads use one read-only LMDB transaction, begun at the first read after a
// commit and reset by apply(ops, this) after each commit: pass this store to
// EVERY apply of its LmdbStorage, or a stale snapshot keeps LMDB from reusing
// freed pages. (That read transaction stays open while apply's write
// transaction runs on the same thread: LmdbStorage opens the environment
// with MDB_NOTLS, which allows it.) A read that LMDB fails (a corrupt file, no reader slot) stops
// the process: StoreBackend reads have no error channel, and answering from
// a partial view would make this replica diverge.
//
// Made by LmdbStorage::open_store(); at most one per LmdbStorage, and it must
// be destroyed before that LmdbStorage. Not thread-safe: the driver thread
// owns it (with its LmdbStorage). Neither copyable nor movable.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "core/store_backend.hpp"
#include "synod/types.hpp"

struct MDB_env;  // <lmdb.h>
struct MDB_txn;

namespace synod::runtime {

class LmdbStorage;  // runtime/lmdb_storage.hpp

class LmdbStore final : public StoreBackend {
 public:
  ~LmdbStore() override;
  LmdbStore(const LmdbStore&) = delete;
  LmdbStore& operator=(const LmdbStore&) = delete;

  std::optional<Bytes> get(ByteView key) const override;
  void scan(ByteView from, ByteView to, const std::function<bool(ByteView, ByteView)>& visit) const override;
  std::vector<BucketEntry> bucket(Bucket b) const override;
  void leaves(const std::function<void(Bucket, const Digest&)>& visit) const override;
  void put(Bucket b, ByteView key, ByteView value, const Digest& entry_digest) override;
  void erase(Bucket b, ByteView key) override;
  void set_leaf(Bucket b, const Digest& digest) override;

  // Whether some write awaits LmdbStorage::apply (the event loop commits
  // even without persist ops then).
  bool has_pending() const;

  // Ascending byte order (memcmp, then the shorter first): LMDB's default
  // key order, so the overlay and the LMDB tables merge in one pass.
  struct BytesLess {
    using is_transparent = void;
    bool operator()(ByteView a, ByteView b) const;
  };
  // Pending writes, by table key: a value to put, or nullopt to delete.
  template <class V>
  using Overlay = std::map<Bytes, std::optional<V>, BytesLess>;

 private:
  friend class LmdbStorage;
  // The LMDB handles LmdbStorage::open_store opened (MDB_dbi is unsigned int).
  struct Tables {
    MDB_env* env = nullptr;
    unsigned int data = 0;
    unsigned int index = 0;
    std::filesystem::path dir;  // for messages
  };
  explicit LmdbStore(Tables tables);

  // For LmdbStorage::apply: every pending write, table by table in key order.
  const Overlay<Bytes>& pending_data() const { return data_; }
  const Overlay<Digest>& pending_index() const { return index_; }
  const Tables& tables() const { return tables_; }
  // Called by apply after its transaction committed: LMDB now holds every
  // pending write, and the read snapshot is stale.
  void committed();

  MDB_txn* reader() const;

  Tables tables_;
  Overlay<Bytes> data_;      // backend key -> value
  Overlay<Digest> index_;    // be32(bucket) ++ backend key -> entry digest; be32(bucket) -> leaf digest
  mutable MDB_txn* read_txn_ = nullptr;
  mutable bool read_txn_live_ = false;  // begun or renewed since the last reset
};

}  // namespace synod::runtime
