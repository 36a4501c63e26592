// Internal to synod_crypto: the two encodings of an ECDSA P-256 signature.
// OpenSSL signs and verifies DER (SEQUENCE { INTEGER r, INTEGER s }); synod
// carries the fixed 64-byte r || s form (see scheme.hpp for why).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace synod::crypto::detail {

inline constexpr std::size_t kEcdsaP256ScalarBytes = 32;
// DER of two INTEGERs of up to 33 bytes each: 2 + 2 * (2 + 33) = 72.
inline constexpr std::size_t kEcdsaP256DerBytesMax = 72;
using EcdsaDer = std::array<std::uint8_t, kEcdsaP256DerBytesMax>;

// False if der is not a signature whose r and s fit in 32 bytes each.
bool ecdsa_der_to_fixed(std::span<const std::uint8_t> der, std::span<std::uint8_t, 64> fixed);

// The DER length written into der, or 0 if fixed is not 64 bytes. (Values of
// r, s out of range still encode; verification rejects them.)
std::size_t ecdsa_fixed_to_der(std::span<const std::uint8_t> fixed, EcdsaDer& der);

}  // namespace synod::crypto::detail
