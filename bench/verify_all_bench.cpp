// synod-verify-bench — OpenSslCrypto::verify_all on a pre-prepare-sized
// batch (64 requests from 64 clients, Ed25519, 100-byte signing inputs)
// with 0..3 verify helpers (synod-replica --verify-helpers): the wall time
// a backup spends checking one batch's client signatures. items_per_second
// is signatures per second; on a machine with k idle cores, k - 1 helpers
// should come close to k times the 0-helper rate.
#include <benchmark/benchmark.h>

#include <vector>

#include "runtime/openssl_crypto.hpp"
#include "synod/crypto/private_key.hpp"

namespace {

using synod::Bytes;
using synod::ClientId;
using synod::Principal;
using synod::SignatureCheck;
using synod::runtime::OpenSslCrypto;

constexpr int kBatch = 64;

void BM_VerifyBatch(benchmark::State& state) {
  std::vector<Bytes> messages;
  std::vector<Bytes> signatures;
  OpenSslCrypto::ClientKeys clients;
  for (int i = 0; i < kBatch; ++i) {
    auto key = synod::crypto::PrivateKey::generate();
    if (!key) return state.SkipWithError(key.error().message.c_str());
    messages.emplace_back(100, static_cast<std::uint8_t>(i));
    auto signature = key->sign(messages.back());
    auto pub = key->public_key();
    if (!signature || !pub) return state.SkipWithError("cannot sign");
    signatures.push_back(std::move(*signature));
    clients.emplace(static_cast<ClientId>(i), std::move(*pub));
  }
  auto own = synod::crypto::PrivateKey::generate();
  if (!own) return state.SkipWithError(own.error().message.c_str());
  auto crypto = OpenSslCrypto::create(std::move(*own), {}, std::move(clients));
  if (!crypto) return state.SkipWithError(crypto.error().message.c_str());
  (*crypto)->use_verify_helpers(static_cast<unsigned>(state.range(0)));
  std::vector<SignatureCheck> checks;
  for (int i = 0; i < kBatch; ++i)
    checks.push_back({Principal::client(static_cast<ClientId>(i)), messages[static_cast<std::size_t>(i)],
                      signatures[static_cast<std::size_t>(i)]});
  for (auto _ : state) {
    if (!(*crypto)->verify_all(checks)) return state.SkipWithError("a good signature failed");
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_VerifyBatch)->ArgName("helpers")->DenseRange(0, 3)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
