// core/merkle_store.hpp and core/store_backend.hpp: the digest rules, the
// incremental tree against one built from scratch, MemoryStore's
// commit/crash, copy-on-write pins, and the application's namespace.
#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/merkle_store.hpp"
#include "core/store_backend.hpp"

namespace synod {
namespace {

using Node = MerkleStore::Node;

// A test double for Crypto: digest() is a 256-bit non-cryptographic hash
// (four seeded FNV-1a lanes, each finished with splitmix64), enough to spread
// keys over the buckets. `few_buckets` squeezes every digest's bucket bits
// into buckets 0..3, so that buckets hold many keys. It counts digests.
class TestCrypto final : public Crypto {
 public:
  explicit TestCrypto(bool few_buckets = false) : few_buckets_(few_buckets) {}
  Digest digest(ByteView data) const override {
    ++digests;
    Digest d{};
    for (std::uint64_t lane = 0; lane < 4; ++lane) {
      std::uint64_t h = 0xcbf29ce484222325ull ^ (lane * 0x9e3779b97f4a7c15ull);
      for (std::uint8_t b : data) h = (h ^ b) * 0x100000001b3ull;
      h = mix(h + data.size());
      std::memcpy(d.data() + 8 * lane, &h, sizeof h);
    }
    if (few_buckets_) {
      d[0] = 0;
      d[1] = 0;
      d[2] &= 0x3f;
    }
    return d;
  }
  Bytes sign(ByteView) const override { return {}; }
  bool verify(Principal, ByteView, ByteView) const override { return false; }
  Bytes mac(Principal, ByteView) const override { return {}; }
  bool verify_mac(Principal, ByteView, ByteView) const override { return false; }

  mutable std::size_t digests = 0;

 private:
  static std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  bool few_buckets_;
};

Bytes b(std::string_view s) { return to_bytes(s); }
ByteView v(const Bytes& bytes) { return as_view(bytes); }
Bytes key(std::string_view s) { return to_bytes(std::string("a") + std::string(s)); }  // a backend key

// What value_at answers for a pinned seq: the key's value, or absent.
std::optional<std::optional<Bytes>> held(std::optional<Bytes> value) {
  return std::optional<std::optional<Bytes>>(std::in_place, std::move(value));
}

void put(MerkleStore& s, const Bytes& k, const Bytes& value) { REQUIRE(s.put(v(k), v(value)).has_value()); }

// Every (key, value) of a store, through its scan.
std::map<Bytes, Bytes> contents(const MerkleStore& s) {
  std::map<Bytes, Bytes> out;
  s.scan({}, {}, [&](ByteView k, ByteView val) {
    out.emplace(Bytes(k.begin(), k.end()), Bytes(val.begin(), val.end()));
    return true;
  });
  return out;
}

// The root of a fresh store holding exactly `kv`, written in one go.
Digest root_from_scratch(const Crypto& crypto, const std::map<Bytes, Bytes>& kv) {
  MemoryStore backend;
  MerkleStore fresh(crypto, backend);
  for (const auto& [k, val] : kv) put(fresh, k, val);
  return fresh.root();
}

// A random mix of puts and erases over a small key space.
struct Workload {
  explicit Workload(std::uint64_t seed) : rng(seed) {}
  void step(MerkleStore& s, std::map<Bytes, Bytes>& model) {
    const Bytes k = key("k" + std::to_string(rng() % 300));
    if (rng() % 4 == 0) {
      s.erase(v(k));
      model.erase(k);
    } else {
      const Bytes val = b("v" + std::to_string(rng()));
      put(s, k, val);
      model[k] = val;
    }
  }
  std::mt19937_64 rng;
};

// The ancestors of bucket bk, root first, then the leaf itself.
std::vector<Node> path_to(Bucket bk) {
  std::vector<Node> path;
  for (std::uint8_t l = 0; l <= MerkleStore::kLevels; ++l) {
    std::uint32_t index = bk;
    for (std::uint8_t up = l; up < MerkleStore::kLevels; ++up) index /= MerkleStore::kFanout;
    path.push_back(Node{l, index});
  }
  return path;
}

// What `pinned` serves at seq equals the current state of `ref`, for every
// bucket (and its path) that holds or held one of `keys`.
void check_pinned_equals(const MerkleStore& pinned, Seq seq, MerkleStore& ref, const std::set<Bytes>& keys) {
  REQUIRE(pinned.pinned(seq));
  CHECK(pinned.node_at(seq, Node{0, 0}) == ref.root());
  for (const Bytes& k : keys) {
    CHECK(pinned.value_at(seq, v(k)) == held(ref.get(v(k))));
    const Bucket bk = ref.bucket_of(v(k));
    CHECK(pinned.bucket_at(seq, bk) == ref.bucket(bk));
    for (const Node& n : path_to(bk)) {
      CHECK(pinned.node_at(seq, n) == ref.node(n));
      if (n.level < MerkleStore::kLevels) CHECK(pinned.children_at(seq, n) == ref.children(n));
    }
  }
}

// ---- the digest rules

TEST_CASE("merkle store: the digests encode exactly as the header says") {
  TestCrypto crypto;
  MemoryStore backend;
  MerkleStore s(crypto, backend);
  const auto bytes = [](std::initializer_list<std::string_view> parts) {
    Bytes out;
    for (std::string_view p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  using namespace std::string_view_literals;
  const Digest entry = crypto.digest(v(bytes({"synod-entry", "\x02\0\0\0"sv, "ak", "\x03\0\0\0"sv, "val"})));
  CHECK(s.entry_digest(v(b("ak")), v(b("val"))) == entry);

  const BucketEntry e{b("ak"), entry};
  Bytes leaf = bytes({"synod-leaf", "\x01\0\0\0"sv, "\x02\0\0\0"sv, "ak"});
  leaf.insert(leaf.end(), entry.begin(), entry.end());
  CHECK(s.leaf_digest(std::span(&e, 1)) == crypto.digest(v(leaf)));
  CHECK(s.leaf_digest({}) == Digest{});

  MerkleStore::Children children{};
  CHECK(s.node_digest(3, children) == Digest{});
  children[7] = entry;
  Bytes node = bytes({"synod-node", "\x03"});
  for (const Digest& c : children) node.insert(node.end(), c.begin(), c.end());
  CHECK(s.node_digest(3, children) == crypto.digest(v(node)));

  const Digest d = crypto.digest(v(b("ak")));
  CHECK(s.bucket_of(v(b("ak"))) == ((Bucket{d[0]} << 12) | (Bucket{d[1]} << 4) | (Bucket{d[2]} >> 4)));
}

TEST_CASE("merkle store: valid() accepts exactly the nodes of the tree") {
  CHECK(MerkleStore::valid(Node{0, 0}));
  CHECK_FALSE(MerkleStore::valid(Node{0, 1}));
  CHECK(MerkleStore::valid(Node{4, 65535}));
  CHECK_FALSE(MerkleStore::valid(Node{4, 65536}));
  CHECK(MerkleStore::valid(Node{5, MerkleStore::kBuckets - 1}));
  CHECK_FALSE(MerkleStore::valid(Node{5, MerkleStore::kBuckets}));
  CHECK_FALSE(MerkleStore::valid(Node{6, 0}));
}

TEST_CASE("merkle store: an empty store's root is zero, and so is every node") {
  TestCrypto crypto;
  MemoryStore backend;
  MerkleStore s(crypto, backend);
  CHECK(s.root() == Digest{});
  CHECK(s.node(Node{3, 17}) == Digest{});
  CHECK(s.children(Node{0, 0}) == MerkleStore::Children{});
  // Putting and erasing the same key leaves it empty again.
  put(s, key("x"), b("1"));
  CHECK(s.root() != Digest{});
  s.erase(v(key("x")));
  CHECK(s.root() == Digest{});
}

// ---- order independence and incremental == from scratch

TEST_CASE("merkle store: the same contents in another order and batching give the same root") {
  TestCrypto crypto;
  MemoryStore backend_a, backend_b;
  MerkleStore a(crypto, backend_a), c(crypto, backend_b);
  std::vector<std::pair<Bytes, Bytes>> writes;
  for (int i = 0; i < 200; ++i) writes.emplace_back(key("k" + std::to_string(i)), b("v" + std::to_string(i * 7)));
  for (const auto& [k, val] : writes) put(a, k, val);
  const Digest root_a = a.root();
  // c: reversed, in batches with a root() between, with keys that come and
  // go and values overwritten on the way.
  for (std::size_t i = writes.size(); i-- > 0;) {
    put(c, writes[i].first, b("stale"));
    put(c, key("tmp" + std::to_string(i)), b("gone"));
    if (i % 17 == 0) (void)c.root();
    put(c, writes[i].first, writes[i].second);
    c.erase(v(key("tmp" + std::to_string(i))));
  }
  CHECK(c.root() == root_a);
  CHECK(root_a != Digest{});
  // One value differs: the root differs.
  put(c, writes[5].first, b("other"));
  CHECK(c.root() != root_a);
  // One more key: the root differs too.
  put(c, writes[5].first, writes[5].second);
  CHECK(c.root() == root_a);
  put(c, key("extra"), b(""));
  CHECK(c.root() != root_a);
}

TEST_CASE("merkle store: the incremental root equals a root computed from scratch") {
  for (bool few_buckets : {false, true}) {
    CAPTURE(few_buckets);
    TestCrypto crypto(few_buckets);
    MemoryStore backend;
    MerkleStore s(crypto, backend);
    std::map<Bytes, Bytes> model;
    Workload w(42 + few_buckets);
    for (int round = 0; round < 20; ++round) {
      for (int i = 0; i < 50; ++i) w.step(s, model);
      CHECK(contents(s) == model);
      CHECK(s.root() == root_from_scratch(crypto, model));
    }
  }
}

TEST_CASE("merkle store: a restart rebuilds the same tree from the stored leaves") {
  TestCrypto crypto;
  MemoryStore backend;
  std::map<Bytes, Bytes> model;
  Workload w(7);
  Digest committed;
  {
    MerkleStore s(crypto, backend);
    for (int i = 0; i < 400; ++i) w.step(s, model);
    committed = s.root();
    // A new tree on the same backend, before any commit: same root.
    MerkleStore again(crypto, backend);
    CHECK(again.root() == committed);
    backend.commit();
    for (int i = 0; i < 100; ++i) w.step(s, model);
    CHECK(s.root() != committed);
  }
  // The writes after the commit are lost; the restarted tree reads only the
  // leaves, and agrees with one built from the surviving data.
  backend.crash();
  const std::size_t before = crypto.digests;
  MerkleStore restarted(crypto, backend);
  CHECK(restarted.root() == committed);
  std::map<Bytes, Bytes> survived;
  backend.scan({}, {}, [&](ByteView k, ByteView val) {
    survived.emplace(Bytes(k.begin(), k.end()), Bytes(val.begin(), val.end()));
    return true;
  });
  CHECK(crypto.digests - before < 5 * survived.size());  // interior nodes only, no entries
  CHECK(root_from_scratch(crypto, survived) == committed);
}

TEST_CASE("merkle store: one write and a root cost O(depth) digests, not O(state)") {
  TestCrypto crypto;
  MemoryStore backend;
  MerkleStore s(crypto, backend);
  for (int i = 0; i < 3000; ++i) put(s, key("k" + std::to_string(i)), b("v"));
  (void)s.root();
  const std::size_t before = crypto.digests;
  put(s, key("k17"), b("new"));
  (void)s.root();
  // bucket_of + entry + leaf + kLevels interior nodes.
  CHECK(crypto.digests - before <= 3 + MerkleStore::kLevels);
}

TEST_CASE("merkle store: fold_leaves stores the leaves and leaves the nodes to one later fold") {
  TestCrypto crypto;
  MemoryStore backend;
  MerkleStore s(crypto, backend);
  for (int i = 0; i < 3000; ++i) put(s, key("k" + std::to_string(i)), b("v"));
  (void)s.root();
  backend.commit();
  // Ten batches writing one key: each costs bucket_of + entry + leaf, no node.
  std::size_t before = crypto.digests;
  for (int batch = 0; batch < 10; ++batch) {
    put(s, key("k17"), b("new" + std::to_string(batch)));
    s.fold_leaves();
  }
  CHECK(crypto.digests - before == 3 * 10);
  // The leaves went to the backend: a restart after the commit rebuilds the
  // root that the live tree computes only now, hashing each ancestor once.
  backend.commit();
  MerkleStore restarted(crypto, backend);
  before = crypto.digests;
  const Digest root = s.root();
  CHECK(crypto.digests - before == MerkleStore::kLevels);
  CHECK(restarted.root() == root);
  std::map<Bytes, Bytes> model = contents(s);
  CHECK(root == root_from_scratch(crypto, model));
}

TEST_CASE("merkle store: fold_leaves folds the nodes itself once kMaxUnpropagatedLeaves leaves wait") {
  for (std::size_t keys : {MerkleStore::kMaxUnpropagatedLeaves / 2, MerkleStore::kMaxUnpropagatedLeaves + 10}) {
    CAPTURE(keys);
    TestCrypto crypto;
    MemoryStore backend;
    MerkleStore s(crypto, backend);
    std::set<Bucket> buckets;
    for (std::size_t i = 0; buckets.size() < keys; ++i) {
      const Bytes k = key("k" + std::to_string(i));
      put(s, k, b("v"));
      buckets.insert(s.bucket_of(v(k)));
    }
    s.fold_leaves();
    const std::size_t before = crypto.digests;
    const Digest root = s.root();
    // Under the bound the nodes wait for root(); over it they are done.
    if (keys < MerkleStore::kMaxUnpropagatedLeaves) {
      CHECK(crypto.digests - before > keys);
    } else {
      CHECK(crypto.digests == before);
    }
    CHECK(root == root_from_scratch(crypto, contents(s)));
  }
}

TEST_CASE("merkle store: children hash to their node, and a bucket to its leaf") {
  TestCrypto crypto;
  MemoryStore backend;
  MerkleStore s(crypto, backend);
  std::map<Bytes, Bytes> model;
  Workload w(3);
  for (int i = 0; i < 300; ++i) w.step(s, model);
  for (const auto& [k, val] : model) {
    const Bucket bk = s.bucket_of(v(k));
    CHECK(s.leaf_digest(s.bucket(bk)) == s.node(Node{MerkleStore::kLevels, bk}));
    for (const Node& n : path_to(bk)) {
      if (n.level == MerkleStore::kLevels) continue;
      CHECK(s.node_digest(n.level, s.children(n)) == s.node(n));
    }
  }
  CHECK(s.node(Node{0, 0}) == s.root());
}

// ---- limits and the application's namespace

TEST_CASE("merkle store: keys and values over the limits are refused") {
  TestCrypto crypto;
  MemoryStore backend;
  MerkleStore s(crypto, backend);
  CHECK(s.put(v(Bytes(1 + kMaxStoreKeyBytes, 'a')), v(b("x"))).has_value());
  auto too_long = s.put(v(Bytes(2 + kMaxStoreKeyBytes, 'a')), v(b("x")));
  REQUIRE_FALSE(too_long.has_value());
  CHECK(too_long.error().code == ErrorCode::invalid_argument);
  CHECK(s.put(v(key("k")), v(Bytes(kMaxStoreValueBytes, 1))).has_value());
  CHECK(s.put(v(key("k")), v(Bytes(kMaxStoreValueBytes + 1, 1))).error().code == ErrorCode::invalid_argument);
  CHECK_FALSE(s.put({}, v(b("x"))).has_value());  // no namespace byte
  CHECK(s.app().put(v(Bytes(kMaxStoreKeyBytes, 'k')), v(b("x"))).has_value());
  CHECK(s.app().put(v(Bytes(kMaxStoreKeyBytes + 1, 'k')), v(b("x"))).error().code == ErrorCode::invalid_argument);
  // A refused put changes nothing.
  CHECK(s.get(v(key("k"))) == Bytes(kMaxStoreValueBytes, 1));
}

TEST_CASE("merkle store: the application sees only its own keys, without the namespace byte") {
  TestCrypto crypto;
  MemoryStore backend;
  MerkleStore s(crypto, backend);
  put(s, Bytes{'c', 1, 2}, b("client"));
  put(s, Bytes{'b', 'x'}, b("beyond"));
  StoreWriter& app = s.app();
  REQUIRE(app.put(v(b("x")), v(b("1"))).has_value());
  REQUIRE(app.put(v(b("y")), v(b("2"))).has_value());
  REQUIRE(app.put(v(b("z")), v(b("3"))).has_value());
  CHECK(s.get(v(b("ax"))) == b("1"));
  CHECK(app.get(v(b("x"))) == b("1"));
  CHECK_FALSE(app.get(v(Bytes{1, 2})).has_value());
  std::vector<std::string> seen;
  const auto collect = [&](ByteView k, ByteView val) {
    seen.push_back(to_string(k) + "=" + to_string(val));
    return true;
  };
  app.scan({}, {}, collect);
  CHECK(seen == std::vector<std::string>{"x=1", "y=2", "z=3"});
  seen.clear();
  app.scan(v(b("y")), v(b("z")), collect);
  CHECK(seen == std::vector<std::string>{"y=2"});
  seen.clear();
  app.scan({}, {}, [&](ByteView k, ByteView val) { return collect(k, val), false; });
  CHECK(seen == std::vector<std::string>{"x=1"});
  app.erase(v(b("x")));
  CHECK_FALSE(s.get(v(b("ax"))).has_value());
  const StoreReader& reader = std::as_const(s).app();
  CHECK(reader.get(v(b("y"))) == b("2"));
}

// ---- MemoryStore

TEST_CASE("memory store: reads see pending writes; a crash forgets what came after the commit") {
  MemoryStore m;
  const Digest d1{1}, d2{2};
  m.put(1, v(b("a")), v(b("1")), d1);
  m.put(2, v(b("b")), v(b("2")), d2);
  m.set_leaf(1, d1);
  m.commit();
  m.put(1, v(b("c")), v(b("3")), d2);
  m.erase(2, v(b("b")));
  m.set_leaf(1, d2);
  m.set_leaf(2, Digest{});
  CHECK(m.get(v(b("c"))) == b("3"));
  CHECK_FALSE(m.get(v(b("b"))).has_value());
  CHECK(m.size() == 2);
  CHECK(m.bucket(1) == std::vector<BucketEntry>{{b("a"), d1}, {b("c"), d2}});
  CHECK(m.bucket(2).empty());
  std::vector<Bucket> leaves;
  m.leaves([&](Bucket bk, const Digest& d) {
    leaves.push_back(bk);
    CHECK(d == d2);
  });
  CHECK(leaves == std::vector<Bucket>{1});

  m.crash();
  CHECK(m.size() == 2);
  CHECK_FALSE(m.get(v(b("c"))).has_value());
  CHECK(m.get(v(b("b"))) == b("2"));
  CHECK(m.bucket(1) == std::vector<BucketEntry>{{b("a"), d1}});
  CHECK(m.bucket(2) == std::vector<BucketEntry>{{b("b"), d2}});
  leaves.clear();
  m.leaves([&](Bucket bk, const Digest& d) {
    leaves.push_back(bk);
    CHECK(d == d1);
  });
  CHECK(leaves == std::vector<Bucket>{1});
}

TEST_CASE("memory store: a scan merges pending writes into the durable table") {
  MemoryStore m;
  for (std::string k : {"a", "b", "c", "d", "f"}) m.put(0, v(b(k)), v(b(k + "0")), Digest{});
  m.commit();
  m.erase(0, v(b("b")));                      // hides a durable key
  m.put(0, v(b("c")), v(b("c1")), Digest{});  // overrides one
  m.put(0, v(b("e")), v(b("e1")), Digest{});  // a new one between two durable keys
  m.put(0, v(b("g")), v(b("g1")), Digest{});  // and after them all
  m.erase(0, v(b("x")));                      // an absent key
  std::string seen;
  const auto collect = [&](ByteView k, ByteView val) {
    seen += to_string(k) + "=" + to_string(val) + " ";
    return true;
  };
  m.scan({}, {}, collect);
  CHECK(seen == "a=a0 c=c1 d=d0 e=e1 f=f0 g=g1 ");
  seen.clear();
  m.scan(v(b("b")), v(b("f")), collect);
  CHECK(seen == "c=c1 d=d0 e=e1 ");
  seen.clear();
  m.scan(v(b("f")), v(b("b")), collect);  // an empty range
  CHECK(seen.empty());
  seen.clear();
  m.scan(v(b("c")), {}, [&](ByteView k, ByteView val) { return collect(k, val), seen.size() < 10; });
  CHECK(seen == "c=c1 d=d0 ");
  CHECK(m.size() == 6);
  m.commit();
  seen.clear();
  m.scan({}, {}, collect);
  CHECK(seen == "a=a0 c=c1 d=d0 e=e1 f=f0 g=g1 ");
}

// ---- pins

TEST_CASE("merkle store: a pin serves the state as of the pin while writes go on") {
  for (bool few_buckets : {false, true}) {
    CAPTURE(few_buckets);
    TestCrypto crypto(few_buckets);
    MemoryStore backend, ref_backend;
    MerkleStore s(crypto, backend), ref(crypto, ref_backend);
    std::map<Bytes, Bytes> model, ref_model;
    Workload w(11), w_ref(11);  // the same writes
    for (int i = 0; i < 300; ++i) {
      w.step(s, model);
      w_ref.step(ref, ref_model);
    }
    CHECK(s.pin(10) == ref.root());
    CHECK(s.pinned_bytes() == 0);
    // Writes, erases and a replaced bucket after the pin; ref stops here.
    std::set<Bytes> touched;
    for (const auto& [k, val] : model) touched.insert(k);
    for (int i = 0; i < 300; ++i) w.step(s, model);
    for (const auto& [k, val] : model) touched.insert(k);
    const Bucket bk = s.bucket_of(v(*touched.begin()));
    s.replace_bucket(bk, {});
    CHECK(s.bucket(bk).empty());
    CHECK(s.root() != ref.root());
    CHECK(s.pinned_bytes() > 0);
    check_pinned_equals(s, 10, ref, touched);
    CHECK_FALSE(s.pinned(9));
    CHECK_FALSE(s.node_at(9, Node{0, 0}).has_value());
    CHECK_FALSE(s.value_at(11, v(key("k1"))).has_value());
    CHECK_FALSE(s.bucket_at(10, MerkleStore::kBuckets).has_value());
    CHECK_FALSE(s.children_at(10, Node{MerkleStore::kLevels, 0}).has_value());
  }
}

TEST_CASE("merkle store: pinned children hash to the pinned node") {
  TestCrypto crypto;
  MemoryStore backend;
  MerkleStore s(crypto, backend);
  std::map<Bytes, Bytes> model;
  Workload w(5);
  for (int i = 0; i < 200; ++i) w.step(s, model);
  s.pin(1);
  const std::map<Bytes, Bytes> at_pin = model;
  for (int i = 0; i < 200; ++i) w.step(s, model);
  for (const auto& [k, val] : at_pin) {
    const Bucket bk = s.bucket_of(v(k));
    CHECK(s.leaf_digest(*s.bucket_at(1, bk)) == s.node_at(1, Node{MerkleStore::kLevels, bk}));
    CHECK(s.value_at(1, v(k)) == held(val));
    for (const Node& n : path_to(bk))
      if (n.level < MerkleStore::kLevels) CHECK(s.node_digest(n.level, *s.children_at(1, n)) == s.node_at(1, n));
  }
}

TEST_CASE("merkle store: two overlapping pins, then release_below frees what they held") {
  TestCrypto crypto(/*few_buckets=*/true);
  MemoryStore backend, ref10_backend, ref20_backend;
  MerkleStore s(crypto, backend), ref10(crypto, ref10_backend), ref20(crypto, ref20_backend);
  std::map<Bytes, Bytes> model, m10, m20;
  Workload w(21), w10(21), w20(21);
  std::set<Bytes> touched;
  const auto run = [&](int steps, std::vector<std::pair<MerkleStore*, Workload*>> also,
                       std::vector<std::map<Bytes, Bytes>*> models) {
    for (int i = 0; i < steps; ++i) {
      w.step(s, model);
      for (std::size_t j = 0; j < also.size(); ++j) also[j].second->step(*also[j].first, *models[j]);
    }
    for (const auto& [k, val] : model) touched.insert(k);
  };
  run(100, {{&ref10, &w10}, {&ref20, &w20}}, {&m10, &m20});
  s.pin(10);
  run(100, {{&ref20, &w20}}, {&m20});
  s.pin(20);
  const std::size_t held_for_10 = s.pinned_bytes();
  CHECK(held_for_10 > 0);
  run(100, {}, {});
  check_pinned_equals(s, 10, ref10, touched);
  check_pinned_equals(s, 20, ref20, touched);
  const std::size_t held_for_both = s.pinned_bytes();
  CHECK(held_for_both > held_for_10);

  s.release_below(15);
  CHECK_FALSE(s.pinned(10));
  CHECK(s.pinned(20));
  CHECK(s.pinned_bytes() == held_for_both - held_for_10);  // what pin 10's epoch saved
  check_pinned_equals(s, 20, ref20, touched);
  s.release_below(21);
  CHECK_FALSE(s.pinned(20));
  CHECK(s.pinned_bytes() == 0);
  // Without a pin, writes save nothing.
  run(50, {}, {});
  CHECK(s.pinned_bytes() == 0);
  CHECK(s.root() == root_from_scratch(crypto, model));
}

TEST_CASE("merkle store: release_below frees exactly the epochs before the oldest remaining pin") {
  TestCrypto crypto(/*few_buckets=*/true);
  MemoryStore backend;
  MerkleStore s(crypto, backend);
  put(s, key("x"), b("0"));
  s.pin(1);
  put(s, key("x"), b("1"));  // saves x's bucket for pin 1
  const std::size_t one = s.pinned_bytes();
  CHECK(one > 0);
  s.pin(2);
  put(s, key("x"), b("2"));  // and again for pin 2
  CHECK(s.pinned_bytes() > one);
  CHECK(s.value_at(1, v(key("x"))) == held(b("0")));
  CHECK(s.value_at(2, v(key("x"))) == held(b("1")));
  CHECK(s.value_at(2, v(key("y"))) == held(std::nullopt));
  const std::size_t both = s.pinned_bytes();
  s.release_below(2);
  CHECK(s.pinned_bytes() == both - one);
  CHECK(s.value_at(2, v(key("x"))) == held(b("1")));
  CHECK_FALSE(s.value_at(1, v(key("x"))).has_value());
}

// Two stores that went different ways (a few buckets, many keys each): one
// is made equal to the other bucket by bucket.
struct DivergedStores {
  TestCrypto crypto{/*few_buckets=*/true};
  MemoryStore backend_a, backend_b;
  MerkleStore a{crypto, backend_a}, target{crypto, backend_b};
  std::map<Bytes, Bytes> model_a, model_t;
  DivergedStores(std::uint64_t seed_a, std::uint64_t seed_t) {
    Workload wa(seed_a), wt(seed_t);
    for (int i = 0; i < 200; ++i) {
      wa.step(a, model_a);
      wt.step(target, model_t);
    }
  }
};

TEST_CASE("merkle store: replace_bucket makes a bucket equal to another replica's") {
  DivergedStores d(1, 2);
  auto& [crypto, backend_a, backend_b, a, target, model_a, model_t] = d;
  REQUIRE(a.root() != target.root());
  a.pin(5);
  const Digest pinned_root = a.root();
  for (Bucket bk = 0; bk < 4; ++bk) {
    std::vector<std::pair<Bytes, Bytes>> entries;
    for (const BucketEntry& e : target.bucket(bk)) entries.emplace_back(e.key, *target.get(v(e.key)));
    a.replace_bucket(bk, entries);
    CHECK(a.bucket(bk) == target.bucket(bk));
    CHECK(a.node(Node{MerkleStore::kLevels, bk}) == target.node(Node{MerkleStore::kLevels, bk}));
  }
  CHECK(a.root() == target.root());
  CHECK(contents(a) == model_t);
  // A write like any other: the pin still serves the old state.
  CHECK(a.node_at(5, Node{0, 0}) == pinned_root);
  for (const auto& [k, val] : model_a) CHECK(a.value_at(5, v(k)) == held(val));
  // Replacing a bucket with its own contents changes nothing.
  const std::size_t before = crypto.digests;
  std::vector<std::pair<Bytes, Bytes>> same;
  for (const BucketEntry& e : a.bucket(0)) same.emplace_back(e.key, *a.get(v(e.key)));
  a.replace_bucket(0, same);
  CHECK(a.root() == target.root());
  CHECK(crypto.digests - before == 2 * same.size());  // bucket_of and entry digest of each, no fold
}

TEST_CASE("merkle store: install_bucket writes only what differs and takes the verified leaf digest") {
  DivergedStores d(3, 4);
  auto& [crypto, backend_a, backend_b, a, target, model_a, model_t] = d;
  // Some keys both hold with the same value: those are not transferred.
  for (int i = 0; i < 20; ++i) {
    const Bytes k = key("shared" + std::to_string(i));
    put(a, k, b("same"));
    put(target, k, b("same"));
    model_t[k] = b("same");
  }
  REQUIRE(a.root() != target.root());
  a.pin(5);
  const Digest pinned_root = a.root();
  std::size_t unchanged = 0;
  for (Bucket bk = 0; bk < 4; ++bk) {
    const std::vector<BucketEntry> entries = target.bucket(bk);
    const std::vector<BucketEntry> ours = a.bucket(bk);
    std::vector<std::optional<Bytes>> values;
    for (const BucketEntry& e : entries) {
      const bool same = std::find(ours.begin(), ours.end(), e) != ours.end();
      unchanged += same ? 1 : 0;
      values.push_back(same ? std::nullopt : target.get(v(e.key)));
    }
    const std::size_t before = crypto.digests;
    a.install_bucket(bk, entries, values, target.node(Node{MerkleStore::kLevels, bk}));
    CHECK(crypto.digests == before);  // no entry digest, no bucket_of, no leaf digest
    CHECK(a.bucket(bk) == entries);
  }
  CHECK(unchanged >= 20);
  CHECK(a.root() == target.root());
  CHECK(contents(a) == model_t);
  // The pin still serves the old state.
  CHECK(a.node_at(5, Node{0, 0}) == pinned_root);
  for (const auto& [k, val] : model_a) CHECK(a.value_at(5, v(k)) == held(val));
  // After a restart the tree is rebuilt from the stored leaf digests.
  MerkleStore again(crypto, backend_a);
  CHECK(again.root() == target.root());
  // Emptying a bucket.
  a.install_bucket(0, {}, {}, Digest{});
  CHECK(a.bucket(0).empty());
  CHECK(a.node(Node{MerkleStore::kLevels, 0}) == Digest{});
}

TEST_CASE("merkle store: erasing an absent key changes nothing and saves nothing") {
  TestCrypto crypto;
  MemoryStore backend;
  MerkleStore s(crypto, backend);
  put(s, key("x"), b("1"));
  const Digest root = s.root();
  s.pin(1);
  s.erase(v(key("absent")));
  CHECK(s.pinned_bytes() == 0);
  CHECK(s.root() == root);
}

}  // namespace
}  // namespace synod
