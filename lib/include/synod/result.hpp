// synod/result.hpp — errors as values at every boundary (config, decoding,
// storage, crypto). A violated invariant is not an Error: it stops the process
// (see synod/assert.hpp).
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace synod {

enum class ErrorCode {
  invalid_config,
  invalid_argument,
  decode,        // untrusted bytes that are not a valid message
  auth,          // bad signature / MAC, unknown signer
  io,            // file system, LMDB, sockets
  crypto,        // OpenSSL failure
  not_found,
  corrupt,       // stored or transferred state that fails its digest
};

const char* to_string(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::invalid_argument;
  std::string message;

  std::string describe() const { return std::string(to_string(code)) + ": " + message; }
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(ErrorCode code, std::string message) {
  return std::unexpected(Error{code, std::move(message)});
}

}  // namespace synod
