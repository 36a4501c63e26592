#include "runtime/lmdb_storage.hpp"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <string>

namespace synod::runtime {

struct LmdbStorage::Env {
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  std::size_t map_bytes = 0;
  std::filesystem::path dir;
  int lock_fd = -1;  // flock'ed for the Env's lifetime: one process per data dir

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
  if (int rc = mdb_env_set_maxdbs(env->env, 1); rc != 0) return lmdb_error(dir, "set_maxdbs", rc);
  // Without MDB_NOSYNC a commit is durable when it returns (durable before
  // visible). With it (fsync = false) a commit has reached the kernel, which
  // is enough for a process crash. MDB_NOTLS: the handle is not bound to a thread.
  const unsigned flags = MDB_NOTLS | (fsync ? 0u : static_cast<unsigned>(MDB_NOSYNC));
  if (int rc = mdb_env_open(env->env, dir.c_str(), flags, 0600); rc != 0) return lmdb_error(dir, "open", rc);
  Txn txn;
  if (int rc = mdb_txn_begin(env->env, nullptr, 0, &txn.txn); rc != 0) return lmdb_error(dir, "txn_begin", rc);
  if (int rc = mdb_dbi_open(txn.txn, "synod", MDB_CREATE, &env->dbi); rc != 0) return lmdb_error(dir, "dbi_open", rc);
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

Result<void> LmdbStorage::apply(std::span<const PersistOp> ops) {
  if (ops.empty()) return {};
  Txn txn;
  if (int rc = mdb_txn_begin(env_->env, nullptr, 0, &txn.txn); rc != 0) return lmdb_error(env_->dir, "txn_begin", rc);
  for (const PersistOp& op : ops) {
    if (op.key.empty() || op.key.size() > static_cast<std::size_t>(mdb_env_get_maxkeysize(env_->env))) {
      return fail(ErrorCode::invalid_argument, "LMDB key of " + std::to_string(op.key.size()) +
                                                   " bytes is empty or over the key size limit");
    }
    MDB_val key = view_of(op.key);
    int rc = 0;
    if (op.value) {
      MDB_val value{op.value->size(), const_cast<std::uint8_t*>(op.value->data())};
      rc = mdb_put(txn.txn, env_->dbi, &key, &value, 0);
    } else {
      rc = mdb_del(txn.txn, env_->dbi, &key, nullptr);
      if (rc == MDB_NOTFOUND) rc = 0;
    }
    if (rc == MDB_MAP_FULL) {
      return fail(ErrorCode::io, "LMDB map full in " + env_->dir.string() + " (map size " +
                                     std::to_string(env_->map_bytes) + " bytes): raise the map size");
    }
    if (rc != 0) return lmdb_error(env_->dir, op.value ? "put" : "del", rc);
  }
  if (int rc = txn.commit(); rc != 0) {
    if (rc == MDB_MAP_FULL) {
      return fail(ErrorCode::io, "LMDB map full in " + env_->dir.string() + " (map size " +
                                     std::to_string(env_->map_bytes) + " bytes): raise the map size");
    }
    return lmdb_error(env_->dir, "commit", rc);
  }
  return {};
}

}  // namespace synod::runtime
