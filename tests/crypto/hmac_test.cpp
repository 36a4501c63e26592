// HMAC-SHA256 against RFC 4231 (test cases 1-4, 6, 7; case 5 is a truncated
// tag, which synod does not use), and constant-time comparison.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "synod/crypto/constant_time.hpp"
#include "synod/crypto/hmac.hpp"
#include "test_util.hpp"

namespace synod::crypto::test {
namespace {

struct Rfc4231Case {
  const char* name;
  std::vector<std::uint8_t> key;
  std::vector<std::uint8_t> data;
  const char* tag_hex;
};

std::vector<Rfc4231Case> rfc4231_cases() {
  return {
      {"test case 1", std::vector<std::uint8_t>(20, 0x0b), bytes_of("Hi There"),
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"test case 2", bytes_of("Jefe"), bytes_of("what do ya want for nothing?"),
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"test case 3", std::vector<std::uint8_t>(20, 0xaa), std::vector<std::uint8_t>(50, 0xdd),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {"test case 4", from_hex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
       std::vector<std::uint8_t>(50, 0xcd), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {"test case 6", std::vector<std::uint8_t>(131, 0xaa),
       bytes_of("Test Using Larger Than Block-Size Key - Hash Key First"),
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {"test case 7", std::vector<std::uint8_t>(131, 0xaa),
       bytes_of("This is a test using a larger than block-size key and a larger than block-size data. The key needs "
                "to be hashed before being used by the HMAC algorithm."),
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
}

TEST_CASE("HMAC-SHA256 matches RFC 4231 test cases 1-4, 6 and 7") {
  for (const auto& c : rfc4231_cases()) {
    CAPTURE(c.name);
    auto one_shot = hmac_sha256(c.key, c.data);
    REQUIRE(one_shot.has_value());
    CHECK(to_hex(*one_shot) == c.tag_hex);

    auto hmac = Hmac::create(c.key);
    REQUIRE(hmac.has_value());
    // Twice on one object: the second MAC runs on the re-initialised context.
    CHECK(to_hex(hmac->mac(c.data)) == c.tag_hex);
    CHECK(to_hex(hmac->mac(c.data)) == c.tag_hex);
  }
}

TEST_CASE("an Hmac object reused across messages gives each its own tag") {
  const auto cases = rfc4231_cases();
  auto hmac = Hmac::create(cases[0].key);
  REQUIRE(hmac.has_value());
  const auto other = hmac->mac(bytes_of("something else"));
  CHECK(to_hex(hmac->mac(cases[0].data)) == cases[0].tag_hex);
  CHECK(to_hex(other) != cases[0].tag_hex);
}

TEST_CASE("Hmac::verify accepts the right tag and rejects a flipped bit, a truncated or an empty tag") {
  const auto c = rfc4231_cases()[1];
  auto hmac = Hmac::create(c.key);
  REQUIRE(hmac.has_value());
  auto tag = from_hex(c.tag_hex);
  CHECK(hmac->verify(c.data, tag));
  auto flipped = tag;
  flipped[31] ^= 0x01;
  CHECK_FALSE(hmac->verify(c.data, flipped));
  CHECK_FALSE(hmac->verify(c.data, std::span(tag).first(16)));
  CHECK_FALSE(hmac->verify(c.data, {}));
  CHECK_FALSE(hmac->verify(bytes_of("what do ya want for nothing!"), tag));
}

TEST_CASE("HMAC-SHA256 with an empty key and message is the well-known constant") {
  auto tag = hmac_sha256({}, {});
  REQUIRE(tag.has_value());
  CHECK(to_hex(*tag) == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST_CASE("constant_time_equal compares length and every byte") {
  const std::vector<std::uint8_t> a{1, 2, 3, 4};
  CHECK(constant_time_equal(a, std::vector<std::uint8_t>{1, 2, 3, 4}));
  CHECK_FALSE(constant_time_equal(a, std::vector<std::uint8_t>{1, 2, 3, 5}));
  CHECK_FALSE(constant_time_equal(a, std::vector<std::uint8_t>{0, 2, 3, 4}));
  CHECK_FALSE(constant_time_equal(a, std::vector<std::uint8_t>{1, 2, 3}));
  CHECK_FALSE(constant_time_equal(a, {}));
  CHECK(constant_time_equal({}, {}));
}

}  // namespace
}  // namespace synod::crypto::test
