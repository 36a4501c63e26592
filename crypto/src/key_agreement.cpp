#include "synod/crypto/key_agreement.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include <algorithm>
#include <vector>

#include "ossl.hpp"

namespace synod::crypto {

namespace {

using KdfPtr = std::unique_ptr<EVP_KDF, detail::Deleter<EVP_KDF, EVP_KDF_free>>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, detail::Deleter<EVP_KDF_CTX, EVP_KDF_CTX_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, detail::Deleter<BN_CTX, BN_CTX_free>>;

constexpr char kSalt[] = "synod pair key v1";

Error invalid(const std::string& what) { return Error{ErrorCode::invalid_argument, what}; }

// The X25519 private key whose scalar is the Ed25519 signing scalar.
Result<detail::PkeyPtr> ed25519_private_to_x25519(EVP_PKEY* ed) {
  std::array<unsigned char, 32> seed{};
  std::size_t length = seed.size();
  if (EVP_PKEY_get_raw_private_key(ed, seed.data(), &length) != 1 || length != seed.size())
    return std::unexpected(detail::openssl_error("cannot export an Ed25519 private key"));
  std::array<unsigned char, SHA512_DIGEST_LENGTH> h{};
  SHA512(seed.data(), seed.size(), h.data());
  OPENSSL_cleanse(seed.data(), seed.size());
  // X25519 clamps the scalar itself (RFC 7748 decodeScalar25519).
  detail::PkeyPtr x(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, h.data(), 32));
  OPENSSL_cleanse(h.data(), h.size());
  if (!x) return std::unexpected(detail::openssl_error("cannot build an X25519 private key"));
  return x;
}

Result<std::vector<std::uint8_t>> ecdh(EVP_PKEY* own, EVP_PKEY* peer) {
  detail::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr));
  std::size_t length = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &length) != 1)
    return std::unexpected(invalid("key agreement failed: " + detail::drain_openssl_errors()));
  std::vector<std::uint8_t> shared(length);
  if (EVP_PKEY_derive(ctx.get(), shared.data(), &length) != 1)
    return std::unexpected(invalid("key agreement failed: " + detail::drain_openssl_errors()));
  shared.resize(length);
  // A low-order peer point gives all zeroes (RFC 7748 section 6.1).
  if (std::all_of(shared.begin(), shared.end(), [](std::uint8_t b) { return b == 0; }))
    return std::unexpected(invalid("key agreement gave a degenerate shared secret"));
  return shared;
}

Result<PairKey> hkdf(std::span<const std::uint8_t> shared, const std::vector<std::uint8_t>& info) {
  KdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return std::unexpected(detail::openssl_error("cannot fetch HKDF"));
  KdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return std::unexpected(detail::openssl_error("cannot allocate an HKDF context"));
  char digest[] = "SHA2-256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(shared.data()), shared.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(kSalt), sizeof kSalt - 1),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<std::uint8_t*>(info.data()), info.size()),
      OSSL_PARAM_construct_end()};
  PairKey key{};
  if (EVP_KDF_derive(ctx.get(), key.data(), key.size(), params) != 1)
    return std::unexpected(detail::openssl_error("HKDF failed"));
  return key;
}

}  // namespace

Result<std::array<std::uint8_t, 32>> ed25519_public_to_x25519(const PublicKey& key) {
  if (key.scheme() != Scheme::ed25519) return std::unexpected(invalid("not an Ed25519 public key"));
  std::vector<std::uint8_t> y_bytes = key.raw_bytes();
  if (y_bytes.size() != 32) return std::unexpected(invalid("Ed25519 public key of unexpected length"));
  y_bytes[31] &= 0x7f;  // the top bit is the sign of x
  BnCtxPtr bn_ctx(BN_CTX_new());
  detail::BnPtr p(BN_new()), y(BN_lebin2bn(y_bytes.data(), 32, nullptr)), num(BN_new()), den(BN_new()),
      u(BN_new());
  if (!bn_ctx || !p || !y || !num || !den || !u) return std::unexpected(detail::openssl_error("out of memory"));
  // p = 2^255 - 19
  if (BN_set_bit(p.get(), 255) != 1 || BN_sub_word(p.get(), 19) != 1)
    return std::unexpected(detail::openssl_error("bignum failure"));
  // num = 1 + y, den = 1 - y (mod p); u = num / den.
  if (BN_copy(num.get(), y.get()) == nullptr || BN_add_word(num.get(), 1) != 1 ||
      BN_mod(num.get(), num.get(), p.get(), bn_ctx.get()) != 1 || BN_one(den.get()) != 1 ||
      BN_mod_sub(den.get(), den.get(), y.get(), p.get(), bn_ctx.get()) != 1)
    return std::unexpected(detail::openssl_error("bignum failure"));
  if (BN_is_zero(den.get())) return std::unexpected(invalid("Ed25519 public key has no X25519 image (y = 1)"));
  if (BN_mod_inverse(den.get(), den.get(), p.get(), bn_ctx.get()) == nullptr ||
      BN_mod_mul(u.get(), num.get(), den.get(), p.get(), bn_ctx.get()) != 1)
    return std::unexpected(detail::openssl_error("bignum failure"));
  std::array<std::uint8_t, 32> out{};
  if (BN_bn2lebinpad(u.get(), out.data(), static_cast<int>(out.size())) != static_cast<int>(out.size()))
    return std::unexpected(detail::openssl_error("bignum failure"));
  return out;
}

Result<PairKey> derive_pair_key(const PrivateKey& own, const PublicKey& peer, std::span<const std::uint8_t> context) {
  if (own.scheme() != peer.scheme()) return std::unexpected(invalid("key agreement between keys of different schemes"));
  auto own_public = own.public_key();
  if (!own_public) return std::unexpected(std::move(own_public.error()));

  Result<std::vector<std::uint8_t>> shared = std::unexpected(invalid("unreachable"));
  if (own.scheme() == Scheme::ed25519) {
    auto own_x = ed25519_private_to_x25519(detail::KeyAccess::pkey(own));
    if (!own_x) return std::unexpected(std::move(own_x.error()));
    auto peer_u = ed25519_public_to_x25519(peer);
    if (!peer_u) return std::unexpected(std::move(peer_u.error()));
    detail::PkeyPtr peer_x(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_u->data(), peer_u->size()));
    if (!peer_x) return std::unexpected(detail::openssl_error("cannot build an X25519 public key"));
    shared = ecdh(own_x->get(), peer_x.get());
  } else {
    shared = ecdh(detail::KeyAccess::pkey(own), detail::KeyAccess::pkey(peer));
  }
  if (!shared) return std::unexpected(std::move(shared.error()));

  std::vector<std::uint8_t> a = own_public->raw_bytes(), b = peer.raw_bytes();
  if (b < a) std::swap(a, b);
  std::vector<std::uint8_t> info(context.begin(), context.end());
  info.insert(info.end(), a.begin(), a.end());
  info.insert(info.end(), b.begin(), b.end());
  auto key = hkdf(*shared, info);
  OPENSSL_cleanse(shared->data(), shared->size());
  return key;
}

}  // namespace synod::crypto
