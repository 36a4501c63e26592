// synod/crypto/scheme.hpp — the signature schemes synod supports.
//
//   ed25519     PureEdDSA over Curve25519 (RFC 8032). The default: fast,
//               deterministic, and not malleable (S >= L is rejected, and
//               so is an R of small order). Signed and verified by
//               libsodium, the faster of the two libraries here.
//   ecdsa_p256  ECDSA over NIST P-256 with SHA-256 (FIPS 186-4), for
//               deployments that must use NIST curves. Signatures are the
//               fixed 64-byte r || s form (each big-endian, left-padded to 32
//               bytes; the IEEE P1363 / WebCrypto / JOSE layout), not DER, so
//               every signature has one length and one encoding. ECDSA is
//               randomised and malleable ((r, n-s) also verifies): never use
//               signature bytes as an identifier; digest the signed content.
//
// Both produce 64-byte signatures. Plain values; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "synod/crypto/error.hpp"

namespace synod::crypto {

enum class Scheme : std::uint8_t { ed25519, ecdsa_p256 };

inline constexpr Scheme kDefaultScheme = Scheme::ed25519;
inline constexpr std::size_t kSignatureBytes = 64;  // both schemes

// "ed25519" / "ecdsa-p256" — the same spelling as synod's config files.
const char* to_string(Scheme scheme);
Result<Scheme> parse_scheme(std::string_view text);

}  // namespace synod::crypto
