// synod/crypto/error.hpp — how synod_crypto reports an expected failure: a
// value (std::expected), never an exception. An Error says what failed in one
// line that names the file / key / OpenSSL reason involved, fit to show a user.
//
// A failure that cannot happen with correctly constructed objects (OpenSSL
// rejecting a digest update on a live context) is not an Error: it is a bug
// and stops the process with a message (see the headers of each class).
//
// Plain values; thread-compatible.
#pragma once

#include <cstdint>
#include <expected>
#include <string>

namespace synod::crypto {

enum class ErrorCode : std::uint8_t {
  invalid_argument,      // wrong size / malformed input handed in by the caller
  io,                    // open / read / write / rename failed (errno text in message)
  already_exists,        // refused to overwrite a file
  insecure_permissions,  // private key file accessible by group or others
  unsupported_key,       // a key that is not Ed25519 or ECDSA P-256, or unparsable
  openssl,               // OpenSSL reported a failure (its reason in message)
  libsodium,             // libsodium could not start (Ed25519 signing and verification)
};

const char* to_string(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::invalid_argument;
  std::string message;
};

template <class T>
using Result = std::expected<T, Error>;

}  // namespace synod::crypto
