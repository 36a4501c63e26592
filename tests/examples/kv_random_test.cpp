// Seeded random op sequences: KvStore agrees with a small independent model,
// and its results and snapshots do not depend on how the ops were split into
// batches (replicas batch differently across view changes and restarts).
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "kv_support.hpp"

using namespace kv_test;
namespace kv = synod::examples::kv;

namespace {

constexpr std::size_t kOpsPerRun = 600;
constexpr std::uint64_t kSeeds = 25;

// An encoded op, and the op it means (nullopt: deliberately malformed).
struct GeneratedOp {
  Bytes bytes;
  std::optional<kv::Op> op;
};

class OpGenerator {
 public:
  explicit OpGenerator(std::uint64_t seed) : rng_(seed) {}

  GeneratedOp next() {
    kv::Op op{static_cast<kv::OpKind>(1 + pick(4)), key(), value(), std::nullopt};
    if (op.kind == kv::OpKind::cas && pick(4) != 0) op.expected = value();
    if (op.kind == kv::OpKind::get || op.kind == kv::OpKind::del) op.value.clear();
    Bytes bytes = kv::encode_op(op);
    if (pick(10) == 0) return GeneratedOp{corrupt(std::move(bytes)), std::nullopt};
    return GeneratedOp{std::move(bytes), std::move(op)};
  }

  // Raw engine output modulo n: std::uniform_int_distribution differs across
  // standard libraries, and a seed should mean the same run everywhere.
  std::size_t pick(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }

 private:
  // A small key and value space, so gets hit, cas matches and dels find keys.
  std::string key() { return std::string(1, static_cast<char>('a' + pick(6))); }
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

// The specification in kv.hpp, written independently of KvStore.
class Model {
 public:
  KvResult apply(const std::optional<kv::Op>& op) {
    if (!op) return bad_op();
    const auto it = entries_.find(op->key);
    const std::optional<std::string> current =
        it == entries_.end() ? std::nullopt : std::optional<std::string>(it->second);
    switch (op->kind) {
      case kv::OpKind::put: entries_[op->key] = op->value; return ok();
      case kv::OpKind::get: return current ? ok(current) : not_found();
      case kv::OpKind::del: entries_.erase(op->key); return ok(current);
      case kv::OpKind::cas:
        if (current != op->expected) return mismatch(current);
        entries_[op->key] = op->value;
        return ok();
    }
    FAIL("generator produced an unknown op kind");
    return bad_op();
  }

  const std::map<std::string, std::string>& entries() const { return entries_; }

 private:
  std::map<std::string, std::string> entries_;
};

std::vector<GeneratedOp> generate(std::uint64_t seed) {
  OpGenerator gen(seed);
  std::vector<GeneratedOp> ops;
  for (std::size_t i = 0; i < kOpsPerRun; ++i) ops.push_back(gen.next());
  return ops;
}

// Batch sizes covering `total` ops, drawn from `seed` (1..16 per batch).
std::vector<std::size_t> random_split(std::size_t total, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::size_t> sizes;
  for (std::size_t done = 0; done < total;) {
    const std::size_t size = std::min<std::size_t>(1 + rng() % 16, total - done);
    sizes.push_back(size);
    done += size;
  }
  return sizes;
}

// Runs `ops` through execute() in batches of the given sizes; returns every
// result in order.
std::vector<Bytes> execute_in_batches(KvStore& store, const std::vector<GeneratedOp>& ops,
                                      const std::vector<std::size_t>& sizes) {
  std::vector<Bytes> results;
  std::size_t next = 0;
  for (std::size_t size : sizes) {
    std::vector<synod::Operation> batch;
    for (std::size_t i = next; i < next + size; ++i) {
      batch.push_back(synod::Operation{.client = static_cast<synod::ClientId>(i % 3), .request = i,
                                       .payload = synod::as_view(ops[i].bytes)});
    }
    const std::vector<Bytes> batch_results = store.execute(batch);
    REQUIRE(batch_results.size() == size);
    results.insert(results.end(), batch_results.begin(), batch_results.end());
    next += size;
  }
  REQUIRE(next == ops.size());
  return results;
}

}  // namespace

TEST_CASE("kv random: two stores given the same batches produce identical results and snapshots") {
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    CAPTURE(seed);
    const std::vector<GeneratedOp> ops = generate(seed);
    const std::vector<std::size_t> split = random_split(ops.size(), seed);
    KvStore a, b;
    CHECK(execute_in_batches(a, ops, split) == execute_in_batches(b, ops, split));
    CHECK(a.snapshot() == b.snapshot());
  }
}

TEST_CASE("kv random: results and snapshots do not depend on the batch split") {
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    CAPTURE(seed);
    const std::vector<GeneratedOp> ops = generate(seed);
    KvStore a, b, c;
    const std::vector<Bytes> one_at_a_time = execute_in_batches(a, ops, std::vector<std::size_t>(ops.size(), 1));
    CHECK(execute_in_batches(b, ops, random_split(ops.size(), seed + 1000)) == one_at_a_time);
    CHECK(execute_in_batches(c, ops, {ops.size()}) == one_at_a_time);
    CHECK(b.snapshot() == a.snapshot());
    CHECK(c.snapshot() == a.snapshot());
  }
}

TEST_CASE("kv random: every result matches an independent model of the semantics") {
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    CAPTURE(seed);
    const std::vector<GeneratedOp> ops = generate(seed);
    KvStore store;
    Model model;
    const std::vector<Bytes> results = execute_in_batches(store, ops, random_split(ops.size(), seed));
    for (std::size_t i = 0; i < ops.size(); ++i) {
      CAPTURE(i);
      CAPTURE(synod::to_hex(synod::as_view(ops[i].bytes)));
      const auto decoded = kv::decode_result(synod::as_view(results[i]));
      REQUIRE(decoded.has_value());
      REQUIRE(*decoded == model.apply(ops[i].op));
    }
    CHECK(store.size() == model.entries().size());
  }
}

TEST_CASE("kv random: a restored snapshot continues exactly like the original") {
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    CAPTURE(seed);
    const std::vector<GeneratedOp> ops = generate(seed);
    const std::vector<GeneratedOp> more = generate(seed + 1000);
    KvStore original;
    execute_in_batches(original, ops, random_split(ops.size(), seed));
    KvStore restored;
    REQUIRE(restored.restore(synod::as_view(original.snapshot())).has_value());
    const std::vector<std::size_t> split = random_split(more.size(), seed);
    CHECK(execute_in_batches(restored, more, split) == execute_in_batches(original, more, split));
    CHECK(restored.snapshot() == original.snapshot());
  }
}
