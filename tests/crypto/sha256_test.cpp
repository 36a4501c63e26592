// SHA-256 against the FIPS 180-2 appendix B examples (and the NIST one-million
// 'a' message), one-shot and incremental.
#include <doctest/doctest.h>

#include <string>

#include "synod/crypto/sha256.hpp"
#include "test_util.hpp"

namespace synod::crypto::test {
namespace {

Sha256 make_sha256() {
  auto sha = Sha256::create();
  REQUIRE(sha.has_value());
  return std::move(*sha);
}

TEST_CASE("SHA-256 of \"abc\" matches FIPS 180-2 B.1") {
  Sha256 sha = make_sha256();
  CHECK(to_hex(sha.digest(bytes_of("abc"))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("SHA-256 of the 448-bit two-block message matches FIPS 180-2 B.2") {
  Sha256 sha = make_sha256();
  CHECK(to_hex(sha.digest(bytes_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("SHA-256 of one million 'a' matches FIPS 180-2 B.3, one-shot and in 1000-byte updates") {
  constexpr const char* kExpected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
  Sha256 sha = make_sha256();
  const std::string million(1'000'000, 'a');
  CHECK(to_hex(sha.digest(bytes_of(million))) == kExpected);

  const auto chunk = bytes_of(std::string(1000, 'a'));
  for (int i = 0; i < 1000; ++i) sha.update(chunk);
  CHECK(to_hex(sha.finish()) == kExpected);
}

TEST_CASE("SHA-256 of the empty message is the well-known constant") {
  Sha256 sha = make_sha256();
  CHECK(to_hex(sha.digest({})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(to_hex(sha.finish()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("a reused Sha256 gives each message its own digest (no state carried over)") {
  Sha256 sha = make_sha256();
  const auto first = sha.digest(bytes_of("abc"));
  const auto other = sha.digest(bytes_of("abd"));
  const auto again = sha.digest(bytes_of("abc"));
  CHECK(first == again);
  CHECK(first != other);
  sha.update(bytes_of("ab"));
  sha.update(bytes_of("c"));
  CHECK(sha.finish() == first);
  CHECK(sha.digest(bytes_of("abc")) == first);  // finish() started over
}

TEST_CASE("digest() discards unfinished incremental input") {
  Sha256 sha = make_sha256();
  sha.update(bytes_of("garbage"));
  CHECK(to_hex(sha.digest(bytes_of("abc"))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("a moved-to Sha256 keeps working") {
  Sha256 original = make_sha256();
  Sha256 moved = std::move(original);
  CHECK(to_hex(moved.digest(bytes_of("abc"))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  original = std::move(moved);  // assigning to a moved-from object is allowed
  CHECK(to_hex(original.digest(bytes_of("abc"))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace synod::crypto::test
