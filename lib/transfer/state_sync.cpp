// State transfer by tree walk: the receiving and the serving side.
// docs/PROTOCOL.md, "State transfer by tree walk".
#include "transfer/state_sync.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>

#include "synod/assert.hpp"

namespace synod::transfer {

namespace {

using Node = MerkleStore::Node;

constexpr Digest kZero{};

// Payload bytes of one listed entry and one value on the wire (roughly:
// the length prefixes are not counted).
std::size_t entry_bytes(const wire::LeafEntry& e) { return e.key.size() + kDigestBytes; }
std::size_t value_bytes(const wire::KeyValue& v) { return v.key.size() + v.value.size() + 1; }

// The index of the listed entry of `key` (entries ascend by key), if any.
std::optional<std::size_t> find_listed(const std::vector<BucketEntry>& entries, const Bytes& key) {
  auto it = std::lower_bound(entries.begin(), entries.end(), key,
                             [](const BucketEntry& e, const Bytes& k) { return e.key < k; });
  if (it == entries.end() || it->key != key) return std::nullopt;
  return static_cast<std::size_t>(it - entries.begin());
}

Node child_of(Node n, std::uint32_t i) {
  return Node{static_cast<std::uint8_t>(n.level + 1), n.index * MerkleStore::kFanout + i};
}

// A key a correct source may list in bucket b.
bool plausible_key(const MerkleStore& store, Bucket b, const Bytes& key) {
  return !key.empty() && key.size() <= 1 + kMaxStoreKeyBytes && store.bucket_of(key) == b;
}

}  // namespace

// ---------------------------------------------------------------- asks

template <class Item, class Hash>
template <class Wanted>
std::vector<Item> StateSync::Asks<Item, Hash>::take(std::size_t max, std::uint64_t ticket, const Wanted& wanted) {
  std::vector<Item> out;
  while (!todo.empty() && out.size() < max) {
    Item i = std::move(todo.front());
    todo.pop_front();
    if (!wanted(i) || asked_.contains(i)) continue;
    out.push_back(std::move(i));
  }
  if (out.empty()) return out;
  for (const Item& i : out) asked_.emplace(i, ticket);
  requests_.emplace(ticket, out);
  return out;
}

template <class Item, class Hash>
std::optional<std::uint64_t> StateSync::Asks<Item, Hash>::ticket_of(const Item& i) const {
  auto it = asked_.find(i);
  if (it == asked_.end()) return std::nullopt;
  return it->second;
}

template <class Item, class Hash>
void StateSync::Asks<Item, Hash>::close_through(std::uint64_t ticket) {
  while (!requests_.empty() && requests_.begin()->first <= ticket) close_one(requests_.begin()->first);
}

template <class Item, class Hash>
void StateSync::Asks<Item, Hash>::close_one(std::uint64_t ticket) {
  auto r = requests_.find(ticket);
  SYNOD_ASSERT(r != requests_.end(), "closing an outstanding request");
  const std::vector<Item>& items = r->second;
  // Pushed to the front in reverse, so they are asked again in their order.
  for (auto i = items.rbegin(); i != items.rend(); ++i) {
    auto a = asked_.find(*i);
    if (a == asked_.end() || a->second != ticket) continue;
    asked_.erase(a);
    todo.push_front(*i);
  }
  requests_.erase(r);
}

template <class Item, class Hash>
void StateSync::Asks<Item, Hash>::retry() {
  while (!requests_.empty()) close_one(std::prev(requests_.end())->first);
  SYNOD_ASSERT(asked_.empty(), "every asked item belongs to an outstanding request");
}

template <class Item, class Hash>
void StateSync::Asks<Item, Hash>::clear() {
  todo.clear();
  asked_.clear();
  requests_.clear();
}

// ---------------------------------------------------------------- receiving

StateSync::StateSync(MerkleStore& store, Seq seq, const Digest& root, std::size_t max_listing_bytes, SyncBugs bugs)
    : store_(store), seq_(seq), root_(root), max_listing_bytes_(max_listing_bytes), bugs_(bugs) {
  want_node(Node{0, 0}, root);
  check_done();
}

bool StateSync::done() const { return done_; }

void StateSync::retarget(Seq seq, const Digest& root) {
  SYNOD_ASSERT(seq > seq_, "a transfer moves on to a newer state only");
  seq_ = seq;
  root_ = root;
  done_ = false;
  for (auto& [b, l] : listings_) carried_.insert_or_assign(b, std::move(l));
  listings_.clear();
  nodes_.clear();
  values_wanted_.clear();
  node_asks_.clear();
  leaf_asks_.clear();
  value_asks_.clear();
  want_node(Node{0, 0}, root);
  check_done();
}

// A node whose certified digest is known: nothing to do if ours is equal; an
// empty certified subtree clears ours; a differing leaf is listed; a
// differing interior node is walked (from its verified children if an
// earlier answer brought them).
void StateSync::want_node(Node n, const Digest& certified) {
  if (store_.node(n) == certified) return;
  if (certified == kZero && bugs_.keep_stale) return;
  if (n.level == MerkleStore::kLevels) {
    if (certified == kZero) {
      store_.install_bucket(n.index, {}, {}, kZero);
      // A listing carried over for this bucket assumed our old entries.
      carried_.erase(n.index);
      ++stats_.leaves;
      // Folded at once (node() folds), so the stored leaf digests match the
      // data at every commit.
      SYNOD_ASSERT(store_.node(n) == kZero, "a cleared bucket is empty");  // folds
      return;
    }
    if (auto carried = carried_.find(n.index); carried != carried_.end()) {
      Listing l = std::move(carried->second);
      carried_.erase(carried);
      if (l.digest == certified) return adopt(n.index, std::move(l));
    }
    Listing& l = listings_[n.index];
    l = Listing{};
    l.digest = certified;
    leaf_asks_.todo.push_back(n.index);
    return;
  }
  if (certified == kZero) {
    // Every non-empty bucket of ours under n goes; no message needed.
    for (std::uint32_t i = 0; i < MerkleStore::kFanout; ++i) want_node(child_of(n, i), kZero);
    return;
  }
  if (auto known = known_.find(certified); known != known_.end()) return expand(n, known->second);
  nodes_[n] = certified;
  node_asks_.todo.push_back(n);
}

// n's children, verified against n's certified digest: each is certified.
void StateSync::expand(Node n, const MerkleStore::Children& children) {
  for (std::uint32_t i = 0; i < MerkleStore::kFanout; ++i) want_node(child_of(n, i), children[i]);
}

// A listing verified (or begun) under an earlier root that certifies the
// same leaf: it goes on from where it was.
void StateSync::adopt(Bucket b, Listing l) {
  Listing& kept = listings_[b] = std::move(l);
  if (!kept.listed) {
    leaf_asks_.todo.push_back(b);  // the next part
    return;
  }
  for (std::size_t i = 0; i < kept.entries.size(); ++i) {
    if (!kept.missing_value(i)) continue;
    values_wanted_[kept.entries[i].key] = b;
    value_asks_.todo.push_back(kept.entries[i].key);
  }
  try_install(b);
}

std::vector<wire::Message> StateSync::next_requests() {
  std::vector<wire::Message> out;
  while (node_asks_.in_flight() < kRequestsInFlight) {
    const std::vector<Node> nodes =
        node_asks_.take(wire::kMaxTreeNodesPerFetch, next_ticket_, [&](const Node& n) { return nodes_.contains(n); });
    if (nodes.empty()) break;
    ++next_ticket_;
    wire::FetchTree m{seq_, {}};
    for (const Node& n : nodes) m.nodes.push_back(wire::TreeNodeRef{n.level, n.index});
    out.emplace_back(std::move(m));
  }
  while (leaf_asks_.in_flight() < kRequestsInFlight) {
    const std::vector<Bucket> buckets = leaf_asks_.take(wire::kMaxLeavesPerFetch, next_ticket_, [&](Bucket b) {
      auto l = listings_.find(b);
      return l != listings_.end() && !l->second.listed;
    });
    if (buckets.empty()) break;
    ++next_ticket_;
    wire::FetchLeaves m{seq_, {}};
    for (Bucket b : buckets)
      m.leaves.push_back(wire::LeafRef{b, static_cast<std::uint32_t>(listings_.at(b).entries.size())});
    out.emplace_back(std::move(m));
  }
  while (value_asks_.in_flight() < kRequestsInFlight) {
    std::vector<Bytes> keys =
        value_asks_.take(wire::kMaxKeysPerFetch, next_ticket_, [&](const Bytes& k) { return values_wanted_.contains(k); });
    if (keys.empty()) break;
    ++next_ticket_;
    out.emplace_back(wire::FetchValues{seq_, std::move(keys)});
  }
  return out;
}

void StateSync::retry() {
  node_asks_.retry();
  leaf_asks_.retry();
  value_asks_.retry();
}

// An answer to request `ticket`: the source answers in order, so what it and
// the requests before it (of every kind) asked and did not get was dropped.
void StateSync::answered_through(std::uint64_t ticket) {
  node_asks_.close_through(ticket);
  leaf_asks_.close_through(ticket);
  value_asks_.close_through(ticket);
}

Outcome StateSync::on_tree_nodes(const wire::TreeNodes& m, bool from_source) {
  const Outcome outcome = take_tree_nodes(m, from_source);
  check_done();
  return outcome;
}

// An answer about an older state than the one walked now (asked before a
// retarget) is checked against the current certified digests like any
// other; what still matches is kept, and what does not is skipped without
// blaming its source (that state was certified too).
Outcome StateSync::take_tree_nodes(const wire::TreeNodes& m, bool from_source) {
  const bool stale = m.seq != seq_;
  std::optional<std::uint64_t> ticket;
  for (const wire::TreeChildren& tc : m.nodes) {
    const Node n{tc.node.level, tc.node.index};
    if (!ticket && from_source && !stale) ticket = node_asks_.ticket_of(n);
    auto wanted = nodes_.find(n);
    if (wanted == nodes_.end()) continue;  // a duplicate, or not asked
    if (tc.children.size() != MerkleStore::kFanout) {
      if (stale) continue;
      return Outcome::bad;
    }
    MerkleStore::Children children;
    std::copy(tc.children.begin(), tc.children.end(), children.begin());
    // Each child digest is certified only if they hash to the certified one.
    if (store_.node_digest(n.level, children) != wanted->second) {
      if (stale) continue;
      return Outcome::bad;
    }
    known_.emplace(wanted->second, children);
    nodes_.erase(wanted);
    node_asks_.answered(n);
    ++stats_.nodes;
    stats_.bytes += 8 + MerkleStore::kFanout * kDigestBytes;
    expand(n, children);
  }
  if (ticket) answered_through(*ticket);
  return Outcome::progress;
}

Outcome StateSync::on_leaf_entries(const wire::LeafEntries& m, bool from_source) {
  const Outcome outcome = take_leaf_entries(m, from_source);
  check_done();
  return outcome;
}

Outcome StateSync::take_leaf_entries(const wire::LeafEntries& m, bool from_source) {
  if (m.seq != seq_) {
    take_stale_listings(m);
    return Outcome::progress;
  }
  std::optional<std::uint64_t> ticket;
  for (const wire::LeafPart& part : m.parts) {
    if (!ticket && from_source) ticket = leaf_asks_.ticket_of(part.bucket);
    auto it = listings_.find(part.bucket);
    if (it == listings_.end() || it->second.listed) continue;
    Listing& l = it->second;
    if (part.from != l.entries.size()) continue;  // an answer to an earlier request
    if (part.from == 0 && l.entries.empty()) l.total = part.total;
    // Sources disagree on the count: one lies, and the parts kept may be its.
    if (part.total != l.total || part.total == 0 || part.entries.size() > part.total - part.from) {
      return relist(part.bucket, l);
    }
    for (const wire::LeafEntry& e : part.entries) {
      const bool ordered = l.entries.empty() || l.entries.back().key < e.key;
      l.bytes += entry_bytes(e);
      if (!ordered || !plausible_key(store_, part.bucket, e.key) || l.bytes > max_listing_bytes_) {
        return relist(part.bucket, l);
      }
      l.entries.push_back(BucketEntry{e.key, e.digest});
      ++stats_.entries;
      stats_.bytes += entry_bytes(e);
    }
    leaf_asks_.answered(part.bucket);
    if (l.entries.size() < l.total) {
      leaf_asks_.todo.push_back(part.bucket);  // the next part
      continue;
    }
    if (store_.leaf_digest(l.entries) != l.digest && !bugs_.skip_leaf_check) return relist(part.bucket, l);
    finish_listing(part.bucket, l);
  }
  if (ticket) answered_through(*ticket);
  return Outcome::progress;
}

// A value of the older state for a listing carried over from it (the walk
// has not reached that bucket under the new root yet): kept with the listing
// if it matches the listed entry, so it counts if the listing is adopted.
void StateSync::keep_for_carried(const wire::KeyValue& kv) {
  if (carried_.empty() || !kv.present || kv.value.size() > kMaxStoreValueBytes) return;
  auto c = carried_.find(store_.bucket_of(kv.key));
  if (c == carried_.end() || !c->second.listed) return;
  Listing& l = c->second;
  const std::optional<std::size_t> i = find_listed(l.entries, kv.key);
  if (!i || !l.missing_value(*i)) return;
  if (store_.entry_digest(kv.key, kv.value) != l.entries[*i].digest) return;
  l.values[*i] = kv.value;
  --l.missing;
  ++stats_.values;
  stats_.value_bytes += value_bytes(kv);
  stats_.bytes += value_bytes(kv);
}

// Listings of an older state: only those whole in one part that hash to
// the leaf digest certified now are taken (parts of different states are
// never mixed).
void StateSync::take_stale_listings(const wire::LeafEntries& m) {
  for (const wire::LeafPart& part : m.parts) {
    auto it = listings_.find(part.bucket);
    if (it == listings_.end() || it->second.listed || !it->second.entries.empty()) continue;
    if (part.from != 0 || part.total == 0 || part.entries.size() != part.total) continue;
    Listing& l = it->second;
    std::vector<BucketEntry> listed;
    listed.reserve(part.entries.size());
    std::size_t bytes = 0;
    bool plausible = true;
    for (const wire::LeafEntry& e : part.entries) {
      bytes += entry_bytes(e);
      plausible = plausible && (listed.empty() || listed.back().key < e.key) &&
                  plausible_key(store_, part.bucket, e.key) && bytes <= max_listing_bytes_;
      if (!plausible) break;
      listed.push_back(BucketEntry{e.key, e.digest});
    }
    if (!plausible || store_.leaf_digest(listed) != l.digest) continue;
    l.total = part.total;
    l.entries = std::move(listed);
    l.bytes = bytes;
    stats_.entries += part.entries.size();
    stats_.bytes += bytes;
    leaf_asks_.answered(part.bucket);
    finish_listing(part.bucket, l);
  }
}

// A listing that fails a check may hold the liar's entries: it starts over,
// from the next source (the caller retries).
Outcome StateSync::relist(Bucket b, Listing& l) {
  const Digest certified = l.digest;
  l = Listing{};
  l.digest = certified;
  leaf_asks_.answered(b);
  leaf_asks_.todo.push_back(b);
  return Outcome::bad;
}

// The listing is verified: ask for the values that differ from ours.
void StateSync::finish_listing(Bucket b, Listing& l) {
  l.listed = true;
  l.wanted.assign(l.entries.size(), false);
  l.values.assign(l.entries.size(), std::nullopt);
  l.missing = 0;
  // Both ascend by key: one merge finds what differs.
  const std::vector<BucketEntry> ours = store_.bucket(b);
  std::size_t j = 0;
  for (std::size_t i = 0; i < l.entries.size(); ++i) {
    const BucketEntry& e = l.entries[i];
    while (j < ours.size() && ours[j].key < e.key) ++j;
    if (j < ours.size() && ours[j].key == e.key && ours[j].digest == e.digest) continue;
    l.wanted[i] = true;
    ++l.missing;
    values_wanted_[e.key] = b;
    value_asks_.todo.push_back(e.key);
  }
  try_install(b);
}

Outcome StateSync::on_values(const wire::Values& m, bool from_source) {
  const Outcome outcome = take_values(m, from_source);
  check_done();
  return outcome;
}

Outcome StateSync::take_values(const wire::Values& m, bool from_source) {
  const bool stale = m.seq != seq_;
  std::optional<std::uint64_t> ticket;
  std::set<Bucket> touched;
  Outcome outcome = Outcome::progress;
  for (const wire::KeyValue& kv : m.values) {
    if (!ticket && from_source && !stale) ticket = value_asks_.ticket_of(kv.key);
    auto wanted = values_wanted_.find(kv.key);
    if (wanted == values_wanted_.end()) {
      if (stale) keep_for_carried(kv);
      continue;
    }
    const Bucket b = wanted->second;
    Listing& l = listings_.at(b);
    const std::optional<std::size_t> i = find_listed(l.entries, kv.key);
    SYNOD_ASSERT(i && l.missing_value(*i), "a wanted value is listed and missing");
    if (!kv.present || kv.value.size() > kMaxStoreValueBytes ||
        store_.entry_digest(kv.key, kv.value) != l.entries[*i].digest) {
      if (stale) continue;
      outcome = Outcome::bad;  // what came before it is verified and kept
      break;
    }
    l.values[*i] = kv.value;
    --l.missing;
    value_asks_.answered(kv.key);
    values_wanted_.erase(wanted);
    ++stats_.values;
    stats_.value_bytes += value_bytes(kv);
    stats_.bytes += value_bytes(kv);
    touched.insert(b);
  }
  for (Bucket b : touched) try_install(b);
  if (ticket && outcome == Outcome::progress) answered_through(*ticket);
  return outcome;
}

void StateSync::try_install(Bucket b) {
  auto it = listings_.find(b);
  SYNOD_ASSERT(it != listings_.end(), "installing a bucket being listed");
  Listing& l = it->second;
  if (!l.listed || l.missing != 0) return;
  if (bugs_.keep_stale) {
    install_keeping_stale(b, l);
  } else {
    // Its leaf digest is the verified listing's. The tree folds it in once
    // per answer (check_done), not bucket by bucket, which would cost a
    // path of node digests per bucket.
    // (The broken variant "unverified-tree-leaves" installs the listing it
    // did not check: its leaf is what that listing hashes to.)
    const Digest leaf = bugs_.skip_leaf_check ? store_.leaf_digest(l.entries) : l.digest;
    store_.install_bucket(b, l.entries, l.values, leaf);
  }
  listings_.erase(it);
  ++stats_.leaves;
}

// The broken variant "stale-subtree": the bucket keeps our keys the
// certified state lacks (its leaf digest is then folded from the data).
void StateSync::install_keeping_stale(Bucket b, const Listing& l) {
  std::vector<std::pair<Bytes, Bytes>> entries;
  for (std::size_t i = 0; i < l.entries.size(); ++i) {
    std::optional<Bytes> value = l.values[i] ? l.values[i] : store_.get(l.entries[i].key);
    SYNOD_ASSERT(value.has_value(), "an entry not fetched is one we hold");
    entries.emplace_back(l.entries[i].key, std::move(*value));
  }
  for (const BucketEntry& own : store_.bucket(b)) {
    auto at = std::lower_bound(entries.begin(), entries.end(), own.key,
                               [](const auto& e, const Bytes& k) { return e.first < k; });
    if (at == entries.end() || at->first != own.key) entries.insert(at, {own.key, *store_.get(own.key)});
  }
  store_.replace_bucket(b, entries);
}

// After every input: the leaves of the buckets installed are folded, so the
// leaf digests the backend stores match its data at every commit (a
// restart rebuilds the tree from them).
void StateSync::check_done() {
  store_.fold_leaves();
  if (done_ || !nodes_.empty() || !listings_.empty()) return;
  SYNOD_ASSERT(values_wanted_.empty(), "values are wanted only for listings under way");
  SYNOD_ASSERT(broken() || store_.root() == root_, "a finished tree walk leaves the certified root");
  done_ = true;
  known_.clear();
  carried_.clear();
}

// ---------------------------------------------------------------- serving

Seq ServedPins::floor(Seq latest, TimeUs now, TimeUs linger, std::size_t pinned_bytes,
                      std::size_t max_pinned_bytes) {
  if (pinned_bytes > max_pinned_bytes) last_served_.clear();
  std::erase_if(last_served_, [&](const auto& kv) { return kv.first >= latest || kv.second + linger < now; });
  return last_served_.empty() ? latest : std::min(latest, last_served_.begin()->first);
}

wire::TreeNodes serve_tree(const MerkleStore& store, const wire::FetchTree& m) {
  wire::TreeNodes out{m.seq, {}};
  if (!store.pinned(m.seq)) return out;
  for (const wire::TreeNodeRef& ref : m.nodes) {
    if (out.nodes.size() == wire::kMaxTreeNodesPerFetch) break;
    const Node n{ref.level, ref.index};
    if (!MerkleStore::valid(n) || n.level == MerkleStore::kLevels) continue;
    auto children = store.children_at(m.seq, n);
    if (!children) continue;
    out.nodes.push_back(wire::TreeChildren{ref, std::vector<Digest>(children->begin(), children->end())});
  }
  return out;
}

wire::LeafEntries serve_leaves(const MerkleStore& store, const wire::FetchLeaves& m, std::size_t budget_bytes) {
  wire::LeafEntries out{m.seq, {}};
  if (!store.pinned(m.seq)) return out;
  std::size_t bytes = 0;
  for (const wire::LeafRef& ref : m.leaves) {
    if (ref.bucket >= MerkleStore::kBuckets) continue;
    auto entries = store.bucket_at(m.seq, ref.bucket);
    if (!entries || ref.from >= entries->size()) continue;
    wire::LeafPart part{ref.bucket, ref.from, static_cast<std::uint32_t>(entries->size()), {}};
    for (std::size_t i = ref.from; i < entries->size() && part.entries.size() < wire::kMaxLeafEntriesPerPart; ++i) {
      wire::LeafEntry e{std::move((*entries)[i].key), (*entries)[i].digest};
      const std::size_t size = entry_bytes(e);
      if (bytes > 0 && bytes + size > budget_bytes) break;  // at least one entry always goes
      bytes += size;
      part.entries.push_back(std::move(e));
    }
    if (part.entries.empty()) break;
    out.parts.push_back(std::move(part));
    if (bytes >= budget_bytes) break;
  }
  return out;
}

wire::Values serve_values(const MerkleStore& store, const wire::FetchValues& m, std::size_t budget_bytes) {
  wire::Values out{m.seq, {}};
  if (!store.pinned(m.seq)) return out;
  std::size_t bytes = 0;
  for (const Bytes& key : m.keys) {
    auto value = store.value_at(m.seq, key);
    if (!value) break;
    wire::KeyValue kv{key, value->has_value(), value->value_or(Bytes{})};
    const std::size_t size = value_bytes(kv);
    if (bytes > 0 && bytes + size > budget_bytes) break;
    bytes += size;
    out.values.push_back(std::move(kv));
  }
  return out;
}

}  // namespace synod::transfer
