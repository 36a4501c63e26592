// runtime/lmdb_store.hpp: the StoreBackend contract (core/store_backend.hpp)
// over LMDB — reads see pending writes, apply(ops, store) commits them with
// the protocol core's ops or not at all, a crash forgets what was never
// applied — and a differential run against core's MemoryStore.
#include "runtime/lmdb_store.hpp"

#include <doctest/doctest.h>
#include <lmdb.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/store_backend.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/free_ports.hpp"
#include "runtime/lmdb_storage.hpp"
#include "runtime/openssl_crypto.hpp"
#include "synod/crypto/private_key.hpp"
#include "temp_dir.hpp"

namespace synod::runtime {
namespace {

using test::TempDir;

Bytes key_of(std::string_view text) { return to_bytes(text); }
Digest digest_of(std::uint8_t fill) {
  Digest d;
  d.fill(fill);
  return d;
}
PersistOp put_op(std::string key, std::string value) { return PersistOp{std::move(key), to_bytes(value)}; }

// A storage and its store, closed in the right order (the store first).
struct OpenStore {
  std::optional<LmdbStorage> storage;
  std::unique_ptr<LmdbStore> store;

  explicit OpenStore(const std::filesystem::path& dir, std::size_t map_bytes = kDefaultMapBytes, bool fsync = true) {
    auto s = LmdbStorage::open(dir, map_bytes, fsync);
    REQUIRE_MESSAGE(s, s.error().message);
    storage.emplace(std::move(*s));
    auto st = storage->open_store();
    REQUIRE_MESSAGE(st, st.error().message);
    store = std::move(*st);
  }
  ~OpenStore() { store.reset(); }
  Result<void> apply(std::span<const PersistOp> ops = {}) { return storage->apply(ops, store.get()); }
};

std::optional<std::string> get(const StoreBackend& store, std::string_view key) {
  auto v = store.get(as_view(key_of(key)));
  if (!v) return std::nullopt;
  return to_string(as_view(*v));
}

// Every (key, value) of scan(from, to), stopping after `limit` visits.
std::vector<std::pair<std::string, std::string>> scan(const StoreBackend& store, std::string_view from,
                                                      std::string_view to, std::size_t limit = SIZE_MAX) {
  std::vector<std::pair<std::string, std::string>> out;
  const Bytes f = key_of(from);
  const Bytes t = key_of(to);
  store.scan(as_view(f), as_view(t), [&](ByteView key, ByteView value) {
    out.emplace_back(to_string(key), to_string(value));
    return out.size() < limit;
  });
  return out;
}

std::vector<std::pair<Bucket, Digest>> leaves_of(const StoreBackend& store) {
  std::vector<std::pair<Bucket, Digest>> out;
  store.leaves([&](Bucket b, const Digest& d) { out.emplace_back(b, d); });
  return out;
}

void put(StoreBackend& store, Bucket b, std::string_view key, std::string_view value) {
  const Bytes k = key_of(key);
  const Bytes v = to_bytes(value);
  store.put(b, as_view(k), as_view(v), digest_of(static_cast<std::uint8_t>(value.size() + 1)));
}
void erase(StoreBackend& store, Bucket b, std::string_view key) {
  const Bytes k = key_of(key);
  store.erase(b, as_view(k));
}

TEST_CASE("lmdb store: every read sees a write before apply, and the same after apply") {
  TempDir dir;
  OpenStore r(dir.path());
  CHECK_FALSE(r.store->has_pending());
  put(*r.store, 7, "ak1", "v1");
  put(*r.store, 7, "ak2", "v2");
  put(*r.store, 0x01000000, "ak3", "");  // an empty value is a value
  r.store->set_leaf(7, digest_of(0xaa));
  r.store->set_leaf(0x01000000, digest_of(0xbb));
  CHECK(r.store->has_pending());

  const auto check_reads = [&] {
    CHECK(get(*r.store, "ak1") == "v1");
    CHECK(get(*r.store, "ak3") == "");
    CHECK_FALSE(get(*r.store, "ak4"));
    CHECK(scan(*r.store, "", "") ==
          std::vector<std::pair<std::string, std::string>>{{"ak1", "v1"}, {"ak2", "v2"}, {"ak3", ""}});
    const std::vector<BucketEntry> bucket7{{key_of("ak1"), digest_of(3)}, {key_of("ak2"), digest_of(3)}};
    CHECK(r.store->bucket(7) == bucket7);
    CHECK(r.store->bucket(0x01000000).size() == 1);
    CHECK(r.store->bucket(8).empty());
    CHECK(leaves_of(*r.store) ==
          std::vector<std::pair<Bucket, Digest>>{{7, digest_of(0xaa)}, {0x01000000, digest_of(0xbb)}});
  };
  check_reads();
  REQUIRE(r.apply());  // no persist ops: the store's writes alone are a transaction
  CHECK_FALSE(r.store->has_pending());
  check_reads();

  // Erasing a committed key and emptying a committed leaf hide them at once and for good.
  erase(*r.store, 7, "ak1");
  r.store->set_leaf(0x01000000, Digest{});
  const auto check_erased = [&] {
    CHECK_FALSE(get(*r.store, "ak1"));
    CHECK(scan(*r.store, "", "") == std::vector<std::pair<std::string, std::string>>{{"ak2", "v2"}, {"ak3", ""}});
    CHECK(r.store->bucket(7) == std::vector<BucketEntry>{{key_of("ak2"), digest_of(3)}});
    CHECK(leaves_of(*r.store) == std::vector<std::pair<Bucket, Digest>>{{7, digest_of(0xaa)}});
  };
  check_erased();
  REQUIRE(r.apply());
  check_erased();
}

TEST_CASE("lmdb store: scan merges pending and committed keys in byte order, within [from, to), and stops on false") {
  TempDir dir;
  OpenStore r(dir.path());
  for (const char* key : {"ab", "ad", "af", "ah"}) put(*r.store, 1, key, std::string("old-") + key);
  REQUIRE(r.apply());
  put(*r.store, 1, "aa", "new-aa");   // before every committed key
  put(*r.store, 1, "ac", "new-ac");   // between two
  put(*r.store, 1, "ad", "new-ad");   // overrides a committed key
  erase(*r.store, 1, "af");           // hides one
  erase(*r.store, 1, "ag");           // erasing an absent key is nothing
  put(*r.store, 1, "ai", "new-ai");   // after every committed key
  put(*r.store, 1, "ab\x01", "new-ab1");  // a longer key sorts after its prefix

  using Pairs = std::vector<std::pair<std::string, std::string>>;
  CHECK(scan(*r.store, "", "") == Pairs{{"aa", "new-aa"},
                                        {"ab", "old-ab"},
                                        {"ab\x01", "new-ab1"},
                                        {"ac", "new-ac"},
                                        {"ad", "new-ad"},
                                        {"ah", "old-ah"},
                                        {"ai", "new-ai"}});
  CHECK(scan(*r.store, "ab\x01", "ah") == Pairs{{"ab\x01", "new-ab1"}, {"ac", "new-ac"}, {"ad", "new-ad"}});
  CHECK(scan(*r.store, "ae", "") == Pairs{{"ah", "old-ah"}, {"ai", "new-ai"}});
  CHECK(scan(*r.store, "", "", 3) == Pairs{{"aa", "new-aa"}, {"ab", "old-ab"}, {"ab\x01", "new-ab1"}});
  CHECK(scan(*r.store, "ac", "", 1) == Pairs{{"ac", "new-ac"}});
  CHECK(scan(*r.store, "ad", "ad").empty());
  CHECK(scan(*r.store, "ah", "ab").empty());
}

TEST_CASE("lmdb store: apply commits the store's writes and the persist ops together, and load() holds the ops only") {
  TempDir dir;
  {
    OpenStore r(dir.path());
    put(*r.store, 3, "ak", "value");
    r.store->set_leaf(3, digest_of(9));
    const std::vector<PersistOp> ops{put_op("view", "4"), put_op("log/1", "batch")};
    REQUIRE(r.apply(ops));
  }
  OpenStore r(dir.path());
  CHECK(get(*r.store, "ak") == "value");
  CHECK(r.store->bucket(3) == std::vector<BucketEntry>{{key_of("ak"), digest_of(6)}});
  CHECK(leaves_of(*r.store) == std::vector<std::pair<Bucket, Digest>>{{3, digest_of(9)}});
  auto state = r.storage->load();
  REQUIRE(state);
  CHECK(*state == DurableState{{"view", to_bytes("4")}, {"log/1", to_bytes("batch")}});
}

TEST_CASE("lmdb store: a write never applied is gone after a restart") {
  TempDir dir;
  {
    OpenStore r(dir.path());
    put(*r.store, 1, "kept", "1");
    REQUIRE(r.apply());
    put(*r.store, 1, "lost", "2");
    erase(*r.store, 1, "kept");
    r.store->set_leaf(1, digest_of(5));
    // Closed without apply: what a crash before the commit leaves.
  }
  OpenStore r(dir.path());
  CHECK_FALSE(r.store->has_pending());
  CHECK(get(*r.store, "kept") == "1");
  CHECK_FALSE(get(*r.store, "lost"));
  CHECK(leaves_of(*r.store).empty());
}

TEST_CASE("lmdb store: apply without the store leaves its writes pending and unstored") {
  TempDir dir;
  {
    OpenStore r(dir.path());
    put(*r.store, 1, "ak", "v");
    const std::vector<PersistOp> ops{put_op("view", "1")};
    REQUIRE(r.storage->apply(ops));  // the old signature: no store
    CHECK(r.store->has_pending());
  }
  OpenStore r(dir.path());
  CHECK_FALSE(get(*r.store, "ak"));
  auto state = r.storage->load();
  REQUIRE(state);
  CHECK(state->size() == 1);
}

TEST_CASE("lmdb store: a failed apply (map full) stores neither the ops nor the store's writes, which stay pending") {
  TempDir dir;
  const std::size_t map_bytes = std::size_t{1} << 20;
  {
    OpenStore r(dir.path(), map_bytes);
    put(*r.store, 2, "ak", "committed");
    const std::vector<PersistOp> first{put_op("view", "1")};
    REQUIRE(r.apply(first));

    put(*r.store, 2, "ak", "pending");
    const Bytes huge_key = key_of("ahuge");
    const Bytes huge(std::size_t{4} << 20, 0xab);  // larger than the map
    r.store->put(2, as_view(huge_key), as_view(huge), digest_of(1));
    const std::vector<PersistOp> second{put_op("view", "2")};
    auto failed = r.apply(second);
    REQUIRE_FALSE(failed);
    CHECK(failed.error().message.find("map full") != std::string::npos);

    CHECK(r.store->has_pending());
    CHECK(get(*r.store, "ak") == "pending");
    CHECK(r.store->get(as_view(huge_key)) == huge);
    auto state = r.storage->load();
    REQUIRE(state);
    CHECK(to_string(as_view(state->at("view"))) == "1");
  }
  OpenStore r(dir.path(), map_bytes);
  CHECK(get(*r.store, "ak") == "committed");
  CHECK_FALSE(get(*r.store, "ahuge"));
  CHECK(r.store->bucket(2) == std::vector<BucketEntry>{{key_of("ak"), digest_of(10)}});
  // The environment still works after the failed transaction.
  put(*r.store, 2, "ak", "again");
  CHECK(r.apply());
  CHECK(get(*r.store, "ak") == "again");
}

TEST_CASE("lmdb store: a second open_store of one storage is refused") {
  TempDir dir;
  OpenStore r(dir.path());
  CHECK_FALSE(r.storage->open_store());
}

// A core that writes its store once, from tick(), with no persist op, and
// then asks the loop to stop.
class StoreWritingCore final : public Replica {
 public:
  StoreWritingCore(StoreBackend& store, std::atomic<bool>& stop) : store_(store), stop_(stop) {}
  void receive(TimeUs, ByteView, Effects&) override {}
  void tick(TimeUs, Effects&) override {
    put(store_, 1, "ak", "from-tick");
    ticked_ = true;
    stop_ = true;
  }
  TimeUs next_deadline() const override { return ticked_ ? std::numeric_limits<TimeUs>::max() : 0; }
  ReplicaStatus status() const override { return ReplicaStatus{}; }

 private:
  StoreBackend& store_;
  std::atomic<bool>& stop_;
  bool ticked_ = false;
};

TEST_CASE("lmdb store: the event loop commits store writes that come without persist ops") {
  TempDir dir;
  ClusterConfig config;
  config.protocol = Protocol::pbft;
  config.f = 1;
  const auto ports = free_loopback_ports(config.required_replicas());
  REQUIRE(ports);
  std::optional<crypto::PrivateKey> own_key;
  for (std::uint32_t i = 0; i < config.required_replicas(); ++i) {
    auto key = crypto::PrivateKey::generate();
    REQUIRE(key);
    auto pem = key->public_key()->to_pem();
    REQUIRE(pem);
    config.replicas.push_back({i, "tcp://127.0.0.1:" + std::to_string((*ports)[i]), *pem});
    if (i == 0) own_key.emplace(std::move(*key));
  }
  REQUIRE(config.validate());
  auto crypto = OpenSslCrypto::from_config(config, std::move(*own_key));
  REQUIRE(crypto);
  {
    OpenStore r(dir.path());
    std::atomic<bool> stop{false};
    StoreWritingCore core(*r.store, stop);
    EventLoopOptions options;
    options.store = r.store.get();
    auto loop = EventLoop::create(config, 0, core, *r.storage, **crypto, std::move(options));
    REQUIRE_MESSAGE(loop, loop.error().message);
    REQUIRE((*loop)->run(stop));
    CHECK((*loop)->stats().persist_transactions == 1);
    CHECK((*loop)->stats().persist_ops == 0);
    CHECK_FALSE(r.store->has_pending());
  }
  OpenStore r(dir.path());
  CHECK(get(*r.store, "ak") == "from-tick");
}

// The differential check: one seeded run of random writes, commits, crashes
// and reads, on LmdbStore and on MemoryStore side by side; every read must agree.
class Differential {
 public:
  Differential(const std::filesystem::path& dir, std::uint32_t seed) : dir_(dir), rng_(seed) { reopen(); }

  void step() {
    const std::uint32_t roll = pick(100);
    if (roll < 35) {
      const Bytes key = random_key();
      const Bytes value = random_value();
      const Digest d = random_digest();
      lmdb_->store->put(bucket_of(key), as_view(key), as_view(value), d);
      memory_.put(bucket_of(key), as_view(key), as_view(value), d);
    } else if (roll < 50) {
      const Bytes key = random_key();
      lmdb_->store->erase(bucket_of(key), as_view(key));
      memory_.erase(bucket_of(key), as_view(key));
    } else if (roll < 58) {
      const Bucket b = pick(kBuckets);
      const Digest d = pick(3) == 0 ? Digest{} : random_digest();
      lmdb_->store->set_leaf(b, d);
      memory_.set_leaf(b, d);
    } else if (roll < 64) {
      REQUIRE(lmdb_->apply());
      memory_.commit();
    } else if (roll < 66) {
      reopen();  // a crash: whatever was not applied is gone
      memory_.crash();
    } else {
      check_reads();
    }
  }

  void check_reads() {
    const Bytes key = random_key();
    CHECK(lmdb_->store->get(as_view(key)) == memory_.get(as_view(key)));
    Bytes from = pick(4) == 0 ? Bytes{} : random_key();
    Bytes to = pick(3) == 0 ? Bytes{} : random_key();
    const std::size_t limit = pick(4) == 0 ? 1 + pick(5) : SIZE_MAX;
    CHECK(scan_of(*lmdb_->store, from, to, limit) == scan_of(memory_, from, to, limit));
    const Bucket b = pick(kBuckets);
    CHECK(lmdb_->store->bucket(b) == memory_.bucket(b));
    CHECK(leaves_of(*lmdb_->store) == leaves_of(memory_));
  }

  void check_everything() {
    CHECK(scan_of(*lmdb_->store, {}, {}, SIZE_MAX) == scan_of(memory_, {}, {}, SIZE_MAX));
    for (Bucket b = 0; b < kBuckets; ++b) CHECK(lmdb_->store->bucket(b) == memory_.bucket(b));
    CHECK(leaves_of(*lmdb_->store) == leaves_of(memory_));
  }

 private:
  // Few buckets and short keys over a small alphabet with 0x00 and 0xff, so
  // keys collide, share prefixes and sort by length and by unsigned bytes.
  static constexpr Bucket kBuckets = 5;

  std::uint32_t pick(std::uint32_t n) { return std::uniform_int_distribution<std::uint32_t>(0, n - 1)(rng_); }
  Bytes random_key() {
    static constexpr std::uint8_t kAlphabet[] = {0x00, 0x01, 'a', 'b', 0x7f, 0x80, 0xff};
    Bytes key{'a'};
    const std::uint32_t length = pick(4);
    for (std::uint32_t i = 0; i < length; ++i) key.push_back(kAlphabet[pick(sizeof kAlphabet)]);
    return key;
  }
  Bytes random_value() {
    Bytes value(pick(6));
    for (auto& byte : value) byte = static_cast<std::uint8_t>(pick(256));
    return value;
  }
  Digest random_digest() {
    Digest d;
    for (auto& byte : d) byte = static_cast<std::uint8_t>(1 + pick(255));
    return d;
  }
  // A key's bucket is a function of the key, as MerkleStore's is.
  static Bucket bucket_of(const Bytes& key) {
    std::uint32_t sum = 0;
    for (std::uint8_t byte : key) sum += byte;
    return sum % kBuckets;
  }
  static std::vector<std::pair<Bytes, Bytes>> scan_of(const StoreBackend& store, const Bytes& from, const Bytes& to,
                                                      std::size_t limit) {
    std::vector<std::pair<Bytes, Bytes>> out;
    store.scan(as_view(from), as_view(to), [&](ByteView key, ByteView value) {
      out.emplace_back(Bytes(key.begin(), key.end()), Bytes(value.begin(), value.end()));
      return out.size() < limit;
    });
    return out;
  }
  void reopen() {
    lmdb_.reset();
    lmdb_ = std::make_unique<OpenStore>(dir_, kDefaultMapBytes, /*fsync=*/false);
  }

  std::filesystem::path dir_;
  std::mt19937 rng_;
  std::unique_ptr<OpenStore> lmdb_;
  MemoryStore memory_;
};

TEST_CASE("lmdb store: random writes, commits and crashes read the same as MemoryStore") {
  for (std::uint32_t seed : {1u, 2u, 3u, 4u}) {
    CAPTURE(seed);
    TempDir dir;
    Differential run(dir.path(), seed);
    for (int i = 0; i < 3000; ++i) run.step();
    run.check_everything();
  }
}

// A data dir as written before the leaf digests moved into store.index:
// entries in store.index, leaf digests (u32 big-endian bucket -> digest) in
// a table of their own, store.leaves.
void write_old_layout(const std::filesystem::path& dir, const std::vector<std::pair<Bytes, Bytes>>& leaves) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_set_maxdbs(env, 4) == 0);
  REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0600) == 0);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  MDB_dbi index = 0, old = 0, data = 0;
  REQUIRE(mdb_dbi_open(txn, "store.data", MDB_CREATE, &data) == 0);
  REQUIRE(mdb_dbi_open(txn, "store.index", MDB_CREATE, &index) == 0);
  REQUIRE(mdb_dbi_open(txn, "store.leaves", MDB_CREATE, &old) == 0);
  auto raw_put = [&](MDB_dbi dbi, const Bytes& k, const Bytes& v) {
    MDB_val key{k.size(), const_cast<std::uint8_t*>(k.data())};
    MDB_val value{v.size(), const_cast<std::uint8_t*>(v.data())};
    REQUIRE(mdb_put(txn, dbi, &key, &value, 0) == 0);
  };
  const Digest entry = digest_of(0x11);
  raw_put(data, key_of("ak"), key_of("v"));
  raw_put(index, Bytes{0, 0, 0, 7, 'a', 'k'}, Bytes(entry.begin(), entry.end()));
  for (const auto& [k, v] : leaves) raw_put(old, k, v);
  REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
}

bool has_table(const std::filesystem::path& dir, const char* name) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_set_maxdbs(env, 4) == 0);
  REQUIRE(mdb_env_open(env, dir.c_str(), MDB_RDONLY, 0600) == 0);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0);
  MDB_dbi dbi = 0;
  const int rc = mdb_dbi_open(txn, name, 0, &dbi);
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return rc == 0;
}

TEST_CASE("lmdb store: a data dir with the leaf digests in store.leaves has them moved into store.index") {
  TempDir dir;
  const Digest leaf7 = digest_of(0xaa);
  const Digest leaf9 = digest_of(0xbb);
  write_old_layout(dir.path(), {{Bytes{0, 0, 0, 7}, Bytes(leaf7.begin(), leaf7.end())},
                                {Bytes{0, 0, 0, 9}, Bytes(leaf9.begin(), leaf9.end())}});
  REQUIRE(has_table(dir.path(), "store.leaves"));
  {
    OpenStore r(dir.path());
    CHECK(leaves_of(*r.store) == std::vector<std::pair<Bucket, Digest>>{{7, leaf7}, {9, leaf9}});
    // The leaf record shares bucket 7's key range, but is no entry of it.
    CHECK(r.store->bucket(7) == std::vector<BucketEntry>{{key_of("ak"), digest_of(0x11)}});
    CHECK(r.store->bucket(9).empty());
    CHECK(get(*r.store, "ak") == "v");
  }
  CHECK_FALSE(has_table(dir.path(), "store.leaves"));
  // A second open finds nothing to move and the same leaves.
  OpenStore again(dir.path());
  CHECK(leaves_of(*again.store) == std::vector<std::pair<Bucket, Digest>>{{7, leaf7}, {9, leaf9}});
}

TEST_CASE("lmdb store: a store.leaves record that is no leaf digest is refused, and nothing moves") {
  TempDir dir;
  write_old_layout(dir.path(), {{Bytes{0, 0, 7}, Bytes(kDigestBytes, 1)}});
  {
    auto storage = LmdbStorage::open(dir.path());
    REQUIRE(storage);
    auto store = storage->open_store();
    REQUIRE_FALSE(store);
    CHECK(store.error().code == ErrorCode::corrupt);
    CHECK(store.error().message.find("store.leaves") != std::string::npos);
  }
  CHECK(has_table(dir.path(), "store.leaves"));
}

}  // namespace
}  // namespace synod::runtime
