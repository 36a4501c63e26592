#include "runtime/lmdb_store.hpp"

#include <lmdb.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

#include "synod/assert.hpp"

namespace synod::runtime {

static_assert(std::is_same_v<MDB_dbi, unsigned int>, "LmdbStore::Tables holds MDB_dbi as unsigned int");

namespace {

constexpr std::size_t kBucketPrefixBytes = 4;

Bytes be32(Bucket b) {
  return Bytes{static_cast<std::uint8_t>(b >> 24), static_cast<std::uint8_t>(b >> 16),
               static_cast<std::uint8_t>(b >> 8), static_cast<std::uint8_t>(b)};
}

Bucket bucket_of_prefix(ByteView key) {
  SYNOD_ASSERT(key.size() >= kBucketPrefixBytes, "a store.index key starts with its bucket");
  return (Bucket{key[0]} << 24) | (Bucket{key[1]} << 16) | (Bucket{key[2]} << 8) | Bucket{key[3]};
}

Bytes index_key(Bucket b, ByteView key) {
  Bytes out = be32(b);
  out.insert(out.end(), key.begin(), key.end());
  return out;
}

int compare(ByteView a, ByteView b) {
  const std::size_t common = std::min(a.size(), b.size());
  if (common > 0) {
    if (const int c = std::memcmp(a.data(), b.data(), common); c != 0) return c;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

bool starts_with(ByteView key, ByteView prefix) {
  return key.size() >= prefix.size() && compare(key.first(prefix.size()), prefix) == 0;
}

ByteView view_of(const MDB_val& v) { return ByteView(static_cast<const std::uint8_t*>(v.mv_data), v.mv_size); }
MDB_val val_of(ByteView v) { return MDB_val{v.size(), const_cast<std::uint8_t*>(v.data())}; }
ByteView bytes_of(const Bytes& b) { return as_view(b); }
ByteView bytes_of(const Digest& d) { return as_view(d); }

Digest digest_of(ByteView v) {
  SYNOD_ASSERT(v.size() == kDigestBytes, "store.index holds 32-byte digests");
  Digest d;
  std::copy(v.begin(), v.end(), d.begin());
  return d;
}

void check_read(int rc, const char* what) {
  // No error channel in StoreBackend reads: a partial view would diverge.
  if (rc != 0 && rc != MDB_NOTFOUND) {
    SYNOD_ASSERT(false, (std::string("LMDB store read failed: ") + what + ": " + mdb_strerror(rc)).c_str());
  }
}

struct Cursor {
  MDB_cursor* cursor = nullptr;
  Cursor(MDB_txn* txn, MDB_dbi dbi) { check_read(mdb_cursor_open(txn, dbi, &cursor), "cursor_open"); }
  ~Cursor() { mdb_cursor_close(cursor); }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  // MDB_NOTFOUND (past the end) is false; any other error stops the process.
  bool get(MDB_val& key, MDB_val& value, MDB_cursor_op op) {
    const int rc = mdb_cursor_get(cursor, &key, &value, op);
    check_read(rc, "cursor_get");
    return rc == 0;
  }
};

// Visits, in ascending key order from `from` (empty: the first key) while
// in_range(key) holds, every key of table `dbi` merged with `overlay`: a
// pending value hides the stored one, a pending delete hides the key. Both
// ranges are contiguous from `from`, so the first key out of range ends it.
// visit(key, value) returns false to stop. Writes made by visit are fine:
// map iterators survive inserts, and the read snapshot never sees them.
template <class V, class InRange, class Visit>
void merge(MDB_txn* txn, MDB_dbi dbi, const LmdbStore::Overlay<V>& overlay, ByteView from, const InRange& in_range,
           const Visit& visit) {
  Cursor cursor(txn, dbi);
  MDB_val stored_key{0, nullptr};
  MDB_val stored_value{0, nullptr};
  bool stored = false;
  if (from.empty()) {
    stored = cursor.get(stored_key, stored_value, MDB_FIRST);
  } else {
    stored_key = val_of(from);  // MDB_SET_RANGE: the first key >= from
    stored = cursor.get(stored_key, stored_value, MDB_SET_RANGE);
  }
  auto pending = from.empty() ? overlay.begin() : overlay.lower_bound(from);
  while (stored || pending != overlay.end()) {
    // cmp < 0: the stored key comes first; > 0: the pending one; 0: the pending write wins.
    const int cmp = !stored ? 1 : (pending == overlay.end() ? -1 : compare(view_of(stored_key), pending->first));
    const ByteView key = cmp < 0 ? view_of(stored_key) : ByteView(pending->first);
    if (!in_range(key)) return;
    bool go_on = true;
    if (cmp < 0) {
      go_on = visit(key, view_of(stored_value));
    } else if (pending->second) {
      go_on = visit(key, bytes_of(*pending->second));
    }
    if (!go_on) return;
    if (cmp <= 0) stored = cursor.get(stored_key, stored_value, MDB_NEXT);
    if (cmp >= 0) ++pending;
  }
}

}  // namespace

bool LmdbStore::BytesLess::operator()(ByteView a, ByteView b) const { return compare(a, b) < 0; }

LmdbStore::LmdbStore(Tables tables) : tables_(std::move(tables)) {
  SYNOD_ASSERT(tables_.env != nullptr, "an LmdbStore lives in an open environment");
}

LmdbStore::~LmdbStore() {
  if (read_txn_ != nullptr) mdb_txn_abort(read_txn_);
}

MDB_txn* LmdbStore::reader() const {
  if (read_txn_ == nullptr) {
    check_read(mdb_txn_begin(tables_.env, nullptr, MDB_RDONLY, &read_txn_), "txn_begin");
    SYNOD_ASSERT(read_txn_ != nullptr, "a read transaction was begun");
  } else if (!read_txn_live_) {
    check_read(mdb_txn_renew(read_txn_), "txn_renew");
  }
  read_txn_live_ = true;
  return read_txn_;
}

void LmdbStore::committed() {
  data_.clear();
  index_.clear();
  // The snapshot predates the commit; the next read begins a fresh one.
  if (read_txn_ != nullptr && read_txn_live_) mdb_txn_reset(read_txn_);
  read_txn_live_ = false;
  SYNOD_ASSERT(!has_pending(), "a commit leaves nothing pending");
}

bool LmdbStore::has_pending() const { return !data_.empty() || !index_.empty(); }

std::optional<Bytes> LmdbStore::get(ByteView key) const {
  if (const auto it = data_.find(key); it != data_.end()) return it->second;
  if (key.empty()) return std::nullopt;  // LMDB refuses empty keys; none is ever stored
  MDB_val k = val_of(key);
  MDB_val v{0, nullptr};
  const int rc = mdb_get(reader(), tables_.data, &k, &v);
  check_read(rc, "get");
  if (rc == MDB_NOTFOUND) return std::nullopt;
  const ByteView value = view_of(v);
  return Bytes(value.begin(), value.end());
}

void LmdbStore::scan(ByteView from, ByteView to, const std::function<bool(ByteView, ByteView)>& visit) const {
  if (!to.empty() && compare(from, to) >= 0) return;
  merge(reader(), tables_.data, data_, from, [&](ByteView key) { return to.empty() || compare(key, to) < 0; },
        [&](ByteView key, ByteView value) { return visit(key, value); });
}

std::vector<BucketEntry> LmdbStore::bucket(Bucket b) const {
  const Bytes prefix = be32(b);
  std::vector<BucketEntry> entries;
  merge(reader(), tables_.index, index_, prefix, [&](ByteView key) { return starts_with(key, prefix); },
        [&](ByteView key, ByteView digest) {
          if (key.size() == kBucketPrefixBytes) return true;  // the bucket's leaf record
          const ByteView own_key = key.subspan(kBucketPrefixBytes);
          entries.push_back(BucketEntry{Bytes(own_key.begin(), own_key.end()), digest_of(digest)});
          return true;
        });
  return entries;
}

// One pass over store.index: the leaf records among the entries. (A restart
// reads the whole index once: a sequential scan, about 0.1 s per million
// entries, not the data table.)
void LmdbStore::leaves(const std::function<void(Bucket, const Digest&)>& visit) const {
  merge(reader(), tables_.index, index_, ByteView{}, [](ByteView) { return true; },
        [&](ByteView key, ByteView digest) {
          if (key.size() == kBucketPrefixBytes) visit(bucket_of_prefix(key), digest_of(digest));
          return true;
        });
}

void LmdbStore::put(Bucket b, ByteView key, ByteView value, const Digest& entry_digest) {
  SYNOD_ASSERT(!key.empty(), "backend keys start with their namespace byte");
  data_.insert_or_assign(Bytes(key.begin(), key.end()), Bytes(value.begin(), value.end()));
  index_.insert_or_assign(index_key(b, key), entry_digest);
}

void LmdbStore::erase(Bucket b, ByteView key) {
  SYNOD_ASSERT(!key.empty(), "backend keys start with their namespace byte");
  data_.insert_or_assign(Bytes(key.begin(), key.end()), std::nullopt);
  index_.insert_or_assign(index_key(b, key), std::nullopt);
}

void LmdbStore::set_leaf(Bucket b, const Digest& digest) {
  // The zero digest is an empty bucket: its leaf is removed, never stored.
  if (digest == Digest{}) {
    index_.insert_or_assign(be32(b), std::nullopt);
  } else {
    index_.insert_or_assign(be32(b), digest);
  }
}

}  // namespace synod::runtime
