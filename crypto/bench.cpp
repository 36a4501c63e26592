// synod-crypto-bench — the cost of each primitive synod puts on its hot path:
// sign / verify (both schemes, 128-byte message, the size of a typical
// protocol header), SHA-256 over request-sized inputs, HMAC-SHA256 for
// authenticators. items_per_second is operations per second.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "synod/crypto/crypto.hpp"

namespace {

using synod::crypto::Scheme;

constexpr std::size_t kSignedMessageBytes = 128;

std::vector<std::uint8_t> message(std::size_t bytes) {
  std::vector<std::uint8_t> data(bytes);
  for (std::size_t i = 0; i < bytes; ++i) data[i] = static_cast<std::uint8_t>(i * 31 + 7);
  return data;
}

void BM_Sign(benchmark::State& state, Scheme scheme) {
  auto key = synod::crypto::PrivateKey::generate(scheme);
  if (!key) return state.SkipWithError(key.error().message.c_str());
  const auto data = message(kSignedMessageBytes);
  for (auto _ : state) {
    auto signature = key->sign(data);
    if (!signature) return state.SkipWithError(signature.error().message.c_str());
    benchmark::DoNotOptimize(signature->data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Verify(benchmark::State& state, Scheme scheme) {
  auto key = synod::crypto::PrivateKey::generate(scheme);
  if (!key) return state.SkipWithError(key.error().message.c_str());
  auto pub = key->public_key();
  if (!pub) return state.SkipWithError(pub.error().message.c_str());
  const auto data = message(kSignedMessageBytes);
  auto signature = key->sign(data);
  if (!signature) return state.SkipWithError(signature.error().message.c_str());
  for (auto _ : state) {
    const bool ok = pub->verify(data, *signature);
    if (!ok) return state.SkipWithError("a valid signature did not verify");
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Sha256(benchmark::State& state) {
  auto sha = synod::crypto::Sha256::create();
  if (!sha) return state.SkipWithError(sha.error().message.c_str());
  const auto data = message(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto digest = sha->digest(data);
    benchmark::DoNotOptimize(digest.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_HmacSha256(benchmark::State& state) {
  const auto key = message(32);
  auto hmac = synod::crypto::Hmac::create(key);
  if (!hmac) return state.SkipWithError(hmac.error().message.c_str());
  const auto data = message(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto tag = hmac->mac(data);
    benchmark::DoNotOptimize(tag.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

}  // namespace

BENCHMARK_CAPTURE(BM_Sign, ed25519, Scheme::ed25519);
BENCHMARK_CAPTURE(BM_Sign, ecdsa_p256, Scheme::ecdsa_p256);
BENCHMARK_CAPTURE(BM_Verify, ed25519, Scheme::ed25519);
BENCHMARK_CAPTURE(BM_Verify, ecdsa_p256, Scheme::ecdsa_p256);
BENCHMARK(BM_Sha256)->Arg(64)->Arg(128)->Arg(1024)->Arg(4096);
BENCHMARK(BM_HmacSha256)->Arg(128)->Arg(1024);
