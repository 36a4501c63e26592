// The shared vocabulary in synod/types.hpp and synod/result.hpp.
#include <doctest/doctest.h>

#include <string>

#include "synod/result.hpp"
#include "synod/types.hpp"

TEST_CASE("types: to_hex writes two lowercase digits per byte") {
  CHECK(synod::to_hex(synod::ByteView{}) == "");
  const synod::Bytes bytes = {0x00, 0x01, 0x0a, 0x7f, 0x80, 0xab, 0xff};
  CHECK(synod::to_hex(synod::as_view(bytes)) == "00010a7f80abff");
}

TEST_CASE("types: to_hex of a digest is 64 digits") {
  synod::Digest digest{};
  digest.front() = 0xde;
  digest.back() = 0x01;
  const std::string hex = synod::to_hex(digest);
  CHECK(hex.size() == 2 * synod::kDigestBytes);
  CHECK(hex.starts_with("de00"));
  CHECK(hex.ends_with("0001"));
}

TEST_CASE("types: to_bytes and to_string round-trip any bytes, including NUL") {
  const std::string text("a\0b\xff", 4);
  const synod::Bytes bytes = synod::to_bytes(text);
  CHECK(bytes == synod::Bytes{'a', 0, 'b', 0xff});
  CHECK(synod::to_string(synod::as_view(bytes)) == text);
}

TEST_CASE("types: Principal orders replicas before clients, then by id") {
  using synod::Principal;
  CHECK(Principal::replica(5) < Principal::client(0));
  CHECK(Principal::client(1) < Principal::client(2));
  CHECK(Principal::replica(3) == Principal::replica(3));
  CHECK(Principal::replica(3) != Principal::client(3));
  CHECK(Principal::client(3).is_client());
  CHECK_FALSE(Principal::client(3).is_replica());
}

TEST_CASE("result: fail() builds an Error that describes itself with its code") {
  const synod::Result<int> result = synod::fail(synod::ErrorCode::decode, "bad length");
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == synod::ErrorCode::decode);
  CHECK(result.error().describe() == "decode error: bad length");
}

TEST_CASE("result: every error code has its own name") {
  using synod::ErrorCode;
  const ErrorCode codes[] = {ErrorCode::invalid_config, ErrorCode::invalid_argument, ErrorCode::decode,
                             ErrorCode::auth,           ErrorCode::io,               ErrorCode::crypto,
                             ErrorCode::not_found,      ErrorCode::corrupt};
  for (std::size_t i = 0; i < std::size(codes); ++i) {
    for (std::size_t j = i + 1; j < std::size(codes); ++j) {
      CHECK(std::string(synod::to_string(codes[i])) != synod::to_string(codes[j]));
    }
    CHECK(std::string(synod::to_string(codes[i])) != "error");
  }
}
