// Internal to synod_crypto: reading and writing key files with the
// permissions a key needs. POSIX only (open/fstat/rename), like synod.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <span>
#include <string>

#include "synod/crypto/error.hpp"

namespace synod::crypto::detail {

// Key text read from a file; wiped from memory when dropped, since for a
// private key it is the secret itself.
class SecretText {
 public:
  SecretText() = default;
  explicit SecretText(std::string text) : text_(std::move(text)) {}
  SecretText(SecretText&& other) noexcept;
  SecretText& operator=(SecretText&&) = delete;
  SecretText(const SecretText&) = delete;
  SecretText& operator=(const SecretText&) = delete;
  ~SecretText();
  const std::string& text() const { return text_; }
  std::string& text() { return text_; }

 private:
  std::string text_;
};

enum class KeyFileKind { private_key, public_key };

// Writes contents to path, creating it with `mode` in open() itself.
//  - overwrite == false: O_CREAT|O_EXCL on path, so an existing file (or a
//    symlink) is refused atomically with ErrorCode::already_exists.
//  - overwrite == true: a fresh temporary file in the same directory (O_EXCL,
//    `mode`), fsync, rename over path. A fresh file rather than O_TRUNC
//    because O_TRUNC keeps the old file's mode, which may be looser.
// The data is fsync'ed before the call returns.
Result<void> write_key_file(const std::filesystem::path& path, std::span<const char> contents, mode_t mode,
                            bool overwrite, KeyFileKind kind);

// Reads a key file of at most kMaxPemBytes. For a private key the file must
// be a regular file with no group/other permission bits; the check is made
// with fstat on the opened descriptor, so it is about the file actually read.
Result<SecretText> read_key_file(const std::filesystem::path& path, KeyFileKind kind);

}  // namespace synod::crypto::detail
