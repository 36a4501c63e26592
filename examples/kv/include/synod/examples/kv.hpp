// synod/examples/kv.hpp — a replicated key-value store: put, get, del and
// compare-and-set over byte-string keys and values.
//
// Clients and the simulator build operations with encode_*() and read replies
// with decode_result(); they never need the byte layout. For reference, all
// integers are little-endian:
//   op      = kind:u8 fields...         kind: put=1 get=2 del=3 cas=4
//     put   = key value                 get / del = key
//     cas   = key expected desired      expected = present:u8 (0|1) [string]
//     string = length:u32 bytes
//   result  = status:u8 has_value:u8 (0|1) [string]
//   snapshot = count:u64 { key_length:u64 key value_length:u64 value }*
//              keys strictly ascending (bytewise), so every state has exactly
//              one encoding and equal states hash equally across replicas.
//
// Semantics (value = KvResult::value):
//   put(k, v)        -> ok; k = v.                           value: none
//   get(k)           -> ok with k's value, or not_found.
//   del(k)           -> ok; k removed.                       value: the
//                       removed value, none if k was absent.
//   cas(k, e, d)     -> if k's current state equals e, k = d and ok (value:
//                       none); otherwise cas_mismatch with k's current value
//                       (none if absent). e = std::nullopt means "k is
//                       absent", so cas(k, nullopt, d) inserts only if k does
//                       not exist; an absent key never matches a present
//                       expected value, not even "".
//   any malformed op -> bad_op, state unchanged: a Byzantine client can get
//                       garbage ordered, and every replica must answer it the
//                       same way without crashing.
//   a put or cas that would grow the store past kMaxEntries or
//   kMaxStoredBytes -> full, state unchanged.
//
// query() answers get only (anything else is bad_op). Not thread-safe (synod
// never calls a state machine concurrently).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "synod/result.hpp"
#include "synod/state_machine.hpp"
#include "synod/types.hpp"

namespace synod::examples {

namespace kv {

// Limits. An operation or snapshot exceeding one is rejected, never
// truncated. The largest op (a cas: 1 + 4 + 256 + 1 + 4 + 16 KiB + 4 + 16 KiB)
// fits in ClusterConfig's default max_request_bytes (64 KiB).
inline constexpr std::size_t kMaxKeyBytes = 256;
inline constexpr std::size_t kMaxValueBytes = 16u << 10;
inline constexpr std::size_t kMaxEntries = 1u << 16;
// Sum of key and value sizes over all entries.
inline constexpr std::size_t kMaxStoredBytes = 32u << 20;

enum class OpKind : std::uint8_t { put = 1, get = 2, del = 3, cas = 4 };

struct Op {
  OpKind kind = OpKind::get;
  std::string key;
  std::string value;                    // put: the value; cas: the desired value
  std::optional<std::string> expected;  // cas only; nullopt = key must be absent

  friend bool operator==(const Op&, const Op&) = default;
};

Bytes encode_put(std::string_view key, std::string_view value);
Bytes encode_get(std::string_view key);
Bytes encode_del(std::string_view key);
Bytes encode_cas(std::string_view key, std::optional<std::string_view> expected, std::string_view desired);
Bytes encode_op(const Op& op);
// Total over untrusted bytes: any input yields an Op within the limits above
// or an Error naming what is wrong; nothing is allocated before its length
// has been checked against the limit and the bytes remaining.
Result<Op> decode_op(ByteView bytes);

struct KvResult {
  enum class Status : std::uint8_t { ok = 0, not_found = 1, cas_mismatch = 2, bad_op = 3, full = 4 };
  Status status = Status::ok;
  std::optional<std::string> value;  // see the semantics above

  friend bool operator==(const KvResult&, const KvResult&) = default;
};

const char* to_string(KvResult::Status status);

Bytes encode_result(const KvResult& result);
// Strict: rejects unknown statuses, a value on not_found / bad_op / full,
// over-limit or truncated values, and trailing bytes (a reply comes from a
// replica that may be faulty).
Result<KvResult> decode_result(ByteView bytes);

}  // namespace kv

class KvStore final : public StateMachine {
 public:
  std::vector<Bytes> execute(std::span<const Operation> batch) override;
  Bytes query(ByteView operation) const override;
  Bytes snapshot() const override;
  // On error the store is left as it was.
  Result<void> restore(ByteView snapshot) override;

  // The result an operation gets, without encoding (execute() encodes it).
  kv::KvResult apply(ByteView operation);

  std::size_t size() const { return entries_.size(); }
  std::size_t stored_bytes() const { return stored_bytes_; }

 private:
  kv::KvResult put(std::string key, std::string value);
  kv::KvResult get(const std::string& key) const;
  kv::KvResult del(const std::string& key);
  kv::KvResult cas(kv::Op op);
  bool fits(std::size_t added_entries, std::size_t bytes_before, std::size_t bytes_after) const;

  // std::map, not unordered_map: snapshot() walks it in key order, which is
  // the same on every replica.
  std::map<std::string, std::string> entries_;
  std::size_t stored_bytes_ = 0;
};

}  // namespace synod::examples
