// State transfer by tree walk (docs/PROTOCOL.md, "State transfer by tree
// walk"): a lagging store reaches a source's pinned state by fetching only
// what differs, and a source that serves anything but the certified state
// is caught by the check that its answer fails.
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <variant>

#include "core/merkle_store.hpp"
#include "synod/crypto/sha256.hpp"
#include "transfer/state_sync.hpp"

namespace synod::transfer {
namespace {

// Only digest() is used by a MerkleStore and the transfer.
class Sha256Crypto final : public Crypto {
 public:
  Digest digest(ByteView data) const override { return sha_.digest(data); }
  Bytes sign(ByteView) const override { return {}; }
  bool verify(Principal, ByteView, ByteView) const override { return false; }
  Bytes mac(Principal, ByteView) const override { return {}; }
  bool verify_mac(Principal, ByteView, ByteView) const override { return false; }

 private:
  mutable crypto::Sha256 sha_ = std::move(*crypto::Sha256::create());
};

constexpr std::size_t kBudget = 64 << 10;
constexpr std::size_t kMaxListing = 1 << 20;

Bytes key_of(int i) { return to_bytes("a" + std::to_string(i)); }
// Values of about 1 KiB, like synod-bench's state (the tree's own digests
// cost about 1.5 KiB per differing key: see the 1% test).
Bytes value_of(int i, int version) { return to_bytes(std::string(1000, 'v') + std::to_string(i * 7 + version)); }

struct Replica {
  Sha256Crypto crypto;
  MemoryStore backend;
  std::unique_ptr<MerkleStore> store = std::make_unique<MerkleStore>(crypto, backend);

  void fill(int from, int to, int version) {
    for (int i = from; i < to; ++i) REQUIRE(store->put(key_of(i), value_of(i, version)));
  }
  void restart() { store = std::make_unique<MerkleStore>(crypto, backend); }
};

// A source's answer before it leaves: an honest source leaves it alone.
using Tamper = std::function<void(wire::Message&)>;

struct RunResult {
  bool done = false;
  int bad = 0;
  int rounds = 0;
};

// Delivers every request of `sync` to `source` (answers tampered with) until
// the sync is done, stalls, or max_rounds pass. A bad answer makes the sync
// retry with the same source, as a core would with the next one.
RunResult run(StateSync& sync, const MerkleStore& source, const Tamper& tamper = {}, int max_rounds = 100000,
              int max_bad = 1000) {
  RunResult r;
  while (!sync.done() && r.rounds < max_rounds && r.bad < max_bad) {
    ++r.rounds;
    std::vector<wire::Message> requests = sync.next_requests();
    if (requests.empty()) break;
    for (wire::Message& request : requests) {
      wire::Message answer;
      if (auto* m = std::get_if<wire::FetchTree>(&request)) answer = serve_tree(source, *m);
      if (auto* m = std::get_if<wire::FetchLeaves>(&request)) answer = serve_leaves(source, *m, kBudget);
      if (auto* m = std::get_if<wire::FetchValues>(&request)) answer = serve_values(source, *m, kBudget);
      if (tamper) tamper(answer);
      Outcome o = Outcome::progress;
      if (auto* m = std::get_if<wire::TreeNodes>(&answer)) o = sync.on_tree_nodes(*m);
      if (auto* m = std::get_if<wire::LeafEntries>(&answer)) o = sync.on_leaf_entries(*m);
      if (auto* m = std::get_if<wire::Values>(&answer)) o = sync.on_values(*m);
      if (o == Outcome::bad) {
        ++r.bad;
        sync.retry();
        break;
      }
    }
  }
  r.done = sync.done();
  return r;
}

std::uint64_t state_bytes(int keys) { return static_cast<std::uint64_t>(keys) * (key_of(0).size() + value_of(0, 0).size()); }

TEST_CASE("a replica that missed 1% of the updates fetches under 3% of the state") {
  constexpr int kKeys = 20000;
  Replica source, lagging;
  source.fill(0, kKeys, 0);
  lagging.fill(0, kKeys, 0);
  for (int i = 0; i < kKeys; i += 100) REQUIRE(source.store->put(key_of(i), value_of(i, 1)));
  const Digest root = source.store->pin(128);
  REQUIRE(lagging.store->root() != root);

  StateSync sync(*lagging.store, 128, root, kMaxListing);
  const RunResult r = run(sync, *source.store);
  CHECK(r.done);
  CHECK(r.bad == 0);
  CHECK(lagging.store->root() == root);
  CHECK(sync.stats().values == kKeys / 100);
  MESSAGE("bytes moved " << sync.stats().bytes << " of " << state_bytes(kKeys) << " in " << r.rounds << " rounds");
  std::uint64_t changed_bytes = 0;  // keys and values of the changed entries, one byte of presence each
  for (int i = 0; i < kKeys; i += 100) changed_bytes += key_of(i).size() + value_of(i, 1).size() + 1;
  CHECK(sync.stats().value_bytes == changed_bytes);
  CHECK(sync.stats().bytes * 100 < state_bytes(kKeys) * 3);
  for (int i = 0; i < kKeys; i += 100) CHECK(lagging.store->get(key_of(i)) == value_of(i, 1));
}

TEST_CASE("an empty replica fetches everything; keys the source lacks are removed") {
  Replica source, empty, extra;
  source.fill(0, 3000, 0);
  extra.fill(2000, 5000, 3);  // overlaps with other values, and holds keys the source never had
  REQUIRE(extra.store->put(Bytes{MerkleStore::kClientNamespace, 1}, to_bytes("client")));
  const Digest root = source.store->pin(64);

  StateSync to_empty(*empty.store, 64, root, kMaxListing);
  CHECK(run(to_empty, *source.store).done);
  CHECK(empty.store->root() == root);
  CHECK(to_empty.stats().values == 3000);

  StateSync to_extra(*extra.store, 64, root, kMaxListing);
  CHECK(run(to_extra, *source.store).done);
  CHECK(extra.store->root() == root);
  CHECK_FALSE(extra.store->get(key_of(4000)).has_value());
  CHECK_FALSE(extra.store->get(Bytes{MerkleStore::kClientNamespace, 1}).has_value());
  CHECK(extra.store->get(key_of(2500)) == value_of(2500, 0));
}

TEST_CASE("an empty certified state clears the receiver without any request") {
  Replica source, lagging;
  lagging.fill(0, 500, 0);
  const Digest root = source.store->pin(8);
  CHECK(root == Digest{});
  StateSync sync(*lagging.store, 8, root, kMaxListing);
  CHECK(sync.done());
  CHECK(sync.next_requests().empty());
  CHECK(lagging.store->root() == Digest{});
}

TEST_CASE("the source serves its pinned state while it executes on") {
  Replica source, lagging;
  source.fill(0, 2000, 0);
  const Digest root = source.store->pin(128);
  source.fill(0, 2000, 9);  // every bucket changes after the pin
  for (int i = 0; i < 2000; i += 3) source.store->erase(key_of(i));
  REQUIRE(source.store->root() != root);

  StateSync sync(*lagging.store, 128, root, kMaxListing);
  CHECK(run(sync, *source.store).done);
  CHECK(lagging.store->root() == root);
  CHECK(lagging.store->get(key_of(3)) == value_of(3, 0));
}

TEST_CASE("a source without the pinned state answers nothing, and the sync waits") {
  Replica source, lagging;
  source.fill(0, 100, 0);
  const Digest root = source.store->pin(128);
  StateSync sync(*lagging.store, 256, root, kMaxListing);  // a seq the source never pinned
  const RunResult r = run(sync, *source.store, {}, 10);
  CHECK_FALSE(r.done);
  CHECK(r.bad == 0);
  sync.retry();
  CHECK_FALSE(sync.next_requests().empty());  // everything is wanted again
}

// Each lie is caught by the check against the certified digests; the same
// sync then completes from an honest source, and only verified data stays.
TEST_CASE("a Byzantine source is caught: wrong interior digests, leaves, values, truncated listings") {
  struct Lie {
    std::string name;
    Tamper tamper;
  };
  const std::vector<Lie> lies = {
      {"an interior digest", [](wire::Message& m) {
         if (auto* t = std::get_if<wire::TreeNodes>(&m); t && !t->nodes.empty()) t->nodes.back().children[3][0] ^= 1;
       }},
      {"a child count", [](wire::Message& m) {
         if (auto* t = std::get_if<wire::TreeNodes>(&m); t && !t->nodes.empty()) t->nodes.front().children.pop_back();
       }},
      {"a leaf entry digest", [](wire::Message& m) {
         if (auto* l = std::get_if<wire::LeafEntries>(&m); l && !l->parts.empty()) l->parts.back().entries.back().digest[5] ^= 1;
       }},
      {"a truncated listing that claims to be whole", [](wire::Message& m) {
         if (auto* l = std::get_if<wire::LeafEntries>(&m); l && !l->parts.empty()) {
           auto& part = l->parts.front();
           part.entries.pop_back();
           part.total = part.from + static_cast<std::uint32_t>(part.entries.size());
         }
       }},
      {"a key from another bucket", [](wire::Message& m) {
         if (auto* l = std::get_if<wire::LeafEntries>(&m); l && !l->parts.empty()) l->parts.front().entries.front().key = to_bytes("a-elsewhere");
       }},
      {"entries out of order", [](wire::Message& m) {
         if (auto* l = std::get_if<wire::LeafEntries>(&m); l && !l->parts.empty() && l->parts.front().entries.size() > 1) {
           std::swap(l->parts.front().entries[0], l->parts.front().entries[1]);
         } else if (l && !l->parts.empty()) {  // one entry: list it twice
           l->parts.front().total += 1;
           l->parts.front().entries.push_back(l->parts.front().entries.front());
         }
       }},
      {"a value", [](wire::Message& m) {
         if (auto* v = std::get_if<wire::Values>(&m); v && !v->values.empty()) v->values.back().value.push_back('x');
       }},
      {"an absent value", [](wire::Message& m) {
         if (auto* v = std::get_if<wire::Values>(&m); v && !v->values.empty()) {
           v->values.front().present = false;
           v->values.front().value.clear();
         }
       }},
  };
  for (const Lie& lie : lies) {
    CAPTURE(lie.name);
    Replica source, lagging;
    source.fill(0, 3000, 0);
    lagging.fill(0, 3000, 0);
    for (int i = 0; i < 3000; i += 10) REQUIRE(source.store->put(key_of(i), value_of(i, 5)));
    const Digest root = source.store->pin(128);

    StateSync sync(*lagging.store, 128, root, kMaxListing);
    const RunResult liar = run(sync, *source.store, lie.tamper, 100000, 3);
    CHECK_FALSE(liar.done);
    CHECK(liar.bad == 3);
    const RunResult honest = run(sync, *source.store);
    CHECK(honest.done);
    CHECK(honest.bad == 0);
    CHECK(lagging.store->root() == root);
  }
}

TEST_CASE("a source serving another state (a root with no certificate) never gets past the root") {
  Replica certified, liar, lagging;
  certified.fill(0, 1000, 0);
  liar.fill(0, 1000, 1);
  const Digest root = certified.store->pin(128);
  liar.store->pin(128);
  StateSync sync(*lagging.store, 128, root, kMaxListing);
  const RunResult r = run(sync, *liar.store, {}, 100000, 5);
  CHECK(r.bad == 5);
  CHECK(sync.stats().nodes == 0);
  CHECK(lagging.store->root() == Digest{});  // nothing of the liar's was kept
}

// Answers every request but those for values (which stay unanswered).
void run_without_values(StateSync& sync, const MerkleStore& source) {
  for (int round = 0; round < 100000; ++round) {
    bool answered = false;
    for (wire::Message& request : sync.next_requests()) {
      if (auto* m = std::get_if<wire::FetchTree>(&request)) {
        REQUIRE(sync.on_tree_nodes(serve_tree(source, *m)) == Outcome::progress);
        answered = true;
      }
      if (auto* m = std::get_if<wire::FetchLeaves>(&request)) {
        REQUIRE(sync.on_leaf_entries(serve_leaves(source, *m, kBudget)) == Outcome::progress);
        answered = true;
      }
    }
    if (!answered) return;
  }
}

TEST_CASE("a transfer overtaken by a newer certified state keeps what the new root still certifies") {
  constexpr int kKeys = 5000;
  Replica source, lagging;
  source.fill(0, kKeys, 0);
  const Digest first = source.store->pin(128);
  StateSync sync(*lagging.store, 128, first, kMaxListing);
  run_without_values(sync, *source.store);  // the whole tree and every listing, no value yet
  const SyncStats before = sync.stats();
  REQUIRE(before.entries == kKeys);
  REQUIRE(before.values == 0);

  constexpr int kChanged = 50;
  for (int i = 0; i < kKeys; i += kKeys / kChanged) REQUIRE(source.store->put(key_of(i), value_of(i, 1)));
  const Digest second = source.store->pin(256);
  sync.retarget(256, second);
  const RunResult r = run(sync, *source.store);
  CHECK(r.done);
  CHECK(lagging.store->root() == second);
  CHECK(lagging.store->get(key_of(0)) == value_of(0, 1));
  // Only the changed paths are walked and listed again: at most one node per
  // level and one listing per changed key (a fresh walk would fetch every
  // node and all kKeys entries once more).
  CHECK(sync.stats().nodes - before.nodes <= kChanged * MerkleStore::kLevels);
  CHECK(sync.stats().entries - before.entries <= 2 * kChanged);
  CHECK(sync.stats().values == kKeys);
}

TEST_CASE("answers about the old state arriving after a retarget are kept where the new root certifies them") {
  Replica source, lagging;
  source.fill(0, 2000, 0);
  const Digest first = source.store->pin(128);
  StateSync sync(*lagging.store, 128, first, kMaxListing);
  run_without_values(sync, *source.store);
  sync.retry();
  std::vector<wire::Values> late;  // served at 128, delivered after the move
  for (wire::Message& m : sync.next_requests()) {
    if (auto* v = std::get_if<wire::FetchValues>(&m)) late.push_back(serve_values(*source.store, *v, 1 << 20));
  }
  REQUIRE_FALSE(late.empty());
  for (int i = 0; i < 2000; i += 10) REQUIRE(source.store->put(key_of(i), value_of(i, 1)));  // 200 change
  const Digest second = source.store->pin(256);
  sync.retarget(256, second);
  std::size_t answered = 0;
  for (const wire::Values& v : late) {
    answered += v.values.size();
    CHECK(sync.on_values(v) == Outcome::progress);  // the changed ones are skipped, nobody is blamed
  }
  CHECK(sync.stats().values > 0);
  CHECK(sync.stats().values <= answered);
  const std::uint64_t kept = sync.stats().values;
  CHECK(run(sync, *source.store).done);
  CHECK(lagging.store->root() == second);
  CHECK(lagging.store->get(key_of(10)) == value_of(10, 1));
  // Only the buckets of the 200 changed keys are fetched again (a bucket
  // may hold another key too).
  CHECK(sync.stats().values - kept >= 200);
  CHECK(sync.stats().values - kept <= 220);
}

TEST_CASE("what is asked is not asked twice until it is answered, or retry() asks everything again") {
  Replica source, lagging;
  source.fill(0, 3000, 0);
  const Digest root = source.store->pin(128);
  StateSync sync(*lagging.store, 128, root, kMaxListing);
  std::vector<wire::Message> first = sync.next_requests();
  REQUIRE(first.size() == 1);  // the root's children
  CHECK(sync.next_requests().empty());  // asked, not answered: not asked twice
  sync.retry();
  std::vector<wire::Message> again = sync.next_requests();  // a new source: asked again
  REQUIRE(again.size() == 1);
  CHECK(std::get<wire::FetchTree>(again.front()).nodes == std::get<wire::FetchTree>(first.front()).nodes);
  REQUIRE(sync.on_tree_nodes(serve_tree(*source.store, std::get<wire::FetchTree>(again.front()))) == Outcome::progress);
  for (const wire::Message& m : sync.next_requests()) {  // the children's requests, not the root's again
    const auto* tree = std::get_if<wire::FetchTree>(&m);
    REQUIRE(tree != nullptr);
    for (const wire::TreeNodeRef& ref : tree->nodes) CHECK(ref.level == 1);
  }
}

TEST_CASE("an answer to a later request re-asks at once what earlier ones never got (the source answers in order)") {
  Replica source, lagging;
  source.fill(0, 3000, 0);
  const Digest root = source.store->pin(128);
  StateSync sync(*lagging.store, 128, root, kMaxListing);
  // Answer everything until two tree requests are out at once.
  std::vector<wire::FetchTree> trees;
  for (int round = 0; round < 100 && trees.size() < 2; ++round) {
    trees.clear();
    for (wire::Message& m : sync.next_requests()) {
      if (auto* t = std::get_if<wire::FetchTree>(&m)) trees.push_back(*t);
    }
    if (trees.size() >= 2) break;
    for (const wire::FetchTree& t : trees) REQUIRE(sync.on_tree_nodes(serve_tree(*source.store, t)) == Outcome::progress);
  }
  REQUIRE(trees.size() >= 2);
  // The first was dropped; the answer to the second shows it.
  REQUIRE(sync.on_tree_nodes(serve_tree(*source.store, trees[1])) == Outcome::progress);
  std::vector<wire::Message> next = sync.next_requests();
  REQUIRE_FALSE(next.empty());
  const auto* again = std::get_if<wire::FetchTree>(&next.front());
  REQUIRE(again != nullptr);
  CHECK(again->nodes == trees[0].nodes);
}

TEST_CASE("an answer cut at the source's byte budget: the rest of its request is asked again at once") {
  Replica source, lagging;
  source.fill(0, 2000, 0);
  const Digest root = source.store->pin(128);
  StateSync sync(*lagging.store, 128, root, kMaxListing);
  run_without_values(sync, *source.store);
  sync.retry();  // the value requests it left unanswered
  std::vector<wire::Message> requests = sync.next_requests();
  REQUIRE(requests.size() == 2);  // 1024 keys and the other 976
  const auto& asked = std::get<wire::FetchValues>(requests.front());
  REQUIRE(asked.keys.size() > 10);
  const wire::Values cut = serve_values(*source.store, asked, 5 * 1024);  // a few values only
  REQUIRE(cut.values.size() < asked.keys.size());
  REQUIRE(sync.on_values(cut) == Outcome::progress);
  std::vector<wire::Message> next = sync.next_requests();
  REQUIRE(next.size() == 1);
  const auto& rest = std::get<wire::FetchValues>(next.front());
  const auto cut_at = static_cast<std::ptrdiff_t>(cut.values.size());
  CHECK(rest.keys == std::vector<Bytes>(asked.keys.begin() + cut_at, asked.keys.end()));
}

TEST_CASE("a pin a peer still fetches from lingers, within its time and the copy-on-write bound") {
  ServedPins pins;
  constexpr TimeUs kLinger = 1000;
  constexpr std::size_t kMax = 1 << 20;
  CHECK(pins.floor(256, 0, kLinger, 0, kMax) == 256);  // nobody fetches: only the latest stays
  pins.served(128, 100);
  CHECK(pins.floor(256, 500, kLinger, 0, kMax) == 128);       // fetched from lately: it lingers
  CHECK(pins.floor(256, 500, kLinger, kMax + 1, kMax) == 256);  // too much copy-on-write: it goes
  pins.served(128, 600);
  CHECK(pins.floor(384, 1500, kLinger, 0, kMax) == 128);   // still fetched from
  CHECK(pins.floor(384, 1700, kLinger, 0, kMax) == 384);   // not for longer than the linger
  pins.served(384, 1700);
  CHECK(pins.floor(384, 1800, kLinger, 0, kMax) == 384);   // the latest is kept anyway
}

TEST_CASE("a crash in the middle of a transfer: the restarted replica finishes it from what it kept") {
  Replica source, lagging;
  source.fill(0, 5000, 0);
  lagging.fill(0, 5000, 1);
  const Digest root = source.store->pin(128);
  {
    StateSync sync(*lagging.store, 128, root, kMaxListing);
    while (sync.stats().leaves == 0) REQUIRE_FALSE(run(sync, *source.store, {}, 1).done);
    lagging.backend.commit();  // some buckets installed durably...
    const std::uint64_t committed = sync.stats().leaves;
    REQUIRE_FALSE(run(sync, *source.store, {}, 1).done);
    REQUIRE(sync.stats().leaves > committed);
    lagging.backend.crash();   // ...and the later ones lost
  }
  lagging.restart();
  StateSync again(*lagging.store, 128, root, kMaxListing);
  CHECK(run(again, *source.store).done);
  CHECK(lagging.store->root() == root);
  CHECK(again.stats().values < 5000);  // what was installed and committed is not fetched again
}

}  // namespace
}  // namespace synod::transfer
