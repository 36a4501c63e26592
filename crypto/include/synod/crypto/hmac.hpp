// synod/crypto/hmac.hpp — HMAC-SHA256 (RFC 2104 / RFC 4231) for cheap
// authenticators between principals that share a key.
//
// An Hmac object holds one key inside an OpenSSL MAC context that is set up
// once (algorithm fetch, key schedule) and re-initialised per message, so a
// MAC over a short message costs only the hashing. The key lives in OpenSSL's
// memory (cleansed on free); the object keeps no other copy.
//
// Thread-safety: an Hmac object is NOT thread-safe; use one per thread.
// Distinct objects (even for the same key) may be used concurrently.
// Non-copyable, movable; a moved-from object may only be destroyed or
// assigned to.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "synod/crypto/error.hpp"

namespace synod::crypto {

inline constexpr std::size_t kHmacSha256Bytes = 32;
using HmacTag = std::array<std::uint8_t, kHmacSha256Bytes>;

class Hmac {
 public:
  // Any key length is accepted (longer than 64 bytes is hashed first, as
  // RFC 2104 says); fails only if OpenSSL cannot provide HMAC-SHA256.
  static Result<Hmac> create(std::span<const std::uint8_t> key);

  Hmac(Hmac&&) noexcept;
  Hmac& operator=(Hmac&&) noexcept;
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;
  ~Hmac();

  HmacTag mac(std::span<const std::uint8_t> data);

  // True iff tag is the full 32-byte MAC of data (compared in constant time;
  // truncated tags are rejected).
  bool verify(std::span<const std::uint8_t> data, std::span<const std::uint8_t> tag);

 private:
  struct Impl;
  explicit Hmac(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One-shot convenience; sets up a fresh context per call. Use an Hmac object
// for repeated MACs under one key.
Result<HmacTag> hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data);

}  // namespace synod::crypto
