#include "synod/crypto/scheme.hpp"

#include <string>

namespace synod::crypto {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument: return "invalid argument";
    case ErrorCode::io: return "i/o error";
    case ErrorCode::already_exists: return "already exists";
    case ErrorCode::insecure_permissions: return "insecure permissions";
    case ErrorCode::unsupported_key: return "unsupported key";
    case ErrorCode::openssl: return "openssl error";
    case ErrorCode::libsodium: return "libsodium error";
  }
  return "unknown error";
}

const char* to_string(Scheme scheme) { return scheme == Scheme::ed25519 ? "ed25519" : "ecdsa-p256"; }

Result<Scheme> parse_scheme(std::string_view text) {
  if (text == "ed25519") return Scheme::ed25519;
  if (text == "ecdsa-p256") return Scheme::ecdsa_p256;
  return std::unexpected(
      Error{ErrorCode::invalid_argument,
            "signature scheme must be \"ed25519\" or \"ecdsa-p256\", not \"" + std::string(text) + "\""});
}

}  // namespace synod::crypto
