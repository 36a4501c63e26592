// runtime/lmdb_storage.hpp — a replica's durable state (synod::DurableState)
// in one LMDB environment: one key/value pair per PersistOp key.
//
// Durability: the environment is opened without MDB_NOSYNC/MDB_NOMETASYNC,
// so apply() returns only after the commit is fsync'ed. apply() takes any
// number of ops — the event loop hands it every persist op gathered from
// several inputs — and commits them in ONE write transaction (group commit:
// one fsync for all of them, all or nothing).
//
// A store-backed replica's tables (synod/store.hpp) live in the same
// environment, in databases of their own (runtime/lmdb_store.hpp):
// open_store() makes the StoreBackend over them, and apply(ops, store)
// commits its pending writes in the same transaction as `ops`. load() reads
// the protocol core's table only, never the store's.
//
// One LmdbStorage per data dir at a time (an flock on DIR/synod.lock, held
// until destruction): a second open, in any process, fails.
//
// Not thread-safe: one event-loop thread owns it. Move-only.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>

#include "synod/replica.hpp"
#include "synod/result.hpp"

struct MDB_txn;  // <lmdb.h>

namespace synod::runtime {

class LmdbStore;  // runtime/lmdb_store.hpp

// Default LMDB map size: the upper bound on the data file. LMDB reserves it
// as address space (sparse file), so a large value costs nothing up front.
inline constexpr std::size_t kDefaultMapBytes = std::size_t{1} << 30;

class LmdbStorage {
 public:
  // Creates `dir` if needed and opens (or creates) the environment in it.
  // fsync = false commits without flushing (MDB_NOSYNC): what was stored
  // survives this process dying, not the machine (ClusterConfig::fsync).
  static Result<LmdbStorage> open(const std::filesystem::path& dir, std::size_t map_bytes = kDefaultMapBytes,
                                  bool fsync = true);

  LmdbStorage(LmdbStorage&&) noexcept;
  LmdbStorage& operator=(LmdbStorage&&) noexcept;
  ~LmdbStorage();

  // Everything stored, as the core persisted it.
  Result<DurableState> load() const;

  // Applies `ops` in order (value = put, nullopt = delete; deleting an
  // absent key is fine) in one durable transaction. On error nothing of
  // `ops` is stored; MDB_MAP_FULL is reported as such with the map size.
  // With `store` (made by this storage's open_store()), the same transaction
  // also writes every pending write of `store`, and only once it has
  // committed are they no longer pending; on error neither `ops` nor the
  // store's writes are stored, and they stay pending. Nothing to write (no
  // ops, nothing pending) is no transaction.
  Result<void> apply(std::span<const PersistOp> ops, LmdbStore* store = nullptr);

  // Opens (creating them on first use) the store's tables in this
  // environment and returns the StoreBackend over them. At most one per
  // LmdbStorage; it must be destroyed before this LmdbStorage.
  Result<std::unique_ptr<LmdbStore>> open_store();

  std::size_t map_bytes() const;

 private:
  struct Env;
  explicit LmdbStorage(std::unique_ptr<Env> env);
  Result<void> move_old_leaves(MDB_txn* txn, unsigned int index);
  std::unique_ptr<Env> env_;
};

}  // namespace synod::runtime
