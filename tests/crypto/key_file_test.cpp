// Key files: PEM round trips, the 0600 mode of private keys, refusing keys
// others can read, and clear errors for paths that cannot be written.
#include <doctest/doctest.h>

#include <string>

#include "synod/crypto/private_key.hpp"
#include "synod/crypto/public_key.hpp"
#include "test_util.hpp"

namespace synod::crypto::test {
namespace {

TEST_CASE("private and public PEM files round trip: the loaded keys sign and verify") {
  for (Scheme scheme : kSchemes) {
    CAPTURE(to_string(scheme));
    TempDir dir;
    PrivateKey key = generate(scheme);
    auto pub = key.public_key();
    REQUIRE(pub.has_value());
    REQUIRE(key.save_pem_file(dir / "node.key", false).has_value());
    REQUIRE(pub->save_pem_file(dir / "node.pub", false).has_value());
    CHECK(read_text(dir / "node.key").starts_with("-----BEGIN PRIVATE KEY-----"));

    auto loaded_key = PrivateKey::load_pem_file(dir / "node.key");
    REQUIRE(loaded_key.has_value());
    CHECK(loaded_key->scheme() == scheme);
    auto loaded_pub = PublicKey::load_pem_file(dir / "node.pub");
    REQUIRE(loaded_pub.has_value());
    CHECK(*loaded_pub == *pub);

    const auto message = bytes_of("request op=put k=v");
    auto signature = loaded_key->sign(message);
    REQUIRE(signature.has_value());
    CHECK(loaded_pub->verify(message, *signature));
    CHECK(pub->verify(message, *signature));  // the loaded key is the saved key
    auto original_signature = key.sign(message);
    REQUIRE(original_signature.has_value());
    CHECK(loaded_pub->verify(message, *original_signature));
  }
}

TEST_CASE("a written private key file has mode 0600 and a public key file 0644") {
  const mode_t previous = ::umask(022);  // the common default; restored below
  TempDir dir;
  PrivateKey key = generate(Scheme::ed25519);
  REQUIRE(key.save_pem_file(dir / "a.key", false).has_value());
  auto pub = key.public_key();
  REQUIRE(pub.has_value());
  REQUIRE(pub->save_pem_file(dir / "a.pub", false).has_value());
  ::umask(previous);
  CHECK(file_mode(dir / "a.key") == 0600);
  CHECK(file_mode(dir / "a.pub") == 0644);
}

TEST_CASE("saving refuses to overwrite an existing file unless asked, and leaves it untouched") {
  TempDir dir;
  write_text(dir / "x.key", "precious", 0600);
  PrivateKey key = generate(Scheme::ed25519);
  auto refused = key.save_pem_file(dir / "x.key", false);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == ErrorCode::already_exists);
  CHECK(contains(refused.error().message, (dir / "x.key").string()));
  CHECK(read_text(dir / "x.key") == "precious");

  REQUIRE(key.save_pem_file(dir / "x.key", true).has_value());
  CHECK(PrivateKey::load_pem_file(dir / "x.key").has_value());
}

TEST_CASE("overwriting a 0644 file with a private key leaves a 0600 file") {
  TempDir dir;
  write_text(dir / "loose.key", "old", 0644);
  PrivateKey key = generate(Scheme::ecdsa_p256);
  REQUIRE(key.save_pem_file(dir / "loose.key", true).has_value());
  CHECK(file_mode(dir / "loose.key") == 0600);
  CHECK(PrivateKey::load_pem_file(dir / "loose.key").has_value());
  // No temporary file is left next to it.
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);
}

TEST_CASE("loading refuses a private key file readable by group or others, naming the file and mode") {
  TempDir dir;
  PrivateKey key = generate(Scheme::ed25519);
  REQUIRE(key.save_pem_file(dir / "k.key", false).has_value());
  const std::string pem = read_text(dir / "k.key");

  for (const mode_t mode : {0644, 0640, 0604, 0660}) {
    CAPTURE(mode);
    write_text(dir / "k.key", pem, mode);
    auto loaded = PrivateKey::load_pem_file(dir / "k.key");
    REQUIRE_FALSE(loaded.has_value());
    CHECK(loaded.error().code == ErrorCode::insecure_permissions);
    CHECK(contains(loaded.error().message, (dir / "k.key").string()));
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    CHECK(contains(loaded.error().message, octal));
  }
  write_text(dir / "k.key", pem, 0400);  // stricter than 0600 is fine
  CHECK(PrivateKey::load_pem_file(dir / "k.key").has_value());
  // A public key file carries no secret: 0644 is expected.
  auto pub = key.public_key();
  REQUIRE(pub.has_value());
  REQUIRE(pub->save_pem_file(dir / "k.pub", false).has_value());
  write_text(dir / "k.pub", read_text(dir / "k.pub"), 0644);
  CHECK(PublicKey::load_pem_file(dir / "k.pub").has_value());
}

TEST_CASE("saving into a missing directory or under a regular file is an io error naming the path") {
  // Tests run as root here, so file modes cannot make a path unwritable;
  // these paths fail for everyone.
  TempDir dir;
  write_text(dir / "plain", "x", 0600);
  PrivateKey key = generate(Scheme::ed25519);
  for (const auto& path : {dir / "missing" / "k.key", dir / "plain" / "k.key"}) {
    CAPTURE(path.string());
    for (bool overwrite : {false, true}) {
      auto saved = key.save_pem_file(path, overwrite);
      REQUIRE_FALSE(saved.has_value());
      CHECK(saved.error().code == ErrorCode::io);
      CHECK(contains(saved.error().message, path.string()));
    }
  }
}

TEST_CASE("loading a missing file, a directory, garbage or an oversized file is an error naming the file") {
  TempDir dir;
  auto missing = PrivateKey::load_pem_file(dir / "nope.key");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == ErrorCode::io);
  CHECK(contains(missing.error().message, (dir / "nope.key").string()));

  std::filesystem::create_directory(dir / "d");
  std::filesystem::permissions(dir / "d", std::filesystem::perms::owner_all);
  CHECK_FALSE(PrivateKey::load_pem_file(dir / "d").has_value());

  write_text(dir / "garbage.key", "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n", 0600);
  auto garbage = PrivateKey::load_pem_file(dir / "garbage.key");
  REQUIRE_FALSE(garbage.has_value());
  CHECK(garbage.error().code == ErrorCode::unsupported_key);
  CHECK(contains(garbage.error().message, (dir / "garbage.key").string()));

  write_text(dir / "huge.pub", std::string(kMaxPemBytes + 1, 'A'), 0644);
  auto huge = PublicKey::load_pem_file(dir / "huge.pub");
  REQUIRE_FALSE(huge.has_value());
  CHECK(huge.error().code == ErrorCode::invalid_argument);
}

TEST_CASE("a public key file is not accepted as a private key, nor the reverse") {
  TempDir dir;
  PrivateKey key = generate(Scheme::ed25519);
  auto pub = key.public_key();
  REQUIRE(pub.has_value());
  REQUIRE(key.save_pem_file(dir / "k.key", false).has_value());
  REQUIRE(pub->save_pem_file(dir / "k.pub", false).has_value());
  write_text(dir / "k.pub", read_text(dir / "k.pub"), 0600);
  CHECK_FALSE(PrivateKey::load_pem_file(dir / "k.pub").has_value());
  CHECK_FALSE(PublicKey::load_pem_file(dir / "k.key").has_value());
}

}  // namespace
}  // namespace synod::crypto::test
