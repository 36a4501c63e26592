#include "ossl.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace synod::crypto::detail {

std::string drain_openssl_errors() {
  std::string text;
  // Bounded: OpenSSL's per-thread queue holds at most 16 entries.
  for (int i = 0; i < 32; ++i) {
    const unsigned long code = ERR_get_error();
    if (code == 0) break;
    std::array<char, 256> buffer{};
    ERR_error_string_n(code, buffer.data(), buffer.size());
    if (!text.empty()) text += "; ";
    text += buffer.data();
  }
  return text;
}

Error openssl_error(const std::string& what) {
  std::string reasons = drain_openssl_errors();
  if (reasons.empty()) reasons = "no reason given by OpenSSL";
  return Error{ErrorCode::openssl, what + ": " + reasons};
}

void fatal(const char* what) {
  const std::string reasons = drain_openssl_errors();
  std::fprintf(stderr, "synod_crypto: fatal: %s%s%s\n", what, reasons.empty() ? "" : ": ", reasons.c_str());
  std::abort();
}

int refuse_passphrase(char*, int, int, void*) { return 0; }

MdPtr fetch_sha256() { return MdPtr(EVP_MD_fetch(nullptr, "SHA2-256", nullptr)); }

Result<Scheme> classify(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "ED25519")) return Scheme::ed25519;
  if (EVP_PKEY_is_a(pkey, "EC")) {
    std::array<char, 64> group{};
    std::size_t length = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(), &length) != 1) {
      drain_openssl_errors();
      return std::unexpected(Error{ErrorCode::unsupported_key, "EC key without a named curve (want P-256)"});
    }
    const std::string_view name(group.data(), length);
    // OpenSSL reports the short name; accept the NIST alias too.
    if (name == "prime256v1" || name == "P-256") return Scheme::ecdsa_p256;
    return std::unexpected(
        Error{ErrorCode::unsupported_key, "EC key on curve " + std::string(name) + " (only P-256 is supported)"});
  }
  const char* type = EVP_PKEY_get0_type_name(pkey);
  return std::unexpected(Error{ErrorCode::unsupported_key, std::string("key type ") + (type ? type : "unknown") +
                                                               " is not supported (want ed25519 or ecdsa-p256)"});
}

}  // namespace synod::crypto::detail
