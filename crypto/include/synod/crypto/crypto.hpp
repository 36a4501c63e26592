// synod/crypto/crypto.hpp — everything synod_crypto offers, in one include:
// keys and signatures (Ed25519, ECDSA P-256), SHA-256, HMAC-SHA256 and
// constant-time comparison, as thin OpenSSL 3 wrappers with errors as values
// (Ed25519 signing and verification go through libsodium).
// synod_crypto depends on nothing of synod's; see each header for its
// contract and thread-safety (in short: one object per thread).
#pragma once

#include "synod/crypto/constant_time.hpp"
#include "synod/crypto/error.hpp"
#include "synod/crypto/hmac.hpp"
#include "synod/crypto/key_agreement.hpp"
#include "synod/crypto/private_key.hpp"
#include "synod/crypto/public_key.hpp"
#include "synod/crypto/scheme.hpp"
#include "synod/crypto/sha256.hpp"
