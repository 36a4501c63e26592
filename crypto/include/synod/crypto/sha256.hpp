// synod/crypto/sha256.hpp — SHA-256 (FIPS 180-4), one-shot and incremental.
//
// The object fetches the SHA-256 implementation from OpenSSL once, at
// create(), and reuses one digest context for every call, so hashing a small
// message pays neither an algorithm fetch nor a context allocation.
//
// Thread-safety: a Sha256 object is NOT thread-safe (every call reuses its
// context); use one per thread. Distinct objects may be used concurrently.
// Non-copyable, movable; a moved-from object may only be destroyed or
// assigned to (any other use is a bug and stops the process).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "synod/crypto/error.hpp"

namespace synod::crypto {

inline constexpr std::size_t kSha256Bytes = 32;
using Sha256Digest = std::array<std::uint8_t, kSha256Bytes>;

class Sha256 {
 public:
  // Fails only if OpenSSL cannot provide SHA-256 (a broken installation).
  static Result<Sha256> create();

  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  ~Sha256();

  // SHA-256 of data. Discards any unfinished incremental input.
  Sha256Digest digest(std::span<const std::uint8_t> data);

  // Incremental: update() any number of times, then finish() returns the
  // digest of everything since the last finish()/digest() and starts over.
  void update(std::span<const std::uint8_t> data);
  Sha256Digest finish();

 private:
  struct Impl;
  explicit Sha256(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace synod::crypto
