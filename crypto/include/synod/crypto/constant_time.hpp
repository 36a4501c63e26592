// synod/crypto/constant_time.hpp — comparison of secrets (MAC tags, digests
// standing in for secrets) whose running time does not depend on where the
// inputs first differ, so an attacker cannot find a valid tag byte by byte.
// Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <span>

namespace synod::crypto {

// True iff a and b have the same length and the same bytes. Only the length
// may leak through timing (lengths are public in every synod protocol); the
// contents are compared with CRYPTO_memcmp.
bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

}  // namespace synod::crypto
