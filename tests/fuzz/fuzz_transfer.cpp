// synod-fuzz-transfer: state transfer by tree walk (transfer/state_sync.hpp)
// against a source that answers with whatever the fuzzer writes.
//
// A lagging store walks towards a source's pinned state. The input is a
// list of steps; each either delivers the honest answers to the sync's
// next requests, or decodes a TREE-NODES, LEAF-ENTRIES or VALUES payload
// from the input and hands it to the sync. Checked, besides "no crash, no
// sanitizer report, no unbounded allocation" (-malloc_limit_mb):
//  * nothing unverified is kept: once honest answers resume, the walk
//    completes, and the lagging store's root is the certified one (the sync
//    asserts it when done; we check again);
//  * a garbage answer never reports progress and bad at once in a way that
//    stalls: after the input, at most kHonestRounds honest rounds finish it.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "core/merkle_store.hpp"
#include "transfer/state_sync.hpp"
#include "wire/codec.hpp"

using namespace synod;

namespace {

void require(bool ok) {
  if (!ok) __builtin_trap();
}

// A fast digest for the fuzzer (not cryptographic: the fuzzer attacks the
// walk's logic, not the hash): four multiply-xor lanes over 8-byte words,
// not instrumented for coverage (its branches say nothing about the walk).
class FnvCrypto final : public Crypto {
 public:
  __attribute__((no_sanitize("coverage"))) Digest digest(ByteView data) const override {
    std::uint64_t lanes[4] = {0xcbf29ce484222325ull, 0x9e3779b97f4a7c15ull, 0xbf58476d1ce4e5b9ull,
                              0x94d049bb133111ebull};
    std::size_t i = 0;
    for (; i + 8 <= data.size(); i += 8) {
      std::uint64_t w = 0;
      std::memcpy(&w, data.data() + i, 8);
      for (std::uint64_t& h : lanes) h = (h ^ w) * 0x100000001b3ull, w = (w << 13) | (w >> 51);
    }
    for (; i < data.size(); ++i)
      for (std::uint64_t& h : lanes) h = (h ^ data[i]) * 0x100000001b3ull;
    Digest d{};
    for (std::size_t lane = 0; lane < 4; ++lane) {
      std::uint64_t h = lanes[lane] ^ data.size();
      h ^= h >> 29;
      h *= 0xbf58476d1ce4e5b9ull;
      h ^= h >> 32;
      for (std::size_t k = 0; k < 8; ++k) d[lane * 8 + k] = static_cast<std::uint8_t>(h >> (8 * k));
    }
    return d;
  }
  Bytes sign(ByteView) const override { return {}; }
  bool verify(Principal, ByteView, ByteView) const override { return false; }
  Bytes mac(Principal, ByteView) const override { return {}; }
  bool verify_mac(Principal, ByteView, ByteView) const override { return false; }
};

constexpr Seq kSeq = 8;
constexpr std::size_t kBudget = 4096;
constexpr std::size_t kMaxListing = 1 << 16;
constexpr int kHonestRounds = 64;

Bytes app_key(int i) { return to_bytes("a" + std::to_string(i)); }

struct Source {
  FnvCrypto crypto;
  MemoryStore backend;
  MerkleStore store{crypto, backend};
  Digest root{};
  Source() {
    for (int i = 0; i < 60; ++i) require(store.put(app_key(i), to_bytes(std::string(i % 40, 'v'))).has_value());
    root = store.pin(kSeq);
  }
};

const Source& source() {
  static const Source* s = new Source();
  return *s;
}

// Honest answers to every request the sync makes now.
bool honest_round(transfer::StateSync& sync) {
  const MerkleStore& from = source().store;
  bool asked = false;
  for (wire::Message& m : sync.next_requests()) {
    asked = true;
    if (auto* r = std::get_if<wire::FetchTree>(&m)) (void)sync.on_tree_nodes(transfer::serve_tree(from, *r));
    if (auto* r = std::get_if<wire::FetchLeaves>(&m)) (void)sync.on_leaf_entries(transfer::serve_leaves(from, *r, kBudget));
    if (auto* r = std::get_if<wire::FetchValues>(&m)) (void)sync.on_values(transfer::serve_values(from, *r, kBudget));
  }
  return asked;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FnvCrypto crypto;
  MemoryStore backend;
  MerkleStore lagging(crypto, backend);
  // The lagging replica shares some of the source's state, differs in some
  // keys and holds some the source lacks.
  for (int i = 0; i < 60; i += 3) require(lagging.put(app_key(i), to_bytes(std::string(i % 40, 'v'))).has_value());
  for (int i = 60; i < 70; ++i) require(lagging.put(app_key(i), to_bytes("stale")).has_value());
  transfer::StateSync sync(lagging, kSeq, source().root, kMaxListing);

  ByteView in(data, size);
  while (in.size() >= 3 && !sync.done()) {
    const std::uint8_t kind = in[0] % 4;
    const std::size_t length = std::min<std::size_t>(in.size() - 3, (std::size_t{in[1]} << 8) | in[2]);
    const ByteView payload = in.subspan(3, length);
    in = in.subspan(3 + length);
    if (kind == 0) {
      if (sync.next_requests().empty()) sync.retry();
      (void)honest_round(sync);
      continue;
    }
    transfer::Outcome outcome = transfer::Outcome::progress;
    if (kind == 1) {
      auto m = wire::decode<wire::TreeNodes>(payload);
      if (m) outcome = sync.on_tree_nodes(*m);
    } else if (kind == 2) {
      auto m = wire::decode<wire::LeafEntries>(payload);
      if (m) outcome = sync.on_leaf_entries(*m);
    } else {
      auto m = wire::decode<wire::Values>(payload);
      if (m) outcome = sync.on_values(*m);
    }
    if (outcome == transfer::Outcome::bad) sync.retry();  // as a core does: ask again (another source)
  }
  // Honest answers from here on must finish the walk at the certified root.
  sync.retry();
  for (int round = 0; round < kHonestRounds && !sync.done(); ++round) {
    if (!honest_round(sync)) sync.retry();
  }
  require(sync.done());
  require(lagging.root() == source().root);
  return 0;
}
