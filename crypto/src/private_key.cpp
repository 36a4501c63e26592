#include "synod/crypto/private_key.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>

#include "ecdsa_signature.hpp"
#include "ed25519.hpp"
#include "key_file.hpp"
#include "ossl.hpp"

namespace synod::crypto {

struct PrivateKey::Impl {
  Scheme scheme = Scheme::ed25519;
  detail::PkeyPtr pkey;
  detail::Ed25519Signer ed25519;  // Ed25519 only: libsodium's expanded secret key
  detail::MdCtxPtr md_ctx;        // ECDSA only: the SHA-256 context
  detail::MdPtr sha256;           // ECDSA only
  detail::PkeyCtxPtr sign_ctx;    // ECDSA only: sign-initialised once

  static Result<std::unique_ptr<Impl>> build(detail::PkeyPtr pkey);

  Result<std::vector<std::uint8_t>> sign_ecdsa(std::span<const std::uint8_t> data);
};

Result<std::unique_ptr<PrivateKey::Impl>> PrivateKey::Impl::build(detail::PkeyPtr pkey) {
  auto scheme = detail::classify(pkey.get());
  if (!scheme) return std::unexpected(std::move(scheme.error()));
  auto impl = std::make_unique<Impl>();
  impl->scheme = *scheme;
  if (*scheme == Scheme::ed25519) {
    auto signer = detail::Ed25519Signer::from_pkey(pkey.get());
    if (!signer) return std::unexpected(std::move(signer.error()));
    impl->ed25519 = std::move(*signer);
  } else {
    impl->md_ctx.reset(EVP_MD_CTX_new());
    if (!impl->md_ctx) return std::unexpected(detail::openssl_error("cannot allocate a digest context"));
    impl->sha256 = detail::fetch_sha256();
    if (!impl->sha256) return std::unexpected(detail::openssl_error("cannot fetch SHA-256"));
    impl->sign_ctx.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (!impl->sign_ctx || EVP_PKEY_sign_init(impl->sign_ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_signature_md(impl->sign_ctx.get(), impl->sha256.get()) != 1)
      return std::unexpected(detail::openssl_error("cannot set up ECDSA signing"));
  }
  impl->pkey = std::move(pkey);
  return impl;
}

namespace detail {

Result<PrivateKey> KeyAccess::make_private(PkeyPtr pkey) {
  auto impl = PrivateKey::Impl::build(std::move(pkey));
  if (!impl) return std::unexpected(std::move(impl.error()));
  return PrivateKey(std::move(*impl));
}

EVP_PKEY* KeyAccess::pkey(const PrivateKey& key) {
  if (!key.impl_) fatal("use of a moved-from PrivateKey");
  return key.impl_->pkey.get();
}

}  // namespace detail

Result<std::vector<std::uint8_t>> PrivateKey::Impl::sign_ecdsa(std::span<const std::uint8_t> data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> hash{};
  unsigned int hash_length = 0;
  if (EVP_DigestInit_ex2(md_ctx.get(), sha256.get(), nullptr) != 1 ||
      EVP_DigestUpdate(md_ctx.get(), detail::data_or_empty(data), data.size()) != 1 ||
      EVP_DigestFinal_ex(md_ctx.get(), hash.data(), &hash_length) != 1)
    detail::fatal("SHA-256 for ECDSA signing failed");
  detail::EcdsaDer der{};
  std::size_t der_length = der.size();
  if (EVP_PKEY_sign(sign_ctx.get(), der.data(), &der_length, hash.data(), hash_length) != 1)
    return std::unexpected(detail::openssl_error("ECDSA signing failed"));
  std::vector<std::uint8_t> signature(kSignatureBytes);
  if (!detail::ecdsa_der_to_fixed(std::span(der.data(), der_length), std::span<std::uint8_t, 64>(signature.data(), 64)))
    detail::fatal("OpenSSL produced an ECDSA signature that is not P-256");
  return signature;
}

PrivateKey::PrivateKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;
PrivateKey::~PrivateKey() = default;

Result<PrivateKey> PrivateKey::generate(Scheme scheme) {
  detail::PkeyPtr pkey(scheme == Scheme::ed25519 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                                                 : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!pkey)
    return std::unexpected(detail::openssl_error(std::string("cannot generate an ") + to_string(scheme) + " key"));
  return detail::KeyAccess::make_private(std::move(pkey));
}

Result<PrivateKey> PrivateKey::from_raw_ed25519(std::span<const std::uint8_t> seed) {
  if (seed.size() != kEd25519SeedBytes)
    return std::unexpected(
        Error{ErrorCode::invalid_argument, "an Ed25519 secret key is 32 bytes, not " + std::to_string(seed.size())});
  detail::PkeyPtr pkey(EVP_PKEY_new_raw_private_key_ex(nullptr, "ED25519", nullptr, seed.data(), seed.size()));
  if (!pkey) return std::unexpected(detail::openssl_error("cannot load a raw Ed25519 key"));
  return detail::KeyAccess::make_private(std::move(pkey));
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  if (pem.size() > kMaxPemBytes)
    return std::unexpected(Error{ErrorCode::invalid_argument, "private key PEM is " + std::to_string(pem.size()) +
                                                                  " bytes, more than a key can be"});
  if (pem.empty()) return std::unexpected(Error{ErrorCode::unsupported_key, "empty private key PEM"});
  detail::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return std::unexpected(detail::openssl_error("cannot allocate a memory BIO"));
  // refuse_passphrase: never let OpenSSL prompt on the terminal of a daemon;
  // an encrypted key simply fails to load.
  detail::PkeyPtr pkey(
      PEM_read_bio_PrivateKey_ex(bio.get(), nullptr, detail::refuse_passphrase, nullptr, nullptr, nullptr));
  if (!pkey) {
    std::string reasons = detail::drain_openssl_errors();
    return std::unexpected(Error{
        ErrorCode::unsupported_key,
        "not an unencrypted PEM private key (\"BEGIN PRIVATE KEY\"): " + (reasons.empty() ? "no key found" : reasons)});
  }
  return detail::KeyAccess::make_private(std::move(pkey));
}

Result<PrivateKey> PrivateKey::load_pem_file(const std::filesystem::path& path) {
  auto text = detail::read_key_file(path, detail::KeyFileKind::private_key);
  if (!text) return std::unexpected(std::move(text.error()));
  auto key = from_pem(text->text());
  if (!key) {
    key.error().message = "private key file '" + path.string() + "': " + key.error().message;
    return std::unexpected(std::move(key.error()));
  }
  return key;
}

Result<PrivateKey> PrivateKey::clone() const {
  detail::PkeyPtr copy(EVP_PKEY_dup(detail::KeyAccess::pkey(*this)));
  if (!copy) return std::unexpected(detail::openssl_error("cannot copy a private key"));
  return detail::KeyAccess::make_private(std::move(copy));
}

Result<void> PrivateKey::save_pem_file(const std::filesystem::path& path, bool overwrite) const {
  // A secure-memory BIO: its buffer is cleansed when freed, so the PEM text
  // of the secret does not linger in the heap.
  detail::BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio) return std::unexpected(detail::openssl_error("cannot allocate a memory BIO"));
  // No cipher: unencrypted PKCS#8, protected by the file's 0600 mode.
  if (PEM_write_bio_PrivateKey(bio.get(), detail::KeyAccess::pkey(*this), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return std::unexpected(detail::openssl_error("cannot encode the private key as PEM"));
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  if (length <= 0 || data == nullptr) return std::unexpected(detail::openssl_error("empty PEM output"));
  return detail::write_key_file(path, std::span<const char>(data, static_cast<std::size_t>(length)), 0600, overwrite,
                                detail::KeyFileKind::private_key);
}

Scheme PrivateKey::scheme() const {
  if (!impl_) detail::fatal("use of a moved-from PrivateKey");
  return impl_->scheme;
}

Result<PublicKey> PrivateKey::public_key() const {
  // Through the SubjectPublicKeyInfo encoding, so the PublicKey holds only
  // public material (never a reference to the secret).
  EVP_PKEY* pkey = detail::KeyAccess::pkey(*this);
  const int length = i2d_PUBKEY(pkey, nullptr);
  if (length <= 0) return std::unexpected(detail::openssl_error("cannot encode the public key"));
  std::vector<unsigned char> der(static_cast<std::size_t>(length));
  unsigned char* out = der.data();
  if (i2d_PUBKEY(pkey, &out) != length) return std::unexpected(detail::openssl_error("cannot encode the public key"));
  const unsigned char* in = der.data();
  detail::PkeyPtr public_only(d2i_PUBKEY_ex(nullptr, &in, length, nullptr, nullptr));
  if (!public_only) return std::unexpected(detail::openssl_error("cannot decode the public key"));
  return detail::KeyAccess::make_public(std::move(public_only));
}

Result<std::vector<std::uint8_t>> PrivateKey::sign(std::span<const std::uint8_t> data) {
  if (!impl_) detail::fatal("use of a moved-from PrivateKey");
  if (impl_->scheme == Scheme::ecdsa_p256) return impl_->sign_ecdsa(data);
  std::vector<std::uint8_t> signature(kSignatureBytes);
  impl_->ed25519.sign(data, std::span<std::uint8_t, kSignatureBytes>(signature.data(), kSignatureBytes));
  return signature;
}

}  // namespace synod::crypto
