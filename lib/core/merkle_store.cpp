// core/merkle_store.hpp: the Merkle index over a StoreBackend, the
// application's view of the store, and copy-on-write pins for checkpoints.
//
// In memory: the digest of every non-empty leaf (a sparse map, so an empty
// store costs nothing) and the dense interior levels 0..kLevels-1 (69,905
// digests, 2.2 MB). Writes only mark their bucket dirty; fold_leaves()
// recomputes the dirty leaves from the backend (after every batch, so the
// stored leaves match the data at every commit), and fold() then recomputes
// only the interior nodes above a leaf changed since, once for all the
// batches in between, so a digest costs O(buckets changed × depth).
#include "core/merkle_store.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <iterator>
#include <set>
#include <string_view>
#include <unordered_map>

#include "core/bytes_io.hpp"
#include "synod/assert.hpp"

namespace synod {

namespace {

constexpr std::uint32_t level_width(std::uint8_t level) {
  std::uint32_t w = 1;
  for (std::uint8_t l = 0; l < level; ++l) w *= MerkleStore::kFanout;
  return w;
}
static_assert(level_width(MerkleStore::kLevels) == MerkleStore::kBuckets);

void write_tag(ByteWriter& w, std::string_view text) {
  w.raw(ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

// u32 length, then the bytes (the tree's rules: lengths are 32-bit).
void write_sized(ByteWriter& w, ByteView b) {
  SYNOD_ASSERT(b.size() <= UINT32_MAX, "store keys and values are far below 4 GiB");
  w.u32(static_cast<std::uint32_t>(b.size()));
  w.raw(b);
}

// Ascending byte order, as the backend lists keys. (memcmp, not std::vector's
// operator<=>, which GCC 12 flags under -Werror=stringop-overread.)
bool less_bytes(ByteView a, ByteView b) {
  const std::size_t n = std::min(a.size(), b.size());
  if (n != 0)
    if (const int c = std::memcmp(a.data(), b.data(), n); c != 0) return c < 0;
  return a.size() < b.size();
}

Bytes with_namespace(std::uint8_t ns, ByteView key) {
  Bytes out;
  out.reserve(key.size() + 1);
  out.push_back(ns);
  out.insert(out.end(), key.begin(), key.end());
  return out;
}

}  // namespace

// The types live inside Impl, not in an anonymous namespace: Impl's fields
// use them, and under a unity build (scripts/test.sh) this file is not the
// main file, where GCC flags such fields (-Wsubobject-linkage).
struct MerkleStore::Impl {
  using Levels = std::array<std::vector<Digest>, kLevels>;  // levels 0 .. kLevels-1

  // A bucket as it was before its first write in an epoch, values included, so
  // a pin can still serve bucket_at and value_at.
  struct SavedEntry {
    Bytes key;
    Bytes value;
    Digest digest;
  };
  struct SavedBucket {
    std::vector<SavedEntry> entries;  // ascending by key
    Digest leaf{};
  };

  // The writes between one pin and the next: the first write to a bucket
  // saves it here.
  struct Epoch {
    std::uint64_t id = 0;
    std::unordered_map<Bucket, SavedBucket> saved;
    std::size_t bytes = 0;
  };

  struct Pin {
    Levels levels;            // the interior nodes at pin time (levels[0][0] is the root)
    std::uint64_t epoch = 0;  // the epoch that began right after the pin
  };

  // StoreWriter over the application's namespace: keys gain kAppNamespace on
  // the way in and lose it on the way out; scans stop at the namespace's end.
  class AppView final : public StoreWriter {
   public:
    explicit AppView(MerkleStore& store) : store_(store) {}

    std::optional<Bytes> get(ByteView key) const override {
      return store_.get(as_view(with_namespace(kAppNamespace, key)));
    }
    void scan(ByteView from, ByteView to, const std::function<bool(ByteView, ByteView)>& visit) const override {
      const Bytes lo = with_namespace(kAppNamespace, from);
      // No upper bound for the app is the end of its namespace for the store.
      const Bytes hi = to.empty() ? Bytes{kAppNamespace + 1} : with_namespace(kAppNamespace, to);
      store_.scan(as_view(lo), as_view(hi), [&](ByteView key, ByteView value) {
        SYNOD_ASSERT(!key.empty() && key[0] == kAppNamespace, "an app scan stays in its namespace");
        return visit(key.subspan(1), value);
      });
    }
    Result<void> put(ByteView key, ByteView value) override {
      if (key.size() > kMaxStoreKeyBytes)
        return fail(ErrorCode::invalid_argument, "store key longer than kMaxStoreKeyBytes");
      return store_.put(as_view(with_namespace(kAppNamespace, key)), value);
    }
    void erase(ByteView key) override { store_.erase(as_view(with_namespace(kAppNamespace, key))); }

   private:
    MerkleStore& store_;
  };

  Impl(MerkleStore& self, const Crypto& c, StoreBackend& b) : crypto(c), backend(b), app(self) {
    for (std::uint8_t l = 0; l < kLevels; ++l) levels[l].assign(level_width(l), Digest{});
  }

  const Crypto& crypto;
  StoreBackend& backend;
  std::unordered_map<Bucket, Digest> leaves;  // non-empty buckets only
  Levels levels;
  std::set<Bucket> dirty;  // written since the last fold_leaves (ascending: fold's order)
  // Leaves whose digest changed (folded, or set by install_bucket) with their
  // ancestors not yet recomputed: fold() does that, and fold_leaves() once
  // there are kMaxUnpropagatedLeaves of them. Between checkpoints a batch
  // changes few leaves and often the same ones: each node above them is then
  // hashed once per checkpoint, not once per batch.
  std::set<Bucket> unpropagated;
  AppView app;
  std::map<Seq, Pin> pins;
  std::deque<Epoch> epochs;  // consecutive ids; the last is the current one while a pin exists
  std::uint64_t next_epoch = 0;
  std::size_t pinned_bytes = 0;

  Digest leaf(Bucket b) const {
    auto it = leaves.find(b);
    return it == leaves.end() ? Digest{} : it->second;
  }
  void set_leaf(Bucket b, const Digest& d) {
    if (d == Digest{})
      leaves.erase(b);
    else
      leaves[b] = d;
  }
  Digest current(Node n) const { return n.level == kLevels ? leaf(n.index) : levels[n.level][n.index]; }

  Digest leaf_of(std::span<const BucketEntry> entries) const;
  Digest node_of(std::uint8_t level, const Children& children) const;
  void fold_leaves();
  void fold();
  void propagate_unpropagated();
  void propagate(std::vector<std::uint32_t> changed_leaves);
  std::vector<std::uint32_t> refresh_level(std::uint8_t level, const std::vector<std::uint32_t>& changed_children);

  void put(Bucket b, ByteView key, ByteView value, const Digest& entry);
  void erase(Bucket b, ByteView key);
  void save_before_write(Bucket b);

  const Pin* pin_at(Seq seq) const {
    auto it = pins.find(seq);
    return it == pins.end() ? nullptr : &it->second;
  }
  const SavedBucket* saved_at(const Pin& pin, Bucket b) const;
  Digest leaf_at(const Pin& pin, Bucket b) const {
    const SavedBucket* saved = saved_at(pin, b);
    return saved ? saved->leaf : leaf(b);
  }
};

// ---- the rules of the tree

Digest MerkleStore::Impl::leaf_of(std::span<const BucketEntry> entries) const {
  if (entries.empty()) return Digest{};
  ByteWriter w;
  write_tag(w, "synod-leaf");
  SYNOD_ASSERT(entries.size() <= UINT32_MAX, "a bucket holds fewer than 2^32 keys");
  w.u32(static_cast<std::uint32_t>(entries.size()));
  for (const BucketEntry& e : entries) {
    write_sized(w, as_view(e.key));
    w.raw(as_view(e.digest));
  }
  const Bytes bytes = w.take();
  return crypto.digest(as_view(bytes));
}

Digest MerkleStore::Impl::node_of(std::uint8_t level, const Children& children) const {
  const bool empty = std::all_of(children.begin(), children.end(), [](const Digest& d) { return d == Digest{}; });
  if (empty) return Digest{};
  ByteWriter w;
  write_tag(w, "synod-node");
  w.u8(level);
  for (const Digest& d : children) w.raw(as_view(d));
  const Bytes bytes = w.take();
  return crypto.digest(as_view(bytes));
}

Bucket MerkleStore::bucket_of(ByteView key) const {
  const Digest d = impl_->crypto.digest(key);
  return (Bucket{d[0]} << 12) | (Bucket{d[1]} << 4) | (Bucket{d[2]} >> 4);
}

Digest MerkleStore::entry_digest(ByteView key, ByteView value) const {
  ByteWriter w;
  write_tag(w, "synod-entry");
  write_sized(w, key);
  write_sized(w, value);
  const Bytes bytes = w.take();
  return impl_->crypto.digest(as_view(bytes));
}

Digest MerkleStore::leaf_digest(std::span<const BucketEntry> entries) const { return impl_->leaf_of(entries); }

Digest MerkleStore::node_digest(std::uint8_t level, const Children& children) const {
  return impl_->node_of(level, children);
}

bool MerkleStore::valid(Node n) { return n.level <= kLevels && n.index < level_width(n.level); }

// ---- folding writes into the tree

// Recomputes the dirty leaves from the backend, storing the changed leaf
// digests there too, so a restart finds them. Buckets installed whole
// (install_bucket) have their leaf digest already. Once
// kMaxUnpropagatedLeaves leaves wait for their ancestors, it recomputes
// those too, so no fold() has more than that many leaves' ancestors to do
// at once (the checkpoint's share of a pause stays bounded however the
// writes spread).
void MerkleStore::Impl::fold_leaves() {
  for (Bucket b : dirty) {
    const Digest d = leaf_of(backend.bucket(b));
    if (d == leaf(b)) continue;
    set_leaf(b, d);
    backend.set_leaf(b, d);
    unpropagated.insert(b);
  }
  dirty.clear();
  if (unpropagated.size() >= kMaxUnpropagatedLeaves) propagate_unpropagated();
}

// fold_leaves, then the interior nodes above every leaf changed since.
void MerkleStore::Impl::fold() {
  fold_leaves();
  propagate_unpropagated();
}

void MerkleStore::Impl::propagate_unpropagated() {
  if (unpropagated.empty()) return;
  propagate(std::vector<std::uint32_t>(unpropagated.begin(), unpropagated.end()));
  unpropagated.clear();
}

// changed_leaves ascending: recomputes every ancestor of a changed leaf,
// bottom-up, stopping early where a node's digest comes out unchanged.
void MerkleStore::Impl::propagate(std::vector<std::uint32_t> changed_leaves) {
  std::vector<std::uint32_t> changed = std::move(changed_leaves);
  for (int l = kLevels - 1; l >= 0 && !changed.empty(); --l)
    changed = refresh_level(static_cast<std::uint8_t>(l), changed);
}

// Recomputes the parents (on `level`) of the changed children (on level+1,
// ascending); returns the parents whose digest changed, ascending.
std::vector<std::uint32_t> MerkleStore::Impl::refresh_level(std::uint8_t level,
                                                            const std::vector<std::uint32_t>& changed_children) {
  std::vector<std::uint32_t> changed;
  std::optional<std::uint32_t> last;
  for (std::uint32_t child : changed_children) {
    const std::uint32_t parent = child / kFanout;
    SYNOD_ASSERT(!last || *last <= parent, "changed children arrive in ascending order");
    if (last == parent) continue;
    last = parent;
    Children children;
    for (std::uint32_t j = 0; j < kFanout; ++j)
      children[j] = current(Node{static_cast<std::uint8_t>(level + 1), parent * kFanout + j});
    const Digest d = node_of(level, children);
    if (d == levels[level][parent]) continue;
    levels[level][parent] = d;
    changed.push_back(parent);
  }
  return changed;
}

// ---- writes (copy-on-write first while a pin exists)

void MerkleStore::Impl::put(Bucket b, ByteView key, ByteView value, const Digest& entry) {
  save_before_write(b);
  backend.put(b, key, value, entry);
  dirty.insert(b);
}

void MerkleStore::Impl::erase(Bucket b, ByteView key) {
  save_before_write(b);
  backend.erase(b, key);
  dirty.insert(b);
}

// The first write to b since the newest pin saves b as it is now, which is
// b as of that pin (pin() folded everything, and b is unwritten since).
void MerkleStore::Impl::save_before_write(Bucket b) {
  if (pins.empty()) return;
  Epoch& epoch = epochs.back();
  SYNOD_ASSERT(epoch.id == pins.rbegin()->second.epoch, "the current epoch began at the newest pin");
  if (epoch.saved.contains(b)) return;
  SYNOD_ASSERT(!dirty.contains(b), "a bucket unwritten since the pin is not dirty");
  SavedBucket saved{.entries = {}, .leaf = leaf(b)};
  std::size_t bytes = 0;
  for (BucketEntry& e : backend.bucket(b)) {
    std::optional<Bytes> value = backend.get(as_view(e.key));
    SYNOD_ASSERT(value.has_value(), "the index and the data table agree");
    bytes += e.key.size() + value->size() + kDigestBytes;
    saved.entries.push_back(SavedEntry{std::move(e.key), std::move(*value), e.digest});
  }
  epoch.bytes += bytes;
  pinned_bytes += bytes;
  epoch.saved.emplace(b, std::move(saved));
}

// b as of the pin: the first copy saved from the pin's epoch on; none means
// b is unchanged since (nullptr: read the current state).
const MerkleStore::Impl::SavedBucket* MerkleStore::Impl::saved_at(const Pin& pin, Bucket b) const {
  SYNOD_ASSERT(!epochs.empty() && epochs.front().id <= pin.epoch, "a live pin keeps its epochs");
  for (std::size_t i = pin.epoch - epochs.front().id; i < epochs.size(); ++i) {
    auto it = epochs[i].saved.find(b);
    if (it != epochs[i].saved.end()) return &it->second;
  }
  return nullptr;
}

// ---- MerkleStore

MerkleStore::MerkleStore(const Crypto& crypto, StoreBackend& backend)
    : impl_(std::make_unique<Impl>(*this, crypto, backend)) {
  std::vector<std::uint32_t> stored;
  backend.leaves([&](Bucket b, const Digest& d) {
    SYNOD_ASSERT(b < kBuckets && d != Digest{}, "the backend stores non-empty leaves only");
    SYNOD_ASSERT(stored.empty() || stored.back() < b, "the backend lists leaves ascending");
    impl_->leaves.emplace(b, d);
    stored.push_back(b);
  });
  impl_->propagate(std::move(stored));
}

MerkleStore::~MerkleStore() = default;

std::optional<Bytes> MerkleStore::get(ByteView key) const { return impl_->backend.get(key); }

void MerkleStore::scan(ByteView from, ByteView to, const std::function<bool(ByteView, ByteView)>& visit) const {
  impl_->backend.scan(from, to, visit);
}

Result<void> MerkleStore::put(ByteView key, ByteView value) {
  if (key.empty()) return fail(ErrorCode::invalid_argument, "a store key starts with its namespace byte");
  if (key.size() > 1 + kMaxStoreKeyBytes)
    return fail(ErrorCode::invalid_argument, "store key longer than kMaxStoreKeyBytes");
  if (value.size() > kMaxStoreValueBytes)
    return fail(ErrorCode::invalid_argument, "store value longer than kMaxStoreValueBytes");
  impl_->put(bucket_of(key), key, value, entry_digest(key, value));
  return {};
}

void MerkleStore::erase(ByteView key) {
  // Erasing an absent key changes nothing: no copy-on-write, no dirty bucket.
  if (!impl_->backend.get(key)) return;
  impl_->erase(bucket_of(key), key);
}

StoreWriter& MerkleStore::app() { return impl_->app; }
const StoreReader& MerkleStore::app() const { return impl_->app; }

void MerkleStore::fold_leaves() { impl_->fold_leaves(); }

Digest MerkleStore::root() {
  impl_->fold();
  return impl_->levels[0][0];
}

Digest MerkleStore::node(Node n) {
  SYNOD_ASSERT(valid(n), "a node inside the tree");
  impl_->fold();
  return impl_->current(n);
}

MerkleStore::Children MerkleStore::children(Node n) {
  SYNOD_ASSERT(valid(n) && n.level < kLevels, "a node above the leaves");
  impl_->fold();
  Children out;
  for (std::uint32_t j = 0; j < kFanout; ++j)
    out[j] = impl_->current(Node{static_cast<std::uint8_t>(n.level + 1), n.index * kFanout + j});
  return out;
}

std::vector<BucketEntry> MerkleStore::bucket(Bucket b) const {
  SYNOD_ASSERT(b < kBuckets, "a bucket of the tree");
  return impl_->backend.bucket(b);
}

void MerkleStore::replace_bucket(Bucket b, std::span<const std::pair<Bytes, Bytes>> entries) {
  SYNOD_ASSERT(b < kBuckets, "a bucket of the tree");
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& [key, value] = entries[i];
    SYNOD_ASSERT(!key.empty() && key.size() <= 1 + kMaxStoreKeyBytes && value.size() <= kMaxStoreValueBytes,
                 "a transferred entry was verified, so within the store's bounds");
    SYNOD_ASSERT(i == 0 || less_bytes(as_view(entries[i - 1].first), as_view(key)),
                 "transferred entries are ascending and unique");
    SYNOD_ASSERT(bucket_of(as_view(key)) == b, "a transferred entry belongs to its bucket");
  }
  const std::vector<BucketEntry> current = impl_->backend.bucket(b);
  // Both lists ascend by key: one pass erases the keys that must go.
  std::size_t j = 0;
  for (const BucketEntry& e : current) {
    while (j < entries.size() && less_bytes(as_view(entries[j].first), as_view(e.key))) ++j;
    if (j == entries.size() || entries[j].first != e.key) impl_->erase(b, as_view(e.key));
  }
  for (const auto& [key, value] : entries) {
    const Digest d = entry_digest(as_view(key), as_view(value));
    auto it = std::lower_bound(current.begin(), current.end(), key, [](const BucketEntry& e, const Bytes& k) {
      return less_bytes(as_view(e.key), as_view(k));
    });
    if (it != current.end() && it->key == key && it->digest == d) continue;  // unchanged
    impl_->put(b, as_view(key), as_view(value), d);
  }
}

void MerkleStore::install_bucket(Bucket b, std::span<const BucketEntry> entries,
                                 std::span<const std::optional<Bytes>> values, const Digest& leaf) {
  SYNOD_ASSERT(b < kBuckets && values.size() == entries.size(), "a value (or none) per entry of a bucket");
  SYNOD_ASSERT((leaf == Digest{}) == entries.empty(), "an empty bucket, and only it, has the zero leaf digest");
  const std::vector<BucketEntry> current = impl_->backend.bucket(b);
  // Both lists ascend by key: one merge erases the keys that go and writes
  // the entries that changed.
  std::size_t j = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const BucketEntry& e = entries[i];
    SYNOD_ASSERT(!e.key.empty() && e.key.size() <= 1 + kMaxStoreKeyBytes, "a verified key is within the bounds");
    SYNOD_ASSERT(i == 0 || less_bytes(as_view(entries[i - 1].key), as_view(e.key)),
                 "transferred entries are ascending and unique");
    for (; j < current.size() && less_bytes(as_view(current[j].key), as_view(e.key)); ++j)
      impl_->erase(b, as_view(current[j].key));
    const bool held = j < current.size() && current[j].key == e.key;
    const bool same = held && current[j].digest == e.digest;
    if (held) ++j;
    if (!values[i]) {
      SYNOD_ASSERT(same, "an entry not transferred is one the store holds with the same digest");
      continue;
    }
    SYNOD_ASSERT(values[i]->size() <= kMaxStoreValueBytes, "a verified value is within the bounds");
    if (!same) impl_->put(b, as_view(e.key), as_view(*values[i]), e.digest);
  }
  for (; j < current.size(); ++j) impl_->erase(b, as_view(current[j].key));
  // Its leaf is the verified digest: nothing to read back and hash.
  impl_->dirty.erase(b);
  impl_->set_leaf(b, leaf);
  impl_->backend.set_leaf(b, leaf);
  impl_->unpropagated.insert(b);
}

// ---- checkpoints

Digest MerkleStore::pin(Seq seq) {
  SYNOD_ASSERT(impl_->pins.empty() || impl_->pins.rbegin()->first < seq, "pinned seqs increase");
  impl_->fold();
  const std::uint64_t epoch = impl_->next_epoch++;
  impl_->epochs.push_back(Impl::Epoch{.id = epoch, .saved = {}, .bytes = 0});
  impl_->pins.emplace(seq, Impl::Pin{.levels = impl_->levels, .epoch = epoch});
  return impl_->levels[0][0];
}

void MerkleStore::release_below(Seq seq) {
  auto& pins = impl_->pins;
  pins.erase(pins.begin(), pins.lower_bound(seq));
  // The oldest remaining pin reads the epochs from its own on; none: none.
  const std::uint64_t needed = pins.empty() ? impl_->next_epoch : pins.begin()->second.epoch;
  auto& epochs = impl_->epochs;
  while (!epochs.empty() && epochs.front().id < needed) {
    SYNOD_ASSERT(impl_->pinned_bytes >= epochs.front().bytes, "pinned bytes count every saved bucket");
    impl_->pinned_bytes -= epochs.front().bytes;
    epochs.pop_front();
  }
  SYNOD_ASSERT(!pins.empty() || impl_->pinned_bytes == 0, "without pins nothing is saved");
}

bool MerkleStore::pinned(Seq seq) const { return impl_->pins.contains(seq); }

std::optional<Digest> MerkleStore::node_at(Seq seq, Node n) const {
  const Impl::Pin* pin = impl_->pin_at(seq);
  if (!pin || !valid(n)) return std::nullopt;
  if (n.level == kLevels) return impl_->leaf_at(*pin, n.index);
  return pin->levels[n.level][n.index];
}

std::optional<MerkleStore::Children> MerkleStore::children_at(Seq seq, Node n) const {
  const Impl::Pin* pin = impl_->pin_at(seq);
  if (!pin || !valid(n) || n.level == kLevels) return std::nullopt;
  Children out;
  const auto child_level = static_cast<std::uint8_t>(n.level + 1);
  for (std::uint32_t j = 0; j < kFanout; ++j) {
    const std::uint32_t child = n.index * kFanout + j;
    out[j] = child_level == kLevels ? impl_->leaf_at(*pin, child) : pin->levels[child_level][child];
  }
  return out;
}

std::optional<std::vector<BucketEntry>> MerkleStore::bucket_at(Seq seq, Bucket b) const {
  const Impl::Pin* pin = impl_->pin_at(seq);
  if (!pin || b >= kBuckets) return std::nullopt;
  const Impl::SavedBucket* saved = impl_->saved_at(*pin, b);
  if (!saved) return impl_->backend.bucket(b);
  std::vector<BucketEntry> out;
  out.reserve(saved->entries.size());
  for (const Impl::SavedEntry& e : saved->entries) out.push_back(BucketEntry{e.key, e.digest});
  return out;
}

std::optional<std::optional<Bytes>> MerkleStore::value_at(Seq seq, ByteView key) const {
  using Lookup = std::optional<std::optional<Bytes>>;
  const Impl::Pin* pin = impl_->pin_at(seq);
  if (!pin) return std::nullopt;
  const Impl::SavedBucket* saved = impl_->saved_at(*pin, bucket_of(key));
  if (!saved) return Lookup(impl_->backend.get(key));
  const auto less = [](const Impl::SavedEntry& e, ByteView k) { return less_bytes(as_view(e.key), k); };
  auto it = std::lower_bound(saved->entries.begin(), saved->entries.end(), key, less);
  if (it == saved->entries.end() || !std::ranges::equal(it->key, key)) return Lookup(std::optional<Bytes>());
  return Lookup(it->value);
}

std::size_t MerkleStore::pinned_bytes() const { return impl_->pinned_bytes; }

}  // namespace synod
