// sim/fake_crypto.hpp — a fast stand-in for SHA-256 and signatures, for the
// simulator and tests only. It keeps exactly what the protocol relies on:
//  * nobody can produce another node's signature: a node's FakeCrypto signs
//    only with its own secret, and the secrets live in a KeyTable that the
//    simulator never hands to a (Byzantine) node's code;
//  * a tampered message fails: the signature is a keyed hash of every byte.
// MACs: a keyed hash under a key derived from both ends' secrets.
// It is NOT cryptographic (a real adversary could recover keys or build
// collisions); the simulated adversaries attack the protocol, not the hash.
// Thread-compatible: const methods only after construction.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "synod/replica.hpp"
#include "synod/types.hpp"

namespace synod::sim {

inline constexpr std::size_t kFakeSignatureBytes = 16;

// 256 bits from four independent 64-bit lanes over 32-byte stripes
// (an xxHash-style round per lane, a splitmix finaliser across lanes).
Digest fast_hash256(ByteView data, std::uint64_t seed);
std::uint64_t fast_hash64(ByteView data, std::uint64_t seed);

// Every principal's secret, derived from the run's seed. Replica ids are
// 0..replicas-1 and client ids 0..clients-1 (the simulator's numbering).
class KeyTable {
 public:
  KeyTable(std::uint64_t seed, std::uint32_t replicas, std::uint32_t clients);
  // 0 = no such principal (a real secret is never 0).
  std::uint64_t secret(Principal who) const;

 private:
  std::vector<std::uint64_t> replica_secrets_;
  std::vector<std::uint64_t> client_secrets_;
};

// Signature of `data` under `secret`: the first kFakeSignatureBytes of a
// keyed fast_hash256.
Bytes fake_sign(std::uint64_t secret, ByteView data);

class FakeCrypto final : public Crypto {
 public:
  // `keys` must outlive this object; `self` must be in it.
  FakeCrypto(const KeyTable& keys, Principal self);

  Digest digest(ByteView data) const override;
  Bytes sign(ByteView data) const override;
  bool verify(Principal signer, ByteView data, ByteView signature) const override;
  Bytes mac(Principal peer, ByteView data) const override;
  bool verify_mac(Principal peer, ByteView data, ByteView tag) const override;

  Principal self() const { return self_; }

 private:
  std::optional<std::uint64_t> pair_secret(Principal peer) const;

  const KeyTable* keys_;
  Principal self_;
  std::uint64_t own_secret_;
};

}  // namespace synod::sim
