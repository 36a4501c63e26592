#include "synod/examples/store_kv.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "synod/assert.hpp"

namespace synod::examples {

using kv::KvResult;
using Status = kv::KvResult::Status;

namespace {

// kv keys and values are std::strings; the store speaks bytes. Same bytes
// both ways, so the store's byte order is the kv's key order.
ByteView view(std::string_view text) {
  return ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

std::optional<std::string> current_value(const StoreReader& store, const std::string& key) {
  auto value = store.get(view(key));
  if (!value) return std::nullopt;
  return to_string(as_view(*value));
}

KvResult get(const StoreReader& store, const std::string& key) {
  auto value = current_value(store, key);
  if (!value) return KvResult{Status::not_found, std::nullopt};
  return KvResult{Status::ok, std::move(value)};
}

KvResult put(StoreWriter& store, const std::string& key, const std::string& value) {
  SYNOD_ASSERT(key.size() <= kv::kMaxKeyBytes && value.size() <= kv::kMaxValueBytes,
               "decode_op let an over-limit key or value through");
  // Refused although within kv's limits: the same refusal on every replica
  // (store.hpp), so `full` is a deterministic answer, and nothing was written.
  if (!store.put(view(key), view(value))) return KvResult{Status::full, std::nullopt};
  return KvResult{Status::ok, std::nullopt};
}

KvResult del(StoreWriter& store, const std::string& key) {
  auto removed = current_value(store, key);
  if (removed) store.erase(view(key));
  return KvResult{Status::ok, std::move(removed)};
}

KvResult cas(StoreWriter& store, const kv::Op& op) {
  auto current = current_value(store, op.key);
  // Absent and present-but-empty are different states: only an absent
  // expectation matches an absent key (kv.hpp, cas).
  const bool matches = current ? op.expected == current : !op.expected.has_value();
  if (!matches) return KvResult{Status::cas_mismatch, std::move(current)};
  return put(store, op.key, op.value);
}

}  // namespace

KvResult StoreKv::apply(ByteView operation, StoreWriter& store) const {
  const auto op = kv::decode_op(operation);
  if (!op) return KvResult{Status::bad_op, std::nullopt};
  switch (op->kind) {
    case kv::OpKind::put: return put(store, op->key, op->value);
    case kv::OpKind::get: return get(store, op->key);
    case kv::OpKind::del: return del(store, op->key);
    case kv::OpKind::cas: return cas(store, *op);
  }
  SYNOD_ASSERT(false, "decode_op returned an unknown op kind");
  return KvResult{Status::bad_op, std::nullopt};
}

std::vector<Bytes> StoreKv::execute(std::span<const Operation> batch, StoreWriter& store) {
  std::vector<Bytes> results;
  results.reserve(batch.size());
  for (const Operation& op : batch) results.push_back(kv::encode_result(apply(op.payload, store)));
  SYNOD_ASSERT(results.size() == batch.size(), "one result per operation");
  return results;
}

Bytes StoreKv::query(ByteView operation, const StoreReader& store) const {
  const auto op = kv::decode_op(operation);
  // Only get is read-only; answering anything else here would let a read
  // path change (or pretend to change) replicated state.
  if (!op || op->kind != kv::OpKind::get) return kv::encode_result(KvResult{Status::bad_op, std::nullopt});
  return kv::encode_result(get(store, op->key));
}

}  // namespace synod::examples
