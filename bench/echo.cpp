#include "synod/bench/echo.hpp"

#include <algorithm>

namespace synod::bench {

Bytes make_echo_op(std::size_t request_bytes, std::size_t reply_bytes) {
  if (request_bytes == 0 && reply_bytes == 0) return {};
  Bytes op(std::max<std::size_t>(request_bytes, 4), 0x5a);
  const auto size = static_cast<std::uint32_t>(std::min(reply_bytes, kMaxEchoReplyBytes));
  for (int i = 0; i < 4; ++i) op[i] = static_cast<std::uint8_t>(size >> (8 * i));
  return op;
}

std::size_t echo_reply_size(ByteView op) {
  if (op.size() < 4) return 0;
  std::uint32_t size = 0;
  for (int i = 0; i < 4; ++i) size |= static_cast<std::uint32_t>(op[i]) << (8 * i);
  return std::min<std::size_t>(size, kMaxEchoReplyBytes);
}

std::vector<Bytes> EchoApp::execute(std::span<const Operation> batch) {
  std::vector<Bytes> results;
  results.reserve(batch.size());
  for (const Operation& op : batch) {
    ++executed_;
    results.emplace_back(echo_reply_size(op.payload), std::uint8_t{0xa5});
  }
  return results;
}

Bytes EchoApp::query(ByteView operation) const { return Bytes(echo_reply_size(operation), std::uint8_t{0xa5}); }

Bytes EchoApp::snapshot() const {
  Bytes out(8);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(executed_ >> (8 * i));
  return out;
}

Result<void> EchoApp::restore(ByteView snapshot) {
  if (snapshot.size() != 8) return fail(ErrorCode::invalid_argument, "echo snapshot must be 8 bytes");
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= static_cast<std::uint64_t>(snapshot[i]) << (8 * i);
  executed_ = value;
  return {};
}

}  // namespace synod::bench
