// Helpers shared by the wire tests: frames of the sample messages, and
// byte-level patching of encoded values.
#pragma once

#include <cstdint>
#include <cstring>
#include <variant>

#include "samples.hpp"
#include "wire/codec.hpp"

namespace synod::wire::testing {

inline Bytes sign(const Bytes& signing_input) { return samples::fake_signature(as_view(signing_input)); }

inline Bytes frame_of(const Message& message) {
  return std::visit([&](const auto& m) { return make_frame(samples::sender_of(message), m, sign); }, message);
}

// Overwrites the little-endian u64 at `offset` (a length prefix, usually).
inline void put_u64(Bytes& bytes, std::size_t offset, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) bytes.at(offset + i) = static_cast<std::uint8_t>(value >> (8 * i));
}
inline std::uint64_t get_u64(const Bytes& bytes, std::size_t offset) {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= static_cast<std::uint64_t>(bytes.at(offset + i)) << (8 * i);
  return value;
}

// Appends little-endian integers, for building adversarial inputs by hand.
struct Writer {
  Bytes bytes;
  Writer& u8(std::uint8_t v) { return put(v, 1); }
  Writer& u16(std::uint16_t v) { return put(v, 2); }
  Writer& u32(std::uint32_t v) { return put(v, 4); }
  Writer& u64(std::uint64_t v) { return put(v, 8); }
  Writer& raw(std::size_t n, std::uint8_t fill) {
    bytes.insert(bytes.end(), n, fill);
    return *this;
  }
  std::size_t size() const { return bytes.size(); }

 private:
  Writer& put(std::uint64_t v, int width) {
    for (int i = 0; i < width; ++i) bytes.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
};

// Offset of the payload's length prefix in a frame: version u16, type u8,
// sender kind u8, sender id u32.
inline constexpr std::size_t kPayloadLengthOffset = 2 + 1 + 1 + 4;

}  // namespace synod::wire::testing
