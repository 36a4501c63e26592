// sim/prng.hpp and sim/fake_crypto.hpp: the simulator's randomness is
// reproducible, and its stand-in signatures keep the two properties the
// protocol relies on (nobody signs for another node; tampering fails).
#include <doctest/doctest.h>

#include <set>

#include "sim/fake_crypto.hpp"
#include "sim/prng.hpp"

namespace synod::sim {
namespace {

TEST_CASE("prng: the same seed gives the same sequence, another seed another") {
  Prng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const std::uint64_t x = a.next();
    CHECK(x == b.next());
    differs = differs || x != c.next();
  }
  CHECK(differs);
}

TEST_CASE("prng: below, between and chance stay in range and cover it") {
  Prng prng(7);
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    const std::uint64_t x = prng.below(10);
    CHECK(x < 10);
    seen.insert(x);
    const std::uint64_t y = prng.between(5, 8);
    CHECK(y >= 5);
    CHECK(y <= 8);
  }
  CHECK(seen.size() == 10);
  int heads = 0;
  for (int i = 0; i < 10'000; ++i) heads += prng.chance_ppm(250'000) ? 1 : 0;
  CHECK(heads > 2000);  // 2500 expected; the bounds are far outside any plausible draw
  CHECK(heads < 3000);
  CHECK_FALSE(prng.chance_ppm(0));
  CHECK(prng.chance_ppm(1'000'000));
}

TEST_CASE("prng: exponential respects its cap and has a tail") {
  Prng prng(9);
  std::uint64_t above_mean = 0, max_seen = 0;
  for (int i = 0; i < 10'000; ++i) {
    const std::uint64_t x = prng.exponential(1000, 20'000);
    CHECK(x <= 20'000);
    above_mean += x > 1000 ? 1 : 0;
    max_seen = std::max(max_seen, x);
  }
  CHECK(above_mean > 1000);
  CHECK(max_seen > 4000);
}

TEST_CASE("fake crypto: a node's signature verifies for it and only for it") {
  const KeyTable keys(1, 4, 2);
  const FakeCrypto r0(keys, Principal::replica(0));
  const FakeCrypto r1(keys, Principal::replica(1));
  const Bytes data = to_bytes("PREPARE v=0 s=1");
  const Bytes sig = r0.sign(data);
  CHECK(sig.size() == kFakeSignatureBytes);
  CHECK(r1.verify(Principal::replica(0), data, sig));
  CHECK_FALSE(r1.verify(Principal::replica(1), data, sig));   // not r1's signature
  CHECK_FALSE(r1.verify(Principal::client(0), data, sig));    // nor client 0's
  CHECK_FALSE(r1.verify(Principal::replica(9), data, sig));   // unknown signer
  Bytes tampered = data;
  tampered[3] ^= 1;
  CHECK_FALSE(r1.verify(Principal::replica(0), tampered, sig));
  Bytes bad_sig = sig;
  bad_sig[0] ^= 1;
  CHECK_FALSE(r1.verify(Principal::replica(0), data, bad_sig));
  CHECK_FALSE(r1.verify(Principal::replica(0), data, ByteView(sig).first(8)));
}

TEST_CASE("fake crypto: keys differ between runs; digests do not") {
  const KeyTable a(1, 4, 1), b(2, 4, 1);
  const FakeCrypto ca(a, Principal::replica(0)), cb(b, Principal::replica(0));
  const Bytes data = to_bytes("x");
  CHECK(ca.sign(data) != cb.sign(data));
  CHECK(ca.digest(data) == cb.digest(data));
}

TEST_CASE("fast_hash256: every input byte and the length matter") {
  Bytes data(100, 0);
  const Digest base = fast_hash256(data, 0);
  std::set<Digest> seen{base};
  for (std::size_t i = 0; i < data.size(); ++i) {
    Bytes changed = data;
    changed[i] = 1;
    seen.insert(fast_hash256(changed, 0));
  }
  for (std::size_t len = 0; len < 100; ++len) seen.insert(fast_hash256(ByteView(data).first(len), 0));
  CHECK(seen.size() == 1 + 100 + 100);  // base, 100 one-byte changes, prefixes of length 0..99
  CHECK(fast_hash256(data, 1) != base);
}

}  // namespace
}  // namespace synod::sim
