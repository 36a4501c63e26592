// KvStore semantics, one operation at a time (kv.hpp, "Semantics"), plus
// malformed and over-limit operations.
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "kv_support.hpp"

using namespace kv_test;
namespace kv = synod::examples::kv;

namespace {

KvStore store_with(std::initializer_list<std::pair<std::string, std::string>> entries) {
  KvStore store;
  for (const auto& [key, value] : entries) REQUIRE(run(store, kv::encode_put(key, value)) == ok());
  return store;
}

}  // namespace

TEST_CASE("kv put: stores the value and returns ok without a value") {
  KvStore store;
  CHECK(run(store, kv::encode_put("a", "1")) == ok());
  CHECK(run(store, kv::encode_get("a")) == ok("1"));
  CHECK(store.size() == 1);
}

TEST_CASE("kv put: overwrites an existing value") {
  KvStore store = store_with({{"a", "1"}});
  CHECK(run(store, kv::encode_put("a", "22")) == ok());
  CHECK(run(store, kv::encode_get("a")) == ok("22"));
  CHECK(store.size() == 1);
  CHECK(store.stored_bytes() == 3);
}

TEST_CASE("kv put: empty key and empty value are ordinary data") {
  KvStore store;
  CHECK(run(store, kv::encode_put("", "")) == ok());
  CHECK(run(store, kv::encode_get("")) == ok(""));
}

TEST_CASE("kv put: keys and values are bytes, not C strings") {
  KvStore store;
  const std::string key("k\0x", 3), value("\0\xff", 2);
  CHECK(run(store, kv::encode_put(key, value)) == ok());
  CHECK(run(store, kv::encode_get(key)) == ok(value));
  CHECK(run(store, kv::encode_get("k")) == not_found());
}

TEST_CASE("kv get: a missing key is not_found without a value") {
  KvStore store = store_with({{"a", "1"}});
  CHECK(run(store, kv::encode_get("b")) == not_found());
}

TEST_CASE("kv del: removes the key and returns its previous value") {
  KvStore store = store_with({{"a", "1"}, {"b", "2"}});
  CHECK(run(store, kv::encode_del("a")) == ok("1"));
  CHECK(run(store, kv::encode_get("a")) == not_found());
  CHECK(run(store, kv::encode_get("b")) == ok("2"));
  CHECK(store.size() == 1);
  CHECK(store.stored_bytes() == 2);
}

TEST_CASE("kv del: a missing key is ok without a value") {
  KvStore store = store_with({{"a", "1"}});
  CHECK(run(store, kv::encode_del("b")) == ok());
  CHECK(store.size() == 1);
}

TEST_CASE("kv cas: sets the value when the current value matches") {
  KvStore store = store_with({{"a", "old"}});
  CHECK(run(store, kv::encode_cas("a", "old", "new")) == ok());
  CHECK(run(store, kv::encode_get("a")) == ok("new"));
}

TEST_CASE("kv cas: a different current value is a mismatch that reports it and changes nothing") {
  KvStore store = store_with({{"a", "cur"}});
  CHECK(run(store, kv::encode_cas("a", "old", "new")) == mismatch("cur"));
  CHECK(run(store, kv::encode_get("a")) == ok("cur"));
}

TEST_CASE("kv cas: expecting absence inserts a missing key") {
  KvStore store;
  CHECK(run(store, kv::encode_cas("a", std::nullopt, "v")) == ok());
  CHECK(run(store, kv::encode_get("a")) == ok("v"));
}

TEST_CASE("kv cas: expecting absence fails on a present key, even an empty one") {
  KvStore store = store_with({{"a", ""}});
  CHECK(run(store, kv::encode_cas("a", std::nullopt, "v")) == mismatch(""));
  CHECK(run(store, kv::encode_get("a")) == ok(""));
}

TEST_CASE("kv cas: expecting a value fails on a missing key, even the empty value") {
  KvStore store;
  CHECK(run(store, kv::encode_cas("a", "", "v")) == mismatch(std::nullopt));
  CHECK(run(store, kv::encode_cas("a", "x", "v")) == mismatch(std::nullopt));
  CHECK(run(store, kv::encode_get("a")) == not_found());
  CHECK(store.size() == 0);
}

TEST_CASE("kv query: answers get like execute does, without changing state") {
  KvStore store = store_with({{"a", "1"}});
  const auto query = [&](const synod::Bytes& op) {
    auto decoded = kv::decode_result(synod::as_view(store.query(synod::as_view(op))));
    REQUIRE(decoded.has_value());
    return *decoded;
  };
  CHECK(query(kv::encode_get("a")) == ok("1"));
  CHECK(query(kv::encode_get("b")) == not_found());
  const synod::Bytes before = store.snapshot();
  CHECK(query(kv::encode_put("a", "2")) == bad_op());
  CHECK(query(kv::encode_del("a")) == bad_op());
  CHECK(query(kv::encode_cas("a", "1", "2")) == bad_op());
  CHECK(query(synod::Bytes{0xff}) == bad_op());
  CHECK(store.snapshot() == before);
}

TEST_CASE("kv: keys and values at their limits are accepted, one byte over is bad_op") {
  const std::string max_key(kv::kMaxKeyBytes, 'k'), max_value(kv::kMaxValueBytes, 'v');
  KvStore store;
  CHECK(run(store, kv::encode_put(max_key, max_value)) == ok());
  CHECK(run(store, kv::encode_cas(max_key, max_value, max_value)) == ok());
  const synod::Bytes before = store.snapshot();
  const std::string long_key = max_key + "k", long_value = max_value + "v";
  CHECK(run(store, kv::encode_put(long_key, "v")) == bad_op());
  CHECK(run(store, kv::encode_put("k", long_value)) == bad_op());
  CHECK(run(store, kv::encode_get(long_key)) == bad_op());
  CHECK(run(store, kv::encode_del(long_key)) == bad_op());
  CHECK(run(store, kv::encode_cas("k", long_value, "v")) == bad_op());
  CHECK(run(store, kv::encode_cas("k", "v", long_value)) == bad_op());
  CHECK(store.snapshot() == before);
}

TEST_CASE("kv: the largest op fits in the default max_request_bytes") {
  const std::string max_key(kv::kMaxKeyBytes, 'k'), max_value(kv::kMaxValueBytes, 'v');
  CHECK(kv::encode_cas(max_key, max_value, max_value).size() < 64u * 1024);
}

TEST_CASE("kv: a new key beyond kMaxEntries is full; existing keys still update") {
  KvStore store;
  for (std::size_t i = 0; i < kv::kMaxEntries; ++i) {
    // Not REQUIRE per op: 65536 assertions would dominate the run time.
    if (run(store, kv::encode_put(std::to_string(i), "")) != ok()) FAIL("put " << i << " was refused");
  }
  const synod::Bytes before = store.snapshot();
  CHECK(run(store, kv::encode_put("new", "")) == full());
  CHECK(run(store, kv::encode_cas("new", std::nullopt, "")) == full());
  CHECK(store.snapshot() == before);
  CHECK(run(store, kv::encode_put("0", "updated")) == ok());
  CHECK(run(store, kv::encode_del("1")) == ok(""));
  CHECK(run(store, kv::encode_put("new", "")) == ok());
}

TEST_CASE("kv: growing past kMaxStoredBytes is full; shrinking still works") {
  KvStore store;
  const std::string value(kv::kMaxValueBytes, 'v');
  std::size_t i = 0;
  while (store.stored_bytes() + 8 + value.size() <= kv::kMaxStoredBytes) {
    if (run(store, kv::encode_put(std::to_string(10000000 + i++), value)) != ok()) FAIL("put " << i << " was refused");
  }
  const synod::Bytes before = store.snapshot();
  CHECK(run(store, kv::encode_put(std::to_string(10000000 + i), value)) == full());
  CHECK(store.snapshot() == before);
  CHECK(run(store, kv::encode_put("10000000", "small")) == ok());
  CHECK(run(store, kv::encode_put(std::to_string(10000000 + i), "small")) == ok());
  CHECK(store.stored_bytes() <= kv::kMaxStoredBytes);
}

TEST_CASE("kv: malformed ops are bad_op and change nothing") {
  synod::Bytes put = kv::encode_put("key", "value");
  std::vector<synod::Bytes> malformed = {
      {},                                     // empty
      {0x00, 0, 0, 0, 0},                     // kind 0
      {0x05, 0, 0, 0, 0},                     // kind 5
      {0xff, 0, 0, 0, 0},                     // kind 255
      {0x02, 0xff, 0xff, 0xff, 0xff},         // key length 2^32-1, no bytes
      {0x02, 0x01, 0x00, 0x00, 0x00},         // key length 1, no bytes
      {0x04, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0},  // cas expected flag 2
      {0x04, 0, 0, 0, 0, 0x01, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0},  // huge expected
  };
  synod::Bytes trailing = kv::encode_get("a");
  trailing.push_back(0);
  malformed.push_back(trailing);
  for (std::size_t cut = 0; cut < put.size(); ++cut) malformed.emplace_back(put.begin(), put.begin() + cut);

  for (const synod::Bytes& op : malformed) {
    CAPTURE(synod::to_hex(synod::as_view(op)));
    KvStore store = store_with({{"key", "v0"}});
    const synod::Bytes before = store.snapshot();
    CHECK(run(store, op) == bad_op());
    CHECK(store.snapshot() == before);
  }
}

TEST_CASE("kv: a malformed op in a batch does not disturb its neighbours") {
  KvStore store;
  const synod::Bytes put = kv::encode_put("a", "1"), garbage = {0x09, 0x09}, get = kv::encode_get("a");
  const synod::Operation batch[] = {{1, 1, synod::as_view(put)}, {2, 7, synod::as_view(garbage)},
                                    {1, 2, synod::as_view(get)}};
  const std::vector<synod::Bytes> results = store.execute(batch);
  REQUIRE(results.size() == 3);
  CHECK(kv::decode_result(synod::as_view(results[0])) == ok());
  CHECK(kv::decode_result(synod::as_view(results[1])) == bad_op());
  CHECK(kv::decode_result(synod::as_view(results[2])) == ok("1"));
}
