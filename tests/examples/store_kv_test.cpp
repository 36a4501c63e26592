// StoreKv (store_kv.hpp): kv.hpp's semantics on a StoreStateMachine, one op
// at a time; the kv caps it drops; a store that refuses a put; and a
// differential run against KvStore on random op sequences.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kv_support.hpp"
#include "synod/examples/store_kv.hpp"
#include "synod/store.hpp"

using namespace kv_test;
namespace kv = synod::examples::kv;
using synod::ByteView;
using synod::examples::StoreKv;

// Named (not only anonymous): a unity build compiles this file together with
// kv_random_test.cpp, whose helpers have the same names.
namespace store_kv_test {

namespace {

// The store synod would hand StoreKv, as a sorted map; put() refuses what
// store.hpp says a store refuses, plus values over refuse_values_over (to
// play a store that refuses a put kv's limits allow).
class MapStore final : public synod::StoreWriter {
 public:
  std::optional<Bytes> get(ByteView key) const override {
    const auto it = entries_.find(Bytes(key.begin(), key.end()));
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }

  void scan(ByteView from, ByteView to,
            const std::function<bool(ByteView key, ByteView value)>& visit) const override {
    const Bytes end(to.begin(), to.end());
    for (auto it = entries_.lower_bound(Bytes(from.begin(), from.end())); it != entries_.end(); ++it) {
      if (!end.empty() && it->first >= end) return;
      if (!visit(synod::as_view(it->first), synod::as_view(it->second))) return;
    }
  }

  synod::Result<void> put(ByteView key, ByteView value) override {
    if (key.size() > synod::kMaxStoreKeyBytes || value.size() > synod::kMaxStoreValueBytes ||
        value.size() > refuse_values_over) {
      return synod::fail(synod::ErrorCode::invalid_argument, "key or value too large");
    }
    entries_[Bytes(key.begin(), key.end())] = Bytes(value.begin(), value.end());
    return {};
  }

  void erase(ByteView key) override { entries_.erase(Bytes(key.begin(), key.end())); }

  // The contents as kv strings, to compare with what kv ops wrote.
  std::map<std::string, std::string> contents() const {
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : entries_) out.emplace(synod::to_string(synod::as_view(key)),
                                                          synod::to_string(synod::as_view(value)));
    return out;
  }
  std::size_t size() const { return entries_.size(); }

  std::size_t refuse_values_over = synod::kMaxStoreValueBytes;

 private:
  std::map<Bytes, Bytes> entries_;  // Bytes order is bytewise, like the store's
};

using Contents = std::map<std::string, std::string>;

// Executes `op` as a batch of one and decodes the result, which must decode.
KvResult run(MapStore& store, const Bytes& op) {
  const synod::Operation batch[] = {synod::Operation{.client = 1, .request = 1, .payload = synod::as_view(op)}};
  const std::vector<Bytes> results = StoreKv().execute(batch, store);
  REQUIRE(results.size() == 1);
  auto decoded = kv::decode_result(synod::as_view(results[0]));
  if (!decoded) FAIL("execute() returned an undecodable result: " << decoded.error().describe());
  return *decoded;
}

KvResult query(const MapStore& store, const Bytes& op) {
  auto decoded = kv::decode_result(synod::as_view(StoreKv().query(synod::as_view(op), store)));
  REQUIRE(decoded.has_value());
  return *decoded;
}

MapStore store_with(std::initializer_list<std::pair<std::string, std::string>> entries) {
  MapStore store;
  for (const auto& [key, value] : entries) REQUIRE(run(store, kv::encode_put(key, value)) == ok());
  return store;
}

}  // namespace

// ---- one op at a time (kv.hpp, "Semantics")

TEST_CASE("store kv put: stores the value under the same key bytes and returns ok without a value") {
  MapStore store;
  CHECK(run(store, kv::encode_put("a", "1")) == ok());
  CHECK(run(store, kv::encode_get("a")) == ok("1"));
  CHECK(store.contents() == Contents{{"a", "1"}});
}

TEST_CASE("store kv put: overwrites an existing value") {
  MapStore store = store_with({{"a", "1"}});
  CHECK(run(store, kv::encode_put("a", "22")) == ok());
  CHECK(run(store, kv::encode_get("a")) == ok("22"));
  CHECK(store.contents() == Contents{{"a", "22"}});
}

TEST_CASE("store kv put: empty key and empty value are ordinary data") {
  MapStore store;
  CHECK(run(store, kv::encode_put("", "")) == ok());
  CHECK(run(store, kv::encode_get("")) == ok(""));
  CHECK(store.size() == 1);
}

TEST_CASE("store kv put: keys and values are bytes, not C strings") {
  MapStore store;
  const std::string key("k\0x", 3), value("\0\xff", 2);
  CHECK(run(store, kv::encode_put(key, value)) == ok());
  CHECK(run(store, kv::encode_get(key)) == ok(value));
  CHECK(run(store, kv::encode_get("k")) == not_found());
}

TEST_CASE("store kv get: a missing key is not_found without a value") {
  MapStore store = store_with({{"a", "1"}});
  CHECK(run(store, kv::encode_get("b")) == not_found());
}

TEST_CASE("store kv del: removes the key and returns its previous value") {
  MapStore store = store_with({{"a", "1"}, {"b", "2"}});
  CHECK(run(store, kv::encode_del("a")) == ok("1"));
  CHECK(run(store, kv::encode_get("a")) == not_found());
  CHECK(store.contents() == Contents{{"b", "2"}});
}

TEST_CASE("store kv del: a missing key is ok without a value and changes nothing") {
  MapStore store = store_with({{"a", "1"}});
  CHECK(run(store, kv::encode_del("b")) == ok());
  CHECK(store.contents() == Contents{{"a", "1"}});
}

TEST_CASE("store kv cas: sets the value when the current value matches") {
  MapStore store = store_with({{"a", "old"}});
  CHECK(run(store, kv::encode_cas("a", "old", "new")) == ok());
  CHECK(store.contents() == Contents{{"a", "new"}});
}

TEST_CASE("store kv cas: a different current value is a mismatch that reports it and changes nothing") {
  MapStore store = store_with({{"a", "cur"}});
  CHECK(run(store, kv::encode_cas("a", "old", "new")) == mismatch("cur"));
  CHECK(store.contents() == Contents{{"a", "cur"}});
}

TEST_CASE("store kv cas: expecting absence inserts a missing key") {
  MapStore store;
  CHECK(run(store, kv::encode_cas("a", std::nullopt, "v")) == ok());
  CHECK(store.contents() == Contents{{"a", "v"}});
}

TEST_CASE("store kv cas: expecting absence fails on a present key, even an empty one") {
  MapStore store = store_with({{"a", ""}});
  CHECK(run(store, kv::encode_cas("a", std::nullopt, "v")) == mismatch(""));
  CHECK(store.contents() == Contents{{"a", ""}});
}

TEST_CASE("store kv cas: expecting a value fails on a missing key, even the empty value") {
  MapStore store;
  CHECK(run(store, kv::encode_cas("a", "", "v")) == mismatch(std::nullopt));
  CHECK(run(store, kv::encode_cas("a", "x", "v")) == mismatch(std::nullopt));
  CHECK(store.size() == 0);
}

TEST_CASE("store kv query: answers get like execute does; every other op is bad_op and changes nothing") {
  MapStore store = store_with({{"a", "1"}});
  CHECK(query(store, kv::encode_get("a")) == ok("1"));
  CHECK(query(store, kv::encode_get("b")) == not_found());
  CHECK(query(store, kv::encode_put("a", "2")) == bad_op());
  CHECK(query(store, kv::encode_del("a")) == bad_op());
  CHECK(query(store, kv::encode_cas("a", "1", "2")) == bad_op());
  CHECK(query(store, kv::encode_cas("b", std::nullopt, "2")) == bad_op());
  CHECK(query(store, Bytes{0xff}) == bad_op());
  CHECK(query(store, Bytes{}) == bad_op());
  CHECK(store.contents() == Contents{{"a", "1"}});
}

// ---- limits

TEST_CASE("store kv: keys and values at kv's limits are accepted, one byte over is bad_op") {
  const std::string max_key(kv::kMaxKeyBytes, 'k'), max_value(kv::kMaxValueBytes, 'v');
  MapStore store;
  CHECK(run(store, kv::encode_put(max_key, max_value)) == ok());
  CHECK(run(store, kv::encode_cas(max_key, max_value, max_value)) == ok());
  const Contents before = store.contents();
  const std::string long_key = max_key + "k", long_value = max_value + "v";
  CHECK(run(store, kv::encode_put(long_key, "v")) == bad_op());
  CHECK(run(store, kv::encode_put("k", long_value)) == bad_op());
  CHECK(run(store, kv::encode_get(long_key)) == bad_op());
  CHECK(run(store, kv::encode_del(long_key)) == bad_op());
  CHECK(run(store, kv::encode_cas("k", long_value, "v")) == bad_op());
  CHECK(run(store, kv::encode_cas("k", "v", long_value)) == bad_op());
  CHECK(store.contents() == before);
}

TEST_CASE("store kv: more entries than kv::kMaxEntries are ok, never full") {
  constexpr std::size_t kEntries = 70'000;
  static_assert(kEntries > kv::kMaxEntries);
  MapStore store;
  for (std::size_t i = 0; i < kEntries; ++i) {
    // Not CHECK per op: 70,000 assertions would dominate the run time.
    if (run(store, kv::encode_put(std::to_string(i), "")) != ok()) FAIL("put " << i << " was refused");
  }
  CHECK(store.size() == kEntries);
  CHECK(run(store, kv::encode_cas("new", std::nullopt, "v")) == ok());
  CHECK(run(store, kv::encode_get(std::to_string(kEntries - 1))) == ok(""));
  CHECK(store.size() == kEntries + 1);
}

TEST_CASE("store kv: more bytes than kv::kMaxStoredBytes are ok, never full") {
  const std::string value(kv::kMaxValueBytes, 'v');
  // Enough full-size values to pass the old cap by a few entries.
  const std::size_t count = kv::kMaxStoredBytes / value.size() + 4;
  MapStore store;
  for (std::size_t i = 0; i < count; ++i) {
    if (run(store, kv::encode_put(std::to_string(10000000 + i), value)) != ok()) FAIL("put " << i << " was refused");
  }
  CHECK(store.size() == count);
  CHECK(count * (8 + value.size()) > kv::kMaxStoredBytes);
}

TEST_CASE("store kv: a put the store refuses is full and changes nothing") {
  MapStore store = store_with({{"a", "1"}});
  store.refuse_values_over = 2;
  CHECK(run(store, kv::encode_put("a", "333")) == full());
  CHECK(run(store, kv::encode_put("b", "333")) == full());
  CHECK(store.contents() == Contents{{"a", "1"}});
  CHECK(run(store, kv::encode_put("b", "22")) == ok());
  CHECK(store.contents() == Contents{{"a", "1"}, {"b", "22"}});
}

TEST_CASE("store kv: a matching cas the store refuses is full and changes nothing; a mismatch still reports") {
  MapStore store = store_with({{"a", "1"}});
  store.refuse_values_over = 2;
  CHECK(run(store, kv::encode_cas("a", "1", "333")) == full());
  CHECK(run(store, kv::encode_cas("b", std::nullopt, "333")) == full());
  CHECK(run(store, kv::encode_cas("a", "x", "333")) == mismatch("1"));
  CHECK(store.contents() == Contents{{"a", "1"}});
}

// ---- malformed input

TEST_CASE("store kv: malformed ops are bad_op and change nothing") {
  const Bytes put = kv::encode_put("key", "value");
  std::vector<Bytes> malformed = {
      {},                                                            // empty
      {0x00, 0, 0, 0, 0},                                            // kind 0
      {0x05, 0, 0, 0, 0},                                            // kind 5
      {0xff, 0, 0, 0, 0},                                            // kind 255
      {0x02, 0xff, 0xff, 0xff, 0xff},                                // key length 2^32-1, no bytes
      {0x02, 0x01, 0x00, 0x00, 0x00},                                // key length 1, no bytes
      {0x04, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0},              // cas expected flag 2
      {0x04, 0, 0, 0, 0, 0x01, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0},  // huge expected
  };
  Bytes trailing = kv::encode_get("a");
  trailing.push_back(0);
  malformed.push_back(trailing);
  for (std::size_t cut = 0; cut < put.size(); ++cut) malformed.emplace_back(put.begin(), put.begin() + cut);

  for (const Bytes& op : malformed) {
    CAPTURE(synod::to_hex(synod::as_view(op)));
    MapStore store = store_with({{"key", "v0"}});
    CHECK(run(store, op) == bad_op());
    CHECK(store.contents() == Contents{{"key", "v0"}});
  }
}

TEST_CASE("store kv: a malformed op in a batch does not disturb its neighbours") {
  MapStore store;
  const Bytes put = kv::encode_put("a", "1"), garbage = {0x09, 0x09}, get = kv::encode_get("a");
  const synod::Operation batch[] = {{1, 1, synod::as_view(put)}, {2, 7, synod::as_view(garbage)},
                                    {1, 2, synod::as_view(get)}};
  const std::vector<Bytes> results = StoreKv().execute(batch, store);
  REQUIRE(results.size() == 3);
  CHECK(kv::decode_result(synod::as_view(results[0])) == ok());
  CHECK(kv::decode_result(synod::as_view(results[1])) == bad_op());
  CHECK(kv::decode_result(synod::as_view(results[2])) == ok("1"));
}

// ---- differential: StoreKv answers exactly like KvStore while KvStore is
// under its caps (the style of kv_random_test.cpp)

namespace {

// The bytes of generate()'s ops.
std::vector<Bytes> generate_bytes(std::uint64_t seed) {
  std::vector<Bytes> out;
  for (GeneratedOp& op : generate(seed)) out.push_back(std::move(op.bytes));
  return out;
}

// Runs ops[first, first + size) through `execute` as one batch.
template <class Execute>
std::vector<Bytes> run_batch(const std::vector<Bytes>& ops, std::size_t first, std::size_t size, Execute execute) {
  std::vector<synod::Operation> batch;
  for (std::size_t i = first; i < first + size; ++i) {
    batch.push_back(synod::Operation{.client = static_cast<synod::ClientId>(i % 3), .request = i,
                                     .payload = synod::as_view(ops[i])});
  }
  std::vector<Bytes> results = execute(batch);
  REQUIRE(results.size() == size);
  return results;
}

// The KvStore holding exactly `contents` (a canonical snapshot to compare).
KvStore kv_store_holding(const Contents& contents) {
  KvStore out;
  for (const auto& [key, value] : contents) REQUIRE(kv_test::run(out, kv::encode_put(key, value)) == ok());
  return out;
}

}  // namespace

TEST_CASE("store kv random: every result equals KvStore's for the same ops, and so do the final contents") {
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    CAPTURE(seed);
    const std::vector<Bytes> ops = generate_bytes(seed);
    KvStore reference;
    MapStore store;
    StoreKv store_kv;
    std::size_t first = 0;
    for (std::size_t size : random_split(ops.size(), seed)) {
      const auto expected = run_batch(ops, first, size, [&](auto batch) { return reference.execute(batch); });
      const auto actual = run_batch(ops, first, size, [&](auto batch) { return store_kv.execute(batch, store); });
      for (std::size_t i = 0; i < size; ++i) {
        CAPTURE(first + i);
        CAPTURE(synod::to_hex(synod::as_view(ops[first + i])));
        REQUIRE(actual[i] == expected[i]);
      }
      first += size;
    }
    // The reference stayed under its caps, so no answer differed for them.
    REQUIRE(reference.size() < kv::kMaxEntries);
    CHECK(store.size() == reference.size());
    CHECK(kv_store_holding(store.contents()).snapshot() == reference.snapshot());
  }
}

TEST_CASE("store kv random: query answers every op exactly like KvStore's query") {
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    CAPTURE(seed);
    const std::vector<Bytes> ops = generate_bytes(seed);
    const std::vector<Bytes> probes = generate_bytes(seed + 1000);
    KvStore reference;
    MapStore store;
    StoreKv store_kv;
    run_batch(ops, 0, ops.size(), [&](auto batch) { return reference.execute(batch); });
    run_batch(ops, 0, ops.size(), [&](auto batch) { return store_kv.execute(batch, store); });
    const Contents before = store.contents();
    for (const Bytes& probe : probes) {
      CAPTURE(synod::to_hex(synod::as_view(probe)));
      REQUIRE(store_kv.query(synod::as_view(probe), store) == reference.query(synod::as_view(probe)));
    }
    CHECK(store.contents() == before);
  }
}

TEST_CASE("store kv random: results and contents do not depend on the batch split") {
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    CAPTURE(seed);
    const std::vector<Bytes> ops = generate_bytes(seed);
    MapStore a, b;
    std::vector<Bytes> one_batch = run_batch(ops, 0, ops.size(), [&](auto batch) { return StoreKv().execute(batch, a); });
    std::vector<Bytes> split;
    std::size_t first = 0;
    for (std::size_t size : random_split(ops.size(), seed + 1000)) {
      const auto results = run_batch(ops, first, size, [&](auto batch) { return StoreKv().execute(batch, b); });
      split.insert(split.end(), results.begin(), results.end());
      first += size;
    }
    CHECK(split == one_batch);
    CHECK(b.contents() == a.contents());
  }
}

}  // namespace store_kv_test
