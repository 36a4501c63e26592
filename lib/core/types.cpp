#include "synod/types.hpp"

#include "synod/result.hpp"

namespace synod {

std::string to_hex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

Bytes to_bytes(std::string_view text) { return Bytes(text.begin(), text.end()); }

std::string to_string(ByteView bytes) { return std::string(bytes.begin(), bytes.end()); }

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_config: return "invalid config";
    case ErrorCode::invalid_argument: return "invalid argument";
    case ErrorCode::decode: return "decode error";
    case ErrorCode::auth: return "authentication failed";
    case ErrorCode::io: return "I/O error";
    case ErrorCode::crypto: return "crypto error";
    case ErrorCode::not_found: return "not found";
    case ErrorCode::corrupt: return "corrupt data";
  }
  return "error";
}

}  // namespace synod
