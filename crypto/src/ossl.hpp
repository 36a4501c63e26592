// Internal to synod_crypto: owning handles for OpenSSL objects, error
// translation, and the bridge that lets the key classes build each other from
// an EVP_PKEY without exposing OpenSSL types in the public headers.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "synod/crypto/error.hpp"
#include "synod/crypto/private_key.hpp"
#include "synod/crypto/public_key.hpp"
#include "synod/crypto/scheme.hpp"

namespace synod::crypto::detail {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdPtr = std::unique_ptr<EVP_MD, Deleter<EVP_MD, EVP_MD_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using MacPtr = std::unique_ptr<EVP_MAC, Deleter<EVP_MAC, EVP_MAC_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX, EVP_MAC_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

// Drains this thread's OpenSSL error queue into one line ("" when empty).
// Every failure path drains it, so a stale error never shows up in the
// report of a later, unrelated failure.
std::string drain_openssl_errors();
Error openssl_error(const std::string& what);

// For failures that cannot happen with live, correctly set-up contexts: a bug
// (or memory exhaustion), so stop instead of returning a wrong digest.
[[noreturn]] void fatal(const char* what);

// OpenSSL rejects a null pointer even for zero-length input in some paths;
// an empty span's data() may be null.
inline const unsigned char* data_or_empty(std::span<const std::uint8_t> bytes) {
  static const unsigned char kEmpty = 0;
  return bytes.data() != nullptr ? bytes.data() : &kEmpty;
}

// SHA-256 fetched explicitly, so digests never pay the implicit fetch of
// EVP_sha256()-style lookups.
MdPtr fetch_sha256();

// A PEM passphrase callback that supplies none: OpenSSL's default would
// prompt on the terminal, which a daemon must never do.
int refuse_passphrase(char* buffer, int size, int rwflag, void* user);

// Ed25519 or EC on P-256; anything else is ErrorCode::unsupported_key.
Result<Scheme> classify(EVP_PKEY* pkey);

// The bridge between the pimpl'd key classes.
struct KeyAccess {
  static Result<PublicKey> make_public(PkeyPtr pkey);
  static Result<PrivateKey> make_private(PkeyPtr pkey);
  static EVP_PKEY* pkey(const PublicKey& key);
  static EVP_PKEY* pkey(const PrivateKey& key);
};

}  // namespace synod::crypto::detail
