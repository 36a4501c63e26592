// synod/crypto/key_agreement.hpp — the secret two principals share, derived
// from their signing key pairs, for MAC authenticators between them.
//
//   shared = ECDH(own private key, peer public key)
//   key    = HKDF-SHA256(ikm = shared, salt = "synod pair key v1",
//                        info = context || the two raw public keys, in
//                               byte order, so both sides agree)
//
// Ed25519 key pairs take part through X25519, by the birational map of
// RFC 7748 section 4.1 (as libsodium's crypto_sign_ed25519_pk_to_curve25519
// and _sk_to_curve25519): the public point's Montgomery u = (1 + y) / (1 - y)
// mod 2^255 - 19, and the private scalar is the first half of SHA-512(seed),
// which is the Ed25519 signing scalar itself. ECDSA P-256 key pairs do ECDH
// on P-256. Both sides of a pair must use the same scheme.
//
// Every pair gets its own key; there is no secret shared by the cluster.
// Stateless; thread-safe (each call builds its own OpenSSL objects).
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "synod/crypto/error.hpp"
#include "synod/crypto/private_key.hpp"
#include "synod/crypto/public_key.hpp"

namespace synod::crypto {

inline constexpr std::size_t kPairKeyBytes = 32;
using PairKey = std::array<std::uint8_t, kPairKeyBytes>;

// Fails (ErrorCode::invalid_argument) when the schemes differ or the peer's
// key gives a degenerate shared secret (a low-order point), and
// (ErrorCode::openssl) when OpenSSL does.
Result<PairKey> derive_pair_key(const PrivateKey& own, const PublicKey& peer, std::span<const std::uint8_t> context);

// The X25519 public key (Montgomery u, 32 bytes little-endian) of an
// Ed25519 public key; exposed for tests. Fails for a key that is not
// Ed25519 or whose y makes the map undefined (y = 1).
Result<std::array<std::uint8_t, 32>> ed25519_public_to_x25519(const PublicKey& key);

}  // namespace synod::crypto
