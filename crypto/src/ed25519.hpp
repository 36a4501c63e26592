// Internal to synod_crypto: Ed25519 signing and verification through
// libsodium. Keys are still parsed, generated and written by OpenSSL (PEM,
// PKCS#8, SPKI); only the raw key bytes are handed over, once, when a key is
// loaded.
//
// Why not OpenSSL's EVP_DigestSign/EVP_DigestVerify: on the machines synod is
// measured on, libsodium signs in 14 us and verifies in 39 us where OpenSSL 3.0
// takes 26 us and 70 us (synod-crypto-bench), and a pbft request costs n + 1
// signatures and n + f + 1 verifications with signatures on.
//
// Both follow RFC 8032 and produce the same (deterministic) signatures.
// libsodium's verification is the stricter one: besides a non-canonical S,
// which both refuse, it refuses a signature whose R is of small order. A
// correct signer never produces one, and every replica runs this same check,
// so replicas agree on every signature. A public key that is not a canonical
// point of the prime-order subgroup is refused when it is loaded.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <span>

#include "synod/crypto/error.hpp"
#include "synod/crypto/scheme.hpp"

namespace synod::crypto::detail {

inline constexpr std::size_t kEd25519PublicBytes = 32;

class Ed25519Verifier {
 public:
  // The raw key of an Ed25519 EVP_PKEY; ErrorCode::unsupported_key if it is
  // not a valid point (see the top).
  static Result<Ed25519Verifier> from_pkey(EVP_PKEY* pkey);
  bool verify(std::span<const std::uint8_t> data, std::span<const std::uint8_t> signature) const;

 private:
  std::array<std::uint8_t, kEd25519PublicBytes> public_key_{};
};

class Ed25519Signer {
 public:
  Ed25519Signer() = default;
  Ed25519Signer(Ed25519Signer&& other) noexcept;
  Ed25519Signer& operator=(Ed25519Signer&& other) noexcept;
  Ed25519Signer(const Ed25519Signer&) = delete;
  Ed25519Signer& operator=(const Ed25519Signer&) = delete;
  ~Ed25519Signer();  // wipes the secret

  static Result<Ed25519Signer> from_pkey(EVP_PKEY* pkey);
  void sign(std::span<const std::uint8_t> data, std::span<std::uint8_t, kSignatureBytes> out) const;

 private:
  // libsodium's secret key: the 32-byte seed, then the public key.
  std::array<std::uint8_t, 64> secret_key_{};
};

}  // namespace synod::crypto::detail
