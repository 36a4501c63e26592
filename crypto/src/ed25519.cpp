#include "ed25519.hpp"

#include <openssl/crypto.h>
#include <sodium.h>

#include <algorithm>

#include "ossl.hpp"

namespace synod::crypto::detail {

namespace {

static_assert(crypto_sign_PUBLICKEYBYTES == kEd25519PublicBytes);
static_assert(crypto_sign_SECRETKEYBYTES == 64);
static_assert(crypto_sign_BYTES == kSignatureBytes);

Result<void> start_sodium() {
  // Safe to call more than once and from several threads (libsodium's docs).
  if (sodium_init() < 0) return std::unexpected(Error{ErrorCode::libsodium, "libsodium failed to initialise"});
  return {};
}

}  // namespace

Result<Ed25519Verifier> Ed25519Verifier::from_pkey(EVP_PKEY* pkey) {
  if (auto ok = start_sodium(); !ok) return std::unexpected(std::move(ok.error()));
  Ed25519Verifier verifier;
  std::size_t length = verifier.public_key_.size();
  if (EVP_PKEY_get_raw_public_key(pkey, verifier.public_key_.data(), &length) != 1 || length != kEd25519PublicBytes)
    return std::unexpected(openssl_error("cannot export an Ed25519 public key"));
  if (crypto_core_ed25519_is_valid_point(verifier.public_key_.data()) != 1)
    return std::unexpected(Error{ErrorCode::unsupported_key,
                                 "invalid Ed25519 public key: not a canonical point of the prime-order subgroup"});
  return verifier;
}

bool Ed25519Verifier::verify(std::span<const std::uint8_t> data, std::span<const std::uint8_t> signature) const {
  if (signature.size() != kSignatureBytes) return false;
  return crypto_sign_verify_detached(signature.data(), data_or_empty(data), data.size(), public_key_.data()) == 0;
}

Ed25519Signer::Ed25519Signer(Ed25519Signer&& other) noexcept : secret_key_(other.secret_key_) {
  sodium_memzero(other.secret_key_.data(), other.secret_key_.size());
}

Ed25519Signer& Ed25519Signer::operator=(Ed25519Signer&& other) noexcept {
  if (this != &other) {
    secret_key_ = other.secret_key_;
    sodium_memzero(other.secret_key_.data(), other.secret_key_.size());
  }
  return *this;
}

Ed25519Signer::~Ed25519Signer() { sodium_memzero(secret_key_.data(), secret_key_.size()); }

Result<Ed25519Signer> Ed25519Signer::from_pkey(EVP_PKEY* pkey) {
  if (auto ok = start_sodium(); !ok) return std::unexpected(std::move(ok.error()));
  std::array<std::uint8_t, crypto_sign_SEEDBYTES> seed{};
  std::size_t length = seed.size();
  if (EVP_PKEY_get_raw_private_key(pkey, seed.data(), &length) != 1 || length != seed.size()) {
    OPENSSL_cleanse(seed.data(), seed.size());
    return std::unexpected(openssl_error("cannot export an Ed25519 private key"));
  }
  Ed25519Signer signer;
  std::array<std::uint8_t, kEd25519PublicBytes> public_key{};
  crypto_sign_seed_keypair(public_key.data(), signer.secret_key_.data(), seed.data());
  OPENSSL_cleanse(seed.data(), seed.size());
  // The same key as OpenSSL's view of it, or the two libraries disagree about
  // RFC 8032 and nothing signed here could be trusted.
  std::array<std::uint8_t, kEd25519PublicBytes> openssl_public{};
  length = openssl_public.size();
  if (EVP_PKEY_get_raw_public_key(pkey, openssl_public.data(), &length) != 1 || length != openssl_public.size() ||
      !std::equal(public_key.begin(), public_key.end(), openssl_public.begin()))
    fatal("libsodium and OpenSSL derive different Ed25519 public keys from one secret");
  return signer;
}

void Ed25519Signer::sign(std::span<const std::uint8_t> data, std::span<std::uint8_t, kSignatureBytes> out) const {
  if (crypto_sign_detached(out.data(), nullptr, data_or_empty(data), data.size(), secret_key_.data()) != 0)
    fatal("libsodium failed to sign");
}

}  // namespace synod::crypto::detail
