#include "sim/fake_crypto.hpp"

#include <algorithm>
#include <cstring>

#include "sim/prng.hpp"
#include "synod/assert.hpp"

namespace synod::sim {

namespace {

constexpr std::uint64_t kPrime1 = 0x9e3779b185ebca87ull;
constexpr std::uint64_t kPrime2 = 0xc2b2ae3d27d4eb4full;
constexpr std::uint64_t kLaneInit[4] = {0x243f6a8885a308d3ull, 0x13198a2e03707344ull,
                                        0xa4093822299f31d0ull, 0x082efa98ec4e6c89ull};
// The public "SHA-256" of the simulator: a fixed seed, so digests are equal
// everywhere in a run and across runs.
constexpr std::uint64_t kDigestSeed = 0x5e1f0d1e57ull;
constexpr std::uint64_t kPairSeed = 0x9a1c0ffee5ull;

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

std::uint64_t load64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;  // host order: the simulator never compares hashes across machines
}

std::uint64_t round(std::uint64_t acc, std::uint64_t word) {
  acc += word * kPrime2;
  acc = rotl(acc, 31);
  return acc * kPrime1;
}

void hash_lanes(ByteView data, std::uint64_t seed, std::uint64_t out[4]) {
  std::uint64_t acc[4];
  for (int i = 0; i < 4; ++i) acc[i] = kLaneInit[i] ^ seed;
  const std::uint8_t* p = data.data();
  std::size_t left = data.size();
  while (left >= 32) {
    for (int i = 0; i < 4; ++i) acc[i] = round(acc[i], load64(p + 8 * i));
    p += 32;
    left -= 32;
  }
  // The tail: zero-padded into one last stripe; the length below keeps
  // "ab" and "ab\0" apart.
  if (left > 0) {
    std::uint8_t stripe[32] = {};
    std::memcpy(stripe, p, left);
    for (int i = 0; i < 4; ++i) acc[i] = round(acc[i], load64(stripe + 8 * i));
  }
  const std::uint64_t length = data.size();
  for (int i = 0; i < 4; ++i) {
    // Cross the lanes so that every output word depends on every input byte.
    const std::uint64_t x = acc[i] ^ rotl(acc[(i + 1) % 4], 17) ^ rotl(acc[(i + 2) % 4], 41) ^
                            rotl(acc[(i + 3) % 4], 53) ^ (length * kPrime1) ^ seed;
    out[i] = mix64(x + static_cast<std::uint64_t>(i));
  }
}

}  // namespace

Digest fast_hash256(ByteView data, std::uint64_t seed) {
  std::uint64_t lanes[4];
  hash_lanes(data, seed, lanes);
  Digest d;
  std::memcpy(d.data(), lanes, d.size());
  return d;
}

std::uint64_t fast_hash64(ByteView data, std::uint64_t seed) {
  std::uint64_t lanes[4];
  hash_lanes(data, seed, lanes);
  return lanes[0];
}

KeyTable::KeyTable(std::uint64_t seed, std::uint32_t replicas, std::uint32_t clients) {
  std::uint64_t state = seed ^ 0x6b657973ull;  // "keys": apart from other sub-seeds
  replica_secrets_.reserve(replicas);
  client_secrets_.reserve(clients);
  for (std::uint32_t i = 0; i < replicas; ++i) replica_secrets_.push_back(splitmix64(state) | 1);
  for (std::uint32_t i = 0; i < clients; ++i) client_secrets_.push_back(splitmix64(state) | 1);
}

std::uint64_t KeyTable::secret(Principal who) const {
  const auto& table = who.is_replica() ? replica_secrets_ : client_secrets_;
  if (who.id >= table.size()) return 0;
  return table[who.id];
}

Bytes fake_sign(std::uint64_t secret, ByteView data) {
  SYNOD_ASSERT(secret != 0, "signing needs a real secret");
  std::uint64_t lanes[4];
  hash_lanes(data, secret, lanes);
  Bytes sig(kFakeSignatureBytes);
  std::memcpy(sig.data(), lanes, kFakeSignatureBytes);
  return sig;
}

FakeCrypto::FakeCrypto(const KeyTable& keys, Principal self)
    : keys_(&keys), self_(self), own_secret_(keys.secret(self)) {
  SYNOD_ASSERT(own_secret_ != 0, "FakeCrypto for a principal that has no key");
}

Digest FakeCrypto::digest(ByteView data) const { return fast_hash256(data, kDigestSeed); }

Bytes FakeCrypto::sign(ByteView data) const { return fake_sign(own_secret_, data); }

bool FakeCrypto::verify(Principal signer, ByteView data, ByteView signature) const {
  if (signature.size() != kFakeSignatureBytes) return false;
  const std::uint64_t secret = keys_->secret(signer);
  if (secret == 0) return false;  // unknown signer
  const Bytes expected = fake_sign(secret, data);
  return std::memcmp(expected.data(), signature.data(), kFakeSignatureBytes) == 0;
}

// The pair's key: a hash of both secrets in a fixed order, so either end
// computes it, and only from its own secret plus the table (which a node's
// code reaches only through its own FakeCrypto, with itself as one end).
std::optional<std::uint64_t> FakeCrypto::pair_secret(Principal peer) const {
  const std::uint64_t other = keys_->secret(peer);
  if (other == 0) return std::nullopt;
  const std::uint64_t both[2] = {std::min(own_secret_, other), std::max(own_secret_, other)};
  return fast_hash64(ByteView(reinterpret_cast<const std::uint8_t*>(both), sizeof both), kPairSeed) | 1;
}

Bytes FakeCrypto::mac(Principal peer, ByteView data) const {
  const auto secret = pair_secret(peer);
  SYNOD_ASSERT(secret.has_value(), "a MAC for a principal that has no key");
  const Digest tag = fast_hash256(data, *secret);
  return Bytes(tag.begin(), tag.end());
}

bool FakeCrypto::verify_mac(Principal peer, ByteView data, ByteView tag) const {
  const auto secret = pair_secret(peer);
  if (!secret || tag.size() != kMacBytes) return false;
  const Digest expected = fast_hash256(data, *secret);
  return std::memcmp(expected.data(), tag.data(), kMacBytes) == 0;
}

}  // namespace synod::sim
