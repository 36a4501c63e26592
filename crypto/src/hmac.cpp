#include "synod/crypto/hmac.hpp"

#include <openssl/core_names.h>
#include <openssl/params.h>

#include "ossl.hpp"
#include "synod/crypto/constant_time.hpp"

namespace synod::crypto {

struct Hmac::Impl {
  detail::MacPtr mac;
  detail::MacCtxPtr ctx;
};

Result<Hmac> Hmac::create(std::span<const std::uint8_t> key) {
  auto impl = std::make_unique<Impl>();
  impl->mac.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!impl->mac) return std::unexpected(detail::openssl_error("cannot fetch HMAC"));
  impl->ctx.reset(EVP_MAC_CTX_new(impl->mac.get()));
  if (!impl->ctx) return std::unexpected(detail::openssl_error("cannot allocate an HMAC context"));
  char digest_name[] = "SHA2-256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                               OSSL_PARAM_construct_end()};
  // A non-null pointer even for an empty key: EVP_MAC_init reads a null key
  // as "keep the previous key", and there is none yet.
  if (EVP_MAC_init(impl->ctx.get(), detail::data_or_empty(key), key.size(), params) != 1)
    return std::unexpected(detail::openssl_error("cannot set up HMAC-SHA256"));
  return Hmac(std::move(impl));
}

Hmac::Hmac(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Hmac::Hmac(Hmac&&) noexcept = default;
Hmac& Hmac::operator=(Hmac&&) noexcept = default;
Hmac::~Hmac() = default;

HmacTag Hmac::mac(std::span<const std::uint8_t> data) {
  if (!impl_) detail::fatal("use of a moved-from Hmac");
  EVP_MAC_CTX* ctx = impl_->ctx.get();
  // Null key: restart with the key (and digest) set at create(), skipping the
  // fetch and the key schedule.
  if (EVP_MAC_init(ctx, nullptr, 0, nullptr) != 1) detail::fatal("HMAC re-init failed");
  if (EVP_MAC_update(ctx, detail::data_or_empty(data), data.size()) != 1) detail::fatal("HMAC update failed");
  HmacTag tag{};
  std::size_t length = 0;
  if (EVP_MAC_final(ctx, tag.data(), &length, tag.size()) != 1 || length != tag.size())
    detail::fatal("HMAC final failed");
  return tag;
}

bool Hmac::verify(std::span<const std::uint8_t> data, std::span<const std::uint8_t> tag) {
  const HmacTag expected = mac(data);
  return constant_time_equal(expected, tag);
}

Result<HmacTag> hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  auto hmac = Hmac::create(key);
  if (!hmac) return std::unexpected(std::move(hmac.error()));
  return hmac->mac(data);
}

}  // namespace synod::crypto
