// synod/crypto/private_key.hpp — this node's signing key (Ed25519 or ECDSA
// P-256): generation, PEM files, signing.
//
// Files: save_pem_file() writes unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY")
// into a file created with mode 0600 by open() itself (never chmod'ed later,
// so there is no moment when the secret is readable by others).
// load_pem_file() refuses a file that grants any permission to group or
// others (mode & 077, as ssh does) with an error naming the file and its mode,
// and never prompts for a passphrase (encrypted keys are rejected).
//
// Signing: Ed25519 signs with libsodium from the key expanded once at load
// (OpenSSL still parses, generates and writes the key); ECDSA hashes with a
// SHA-256 fetched once and signs with an EVP_PKEY_CTX set up once. Signatures are 64 bytes in both schemes (see scheme.hpp for the
// ECDSA r || s layout).
//
// Thread-safety: a PrivateKey is NOT thread-safe (sign() reuses its
// contexts); use one per thread, e.g. via clone(). Distinct objects may be
// used concurrently. Non-copyable, movable; a moved-from object may only be
// destroyed or assigned to (any other use is a bug and stops the process).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "synod/crypto/error.hpp"
#include "synod/crypto/public_key.hpp"
#include "synod/crypto/scheme.hpp"

namespace synod::crypto {

inline constexpr std::size_t kEd25519SeedBytes = 32;

class PrivateKey {
 public:
  static Result<PrivateKey> generate(Scheme scheme = kDefaultScheme);
  // The RFC 8032 32-byte secret key (the seed); for test vectors and for
  // deriving keys deterministically in tools. Any other length is an
  // ErrorCode::invalid_argument error.
  static Result<PrivateKey> from_raw_ed25519(std::span<const std::uint8_t> seed);
  static Result<PrivateKey> from_pem(std::string_view pem);
  static Result<PrivateKey> load_pem_file(const std::filesystem::path& path);

  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  PrivateKey(const PrivateKey&) = delete;
  PrivateKey& operator=(const PrivateKey&) = delete;
  ~PrivateKey();

  // A second, independent signer for the same key (e.g. one per thread).
  Result<PrivateKey> clone() const;

  // Mode 0600 (see the top). Without overwrite an existing file is an
  // ErrorCode::already_exists error (checked atomically by O_EXCL); with it
  // the file is replaced atomically by a fresh 0600 file (temporary file +
  // rename), so even a previously looser file ends up 0600.
  Result<void> save_pem_file(const std::filesystem::path& path, bool overwrite) const;

  Scheme scheme() const;
  Result<PublicKey> public_key() const;

  // A 64-byte signature over data. Fails only if OpenSSL does (e.g. its
  // random generator for ECDSA nonces cannot be seeded).
  Result<std::vector<std::uint8_t>> sign(std::span<const std::uint8_t> data);

 private:
  friend struct detail::KeyAccess;
  struct Impl;
  explicit PrivateKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace synod::crypto
