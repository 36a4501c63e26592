// sim/prng.hpp — the simulator's only source of randomness.
//
// One 64-bit seed decides a whole run, so every draw goes through Prng.
// std:: distributions are implementation-defined (libstdc++ and libc++ give
// different numbers for the same engine), so the helpers below are our own
// and use only integer arithmetic: a failing seed replays bit for bit on any
// platform. Not thread-safe; each run owns its generators.
#pragma once

#include <cstdint>
#include <span>

#include "synod/assert.hpp"

namespace synod::sim {

// GCC and Clang's 128-bit integer; __extension__ keeps -Wpedantic quiet.
__extension__ typedef unsigned __int128 Uint128;

// splitmix64 (Steele, Lea, Flood 2014): expands one seed into independent
// 64-bit words; used to seed xoshiro and to derive per-purpose sub-seeds.
inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A stateless mix of one word (splitmix64's finaliser).
inline std::uint64_t mix64(std::uint64_t x) {
  std::uint64_t state = x;
  return splitmix64(state);
}

// xoshiro256** (Blackman, Vigna 2018).
class Prng {
 public:
  explicit Prng(std::uint64_t seed) {
    std::uint64_t sm = seed;
    for (auto& word : s_) word = splitmix64(sm);
    // xoshiro's one forbidden state is all zeros; splitmix64 cannot produce
    // four zero words in a row, but say so.
    SYNOD_ASSERT((s_[0] | s_[1] | s_[2] | s_[3]) != 0, "xoshiro state must not be all zero");
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, bound), bound > 0. Lemire's multiply-shift with rejection,
  // so there is no modulo bias.
  std::uint64_t below(std::uint64_t bound) {
    SYNOD_ASSERT(bound > 0, "below() needs a positive bound");
    for (int attempt = 0; attempt < 64; ++attempt) {
      const Uint128 m = static_cast<Uint128>(next()) * bound;
      const std::uint64_t low = static_cast<std::uint64_t>(m);
      if (low >= bound || low >= (-bound) % bound) return static_cast<std::uint64_t>(m >> 64);
    }
    // Rejection happens with probability < bound / 2^64 per attempt;
    // 64 rejections in a row do not happen with a working generator.
    SYNOD_ASSERT(false, "Prng::below rejected 64 times in a row");
    return 0;
  }

  // Uniform in [lo, hi], lo <= hi.
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi) {
    SYNOD_ASSERT(lo <= hi, "between() needs lo <= hi");
    if (hi - lo == ~0ull) return next();
    return lo + below(hi - lo + 1);
  }

  // True with probability ppm / 1'000'000 (parts per million keep the
  // arithmetic in integers).
  bool chance_ppm(std::uint32_t ppm) {
    SYNOD_ASSERT(ppm <= 1'000'000, "a probability is at most one million ppm");
    if (ppm == 0) return false;
    return below(1'000'000) < ppm;
  }

  // A coin with probability num/den.
  bool chance(std::uint64_t num, std::uint64_t den) {
    SYNOD_ASSERT(den > 0 && num <= den, "chance() needs 0 <= num <= den, den > 0");
    return below(den) < num;
  }

  // An exponentially distributed value with the given mean, truncated at
  // cap. Integer-only: draws a geometric number of halvings by counting
  // leading zero bits (each bit halves the survival probability), then a
  // uniform offset inside that octave. The shape (a memoryless long tail) is
  // what matters for message delays, not the exact distribution.
  std::uint64_t exponential(std::uint64_t mean, std::uint64_t cap) {
    if (mean == 0) return 0;
    // P(octave >= k) = 2^-k; octave k spans [k, k+1) * mean * ln2 roughly.
    std::uint64_t bits = next();
    int octave = bits == 0 ? 64 : __builtin_clzll(bits);
    const std::uint64_t unit = mean * 7 / 10;  // ~ mean * ln 2
    const std::uint64_t base = unit * static_cast<std::uint64_t>(octave);
    const std::uint64_t value = base + below(unit + 1);
    return value < cap ? value : cap;
  }

  template <class T>
  const T& pick(std::span<const T> items) {
    SYNOD_ASSERT(!items.empty(), "pick() from an empty set");
    return items[below(items.size())];
  }

  // A fresh, independent generator for a sub-component, so that adding a
  // draw in one component does not shift every other component's draws.
  Prng fork() { return Prng(next()); }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

}  // namespace synod::sim
