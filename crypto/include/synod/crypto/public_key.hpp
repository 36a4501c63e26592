// synod/crypto/public_key.hpp — a signature verification key (Ed25519 or
// ECDSA P-256), loaded from PEM (SubjectPublicKeyInfo, "BEGIN PUBLIC KEY").
//
// The key is decoded and checked once (an Ed25519 key must be a canonical
// point of the prime-order subgroup, a P-256 key a point on the curve).
// Ed25519 signatures are verified by libsodium, ECDSA ones by OpenSSL through
// per-object contexts and a SHA-256 fetched once, so verifying a signature
// pays no algorithm fetch.
//
// verify() treats its inputs as untrusted: any signature that is not a valid
// one for this key and message (wrong length, garbage, another key's, bits
// flipped) returns false; it never throws or crashes.
//
// Thread-safety: a PublicKey is NOT thread-safe (verify() reuses its
// contexts); use one per thread, e.g. via clone(). Distinct objects may be
// used concurrently, including clones of one key. Non-copyable, movable; a
// moved-from object may only be destroyed or assigned to (any other use is a
// bug and stops the process).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "synod/crypto/error.hpp"
#include "synod/crypto/scheme.hpp"

namespace synod::crypto {

namespace detail {
struct KeyAccess;
}

// PEM inputs larger than this are rejected before parsing (a public key PEM
// is a few hundred bytes; the bound keeps hostile config files cheap).
inline constexpr std::size_t kMaxPemBytes = 64 * 1024;

class PublicKey {
 public:
  static Result<PublicKey> from_pem(std::string_view pem);
  static Result<PublicKey> load_pem_file(const std::filesystem::path& path);

  PublicKey(PublicKey&&) noexcept;
  PublicKey& operator=(PublicKey&&) noexcept;
  PublicKey(const PublicKey&) = delete;
  PublicKey& operator=(const PublicKey&) = delete;
  ~PublicKey();

  // A second, independent object for the same key (e.g. one per thread).
  Result<PublicKey> clone() const;

  Result<std::string> to_pem() const;
  // Writes to_pem() with mode 0644 (less the umask). Without overwrite an
  // existing file is an ErrorCode::already_exists error; with it the file is
  // replaced atomically (temporary file + rename).
  Result<void> save_pem_file(const std::filesystem::path& path, bool overwrite) const;

  Scheme scheme() const;

  // The raw public key: for Ed25519 the 32-byte RFC 8032 encoding; for
  // ECDSA P-256 the SEC1 point encoding (65 bytes, uncompressed, as OpenSSL
  // writes it).
  std::vector<std::uint8_t> raw_bytes() const;

  // See the contract at the top: false for anything but a valid signature.
  bool verify(std::span<const std::uint8_t> data, std::span<const std::uint8_t> signature);

  // Same key material (and so the same scheme).
  friend bool operator==(const PublicKey& a, const PublicKey& b);

 private:
  friend struct detail::KeyAccess;
  struct Impl;
  explicit PublicKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace synod::crypto
