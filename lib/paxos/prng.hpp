// paxos/prng.hpp — internal: the core's only randomness, a splitmix64
// generator (Steele, Lea, Flood 2014) seeded by make_replica's caller, so a
// run replays bit for bit from its seed. Used for election timeouts and
// back-off only; nothing safety-relevant depends on it.
#pragma once

#include <cstdint>

#include "synod/assert.hpp"

namespace synod::paxos {

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  // Uniform enough in [0, bound): the modulo bias is below bound / 2^64,
  // irrelevant for timeouts of at most hours in microseconds.
  std::uint64_t below(std::uint64_t bound) {
    SYNOD_ASSERT(bound > 0, "below() needs a positive bound");
    const std::uint64_t value = next() % bound;
    SYNOD_ASSERT(value < bound, "below() stays below its bound");
    return value;
  }

 private:
  std::uint64_t state_;
};

}  // namespace synod::paxos
