// synod/bench/echo.hpp — the benchmark's state machine: each operation asks
// for a reply of a given size, so synod-bench can measure request/reply
// sizes (0/0, 128/128, 1K/1K, 4K/4K) without an application's own cost.
//
// Operation bytes: empty (a reply of 0 bytes), or a 4-byte little-endian
// reply size followed by any padding (the request's size is the op's size).
// The reply is that many bytes of a fixed pattern, capped at
// kMaxEchoReplyBytes (larger asks are clamped: untrusted input never sizes an
// allocation beyond the cap). Operations shorter than 4 bytes but not empty
// get an empty reply. The state is the count of executed operations (so
// checkpoints and state transfer have something to agree on).
#pragma once

#include <cstddef>
#include <cstdint>

#include "synod/state_machine.hpp"

namespace synod::bench {

inline constexpr std::size_t kMaxEchoReplyBytes = 1u << 20;

// An operation of exactly request_bytes bytes asking for reply_bytes bytes.
// request_bytes below 4 (but not 0) cannot carry the size: the op is then
// max(request_bytes, 4) bytes long.
Bytes make_echo_op(std::size_t request_bytes, std::size_t reply_bytes);
// The reply size an operation asks for (after the cap).
std::size_t echo_reply_size(ByteView op);

class EchoApp final : public StateMachine {
 public:
  std::vector<Bytes> execute(std::span<const Operation> batch) override;
  Bytes query(ByteView operation) const override;
  Bytes snapshot() const override;
  Result<void> restore(ByteView snapshot) override;

  std::uint64_t executed() const { return executed_; }

 private:
  std::uint64_t executed_ = 0;
};

}  // namespace synod::bench
