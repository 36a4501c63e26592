#include "synod/crypto/public_key.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>

#include "ecdsa_signature.hpp"
#include "ed25519.hpp"
#include "key_file.hpp"
#include "ossl.hpp"

namespace synod::crypto {

struct PublicKey::Impl {
  Scheme scheme = Scheme::ed25519;
  detail::PkeyPtr pkey;
  detail::Ed25519Verifier ed25519;  // Ed25519 only: the raw key, for libsodium
  detail::MdCtxPtr md_ctx;          // ECDSA only: the SHA-256 context
  detail::MdPtr sha256;             // ECDSA only
  detail::PkeyCtxPtr verify_ctx;    // ECDSA only: verify-initialised once

  static Result<std::unique_ptr<Impl>> build(detail::PkeyPtr pkey);

  bool verify_ecdsa(std::span<const std::uint8_t> data, std::span<const std::uint8_t> signature);
};

Result<std::unique_ptr<PublicKey::Impl>> PublicKey::Impl::build(detail::PkeyPtr pkey) {
  auto scheme = detail::classify(pkey.get());
  if (!scheme) return std::unexpected(std::move(scheme.error()));
  auto impl = std::make_unique<Impl>();
  impl->scheme = *scheme;
  if (*scheme == Scheme::ed25519) {
    auto verifier = detail::Ed25519Verifier::from_pkey(pkey.get());
    if (!verifier) return std::unexpected(std::move(verifier.error()));
    impl->ed25519 = *verifier;
  } else {
    impl->md_ctx.reset(EVP_MD_CTX_new());
    if (!impl->md_ctx) return std::unexpected(detail::openssl_error("cannot allocate a digest context"));
    impl->sha256 = detail::fetch_sha256();
    if (!impl->sha256) return std::unexpected(detail::openssl_error("cannot fetch SHA-256"));
    impl->verify_ctx.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (!impl->verify_ctx) return std::unexpected(detail::openssl_error("cannot allocate a verification context"));
    // Keys come from config files: make sure the point is a valid P-256
    // point before trusting any verification result made with it.
    if (EVP_PKEY_public_check(impl->verify_ctx.get()) != 1)
      return std::unexpected(
          Error{ErrorCode::unsupported_key, "invalid P-256 public key: " + detail::drain_openssl_errors()});
    if (EVP_PKEY_verify_init(impl->verify_ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_signature_md(impl->verify_ctx.get(), impl->sha256.get()) != 1)
      return std::unexpected(detail::openssl_error("cannot set up ECDSA verification"));
  }
  impl->pkey = std::move(pkey);
  return impl;
}

namespace detail {

Result<PublicKey> KeyAccess::make_public(PkeyPtr pkey) {
  auto impl = PublicKey::Impl::build(std::move(pkey));
  if (!impl) return std::unexpected(std::move(impl.error()));
  return PublicKey(std::move(*impl));
}

EVP_PKEY* KeyAccess::pkey(const PublicKey& key) {
  if (!key.impl_) fatal("use of a moved-from PublicKey");
  return key.impl_->pkey.get();
}

}  // namespace detail

bool PublicKey::Impl::verify_ecdsa(std::span<const std::uint8_t> data, std::span<const std::uint8_t> signature) {
  detail::EcdsaDer der{};
  const std::size_t der_length = detail::ecdsa_fixed_to_der(signature, der);
  if (der_length == 0) return false;
  std::array<unsigned char, EVP_MAX_MD_SIZE> hash{};
  unsigned int hash_length = 0;
  if (EVP_DigestInit_ex2(md_ctx.get(), sha256.get(), nullptr) != 1 ||
      EVP_DigestUpdate(md_ctx.get(), detail::data_or_empty(data), data.size()) != 1 ||
      EVP_DigestFinal_ex(md_ctx.get(), hash.data(), &hash_length) != 1)
    detail::fatal("SHA-256 for ECDSA verification failed");
  const int rc = EVP_PKEY_verify(verify_ctx.get(), der.data(), der_length, hash.data(), hash_length);
  if (rc != 1) {
    ERR_clear_error();
    return false;
  }
  return true;
}

PublicKey::PublicKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PublicKey::PublicKey(PublicKey&&) noexcept = default;
PublicKey& PublicKey::operator=(PublicKey&&) noexcept = default;
PublicKey::~PublicKey() = default;

Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  if (pem.size() > kMaxPemBytes)
    return std::unexpected(Error{ErrorCode::invalid_argument,
                                 "public key PEM is " + std::to_string(pem.size()) + " bytes, more than a key can be"});
  if (pem.empty()) return std::unexpected(Error{ErrorCode::unsupported_key, "empty public key PEM"});
  detail::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return std::unexpected(detail::openssl_error("cannot allocate a memory BIO"));
  detail::PkeyPtr pkey(
      PEM_read_bio_PUBKEY_ex(bio.get(), nullptr, detail::refuse_passphrase, nullptr, nullptr, nullptr));
  if (!pkey) {
    std::string reasons = detail::drain_openssl_errors();
    return std::unexpected(Error{ErrorCode::unsupported_key, "not a PEM public key (\"BEGIN PUBLIC KEY\"): " +
                                                                 (reasons.empty() ? "no key found" : reasons)});
  }
  return detail::KeyAccess::make_public(std::move(pkey));
}

Result<PublicKey> PublicKey::load_pem_file(const std::filesystem::path& path) {
  auto text = detail::read_key_file(path, detail::KeyFileKind::public_key);
  if (!text) return std::unexpected(std::move(text.error()));
  auto key = from_pem(text->text());
  if (!key) {
    key.error().message = "public key file '" + path.string() + "': " + key.error().message;
    return std::unexpected(std::move(key.error()));
  }
  return key;
}

Result<PublicKey> PublicKey::clone() const {
  // A deep copy, so the clone shares no OpenSSL state with this object.
  detail::PkeyPtr copy(EVP_PKEY_dup(detail::KeyAccess::pkey(*this)));
  if (!copy) return std::unexpected(detail::openssl_error("cannot copy a public key"));
  return detail::KeyAccess::make_public(std::move(copy));
}

Result<std::string> PublicKey::to_pem() const {
  detail::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return std::unexpected(detail::openssl_error("cannot allocate a memory BIO"));
  if (PEM_write_bio_PUBKEY(bio.get(), detail::KeyAccess::pkey(*this)) != 1)
    return std::unexpected(detail::openssl_error("cannot encode the public key as PEM"));
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  if (length <= 0 || data == nullptr) return std::unexpected(detail::openssl_error("empty PEM output"));
  return std::string(data, static_cast<std::size_t>(length));
}

Result<void> PublicKey::save_pem_file(const std::filesystem::path& path, bool overwrite) const {
  auto pem = to_pem();
  if (!pem) return std::unexpected(std::move(pem.error()));
  return detail::write_key_file(path, std::span<const char>(pem->data(), pem->size()), 0644, overwrite,
                                detail::KeyFileKind::public_key);
}

Scheme PublicKey::scheme() const {
  if (!impl_) detail::fatal("use of a moved-from PublicKey");
  return impl_->scheme;
}

std::vector<std::uint8_t> PublicKey::raw_bytes() const {
  EVP_PKEY* pkey = detail::KeyAccess::pkey(*this);
  std::array<unsigned char, 133> buffer{};  // large enough for any SEC1 point up to P-521
  std::size_t length = buffer.size();
  const int rc = impl_->scheme == Scheme::ed25519
                     ? EVP_PKEY_get_raw_public_key(pkey, buffer.data(), &length)
                     : EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buffer.data(),
                                                       buffer.size(), &length);
  if (rc != 1) detail::fatal("cannot export a loaded public key");
  return std::vector<std::uint8_t>(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(length));
}

bool PublicKey::verify(std::span<const std::uint8_t> data, std::span<const std::uint8_t> signature) {
  if (!impl_) detail::fatal("use of a moved-from PublicKey");
  return impl_->scheme == Scheme::ed25519 ? impl_->ed25519.verify(data, signature)
                                          : impl_->verify_ecdsa(data, signature);
}

bool operator==(const PublicKey& a, const PublicKey& b) {
  const int rc = EVP_PKEY_eq(detail::KeyAccess::pkey(a), detail::KeyAccess::pkey(b));
  ERR_clear_error();  // comparing keys of different types leaves an error behind
  return rc == 1;
}

}  // namespace synod::crypto
