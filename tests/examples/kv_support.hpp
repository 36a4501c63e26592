// Shared helpers for the KvStore tests: run one op through execute() the way
// a replica would, and print KvResults in failure messages.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <ostream>
#include <string>
#include <vector>

#include "synod/examples/kv.hpp"

namespace synod::examples::kv {

inline std::ostream& operator<<(std::ostream& out, const KvResult& r) {
  out << to_string(r.status);
  if (r.value) out << " \"" << *r.value << "\"";
  return out;
}

}  // namespace synod::examples::kv

namespace kv_test {

using synod::Bytes;
using synod::examples::KvStore;
using synod::examples::kv::KvResult;
using Status = KvResult::Status;

inline KvResult ok(std::optional<std::string> value = std::nullopt) { return KvResult{Status::ok, std::move(value)}; }
inline KvResult not_found() { return KvResult{Status::not_found, std::nullopt}; }
inline KvResult mismatch(std::optional<std::string> current) {
  return KvResult{Status::cas_mismatch, std::move(current)};
}
inline KvResult bad_op() { return KvResult{Status::bad_op, std::nullopt}; }
inline KvResult full() { return KvResult{Status::full, std::nullopt}; }

// Executes `op` as a batch of one and decodes the result, which must decode.
inline KvResult run(KvStore& store, const Bytes& op) {
  const synod::Operation batch[] = {synod::Operation{.client = 1, .request = 1, .payload = synod::as_view(op)}};
  const std::vector<Bytes> results = store.execute(batch);
  REQUIRE(results.size() == 1);
  auto decoded = synod::examples::kv::decode_result(synod::as_view(results[0]));
  if (!decoded) FAIL("execute() returned an undecodable result: " << decoded.error().describe());
  return *decoded;
}

// ---- seeded random op sequences (kv_random_test.cpp, store_kv_test.cpp)

inline constexpr std::size_t kOpsPerRun = 600;
inline constexpr std::uint64_t kSeeds = 25;

// An encoded op, and the op it means (nullopt: deliberately malformed).
struct GeneratedOp {
  Bytes bytes;
  std::optional<synod::examples::kv::Op> op;
};

class OpGenerator {
 public:
  explicit OpGenerator(std::uint64_t seed) : rng_(seed) {}

  GeneratedOp next() {
    synod::examples::kv::Op op{static_cast<synod::examples::kv::OpKind>(1 + pick(4)), key(), value(), std::nullopt};
    if (op.kind == synod::examples::kv::OpKind::cas && pick(4) != 0) op.expected = value();
    if (op.kind == synod::examples::kv::OpKind::get || op.kind == synod::examples::kv::OpKind::del) op.value.clear();
    Bytes bytes = synod::examples::kv::encode_op(op);
    if (pick(10) == 0) return GeneratedOp{corrupt(std::move(bytes)), std::nullopt};
    return GeneratedOp{std::move(bytes), std::move(op)};
  }

  // Raw engine output modulo n: std::uniform_int_distribution differs across
  // standard libraries, and a seed should mean the same run everywhere.
  std::size_t pick(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }

 private:
  // A small key and value space, so gets hit, cas matches and dels find keys;
  // one key with bytes above 0x7f and one with a NUL.
  std::string key() {
    static const char* const kKeys[] = {"a", "b", "c", "ab", "", "\xff"};
    if (pick(8) == 0) return std::string("n\0l", 3);
    return kKeys[pick(6)];
  }
  std::string value() {
    static const char* const kValues[] = {"", "0", "1", "22", "xyz"};
    return kValues[pick(5)];
  }

  // Ops are prefix-free, so a cut or an extended op is never valid, and kinds
  // 0 and 5..255 do not exist.
  Bytes corrupt(Bytes bytes) {
    switch (pick(3)) {
      case 0: bytes.resize(pick(bytes.size())); break;
      case 1: bytes.push_back(static_cast<std::uint8_t>(pick(256))); break;
      default: bytes[0] = static_cast<std::uint8_t>(pick(2) == 0 ? 0 : 5 + pick(251)); break;
    }
    return bytes;
  }

  std::mt19937_64 rng_;
};

inline std::vector<GeneratedOp> generate(std::uint64_t seed) {
  OpGenerator gen(seed);
  std::vector<GeneratedOp> ops;
  for (std::size_t i = 0; i < kOpsPerRun; ++i) ops.push_back(gen.next());
  return ops;
}

// Batch sizes covering `total` ops, drawn from `seed` (1..16 per batch).
inline std::vector<std::size_t> random_split(std::size_t total, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::size_t> sizes;
  for (std::size_t done = 0; done < total;) {
    const std::size_t size = std::min<std::size_t>(1 + rng() % 16, total - done);
    sizes.push_back(size);
    done += size;
  }
  return sizes;
}

}  // namespace kv_test
