// synod-keygen, run as a process: help, the files it writes, refusing to
// overwrite, and one-line errors with the documented exit codes.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "synod/crypto/private_key.hpp"
#include "synod/crypto/public_key.hpp"
#include "test_util.hpp"

#ifndef SYNOD_KEYGEN_PATH
#error "SYNOD_KEYGEN_PATH must name the synod-keygen binary"
#endif

namespace synod::crypto::test {
namespace {

const std::string kKeygen = SYNOD_KEYGEN_PATH;

bool one_line(const std::string& text) {
  return !text.empty() && text.back() == '\n' && std::count(text.begin(), text.end(), '\n') == 1;
}

TEST_CASE("synod-keygen --help exits 0 and describes its options") {
  TempDir dir;
  const RunResult result = run(kKeygen, {"--help"}, dir);
  CHECK(result.exit_code == 0);
  CHECK(contains(result.out, "--out"));
  CHECK(contains(result.out, "--scheme"));
  CHECK(contains(result.out, "--force"));
}

TEST_CASE("synod-keygen usage errors exit 2") {
  TempDir dir;
  CHECK(run(kKeygen, {}, dir).exit_code == 2);  // --out missing
  CHECK(run(kKeygen, {"--out", (dir / "k").string(), "--scheme", "rsa"}, dir).exit_code == 2);
  CHECK(run(kKeygen, {"--out", (dir / "k").string(), "--bogus"}, dir).exit_code == 2);
  CHECK(run(kKeygen, {"--out", ""}, dir).exit_code == 2);
  CHECK_FALSE(std::filesystem::exists(dir / "k.key"));
}

TEST_CASE("synod-keygen writes a key pair that loads, signs and verifies, for both schemes") {
  for (const char* scheme_name : {"ed25519", "ecdsa-p256"}) {
    CAPTURE(scheme_name);
    TempDir dir;
    const std::string prefix = (dir / "replica0").string();
    const RunResult result = run(kKeygen, {"--out", prefix, "--scheme", scheme_name}, dir);
    REQUIRE(result.exit_code == 0);
    CHECK(result.err.empty());
    CHECK(file_mode(prefix + ".key") == 0600);

    auto key = PrivateKey::load_pem_file(prefix + ".key");
    REQUIRE(key.has_value());
    CHECK(std::string(to_string(key->scheme())) == scheme_name);
    auto pub = PublicKey::load_pem_file(prefix + ".pub");
    REQUIRE(pub.has_value());
    auto derived = key->public_key();
    REQUIRE(derived.has_value());
    CHECK(*derived == *pub);  // the two files are one pair
    const auto message = bytes_of("hello replicas");
    auto signature = key->sign(message);
    REQUIRE(signature.has_value());
    CHECK(pub->verify(message, *signature));
  }
}

TEST_CASE("synod-keygen defaults to Ed25519") {
  TempDir dir;
  const std::string prefix = (dir / "c").string();
  REQUIRE(run(kKeygen, {"--out", prefix}, dir).exit_code == 0);
  auto pub = PublicKey::load_pem_file(prefix + ".pub");
  REQUIRE(pub.has_value());
  CHECK(pub->scheme() == Scheme::ed25519);
}

TEST_CASE("synod-keygen refuses to overwrite without --force and replaces with it") {
  TempDir dir;
  const std::string prefix = (dir / "node").string();
  REQUIRE(run(kKeygen, {"--out", prefix}, dir).exit_code == 0);
  const std::string first_key = read_text(prefix + ".key");
  const std::string first_pub = read_text(prefix + ".pub");

  const RunResult refused = run(kKeygen, {"--out", prefix}, dir);
  CHECK(refused.exit_code == 1);
  CHECK(one_line(refused.err));
  CHECK(contains(refused.err, prefix + ".key"));
  CHECK(contains(refused.err, "--force"));
  CHECK(read_text(prefix + ".key") == first_key);
  CHECK(read_text(prefix + ".pub") == first_pub);

  const RunResult forced = run(kKeygen, {"--out", prefix, "--force"}, dir);
  CHECK(forced.exit_code == 0);
  CHECK(read_text(prefix + ".key") != first_key);
  CHECK(read_text(prefix + ".pub") != first_pub);
  CHECK(file_mode(prefix + ".key") == 0600);
  CHECK(PrivateKey::load_pem_file(prefix + ".key").has_value());
}

TEST_CASE("synod-keygen refuses when only the .pub exists, and writes no .key") {
  TempDir dir;
  const std::string prefix = (dir / "half").string();
  write_text(prefix + ".pub", "someone else's", 0644);
  const RunResult refused = run(kKeygen, {"--out", prefix}, dir);
  CHECK(refused.exit_code == 1);
  CHECK(contains(refused.err, prefix + ".pub"));
  CHECK_FALSE(std::filesystem::exists(prefix + ".key"));
  CHECK(read_text(prefix + ".pub") == "someone else's");
}

TEST_CASE("synod-keygen reports an unwritable path in one line with exit 1") {
  // Root ignores file modes, so use paths that cannot be created by anyone.
  TempDir dir;
  write_text(dir / "plain", "x", 0600);
  for (const auto& prefix : {(dir / "missing" / "k").string(), (dir / "plain" / "k").string()}) {
    CAPTURE(prefix);
    const RunResult result = run(kKeygen, {"--out", prefix}, dir);
    CHECK(result.exit_code == 1);
    CHECK(one_line(result.err));
    CHECK(contains(result.err, prefix + ".key"));
    CHECK(result.out.empty());
  }
}

}  // namespace
}  // namespace synod::crypto::test
