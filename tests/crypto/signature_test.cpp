// Signatures: RFC 8032 section 7.1 Ed25519 vectors, and for both schemes the
// properties synod relies on: a signature verifies, and anything tampered
// with, malformed or made by another key does not (and never crashes).
#include <doctest/doctest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <string>
#include <vector>

#include "synod/crypto/private_key.hpp"
#include "synod/crypto/public_key.hpp"
#include "synod/crypto/scheme.hpp"
#include "test_util.hpp"

namespace synod::crypto::test {
namespace {

PublicKey public_of(const PrivateKey& key) {
  auto pub = key.public_key();
  REQUIRE(pub.has_value());
  return std::move(*pub);
}

std::vector<std::uint8_t> sign(PrivateKey& key, const std::vector<std::uint8_t>& data) {
  auto signature = key.sign(data);
  REQUIRE(signature.has_value());
  return std::move(*signature);
}

struct Rfc8032Vector {
  const char* name;
  const char* secret_key;
  const char* public_key;
  const char* message;
  const char* signature;
};

constexpr Rfc8032Vector kRfc8032[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24"
     "655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aee"
     "b00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28d"
     "c027beceea1ec40a"},
};

TEST_CASE("Ed25519 matches RFC 8032 section 7.1 TEST 1-3: public key and signature byte for byte") {
  for (const auto& v : kRfc8032) {
    CAPTURE(v.name);
    auto key = PrivateKey::from_raw_ed25519(from_hex(v.secret_key));
    REQUIRE(key.has_value());
    CHECK(key->scheme() == Scheme::ed25519);
    PublicKey pub = public_of(*key);
    CHECK(to_hex(pub.raw_bytes()) == v.public_key);
    const auto message = from_hex(v.message);
    // Twice: the second signature runs on the re-initialised context.
    CHECK(to_hex(sign(*key, message)) == v.signature);
    CHECK(to_hex(sign(*key, message)) == v.signature);
    CHECK(pub.verify(message, from_hex(v.signature)));
  }
}

TEST_CASE("Ed25519 signing is deterministic across messages on one reused key") {
  auto key = PrivateKey::from_raw_ed25519(from_hex(kRfc8032[0].secret_key));
  REQUIRE(key.has_value());
  const auto other = sign(*key, bytes_of("another message"));
  CHECK(to_hex(sign(*key, {})) == kRfc8032[0].signature);
  CHECK(to_hex(other) != kRfc8032[0].signature);
}

TEST_CASE("from_raw_ed25519 rejects a secret key that is not 32 bytes") {
  auto short_key = PrivateKey::from_raw_ed25519(std::vector<std::uint8_t>(31, 1));
  REQUIRE_FALSE(short_key.has_value());
  CHECK(short_key.error().code == ErrorCode::invalid_argument);
  CHECK_FALSE(PrivateKey::from_raw_ed25519(std::vector<std::uint8_t>(33, 1)).has_value());
  CHECK_FALSE(PrivateKey::from_raw_ed25519({}).has_value());
}

TEST_CASE("a signature verifies under its own key, for both schemes") {
  for (Scheme scheme : kSchemes) {
    CAPTURE(to_string(scheme));
    PrivateKey key = generate(scheme);
    CHECK(key.scheme() == scheme);
    PublicKey pub = public_of(key);
    CHECK(pub.scheme() == scheme);
    const auto message = bytes_of("pre-prepare view=3 seq=17");
    const auto signature = sign(key, message);
    CHECK(signature.size() == kSignatureBytes);
    CHECK(pub.verify(message, signature));
    CHECK(pub.verify(message, signature));  // and again on the reused context
    const auto empty_signature = sign(key, {});
    CHECK(pub.verify({}, empty_signature));
  }
}

TEST_CASE("a tampered message byte fails verification, for both schemes") {
  for (Scheme scheme : kSchemes) {
    CAPTURE(to_string(scheme));
    PrivateKey key = generate(scheme);
    PublicKey pub = public_of(key);
    const auto message = bytes_of("commit view=3 seq=17 digest=abcdef");
    const auto signature = sign(key, message);
    for (std::size_t i = 0; i < message.size(); ++i) {
      CAPTURE(i);
      auto tampered = message;
      tampered[i] ^= 0x01;
      CHECK_FALSE(pub.verify(tampered, signature));
    }
    auto longer = message;
    longer.push_back(0);
    CHECK_FALSE(pub.verify(longer, signature));
    CHECK_FALSE(pub.verify(std::span(message).first(message.size() - 1), signature));
    CHECK(pub.verify(message, signature));  // failures left the context usable
  }
}

TEST_CASE("a tampered signature byte fails verification, for both schemes") {
  for (Scheme scheme : kSchemes) {
    CAPTURE(to_string(scheme));
    PrivateKey key = generate(scheme);
    PublicKey pub = public_of(key);
    const auto message = bytes_of("checkpoint seq=128");
    const auto signature = sign(key, message);
    for (std::size_t i = 0; i < signature.size(); ++i) {
      CAPTURE(i);
      auto tampered = signature;
      tampered[i] ^= 0x80;
      CHECK_FALSE(pub.verify(message, tampered));
    }
    CHECK(pub.verify(message, signature));
  }
}

TEST_CASE("malformed signatures and garbage return false, for both schemes") {
  for (Scheme scheme : kSchemes) {
    CAPTURE(to_string(scheme));
    PrivateKey key = generate(scheme);
    PublicKey pub = public_of(key);
    const auto message = bytes_of("reply");
    const auto signature = sign(key, message);
    CHECK_FALSE(pub.verify(message, {}));
    CHECK_FALSE(pub.verify(message, std::span(signature).first(63)));
    auto longer = signature;
    longer.push_back(0);
    CHECK_FALSE(pub.verify(message, longer));
    CHECK_FALSE(pub.verify(message, std::vector<std::uint8_t>(64, 0x00)));
    CHECK_FALSE(pub.verify(message, std::vector<std::uint8_t>(64, 0xff)));  // r, s >= n for ECDSA
    CHECK_FALSE(pub.verify(message, std::vector<std::uint8_t>(4096, 0x5a)));
    std::vector<std::uint8_t> garbage(64);
    for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<std::uint8_t>(i * 37 + 11);
    CHECK_FALSE(pub.verify(message, garbage));
    CHECK(pub.verify(message, signature));
  }
}

// RFC 6979 appendix A.2.5: the P-256 key U = (Ux, Uy) and its published
// ECDSA-SHA256 signatures over "sample" and "test", as r || s.
constexpr const char* kRfc6979Point =
    "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
    "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";
constexpr const char* kRfc6979SampleSignature =
    "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
    "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8";
constexpr const char* kRfc6979TestSignature =
    "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367"
    "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083";

// The public-key PEM of a key built with OpenSSL directly (for keys
// synod_crypto cannot make); frees the key.
std::string public_pem_of(EVP_PKEY* raw) {
  REQUIRE(raw != nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  REQUIRE(PEM_write_bio_PUBKEY(bio, raw) == 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  EVP_PKEY_free(raw);
  return pem;
}

// PEM of a P-256 SubjectPublicKeyInfo around an uncompressed point
// (synod_crypto has no raw-point constructor).
std::string p256_public_pem(const std::vector<std::uint8_t>& point) {
  // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING point }
  std::vector<std::uint8_t> der = from_hex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
  der.insert(der.end(), point.begin(), point.end());
  const unsigned char* cursor = der.data();
  return public_pem_of(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(der.size())));
}

TEST_CASE("ECDSA P-256 verifies the RFC 6979 A.2.5 SHA-256 signatures and rejects them swapped") {
  auto pub = PublicKey::from_pem(p256_public_pem(from_hex(kRfc6979Point)));
  REQUIRE(pub.has_value());
  CHECK(pub->scheme() == Scheme::ecdsa_p256);
  CHECK(to_hex(pub->raw_bytes()) == kRfc6979Point);
  CHECK(pub->verify(bytes_of("sample"), from_hex(kRfc6979SampleSignature)));
  CHECK(pub->verify(bytes_of("test"), from_hex(kRfc6979TestSignature)));
  CHECK_FALSE(pub->verify(bytes_of("sample"), from_hex(kRfc6979TestSignature)));
  CHECK_FALSE(pub->verify(bytes_of("test"), from_hex(kRfc6979SampleSignature)));
}

TEST_CASE("ECDSA signatures are plain ECDSA-SHA256 over the message: OpenSSL's own verifier accepts them") {
  PrivateKey key = generate(Scheme::ecdsa_p256);
  auto pem = public_of(key).to_pem();
  REQUIRE(pem.has_value());
  BIO* bio = BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size()));
  EVP_PKEY* raw = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  REQUIRE(raw != nullptr);
  const auto message = bytes_of("interoperable");
  const auto fixed = sign(key, message);
  // r || s -> DER, then EVP_DigestVerify with SHA-256 over the raw message.
  ECDSA_SIG* sig = ECDSA_SIG_new();
  REQUIRE(ECDSA_SIG_set0(sig, BN_bin2bn(fixed.data(), 32, nullptr), BN_bin2bn(fixed.data() + 32, 32, nullptr)) == 1);
  unsigned char* der = nullptr;
  const int der_length = i2d_ECDSA_SIG(sig, &der);
  REQUIRE(der_length > 0);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  REQUIRE(EVP_DigestVerifyInit_ex(ctx, nullptr, "SHA256", nullptr, nullptr, raw, nullptr) == 1);
  CHECK(EVP_DigestVerify(ctx, der, static_cast<std::size_t>(der_length), message.data(), message.size()) == 1);
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  EVP_PKEY_free(raw);
}

TEST_CASE("an ECDSA signature in DER form is not accepted: only the 64-byte r||s form is") {
  PrivateKey key = generate(Scheme::ecdsa_p256);
  PublicKey pub = public_of(key);
  const auto message = bytes_of("request");
  const auto fixed = sign(key, message);
  // Hand-build DER SEQUENCE { INTEGER r, INTEGER s } from r||s.
  auto integer = [](std::span<const std::uint8_t> value) {
    std::vector<std::uint8_t> out{0x02};
    std::size_t skip = 0;
    while (skip + 1 < value.size() && value[skip] == 0) ++skip;
    const bool pad = (value[skip] & 0x80) != 0;
    out.push_back(static_cast<std::uint8_t>(value.size() - skip + (pad ? 1 : 0)));
    if (pad) out.push_back(0);
    out.insert(out.end(), value.begin() + static_cast<std::ptrdiff_t>(skip), value.end());
    return out;
  };
  const auto r = integer(std::span(fixed).first(32));
  const auto s = integer(std::span(fixed).last(32));
  std::vector<std::uint8_t> der{0x30, static_cast<std::uint8_t>(r.size() + s.size())};
  der.insert(der.end(), r.begin(), r.end());
  der.insert(der.end(), s.begin(), s.end());
  CHECK(pub.verify(message, fixed));
  CHECK_FALSE(pub.verify(message, der));
}

TEST_CASE("a signature does not verify under another key or another scheme's key") {
  for (Scheme scheme : kSchemes) {
    CAPTURE(to_string(scheme));
    PrivateKey key = generate(scheme);
    PrivateKey other = generate(scheme);
    PrivateKey foreign = generate(scheme == Scheme::ed25519 ? Scheme::ecdsa_p256 : Scheme::ed25519);
    const auto message = bytes_of("view-change v=4");
    const auto signature = sign(key, message);
    PublicKey other_pub = public_of(other);
    PublicKey foreign_pub = public_of(foreign);
    CHECK_FALSE(other_pub.verify(message, signature));
    CHECK_FALSE(foreign_pub.verify(message, signature));
    CHECK(public_of(key).verify(message, signature));
  }
}

TEST_CASE("clones sign and verify like the original, independently") {
  for (Scheme scheme : kSchemes) {
    CAPTURE(to_string(scheme));
    PrivateKey key = generate(scheme);
    auto key_clone = key.clone();
    REQUIRE(key_clone.has_value());
    PublicKey pub = public_of(key);
    auto pub_clone = pub.clone();
    REQUIRE(pub_clone.has_value());
    CHECK(*pub_clone == pub);
    const auto message = bytes_of("new-view");
    CHECK(pub.verify(message, sign(*key_clone, message)));
    CHECK(pub_clone->verify(message, sign(key, message)));
  }
}

TEST_CASE("public key PEM round trip gives an equal key that verifies") {
  for (Scheme scheme : kSchemes) {
    CAPTURE(to_string(scheme));
    PrivateKey key = generate(scheme);
    PublicKey pub = public_of(key);
    auto pem = pub.to_pem();
    REQUIRE(pem.has_value());
    CHECK(pem->starts_with("-----BEGIN PUBLIC KEY-----"));
    auto loaded = PublicKey::from_pem(*pem);
    REQUIRE(loaded.has_value());
    CHECK(*loaded == pub);
    CHECK(loaded->scheme() == scheme);
    CHECK(loaded->raw_bytes() == pub.raw_bytes());
    CHECK(loaded->raw_bytes().size() == (scheme == Scheme::ed25519 ? 32u : 65u));
    const auto message = bytes_of("prepare");
    CHECK(loaded->verify(message, sign(key, message)));
    CHECK_FALSE(*loaded == public_of(generate(scheme)));
  }
}

// The Ed25519 signatures are made and checked by libsodium; OpenSSL's own
// Ed25519 must agree both ways on keys of either origin.
TEST_CASE("Ed25519 interoperates with OpenSSL's own Ed25519 both ways") {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  REQUIRE(raw != nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  REQUIRE(PEM_write_bio_PrivateKey(bio, raw, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  auto key = PrivateKey::from_pem(std::string(data, static_cast<std::size_t>(length)));
  BIO_free(bio);
  REQUIRE(key.has_value());
  PublicKey pub = public_of(*key);
  const auto message = bytes_of("interoperable");

  // synod's signature, OpenSSL's verifier.
  const auto ours = sign(*key, message);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  REQUIRE(EVP_DigestVerifyInit_ex(ctx, nullptr, nullptr, nullptr, nullptr, raw, nullptr) == 1);
  CHECK(EVP_DigestVerify(ctx, ours.data(), ours.size(), message.data(), message.size()) == 1);

  // OpenSSL's signature, synod's verifier: the same bytes (Ed25519 is deterministic).
  std::vector<std::uint8_t> theirs(kSignatureBytes);
  std::size_t theirs_length = theirs.size();
  REQUIRE(EVP_DigestSignInit_ex(ctx, nullptr, nullptr, nullptr, nullptr, raw, nullptr) == 1);
  REQUIRE(EVP_DigestSign(ctx, theirs.data(), &theirs_length, message.data(), message.size()) == 1);
  CHECK(theirs == ours);
  CHECK(pub.verify(message, theirs));
  theirs[7] ^= 0x10;
  CHECK_FALSE(pub.verify(message, theirs));
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(raw);
}

std::string ed25519_public_pem(const std::vector<std::uint8_t>& point) {
  return public_pem_of(EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, point.data(), point.size()));
}

// A small-order public key makes forgeries easy: with A and R the identity
// and S = 0, a cofactorless check passes for every message. Such a key is
// refused when it is loaded, and so is an encoding that is not a point.
TEST_CASE("an Ed25519 public key of small order or off the curve is refused at load") {
  std::vector<std::uint8_t> identity(32, 0);
  identity[0] = 1;
  auto weak = PublicKey::from_pem(ed25519_public_pem(identity));
  REQUIRE_FALSE(weak.has_value());
  CHECK(weak.error().code == ErrorCode::unsupported_key);
  CHECK(weak.error().message.find("Ed25519") != std::string::npos);
  // y = 2 is not the y of any curve point.
  std::vector<std::uint8_t> off_curve(32, 0);
  off_curve[0] = 2;
  CHECK_FALSE(PublicKey::from_pem(ed25519_public_pem(off_curve)).has_value());
  // A real key's encoding loads.
  CHECK(PublicKey::from_pem(ed25519_public_pem(from_hex(kRfc8032[0].public_key))).has_value());
}

TEST_CASE("an Ed25519 signature whose R is of small order is refused") {
  auto key = PrivateKey::from_raw_ed25519(from_hex(kRfc8032[1].secret_key));
  REQUIRE(key.has_value());
  PublicKey pub = public_of(*key);
  const auto message = from_hex(kRfc8032[1].message);
  REQUIRE(pub.verify(message, from_hex(kRfc8032[1].signature)));
  // R = the identity, S = 0: no correct signer makes it, and it is refused
  // before any arithmetic.
  std::vector<std::uint8_t> forged(kSignatureBytes, 0);
  forged[0] = 1;
  CHECK_FALSE(pub.verify(message, forged));
}

TEST_CASE("PEM that is not a supported key is an error, never a crash") {
  CHECK_FALSE(PublicKey::from_pem("").has_value());
  CHECK_FALSE(PublicKey::from_pem("not a key").has_value());
  CHECK_FALSE(PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").has_value());
  CHECK_FALSE(PublicKey::from_pem(std::string(kMaxPemBytes + 1, 'A')).has_value());
  CHECK_FALSE(PrivateKey::from_pem("").has_value());
  CHECK_FALSE(PrivateKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").has_value());
}

TEST_CASE("a P-384 key is refused as unsupported, naming the curve") {
  // Built with OpenSSL directly: synod_crypto cannot make one.
  const std::string pem = public_pem_of(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  auto loaded = PublicKey::from_pem(pem);
  REQUIRE_FALSE(loaded.has_value());
  CHECK(loaded.error().code == ErrorCode::unsupported_key);
  CHECK(loaded.error().message.find("secp384r1") != std::string::npos);
}

TEST_CASE("scheme names parse and print as in the config files") {
  CHECK(std::string(to_string(Scheme::ed25519)) == "ed25519");
  CHECK(std::string(to_string(Scheme::ecdsa_p256)) == "ecdsa-p256");
  CHECK(parse_scheme("ed25519") == Scheme::ed25519);
  CHECK(parse_scheme("ecdsa-p256") == Scheme::ecdsa_p256);
  auto bad = parse_scheme("rsa");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace synod::crypto::test
