// synod-keygen — writes a key pair for one synod node (replica or client):
//   PREFIX.key  private key, unencrypted PKCS#8 PEM, created with mode 0600
//   PREFIX.pub  public key, PEM, to paste into the cluster config
// Exit codes: 0 written, 1 runtime error (one line on stderr), 2 usage error.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <system_error>

#include "synod/crypto/private_key.hpp"
#include "synod/crypto/scheme.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

int fail(const std::string& message) {
  std::fprintf(stderr, "synod-keygen: %s\n", message.c_str());
  return kExitRuntime;
}

bool path_taken(const std::filesystem::path& path) {
  std::error_code ignored;
  // symlink_status: a dangling symlink also counts (O_EXCL would refuse it).
  return std::filesystem::symlink_status(path, ignored).type() != std::filesystem::file_type::not_found;
}

int write_key_pair(const std::string& prefix, synod::crypto::Scheme scheme, bool force) {
  const std::filesystem::path key_path = prefix + ".key";
  const std::filesystem::path pub_path = prefix + ".pub";
  if (!force) {
    // Checked up front so a refused run writes neither file; O_EXCL in
    // save_pem_file remains the guard against a race.
    for (const auto& path : {key_path, pub_path})
      if (path_taken(path)) return fail("'" + path.string() + "' already exists; use --force to overwrite it");
  }
  auto key = synod::crypto::PrivateKey::generate(scheme);
  if (!key) return fail(key.error().message);
  auto pub = key->public_key();
  if (!pub) return fail(pub.error().message);
  if (auto saved = key->save_pem_file(key_path, force); !saved) return fail(saved.error().message);
  if (auto saved = pub->save_pem_file(pub_path, force); !saved) {
    // A private key without its public half is of no use and only a secret
    // lying around; do not leave it behind.
    std::error_code ignored;
    std::filesystem::remove(key_path, ignored);
    return fail(saved.error().message + " (removed '" + key_path.string() + "')");
  }
  std::printf("wrote %s (%s private key, mode 0600) and %s\n", key_path.c_str(), synod::crypto::to_string(scheme),
              pub_path.c_str());
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Generate a synod key pair: PREFIX.key (private key, PEM, mode 0600) and PREFIX.pub (public key, PEM).",
               "synod-keygen"};
  std::string prefix;
  std::string scheme_text = synod::crypto::to_string(synod::crypto::kDefaultScheme);
  bool force = false;
  app.add_option("--out", prefix, "Path prefix of the files to write (PREFIX.key, PREFIX.pub)")
      ->required()
      ->type_name("PREFIX");
  app.add_option("--scheme", scheme_text, "Signature scheme")
      ->check(CLI::IsMember({"ed25519", "ecdsa-p256"}))
      ->capture_default_str();
  app.add_flag("--force", force, "Overwrite existing PREFIX.key / PREFIX.pub");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // CLI11 prints the help (exit 0) or the usage error; its own error codes
    // (100+) collapse to the conventional 2 for "bad usage".
    return app.exit(error) == 0 ? kExitOk : kExitUsage;
  }
  if (prefix.empty() || prefix.back() == '/') {
    std::fprintf(stderr, "synod-keygen: --out needs a file name prefix such as keys/replica0, not '%s'\n",
                 prefix.c_str());
    return kExitUsage;
  }
  const auto scheme = synod::crypto::parse_scheme(scheme_text);
  if (!scheme) {  // unreachable after IsMember, kept so the two lists cannot drift silently
    std::fprintf(stderr, "synod-keygen: %s\n", scheme.error().message.c_str());
    return kExitUsage;
  }
  try {
    return write_key_pair(prefix, *scheme, force);
  } catch (const std::exception& error) {  // e.g. std::bad_alloc: still one line, never a trace
    return fail(error.what());
  }
}
