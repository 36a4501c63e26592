#include "key_file.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "synod/crypto/public_key.hpp"

namespace synod::crypto::detail {

namespace {

const char* noun(KeyFileKind kind) { return kind == KeyFileKind::private_key ? "private key file" : "public key file"; }

std::string quoted(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

Error io_error(const std::string& what, int error_number) {
  return Error{ErrorCode::io, what + ": " + std::strerror(error_number)};
}

std::string octal_mode(mode_t mode) {
  char text[16];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Closes on scope exit; close errors after fsync are not data errors.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Close now and report its error (close can report a deferred write error).
  int close_now() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Result<void> write_all_and_sync(Fd& fd, std::span<const char> contents, const std::string& what) {
  std::size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd.get(), contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(io_error("cannot write " + what, errno));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return std::unexpected(io_error("cannot fsync " + what, errno));
  if (fd.close_now() != 0) return std::unexpected(io_error("cannot close " + what, errno));
  return {};
}

// Makes a create/rename durable. Best effort: some file systems refuse
// fsync on directories, and the key data itself is already on disk.
void sync_parent_directory(const std::filesystem::path& path) {
  std::filesystem::path parent = path.parent_path();
  if (parent.empty()) parent = ".";
  const int dir = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  (void)::fsync(dir);
  ::close(dir);
}

Result<void> write_exclusive(const std::filesystem::path& path, std::span<const char> contents, mode_t mode,
                             KeyFileKind kind) {
  const std::string what = std::string(noun(kind)) + " " + quoted(path);
  // O_EXCL also refuses a dangling symlink at path, so a planted link cannot
  // redirect the key to a place of the attacker's choosing.
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (fd.get() < 0) {
    if (errno == EEXIST)
      return std::unexpected(Error{ErrorCode::already_exists, what + " already exists (not overwriting it)"});
    return std::unexpected(io_error("cannot create " + what, errno));
  }
  if (auto written = write_all_and_sync(fd, contents, what); !written) {
    ::unlink(path.c_str());  // never leave a truncated key behind
    return written;
  }
  sync_parent_directory(path);
  return {};
}

Result<void> write_replacing(const std::filesystem::path& path, std::span<const char> contents, mode_t mode,
                             KeyFileKind kind) {
  const std::string what = std::string(noun(kind)) + " " + quoted(path);
  static std::atomic<unsigned> counter{0};
  // A few attempts in case a stale temporary of the same name exists.
  constexpr int kAttemptsMax = 16;
  for (int attempt = 0; attempt < kAttemptsMax; ++attempt) {
    std::filesystem::path temporary = path;
    temporary += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
    Fd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (fd.get() < 0) {
      if (errno == EEXIST) continue;
      return std::unexpected(io_error("cannot create " + what, errno));
    }
    if (auto written = write_all_and_sync(fd, contents, what); !written) {
      ::unlink(temporary.c_str());
      return written;
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
      const int error_number = errno;
      ::unlink(temporary.c_str());
      return std::unexpected(io_error("cannot replace " + what, error_number));
    }
    sync_parent_directory(path);
    return {};
  }
  return std::unexpected(Error{ErrorCode::io, "cannot create a temporary file next to " + what});
}

}  // namespace

SecretText::SecretText(SecretText&& other) noexcept : text_(std::move(other.text_)) {
  OPENSSL_cleanse(other.text_.data(), other.text_.size());
  other.text_.clear();
}

SecretText::~SecretText() { OPENSSL_cleanse(text_.data(), text_.size()); }

Result<void> write_key_file(const std::filesystem::path& path, std::span<const char> contents, mode_t mode,
                            bool overwrite, KeyFileKind kind) {
  if (path.empty())
    return std::unexpected(Error{ErrorCode::invalid_argument, std::string(noun(kind)) + " path is empty"});
  return overwrite ? write_replacing(path, contents, mode, kind) : write_exclusive(path, contents, mode, kind);
}

Result<SecretText> read_key_file(const std::filesystem::path& path, KeyFileKind kind) {
  const std::string what = std::string(noun(kind)) + " " + quoted(path);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return std::unexpected(io_error("cannot open " + what, errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(io_error("cannot stat " + what, errno));
  if (!S_ISREG(st.st_mode)) return std::unexpected(Error{ErrorCode::io, what + " is not a regular file"});
  if (kind == KeyFileKind::private_key && (st.st_mode & 077) != 0) {
    // Like ssh: a key others can read is compromised, and one others can
    // write can be swapped; refuse rather than use it.
    return std::unexpected(Error{ErrorCode::insecure_permissions,
                                 what + " has mode " + octal_mode(st.st_mode) +
                                     ", which gives access to group or others; it must be 0600 or stricter "
                                     "(chmod 600 " +
                                     quoted(path) + ")"});
  }
  if (static_cast<std::uint64_t>(st.st_size) > kMaxPemBytes) {
    return std::unexpected(Error{ErrorCode::invalid_argument, what + " is " + std::to_string(st.st_size) +
                                                                  " bytes, more than a key file can be (" +
                                                                  std::to_string(kMaxPemBytes) + ")"});
  }
  // Sized up front and never grown, so no partial copy of a secret is left
  // behind in freed memory by a reallocation.
  SecretText secret(std::string(kMaxPemBytes + 1, '\0'));
  std::string& buffer = secret.text();
  std::size_t used = 0;
  while (used < buffer.size()) {
    const ssize_t n = ::read(fd.get(), buffer.data() + used, buffer.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(io_error("cannot read " + what, errno));
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  if (used > kMaxPemBytes)  // the file grew after fstat
    return std::unexpected(Error{ErrorCode::invalid_argument, what + " is larger than a key file can be"});
  buffer.resize(used);  // shrinking never reallocates
  return secret;
}

}  // namespace synod::crypto::detail
