#include "sim/workload.hpp"

#include "core/merkle_store.hpp"
#include "synod/assert.hpp"
#include "synod/examples/kv.hpp"

namespace synod::sim {

namespace kv = examples::kv;

Workload::Workload(Prng prng, WorkloadShape shape, ClientId client)
    : prng_(prng), shape_(shape), client_(client) {
  SYNOD_ASSERT(shape_.keys > 0, "a workload needs keys");
  SYNOD_ASSERT(shape_.put_weight + shape_.get_weight + shape_.del_weight + shape_.cas_weight > 0,
               "a workload needs some operation");
}

Workload::Next Workload::next(RequestNo t) {
  const std::string key = "k" + std::to_string(prng_.below(shape_.keys));
  // Unique per (client, t): a read's result names the write it observed.
  const std::string value = "c" + std::to_string(client_) + "." + std::to_string(t);
  const std::uint64_t total = shape_.put_weight + shape_.get_weight + shape_.del_weight + shape_.cas_weight;
  std::uint64_t roll = prng_.below(total);
  if (roll < shape_.put_weight) return {kv::encode_put(key, value), false};
  roll -= shape_.put_weight;
  if (roll < shape_.get_weight) return {kv::encode_get(key), prng_.below(100) < shape_.read_only_pct};
  roll -= shape_.get_weight;
  if (roll < shape_.del_weight) return {kv::encode_del(key), false};
  // cas: expect what this client last saw (or, sometimes, absence).
  const auto seen = last_seen_.find(key);
  std::optional<std::string> expected;
  if (seen != last_seen_.end() && !prng_.chance(1, 4)) expected = seen->second;
  if (expected) return {kv::encode_cas(key, std::string_view(*expected), value), false};
  return {kv::encode_cas(key, std::nullopt, value), false};
}

void Workload::observe(ByteView op_bytes, ByteView result_bytes) {
  const auto op = kv::decode_op(op_bytes);
  const auto result = kv::decode_result(result_bytes);
  if (!op || !result) return;
  switch (op->kind) {
    case kv::OpKind::put: last_seen_[op->key] = op->value; break;
    case kv::OpKind::del: last_seen_[op->key] = std::nullopt; break;
    case kv::OpKind::get:
    case kv::OpKind::cas:
      if (result->status == kv::KvResult::Status::ok && op->kind == kv::OpKind::cas) {
        last_seen_[op->key] = op->value;
      } else if (result->status != kv::KvResult::Status::bad_op && result->status != kv::KvResult::Status::full) {
        last_seen_[op->key] = result->value;
      }
      break;
  }
}

TimeUs Workload::think_us() { return prng_.below(shape_.think_max_us + 1); }

std::string describe_kv_op(ByteView op_bytes) {
  const auto op = kv::decode_op(op_bytes);
  if (!op) return "bad-op(" + std::to_string(op_bytes.size()) + "b)";
  switch (op->kind) {
    case kv::OpKind::put: return "put(" + op->key + "," + op->value + ")";
    case kv::OpKind::get: return "get(" + op->key + ")";
    case kv::OpKind::del: return "del(" + op->key + ")";
    case kv::OpKind::cas:
      return "cas(" + op->key + "," + (op->expected ? *op->expected : std::string("-")) + "->" + op->value + ")";
  }
  return "?";
}

std::string describe_kv_result(ByteView result_bytes) {
  const auto result = kv::decode_result(result_bytes);
  if (!result) return "bad-result(" + std::to_string(result_bytes.size()) + "b)";
  std::string text = kv::to_string(result->status);
  text += " ";
  text += result->value ? *result->value : std::string("-");
  return text;
}

void write_genesis(MemoryStore& store, const Crypto& crypto, std::uint32_t keys) {
  MerkleStore tree(crypto, store);
  for (std::uint32_t i = 0; i < keys; ++i) {
    const std::string key = std::string(1, static_cast<char>(MerkleStore::kAppNamespace)) + "g" + std::to_string(i);
    const std::string value = std::string(200 + i % 200, static_cast<char>('a' + i % 26));
    SYNOD_ASSERT(tree.put(to_bytes(key), to_bytes(value)).has_value(), "genesis entries are small");
  }
  tree.fold_leaves();  // the leaf digests go to the store with the data
  store.commit();
}

}  // namespace synod::sim
