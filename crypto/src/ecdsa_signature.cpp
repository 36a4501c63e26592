#include "ecdsa_signature.hpp"

#include <openssl/err.h>

#include "ossl.hpp"

namespace synod::crypto::detail {

bool ecdsa_der_to_fixed(std::span<const std::uint8_t> der, std::span<std::uint8_t, 64> fixed) {
  const unsigned char* cursor = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der.size())));
  if (!sig) {
    ERR_clear_error();
    return false;
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  constexpr int kWidth = static_cast<int>(kEcdsaP256ScalarBytes);
  return BN_bn2binpad(r, fixed.data(), kWidth) == kWidth &&
         BN_bn2binpad(s, fixed.data() + kEcdsaP256ScalarBytes, kWidth) == kWidth;
}

std::size_t ecdsa_fixed_to_der(std::span<const std::uint8_t> fixed, EcdsaDer& der) {
  if (fixed.size() != 2 * kEcdsaP256ScalarBytes) return 0;
  constexpr int kWidth = static_cast<int>(kEcdsaP256ScalarBytes);
  BnPtr r(BN_bin2bn(fixed.data(), kWidth, nullptr));
  BnPtr s(BN_bin2bn(fixed.data() + kEcdsaP256ScalarBytes, kWidth, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig) fatal("out of memory building an ECDSA signature");
  // set0 takes ownership of r and s only when it succeeds.
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) fatal("ECDSA_SIG_set0 failed");
  (void)r.release();
  (void)s.release();
  const int length = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (length <= 0 || static_cast<std::size_t>(length) > der.size()) fatal("ECDSA signature does not fit its DER bound");
  unsigned char* cursor = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &cursor) != length) fatal("ECDSA signature DER encoding failed");
  return static_cast<std::size_t>(length);
}

}  // namespace synod::crypto::detail
