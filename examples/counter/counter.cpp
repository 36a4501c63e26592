#include "synod/examples/counter.hpp"

#include <charconv>
#include <limits>
#include <string>

namespace synod::examples {
namespace {

constexpr std::string_view kAddPrefix = "add ";
constexpr std::string_view kErrorPrefix = "error: ";

// "inc" is parsed as add 1, so execute() has one code path that writes.
struct ParsedOp {
  bool is_read = false;
  std::uint64_t amount = 0;
};

std::string_view as_text(ByteView bytes) {
  return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Strict decimal: the whole input must be digits and fit in 64 bits
// (std::from_chars accepts no sign, space or prefix for unsigned types).
Result<std::uint64_t> parse_decimal(std::string_view digits) {
  std::uint64_t value = 0;
  const char* end = digits.data() + digits.size();
  const auto [stop, ec] = std::from_chars(digits.data(), end, value);
  if (digits.empty() || ec != std::errc{} || stop != end) {
    return fail(ErrorCode::decode, "expected a decimal number below 2^64, got \"" + std::string(digits) + "\"");
  }
  return value;
}

Result<ParsedOp> parse_op(ByteView operation) {
  // Bound the input first: what follows copies parts of it into messages.
  if (operation.size() > counter::kMaxOpBytes) {
    return fail(ErrorCode::decode, "operation longer than " + std::to_string(counter::kMaxOpBytes) + " bytes");
  }
  const std::string_view text = as_text(operation);
  if (text == "inc") return ParsedOp{.is_read = false, .amount = 1};
  if (text == "get") return ParsedOp{.is_read = true, .amount = 0};
  if (!text.starts_with(kAddPrefix)) return fail(ErrorCode::decode, "unknown operation (expected inc, add N or get)");
  auto amount = parse_decimal(text.substr(kAddPrefix.size()));
  if (!amount) return std::unexpected(amount.error());
  return ParsedOp{.is_read = false, .amount = *amount};
}

Bytes value_result(std::uint64_t value) { return to_bytes(std::to_string(value)); }

Bytes error_result(std::string_view reason) {
  return to_bytes(std::string(kErrorPrefix) + std::string(reason));
}

}  // namespace

namespace counter {

Bytes encode_inc() { return to_bytes("inc"); }
Bytes encode_add(std::uint64_t amount) { return to_bytes(std::string(kAddPrefix) + std::to_string(amount)); }
Bytes encode_get() { return to_bytes("get"); }

Result<std::uint64_t> decode_result(ByteView result) {
  const std::string_view text = as_text(result);
  if (text.starts_with(kErrorPrefix)) {
    return fail(ErrorCode::invalid_argument, "counter rejected the operation: " +
                                                 std::string(text.substr(kErrorPrefix.size())));
  }
  // A reply comes from a replica that may be faulty: bound it before copying
  // it into an error message.
  if (text.size() > std::numeric_limits<std::uint64_t>::digits10 + 1) {
    return fail(ErrorCode::decode, "counter result longer than any 64-bit value");
  }
  return parse_decimal(text);
}

}  // namespace counter

Bytes Counter::apply(ByteView operation) {
  auto op = parse_op(operation);
  if (!op) return error_result(op.error().message);
  if (op->amount > std::numeric_limits<std::uint64_t>::max() - value_) {
    return error_result("overflow: the counter would exceed 2^64-1");
  }
  value_ += op->amount;
  return value_result(value_);
}

std::vector<Bytes> Counter::execute(std::span<const Operation> batch) {
  std::vector<Bytes> results;
  results.reserve(batch.size());
  for (const Operation& op : batch) results.push_back(apply(op.payload));
  return results;
}

Bytes Counter::query(ByteView operation) const {
  auto op = parse_op(operation);
  if (!op) return error_result(op.error().message);
  // A query must not change state, so only "get" is answered here.
  if (!op->is_read) return error_result("query accepts only get");
  return value_result(value_);
}

Bytes Counter::snapshot() const {
  Bytes out(counter::kSnapshotBytes);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(value_ >> (8 * i));
  return out;
}

Result<void> Counter::restore(ByteView snapshot) {
  if (snapshot.size() != counter::kSnapshotBytes) {
    return fail(ErrorCode::decode, "counter snapshot must be " + std::to_string(counter::kSnapshotBytes) +
                                       " bytes, got " + std::to_string(snapshot.size()));
  }
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < snapshot.size(); ++i) value |= std::uint64_t{snapshot[i]} << (8 * i);
  value_ = value;
  return {};
}

}  // namespace synod::examples
