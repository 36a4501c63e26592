// synod/examples/counter.hpp — the smallest useful StateMachine: one unsigned
// 64-bit counter. Start here to see what an application implements.
//
// Operations are short ASCII text, so any client (even a shell) can send them:
//   "inc"     adds 1
//   "add N"   adds N (decimal, 1..20 digits, no sign or spaces)
//   "get"     reads the value
// Every result is ASCII text too: the value after the operation in decimal
// ("42"), or "error: <reason>" for an operation that is malformed or would
// overflow. A failed operation leaves the value unchanged. Because a
// Byzantine client can get any bytes ordered, malformed input is an ordinary
// result, never a crash.
//
// snapshot() is the value as 8 bytes, little-endian; restore() accepts exactly
// that and rejects any other size. Not thread-safe (synod never calls a state
// machine concurrently).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "synod/result.hpp"
#include "synod/state_machine.hpp"
#include "synod/types.hpp"

namespace synod::examples {

namespace counter {

inline constexpr std::size_t kSnapshotBytes = 8;
// Longest well-formed operation ("add " + 20 digits); longer input is rejected
// before any parsing.
inline constexpr std::size_t kMaxOpBytes = 24;

Bytes encode_inc();
Bytes encode_add(std::uint64_t amount);
Bytes encode_get();

// The value a result reports, or the result's error text as an Error.
Result<std::uint64_t> decode_result(ByteView result);

}  // namespace counter

class Counter final : public StateMachine {
 public:
  std::vector<Bytes> execute(std::span<const Operation> batch) override;
  Bytes query(ByteView operation) const override;
  Bytes snapshot() const override;
  Result<void> restore(ByteView snapshot) override;

  std::uint64_t value() const { return value_; }

 private:
  Bytes apply(ByteView operation);

  std::uint64_t value_ = 0;
};

}  // namespace synod::examples
