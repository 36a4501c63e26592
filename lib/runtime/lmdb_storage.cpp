#include "runtime/lmdb_storage.hpp"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <optional>
#include <string>
#include <utility>

#include "runtime/lmdb_store.hpp"
#include "synod/assert.hpp"

namespace synod::runtime {

struct LmdbStorage::Env {
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  std::size_t map_bytes = 0;
  std::filesystem::path dir;
  int lock_fd = -1;  // flock'ed for the Env's lifetime: one process per data dir
  bool store_opened = false;  // open_store() makes at most one LmdbStore

  ~Env() {
    if (env != nullptr) mdb_env_close(env);
    if (lock_fd >= 0) ::close(lock_fd);
  }
};

namespace {

std::unexpected<Error> lmdb_error(const std::filesystem::path& dir, const char* what, int rc) {
  return fail(ErrorCode::io, "LMDB " + std::string(what) + " in " + dir.string() + ": " + mdb_strerror(rc));
}

// Aborts a transaction unless committed; keeps every error path short.
struct Txn {
  MDB_txn* txn = nullptr;
  ~Txn() {
    if (txn != nullptr) mdb_txn_abort(txn);
  }
  int commit() {
    const int rc = mdb_txn_commit(txn);
    txn = nullptr;  // committed or not, the handle is freed
    return rc;
  }
};

MDB_val view_of(const std::string& s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
MDB_val view_of(ByteView b) { return MDB_val{b.size(), const_cast<std::uint8_t*>(b.data())}; }

// The protocol core's table, then the store's (runtime/lmdb_store.hpp).
constexpr unsigned kMaxDbs = 4;
constexpr const char* kProtocolDb = "synod";
constexpr const char* kStoreDataDb = "store.data";
constexpr const char* kStoreIndexDb = "store.index";
// Where a data dir from before kept the leaf digests (open_store moves them).
constexpr const char* kOldStoreLeavesDb = "store.leaves";

std::unexpected<Error> map_full(const std::filesystem::path& dir, std::size_t map_bytes) {
  return fail(ErrorCode::io, "LMDB map full in " + dir.string() + " (map size " + std::to_string(map_bytes) +
                                 " bytes): raise the map size");
}

// One put (value) or delete (nullopt; an absent key is fine) into `db`.
Result<void> write(MDB_env* env, MDB_txn* txn, MDB_dbi dbi, const char* db, MDB_val key,
                   const std::optional<ByteView>& value, const std::filesystem::path& dir, std::size_t map_bytes) {
  if (key.mv_size == 0 || key.mv_size > static_cast<std::size_t>(mdb_env_get_maxkeysize(env))) {
    return fail(ErrorCode::invalid_argument, "LMDB key of " + std::to_string(key.mv_size) + " bytes for " + db +
                                                 " is empty or over the key size limit");
  }
  int rc = 0;
  if (value) {
    MDB_val v = view_of(*value);
    rc = mdb_put(txn, dbi, &key, &v, 0);
  } else {
    rc = mdb_del(txn, dbi, &key, nullptr);
    if (rc == MDB_NOTFOUND) rc = 0;
  }
  if (rc == MDB_MAP_FULL) return map_full(dir, map_bytes);
  if (rc != 0) return lmdb_error(dir, value ? "put" : "del", rc);
  return {};
}

// Every pending write of `overlay` into `dbi`, in key order.
template <class V>
Result<void> write_overlay(MDB_env* env, MDB_txn* txn, MDB_dbi dbi, const char* db, const LmdbStore::Overlay<V>& overlay,
                           const std::filesystem::path& dir, std::size_t map_bytes) {
  for (const auto& [key, value] : overlay) {
    std::optional<ByteView> v;
    if (value) v = ByteView(value->data(), value->size());
    if (auto r = write(env, txn, dbi, db, view_of(ByteView(key)), v, dir, map_bytes); !r) return r;
  }
  return {};
}

}  // namespace

LmdbStorage::LmdbStorage(std::unique_ptr<Env> env) : env_(std::move(env)) {}
LmdbStorage::LmdbStorage(LmdbStorage&&) noexcept = default;
LmdbStorage& LmdbStorage::operator=(LmdbStorage&&) noexcept = default;
LmdbStorage::~LmdbStorage() = default;

std::size_t LmdbStorage::map_bytes() const { return env_->map_bytes; }

Result<LmdbStorage> LmdbStorage::open(const std::filesystem::path& dir, std::size_t map_bytes, bool fsync) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(ErrorCode::io, "cannot create data directory " + dir.string() + ": " + ec.message());
  auto env = std::make_unique<Env>();
  env->dir = dir;
  // Two processes serving one replica's state could sign conflicting
  // messages; LMDB itself allows several processes, so lock the dir.
  const auto lock_path = dir / "synod.lock";
  env->lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (env->lock_fd < 0) {
    return fail(ErrorCode::io, "cannot open " + lock_path.string() + ": " + std::strerror(errno));
  }
  if (::flock(env->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return fail(ErrorCode::io, "data directory " + dir.string() + " is in use by another process");
  }
  env->map_bytes = map_bytes;
  if (int rc = mdb_env_create(&env->env); rc != 0) {
    env->env = nullptr;
    return lmdb_error(dir, "env_create", rc);
  }
  if (int rc = mdb_env_set_mapsize(env->env, map_bytes); rc != 0) return lmdb_error(dir, "set_mapsize", rc);
  if (int rc = mdb_env_set_maxdbs(env->env, kMaxDbs); rc != 0) return lmdb_error(dir, "set_maxdbs", rc);
  // Without MDB_NOSYNC a commit is durable when it returns (durable before
  // visible). With it (fsync = false) a commit has reached the kernel, which
  // is enough for a process crash. MDB_NOTLS: the handle is not bound to a thread.
  const unsigned flags = MDB_NOTLS | (fsync ? 0u : static_cast<unsigned>(MDB_NOSYNC));
  if (int rc = mdb_env_open(env->env, dir.c_str(), flags, 0600); rc != 0) return lmdb_error(dir, "open", rc);
  Txn txn;
  if (int rc = mdb_txn_begin(env->env, nullptr, 0, &txn.txn); rc != 0) return lmdb_error(dir, "txn_begin", rc);
  if (int rc = mdb_dbi_open(txn.txn, kProtocolDb, MDB_CREATE, &env->dbi); rc != 0) return lmdb_error(dir, "dbi_open", rc);
  if (int rc = txn.commit(); rc != 0) return lmdb_error(dir, "commit", rc);
  return LmdbStorage(std::move(env));
}

Result<DurableState> LmdbStorage::load() const {
  Txn txn;
  if (int rc = mdb_txn_begin(env_->env, nullptr, MDB_RDONLY, &txn.txn); rc != 0) {
    return lmdb_error(env_->dir, "txn_begin", rc);
  }
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn.txn, env_->dbi, &cursor); rc != 0) return lmdb_error(env_->dir, "cursor_open", rc);
  DurableState state;
  MDB_val key, value;
  int rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST);
  while (rc == 0) {
    const auto* v = static_cast<const std::uint8_t*>(value.mv_data);
    state.emplace(std::string(static_cast<const char*>(key.mv_data), key.mv_size), Bytes(v, v + value.mv_size));
    rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) return lmdb_error(env_->dir, "cursor_get", rc);
  return state;
}

Result<void> LmdbStorage::apply(std::span<const PersistOp> ops, LmdbStore* store) {
  if (ops.empty() && (store == nullptr || !store->has_pending())) return {};
  if (store != nullptr) {
    SYNOD_ASSERT(store->tables().env == env_->env, "apply gets a store of this storage's environment");
  }
  const std::filesystem::path& dir = env_->dir;
  Txn txn;
  if (int rc = mdb_txn_begin(env_->env, nullptr, 0, &txn.txn); rc != 0) return lmdb_error(dir, "txn_begin", rc);
  for (const PersistOp& op : ops) {
    std::optional<ByteView> value;
    if (op.value) value = as_view(*op.value);
    if (auto r = write(env_->env, txn.txn, env_->dbi, kProtocolDb, view_of(op.key), value, dir, env_->map_bytes); !r) {
      return r;
    }
  }
  if (store != nullptr) {
    // The store's writes in the same transaction: a batch's effects and the
    // core's record of it become durable together (core/store_backend.hpp).
    const LmdbStore::Tables& t = store->tables();
    if (auto r = write_overlay(env_->env, txn.txn, t.data, kStoreDataDb, store->pending_data(), dir, env_->map_bytes);
        !r) {
      return r;
    }
    if (auto r = write_overlay(env_->env, txn.txn, t.index, kStoreIndexDb, store->pending_index(), dir,
                               env_->map_bytes);
        !r) {
      return r;
    }
  }
  if (int rc = txn.commit(); rc != 0) {
    if (rc == MDB_MAP_FULL) return map_full(dir, env_->map_bytes);
    return lmdb_error(dir, "commit", rc);
  }
  // Only now: a failed transaction leaves the store's writes pending.
  if (store != nullptr) store->committed();
  return {};
}

// A data dir written before the leaf digests moved into store.index
// (runtime/lmdb_store.hpp) has them in a table of their own: copy each to its
// leaf record (u32 big-endian bucket, the same key) and drop that table, in
// the caller's transaction, so the move is all or nothing.
Result<void> LmdbStorage::move_old_leaves(MDB_txn* txn, unsigned int index) {
  MDB_dbi old = 0;
  if (int rc = mdb_dbi_open(txn, kOldStoreLeavesDb, 0, &old); rc == MDB_NOTFOUND) {
    return {};
  } else if (rc != 0) {
    return lmdb_error(env_->dir, "dbi_open", rc);
  }
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn, old, &cursor); rc != 0) return lmdb_error(env_->dir, "cursor_open", rc);
  MDB_val key, value;
  int rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST);
  for (; rc == 0; rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
    if (key.mv_size != 4 || value.mv_size != kDigestBytes) {
      mdb_cursor_close(cursor);
      return fail(ErrorCode::corrupt, "store.leaves in " + env_->dir.string() + " holds a record that is no leaf digest");
    }
    if (int put = mdb_put(txn, index, &key, &value, 0); put != 0) {
      mdb_cursor_close(cursor);
      if (put == MDB_MAP_FULL) return map_full(env_->dir, env_->map_bytes);
      return lmdb_error(env_->dir, "put", put);
    }
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) return lmdb_error(env_->dir, "cursor_get", rc);
  if (int drop = mdb_drop(txn, old, 1); drop != 0) return lmdb_error(env_->dir, "drop", drop);
  return {};
}

Result<std::unique_ptr<LmdbStore>> LmdbStorage::open_store() {
  if (env_->store_opened) return fail(ErrorCode::invalid_argument, "the store of " + env_->dir.string() + " is already open");
  LmdbStore::Tables tables;
  tables.env = env_->env;
  tables.dir = env_->dir;
  Txn txn;
  if (int rc = mdb_txn_begin(env_->env, nullptr, 0, &txn.txn); rc != 0) return lmdb_error(env_->dir, "txn_begin", rc);
  for (auto [name, dbi] : {std::pair{kStoreDataDb, &tables.data}, std::pair{kStoreIndexDb, &tables.index}}) {
    if (int rc = mdb_dbi_open(txn.txn, name, MDB_CREATE, dbi); rc != 0) return lmdb_error(env_->dir, "dbi_open", rc);
  }
  if (auto moved = move_old_leaves(txn.txn, tables.index); !moved) return std::unexpected(moved.error());
  if (int rc = txn.commit(); rc != 0) {
    if (rc == MDB_MAP_FULL) return map_full(env_->dir, env_->map_bytes);
    return lmdb_error(env_->dir, "commit", rc);
  }
  env_->store_opened = true;
  return std::unique_ptr<LmdbStore>(new LmdbStore(std::move(tables)));
}

}  // namespace synod::runtime
