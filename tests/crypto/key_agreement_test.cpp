// Pair keys for MAC authenticators: the Ed25519 -> X25519 map against
// libsodium's published vector and an independent computation (Python's
// `cryptography`: X25519 of SHA-512(seed)[0..32], then HKDF-SHA256 with
// synod's salt and info), symmetry, and separation between pairs.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "synod/crypto/key_agreement.hpp"
#include "synod/crypto/private_key.hpp"
#include "test_util.hpp"

namespace synod::crypto::test {
namespace {

PrivateKey ed25519_from_seed(const char* hex) {
  auto key = PrivateKey::from_raw_ed25519(from_hex(hex));
  REQUIRE(key.has_value());
  return std::move(*key);
}

constexpr const char* kSeed1 = "421151a459faeade3d247115f94aedae42318124095afabe4d1451a559faedee";
constexpr const char* kSeed2 = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";  // RFC 8032 test 1

TEST_CASE("the Ed25519 public key maps to the X25519 public key of the same scalar") {
  // libsodium test/default/ed25519_convert: this seed's curve25519 pk.
  const PrivateKey k1 = ed25519_from_seed(kSeed1);
  auto u1 = ed25519_public_to_x25519(*k1.public_key());
  REQUIRE(u1.has_value());
  CHECK(to_hex(*u1) == "f1814f0e8ff1043d8a44d25babff3cedcae6c22c3edaa48f857ae70de2baae50");
  const PrivateKey k2 = ed25519_from_seed(kSeed2);
  auto u2 = ed25519_public_to_x25519(*k2.public_key());
  REQUIRE(u2.has_value());
  CHECK(to_hex(*u2) == "d85e07ec22b0ad881537c2f44d662d1a143cf830c57aca4305d85c7a90f6b62e");
}

TEST_CASE("both ends of a pair derive the same key, and it matches an independent computation") {
  const PrivateKey k1 = ed25519_from_seed(kSeed1);
  const PrivateKey k2 = ed25519_from_seed(kSeed2);
  const std::vector<std::uint8_t> context = bytes_of("synod-test");
  auto a = derive_pair_key(k1, *k2.public_key(), context);
  auto b = derive_pair_key(k2, *k1.public_key(), context);
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(*a == *b);
  CHECK(to_hex(*a) == "57c031e8cd8941dec3fdf9af983767dbd9dfa459c62e2cbdb99f5dbab85d0146");
  // Another context, another key.
  auto c = derive_pair_key(k1, *k2.public_key(), bytes_of("other"));
  REQUIRE(c.has_value());
  CHECK(*c != *a);
}

TEST_CASE("every pair has its own key, in both schemes") {
  for (const Scheme scheme : {Scheme::ed25519, Scheme::ecdsa_p256}) {
    CAPTURE(static_cast<int>(scheme));
    auto x = PrivateKey::generate(scheme);
    auto y = PrivateKey::generate(scheme);
    auto z = PrivateKey::generate(scheme);
    REQUIRE((x && y && z));
    const std::vector<std::uint8_t> context;
    auto xy = derive_pair_key(*x, *y->public_key(), context);
    auto yx = derive_pair_key(*y, *x->public_key(), context);
    auto xz = derive_pair_key(*x, *z->public_key(), context);
    auto zy = derive_pair_key(*z, *y->public_key(), context);
    REQUIRE((xy && yx && xz && zy));
    CHECK(*xy == *yx);
    CHECK(*xy != *xz);
    CHECK(*xy != *zy);
  }
}

TEST_CASE("keys of different schemes do not agree") {
  auto ed = PrivateKey::generate(Scheme::ed25519);
  auto ec = PrivateKey::generate(Scheme::ecdsa_p256);
  REQUIRE((ed && ec));
  auto key = derive_pair_key(*ed, *ec->public_key(), {});
  REQUIRE_FALSE(key.has_value());
  CHECK(key.error().code == ErrorCode::invalid_argument);
  CHECK_FALSE(ed25519_public_to_x25519(*ec->public_key()).has_value());
}

}  // namespace
}  // namespace synod::crypto::test
