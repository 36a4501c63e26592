// KvStore snapshot() and restore(): the canonical encoding, round trips, and
// restore() being total over untrusted bytes (it rejects, never crashes or
// allocates what a forged length asks for, and a rejection changes nothing).
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kv_support.hpp"

using namespace kv_test;
namespace kv = synod::examples::kv;

namespace {

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();

// Writes snapshot bytes by hand, including ones snapshot() never produces.
struct SnapshotWriter {
  Bytes bytes;

  SnapshotWriter& u64(std::uint64_t value) {
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
    return *this;
  }
  SnapshotWriter& text(std::string_view s) {
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  SnapshotWriter& entry(std::string_view key, std::string_view value) {
    return u64(key.size()).text(key).u64(value.size()).text(value);
  }
};

KvStore sample_store() {
  KvStore store;
  for (const auto& [key, value] : {std::pair{"b", "2"}, std::pair{"a", "1"}, std::pair{"c", ""}}) {
    REQUIRE(run(store, kv::encode_put(key, value)) == ok());
  }
  return store;
}

// restore() must fail with a decode error and leave `store` as it was.
void check_rejected(const Bytes& snapshot) {
  KvStore store = sample_store();
  const Bytes before = store.snapshot();
  const auto restored = store.restore(synod::as_view(snapshot));
  REQUIRE_FALSE(restored.has_value());
  CAPTURE(restored.error().message);
  CHECK(restored.error().code == synod::ErrorCode::decode);
  CHECK(store.snapshot() == before);
}

}  // namespace

TEST_CASE("kv snapshot: an empty store is a zero count") { CHECK(KvStore{}.snapshot() == Bytes(8, 0)); }

TEST_CASE("kv snapshot: count then entries in ascending key order, whatever the insertion order") {
  const Bytes expected = SnapshotWriter{}.u64(3).entry("a", "1").entry("b", "2").entry("c", "").bytes;
  CHECK(sample_store().snapshot() == expected);
}

TEST_CASE("kv snapshot: equal states reached differently have identical snapshots") {
  KvStore other;
  for (const Bytes& op : {kv::encode_put("c", "x"), kv::encode_put("z", "gone"), kv::encode_put("a", "1"),
                          kv::encode_cas("c", "x", ""), kv::encode_del("z"), kv::encode_put("b", "2")}) {
    run(other, op);
  }
  CHECK(other.snapshot() == sample_store().snapshot());
}

TEST_CASE("kv snapshot: keys order bytewise, with bytes above 0x7f after ASCII") {
  KvStore store;
  run(store, kv::encode_put("\xff", "high"));
  run(store, kv::encode_put("a", "low"));
  CHECK(store.snapshot() == SnapshotWriter{}.u64(2).entry("a", "low").entry("\xff", "high").bytes);
}

TEST_CASE("kv restore: round-trips into an empty store") {
  const KvStore source = sample_store();
  KvStore target;
  REQUIRE(target.restore(synod::as_view(source.snapshot())).has_value());
  CHECK(target.snapshot() == source.snapshot());
  CHECK(target.size() == 3);
  CHECK(target.stored_bytes() == source.stored_bytes());
  CHECK(run(target, kv::encode_get("a")) == ok("1"));
  CHECK(run(target, kv::encode_get("c")) == ok(""));
}

TEST_CASE("kv restore: replaces the whole state, dropping keys the snapshot lacks") {
  KvStore target;
  run(target, kv::encode_put("only-here", "x"));
  REQUIRE(target.restore(synod::as_view(sample_store().snapshot())).has_value());
  CHECK(run(target, kv::encode_get("only-here")) == not_found());
  CHECK(target.snapshot() == sample_store().snapshot());
}

TEST_CASE("kv restore: an empty snapshot empties the store") {
  KvStore target = sample_store();
  REQUIRE(target.restore(synod::as_view(KvStore{}.snapshot())).has_value());
  CHECK(target.size() == 0);
  CHECK(target.stored_bytes() == 0);
}

TEST_CASE("kv restore: accepts keys and values at their limits") {
  KvStore source;
  REQUIRE(run(source, kv::encode_put(std::string(kv::kMaxKeyBytes, 'k'), std::string(kv::kMaxValueBytes, 'v'))) ==
          ok());
  KvStore target;
  REQUIRE(target.restore(synod::as_view(source.snapshot())).has_value());
  CHECK(target.snapshot() == source.snapshot());
}

TEST_CASE("kv restore: rejects a snapshot truncated at every byte") {
  const Bytes full_snapshot = sample_store().snapshot();
  for (std::size_t cut = 0; cut < full_snapshot.size(); ++cut) {
    CAPTURE(cut);
    check_rejected(Bytes(full_snapshot.begin(), full_snapshot.begin() + cut));
  }
}

TEST_CASE("kv restore: rejects huge counts and length prefixes without allocating them") {
  for (std::uint64_t huge : {std::uint64_t{1} << 32, std::uint64_t{1} << 63, kU64Max}) {
    CAPTURE(huge);
    check_rejected(SnapshotWriter{}.u64(huge).bytes);
    check_rejected(SnapshotWriter{}.u64(huge).entry("a", "1").bytes);
    check_rejected(SnapshotWriter{}.u64(1).u64(huge).text("a").u64(1).text("1").bytes);
    check_rejected(SnapshotWriter{}.u64(1).u64(1).text("a").u64(huge).text("1").bytes);
  }
}

TEST_CASE("kv restore: rejects trailing bytes") {
  Bytes snapshot = sample_store().snapshot();
  snapshot.push_back(0);
  check_rejected(snapshot);
  check_rejected(SnapshotWriter{}.u64(1).entry("a", "1").entry("b", "2").bytes);  // count too small
}

TEST_CASE("kv restore: rejects unsorted and duplicate keys") {
  check_rejected(SnapshotWriter{}.u64(2).entry("b", "2").entry("a", "1").bytes);
  check_rejected(SnapshotWriter{}.u64(2).entry("a", "1").entry("a", "1").bytes);
  check_rejected(SnapshotWriter{}.u64(2).entry("a", "1").entry("a", "2").bytes);
  check_rejected(SnapshotWriter{}.u64(3).entry("a", "").entry("c", "").entry("b", "").bytes);
}

TEST_CASE("kv restore: rejects what the store's limits forbid") {
  check_rejected(SnapshotWriter{}.u64(1).entry(std::string(kv::kMaxKeyBytes + 1, 'k'), "v").bytes);
  check_rejected(SnapshotWriter{}.u64(1).entry("k", std::string(kv::kMaxValueBytes + 1, 'v')).bytes);

  SnapshotWriter too_many_entries;
  too_many_entries.u64(kv::kMaxEntries + 1);
  for (std::size_t i = 0; i <= kv::kMaxEntries; ++i) too_many_entries.entry(std::to_string(1000000 + i), "");
  check_rejected(too_many_entries.bytes);

  SnapshotWriter too_many_bytes;
  const std::string value(kv::kMaxValueBytes, 'v');
  const std::size_t entries = kv::kMaxStoredBytes / value.size() + 1;
  too_many_bytes.u64(entries);
  for (std::size_t i = 0; i < entries; ++i) too_many_bytes.entry(std::to_string(10000 + i), value);
  check_rejected(too_many_bytes.bytes);
}
