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
