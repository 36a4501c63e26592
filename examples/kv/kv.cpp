#include "synod/examples/kv.hpp"

#include <limits>
#include <utility>

#include "synod/assert.hpp"

namespace synod::examples {
namespace kv {
namespace {

// Field widths. Ops and results use 32-bit lengths (they are small); the
// snapshot uses 64-bit ones so its format does not cap the store's size.
constexpr std::size_t kU8 = 1;
constexpr std::size_t kU32 = 4;
constexpr std::size_t kU64 = 8;

void put_uint(Bytes& out, std::uint64_t value, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

void put_string(Bytes& out, std::string_view text, std::size_t length_width) {
  // A string its length field cannot express is a caller bug. One that is
  // merely over a kv limit is encoded anyway: replicas answer it with bad_op.
  SYNOD_ASSERT(length_width == kU64 || text.size() <= std::numeric_limits<std::uint32_t>::max(),
               "string too long for its 32-bit length prefix");
  put_uint(out, text.size(), length_width);
  out.insert(out.end(), text.begin(), text.end());
}

// A cursor over untrusted bytes: every read checks what remains first.
class Reader {
 public:
  explicit Reader(ByteView bytes) : bytes_(bytes) {}

  std::size_t remaining() const { return bytes_.size() - pos_; }

  std::optional<std::uint64_t> uint(std::size_t width) {
    if (remaining() < width) return std::nullopt;
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < width; ++i) value |= std::uint64_t{bytes_[pos_ + i]} << (8 * i);
    pos_ += width;
    return value;
  }

  // The length is checked against the limit and the remaining bytes before
  // anything is allocated, so a forged 2^63 prefix costs nothing.
  Result<std::string> string(std::size_t length_width, std::size_t max_bytes, const char* what) {
    const auto length = uint(length_width);
    if (!length) return fail(ErrorCode::decode, std::string("truncated ") + what + " length");
    if (*length > max_bytes) {
      return fail(ErrorCode::decode, std::string(what) + " of " + std::to_string(*length) +
                                         " bytes exceeds the limit of " + std::to_string(max_bytes));
    }
    if (*length > remaining()) return fail(ErrorCode::decode, std::string("truncated ") + what);
    std::string text(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<std::size_t>(*length));
    pos_ += text.size();
    return text;
  }

  Result<void> expect_end(const char* what) const {
    if (remaining() == 0) return {};
    return fail(ErrorCode::decode, std::to_string(remaining()) + " trailing bytes after the " + what);
  }

 private:
  ByteView bytes_;
  std::size_t pos_ = 0;
};

Result<OpKind> read_kind(Reader& in) {
  const auto kind = in.uint(kU8);
  if (!kind) return fail(ErrorCode::decode, "empty operation");
  switch (static_cast<OpKind>(*kind)) {
    case OpKind::put:
    case OpKind::get:
    case OpKind::del:
    case OpKind::cas: return static_cast<OpKind>(*kind);
  }
  return fail(ErrorCode::decode, "unknown operation kind " + std::to_string(*kind));
}

// cas's expected value: a presence byte, then the value when present.
Result<std::optional<std::string>> read_expected(Reader& in) {
  const auto present = in.uint(kU8);
  if (!present) return fail(ErrorCode::decode, "truncated cas expected-value flag");
  if (*present > 1) return fail(ErrorCode::decode, "cas expected-value flag must be 0 or 1");
  if (*present == 0) return std::optional<std::string>();
  auto value = in.string(kU32, kMaxValueBytes, "cas expected value");
  if (!value) return std::unexpected(value.error());
  return std::optional<std::string>(std::move(*value));
}

bool has_value_field(OpKind kind) { return kind == OpKind::put || kind == OpKind::cas; }

bool may_carry_value(KvResult::Status status) {
  return status == KvResult::Status::ok || status == KvResult::Status::cas_mismatch;
}

}  // namespace

Bytes encode_op(const Op& op) {
  Bytes out;
  out.reserve(kU8 + 3 * kU32 + kU8 + op.key.size() + op.value.size() + (op.expected ? op.expected->size() : 0));
  put_uint(out, static_cast<std::uint8_t>(op.kind), kU8);
  put_string(out, op.key, kU32);
  if (op.kind == OpKind::cas) {
    put_uint(out, op.expected.has_value() ? 1 : 0, kU8);
    if (op.expected) put_string(out, *op.expected, kU32);
  }
  if (has_value_field(op.kind)) put_string(out, op.value, kU32);
  return out;
}

Bytes encode_put(std::string_view key, std::string_view value) {
  return encode_op(Op{OpKind::put, std::string(key), std::string(value), std::nullopt});
}

Bytes encode_get(std::string_view key) { return encode_op(Op{OpKind::get, std::string(key), {}, std::nullopt}); }

Bytes encode_del(std::string_view key) { return encode_op(Op{OpKind::del, std::string(key), {}, std::nullopt}); }

Bytes encode_cas(std::string_view key, std::optional<std::string_view> expected, std::string_view desired) {
  return encode_op(Op{OpKind::cas, std::string(key), std::string(desired),
                      expected ? std::optional<std::string>(*expected) : std::nullopt});
}

Result<Op> decode_op(ByteView bytes) {
  Reader in(bytes);
  const auto kind = read_kind(in);
  if (!kind) return std::unexpected(kind.error());
  Op op{*kind, {}, {}, std::nullopt};
  auto key = in.string(kU32, kMaxKeyBytes, "key");
  if (!key) return std::unexpected(key.error());
  op.key = std::move(*key);
  if (op.kind == OpKind::cas) {
    auto expected = read_expected(in);
    if (!expected) return std::unexpected(expected.error());
    op.expected = std::move(*expected);
  }
  if (has_value_field(op.kind)) {
    auto value = in.string(kU32, kMaxValueBytes, "value");
    if (!value) return std::unexpected(value.error());
    op.value = std::move(*value);
  }
  if (auto end = in.expect_end("operation"); !end) return std::unexpected(end.error());
  return op;
}

const char* to_string(KvResult::Status status) {
  switch (status) {
    case KvResult::Status::ok: return "ok";
    case KvResult::Status::not_found: return "not_found";
    case KvResult::Status::cas_mismatch: return "cas_mismatch";
    case KvResult::Status::bad_op: return "bad_op";
    case KvResult::Status::full: return "full";
  }
  return "unknown";
}

Bytes encode_result(const KvResult& result) {
  SYNOD_ASSERT(may_carry_value(result.status) || !result.value, "only ok and cas_mismatch results carry a value");
  Bytes out;
  put_uint(out, static_cast<std::uint8_t>(result.status), kU8);
  put_uint(out, result.value.has_value() ? 1 : 0, kU8);
  if (result.value) put_string(out, *result.value, kU32);
  return out;
}

Result<KvResult> decode_result(ByteView bytes) {
  Reader in(bytes);
  const auto status = in.uint(kU8);
  const auto has_value = in.uint(kU8);
  if (!status || !has_value) return fail(ErrorCode::decode, "truncated kv result");
  if (*status > static_cast<std::uint8_t>(KvResult::Status::full)) {
    return fail(ErrorCode::decode, "unknown kv result status " + std::to_string(*status));
  }
  if (*has_value > 1) return fail(ErrorCode::decode, "kv result value flag must be 0 or 1");
  KvResult result{static_cast<KvResult::Status>(*status), std::nullopt};
  if (*has_value == 1) {
    if (!may_carry_value(result.status)) {
      return fail(ErrorCode::decode, std::string("a ") + to_string(result.status) + " result carries no value");
    }
    auto value = in.string(kU32, kMaxValueBytes, "result value");
    if (!value) return std::unexpected(value.error());
    result.value = std::move(*value);
  }
  if (auto end = in.expect_end("result"); !end) return std::unexpected(end.error());
  return result;
}

}  // namespace kv

using kv::KvResult;
using Status = kv::KvResult::Status;

namespace {

Result<std::pair<std::string, std::string>> read_entry(kv::Reader& in) {
  auto key = in.string(kv::kU64, kv::kMaxKeyBytes, "snapshot key");
  if (!key) return std::unexpected(key.error());
  auto value = in.string(kv::kU64, kv::kMaxValueBytes, "snapshot value");
  if (!value) return std::unexpected(value.error());
  return std::pair(std::move(*key), std::move(*value));
}

}  // namespace

KvResult KvStore::apply(ByteView operation) {
  auto op = kv::decode_op(operation);
  KvResult result{Status::bad_op, std::nullopt};
  if (op) {
    switch (op->kind) {
      case kv::OpKind::put: result = put(std::move(op->key), std::move(op->value)); break;
      case kv::OpKind::get: result = get(op->key); break;
      case kv::OpKind::del: result = del(op->key); break;
      case kv::OpKind::cas: result = cas(std::move(*op)); break;
    }
  }
  SYNOD_ASSERT(entries_.size() <= kv::kMaxEntries, "kv store holds more entries than its limit");
  SYNOD_ASSERT(stored_bytes_ <= kv::kMaxStoredBytes, "kv store holds more bytes than its limit");
  return result;
}

std::vector<Bytes> KvStore::execute(std::span<const Operation> batch) {
  std::vector<Bytes> results;
  results.reserve(batch.size());
  for (const Operation& op : batch) results.push_back(kv::encode_result(apply(op.payload)));
  SYNOD_ASSERT(results.size() == batch.size(), "one result per operation");
  return results;
}

Bytes KvStore::query(ByteView operation) const {
  const auto op = kv::decode_op(operation);
  // Only get is read-only; answering anything else here would let a read
  // path change (or pretend to change) replicated state.
  if (!op || op->kind != kv::OpKind::get) return kv::encode_result(KvResult{Status::bad_op, std::nullopt});
  return kv::encode_result(get(op->key));
}

bool KvStore::fits(std::size_t added_entries, std::size_t bytes_before, std::size_t bytes_after) const {
  SYNOD_ASSERT(bytes_before <= stored_bytes_, "an entry is larger than the whole store");
  return entries_.size() + added_entries <= kv::kMaxEntries &&
         stored_bytes_ - bytes_before + bytes_after <= kv::kMaxStoredBytes;
}

KvResult KvStore::put(std::string key, std::string value) {
  const auto it = entries_.find(key);
  const bool exists = it != entries_.end();
  const std::size_t before = exists ? key.size() + it->second.size() : 0;
  const std::size_t after = key.size() + value.size();
  if (!fits(exists ? 0 : 1, before, after)) return KvResult{Status::full, std::nullopt};
  stored_bytes_ = stored_bytes_ - before + after;
  if (exists) {
    it->second = std::move(value);
  } else {
    entries_.emplace(std::move(key), std::move(value));
  }
  return KvResult{Status::ok, std::nullopt};
}

KvResult KvStore::get(const std::string& key) const {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return KvResult{Status::not_found, std::nullopt};
  return KvResult{Status::ok, it->second};
}

KvResult KvStore::del(const std::string& key) {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return KvResult{Status::ok, std::nullopt};
  stored_bytes_ -= it->first.size() + it->second.size();
  KvResult result{Status::ok, std::move(it->second)};
  entries_.erase(it);
  return result;
}

KvResult KvStore::cas(kv::Op op) {
  const auto it = entries_.find(op.key);
  const bool exists = it != entries_.end();
  // Absent and present-but-empty are different states: only an absent
  // expectation matches an absent key.
  const bool matches = exists ? op.expected == it->second : !op.expected.has_value();
  if (!matches) {
    return KvResult{Status::cas_mismatch, exists ? std::optional(it->second) : std::nullopt};
  }
  return put(std::move(op.key), std::move(op.value));
}

Bytes KvStore::snapshot() const {
  Bytes out;
  out.reserve(kv::kU64 * (1 + 2 * entries_.size()) + stored_bytes_);
  kv::put_uint(out, entries_.size(), kv::kU64);
  for (const auto& [key, value] : entries_) {
    kv::put_string(out, key, kv::kU64);
    kv::put_string(out, value, kv::kU64);
  }
  return out;
}

Result<void> KvStore::restore(ByteView snapshot) {
  kv::Reader in(snapshot);
  const auto count = in.uint(kv::kU64);
  if (!count) return fail(ErrorCode::decode, "kv snapshot: truncated entry count");
  if (*count > kv::kMaxEntries) {
    return fail(ErrorCode::decode, "kv snapshot: " + std::to_string(*count) + " entries exceed the limit of " +
                                       std::to_string(kv::kMaxEntries));
  }
  // Build aside and swap in at the end, so a bad snapshot changes nothing.
  std::map<std::string, std::string> entries;
  std::size_t stored = 0;
  for (std::uint64_t i = 0; i < *count; ++i) {
    auto entry = read_entry(in);
    if (!entry) return fail(ErrorCode::decode, "kv snapshot: " + entry.error().message);
    // Strictly ascending keys: no duplicates and one encoding per state.
    if (!entries.empty() && entry->first <= entries.rbegin()->first) {
      return fail(ErrorCode::decode, "kv snapshot: key of entry " + std::to_string(i) + " is not above the previous key");
    }
    stored += entry->first.size() + entry->second.size();
    if (stored > kv::kMaxStoredBytes) return fail(ErrorCode::decode, "kv snapshot: entries exceed kMaxStoredBytes");
    entries.emplace_hint(entries.end(), std::move(*entry));
  }
  if (auto end = in.expect_end("kv snapshot"); !end) return std::unexpected(end.error());
  entries_ = std::move(entries);
  stored_bytes_ = stored;
  return {};
}

}  // namespace synod::examples
