#include "synod/crypto/sha256.hpp"

#include "ossl.hpp"

namespace synod::crypto {

struct Sha256::Impl {
  detail::MdPtr md;
  detail::MdCtxPtr ctx;
  bool started = false;  // ctx holds an initialised, unfinished digest

  void start() {
    // With the same pre-fetched EVP_MD this re-initialisation is cheap: no
    // fetch, no allocation of a new EVP_MD_CTX.
    if (EVP_DigestInit_ex2(ctx.get(), md.get(), nullptr) != 1) detail::fatal("SHA-256 init failed");
    started = true;
  }
  void feed(std::span<const std::uint8_t> data) {
    if (EVP_DigestUpdate(ctx.get(), detail::data_or_empty(data), data.size()) != 1)
      detail::fatal("SHA-256 update failed");
  }
  Sha256Digest end() {
    Sha256Digest out{};
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(ctx.get(), out.data(), &length) != 1 || length != out.size())
      detail::fatal("SHA-256 final failed");
    started = false;
    return out;
  }
};

Result<Sha256> Sha256::create() {
  auto impl = std::make_unique<Impl>();
  impl->md = detail::fetch_sha256();
  if (!impl->md) return std::unexpected(detail::openssl_error("cannot fetch SHA-256"));
  impl->ctx.reset(EVP_MD_CTX_new());
  if (!impl->ctx) return std::unexpected(detail::openssl_error("cannot allocate a digest context"));
  return Sha256(std::move(impl));
}

Sha256::Sha256(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;
Sha256::~Sha256() = default;

Sha256Digest Sha256::digest(std::span<const std::uint8_t> data) {
  if (!impl_) detail::fatal("use of a moved-from Sha256");
  impl_->start();
  impl_->feed(data);
  return impl_->end();
}

void Sha256::update(std::span<const std::uint8_t> data) {
  if (!impl_) detail::fatal("use of a moved-from Sha256");
  if (!impl_->started) impl_->start();
  impl_->feed(data);
}

Sha256Digest Sha256::finish() {
  if (!impl_) detail::fatal("use of a moved-from Sha256");
  if (!impl_->started) impl_->start();
  return impl_->end();
}

}  // namespace synod::crypto
