// State transfer by tree walk: the receiving and the serving side.
// docs/PROTOCOL.md, "State transfer by tree walk".
#include "transfer/state_sync.hpp"

#include <algorithm>

#include "synod/assert.hpp"

namespace synod::transfer {

namespace {

using Node = MerkleStore::Node;

constexpr Digest kZero{};

// Payload bytes of one listed entry and one value on the wire (roughly:
// the length prefixes are not counted).
std::size_t entry_bytes(const wire::LeafEntry& e) { return e.key.size() + kDigestBytes; }
std::size_t value_bytes(const wire::KeyValue& v) { return v.key.size() + v.value.size() + 1; }

Node child_of(Node n, std::uint32_t i) {
  return Node{static_cast<std::uint8_t>(n.level + 1), n.index * MerkleStore::kFanout + i};
}

// A key a correct source may list in bucket b.
bool plausible_key(const MerkleStore& store, Bucket b, const Bytes& key) {
  return !key.empty() && key.size() <= 1 + kMaxStoreKeyBytes && store.bucket_of(key) == b;
}

}  // namespace

StateSync::StateSync(MerkleStore& store, Seq seq, const Digest& root, std::size_t max_listing_bytes, SyncBugs bugs)
    : store_(store), seq_(seq), root_(root), max_listing_bytes_(max_listing_bytes), bugs_(bugs) {
  want_node(Node{0, 0}, root);
  check_done();
}

bool StateSync::done() const { return done_; }

// A node whose certified digest is known: nothing to do if ours is equal; an
// empty certified subtree clears ours; a differing leaf is listed; a
// differing interior node is walked.
void StateSync::want_node(Node n, const Digest& certified) {
  if (store_.node(n) == certified) return;
  if (certified == kZero && bugs_.keep_stale) return;
  if (n.level == MerkleStore::kLevels) {
    if (certified == kZero) {
      store_.replace_bucket(n.index, {});
      ++stats_.leaves;
      // Folded at once (node() folds), so the stored leaf digests match the
      // data at every commit.
      SYNOD_ASSERT(store_.node(n) == kZero, "a cleared bucket is empty");  // folds
      return;
    }
    Listing& l = listings_[n.index];
    l = Listing{};
    l.digest = certified;
    leaves_todo_.push_back(n.index);
    return;
  }
  if (certified == kZero) {
    // Every non-empty bucket of ours under n goes; no message needed.
    for (std::uint32_t i = 0; i < MerkleStore::kFanout; ++i) want_node(child_of(n, i), kZero);
    return;
  }
  nodes_[n] = certified;
  nodes_todo_.push_back(n);
}

std::vector<wire::Message> StateSync::next_requests() {
  std::vector<wire::Message> out;
  while (tree_in_flight_ < kRequestsInFlight && !nodes_todo_.empty()) {
    wire::FetchTree m{seq_, {}};
    while (!nodes_todo_.empty() && m.nodes.size() < wire::kMaxTreeNodesPerFetch) {
      const Node n = nodes_todo_.front();
      nodes_todo_.pop_front();
      if (!nodes_.contains(n) || !nodes_asked_.insert(n).second) continue;
      m.nodes.push_back(wire::TreeNodeRef{n.level, n.index});
    }
    if (m.nodes.empty()) break;
    ++tree_in_flight_;
    out.emplace_back(std::move(m));
  }
  while (leaves_in_flight_ < kRequestsInFlight && !leaves_todo_.empty()) {
    wire::FetchLeaves m{seq_, {}};
    while (!leaves_todo_.empty() && m.leaves.size() < wire::kMaxLeavesPerFetch) {
      const Bucket b = leaves_todo_.front();
      leaves_todo_.pop_front();
      auto l = listings_.find(b);
      if (l == listings_.end() || l->second.listed || !leaves_asked_.insert(b).second) continue;
      m.leaves.push_back(wire::LeafRef{b, static_cast<std::uint32_t>(l->second.entries.size())});
    }
    if (m.leaves.empty()) break;
    ++leaves_in_flight_;
    out.emplace_back(std::move(m));
  }
  while (values_in_flight_ < kRequestsInFlight && !values_todo_.empty()) {
    wire::FetchValues m{seq_, {}};
    while (!values_todo_.empty() && m.keys.size() < wire::kMaxKeysPerFetch) {
      Bytes key = std::move(values_todo_.front());
      values_todo_.pop_front();
      if (!values_wanted_.contains(key) || !values_asked_.insert(key).second) continue;
      m.keys.push_back(std::move(key));
    }
    if (m.keys.empty()) break;
    ++values_in_flight_;
    out.emplace_back(std::move(m));
  }
  return out;
}

void StateSync::retry() {
  for (const Node& n : nodes_asked_) nodes_todo_.push_back(n);
  for (Bucket b : leaves_asked_) leaves_todo_.push_back(b);
  for (const Bytes& k : values_asked_) values_todo_.push_back(k);
  nodes_asked_.clear();
  leaves_asked_.clear();
  values_asked_.clear();
  tree_in_flight_ = leaves_in_flight_ = values_in_flight_ = 0;
}

Outcome StateSync::on_tree_nodes(const wire::TreeNodes& m) {
  if (m.seq != seq_) return Outcome::progress;  // an answer for another transfer
  tree_in_flight_ -= std::min<std::size_t>(tree_in_flight_, 1);
  for (const wire::TreeChildren& tc : m.nodes) {
    const Node n{tc.node.level, tc.node.index};
    auto wanted = nodes_.find(n);
    if (wanted == nodes_.end()) continue;  // a duplicate, or not asked
    if (tc.children.size() != MerkleStore::kFanout) return Outcome::bad;
    MerkleStore::Children children;
    std::copy(tc.children.begin(), tc.children.end(), children.begin());
    // Each child digest is certified only if they hash to the certified one.
    if (store_.node_digest(n.level, children) != wanted->second) return Outcome::bad;
    nodes_.erase(wanted);
    nodes_asked_.erase(n);
    ++stats_.nodes;
    stats_.bytes += 8 + MerkleStore::kFanout * kDigestBytes;
    for (std::uint32_t i = 0; i < MerkleStore::kFanout; ++i) want_node(child_of(n, i), children[i]);
  }
  // Every request answered: what was asked and not answered is wanted again.
  if (tree_in_flight_ == 0) {
    for (const Node& n : nodes_asked_) nodes_todo_.push_back(n);
    nodes_asked_.clear();
  }
  check_done();
  return Outcome::progress;
}

Outcome StateSync::on_leaf_entries(const wire::LeafEntries& m) {
  if (m.seq != seq_) return Outcome::progress;
  leaves_in_flight_ -= std::min<std::size_t>(leaves_in_flight_, 1);
  for (const wire::LeafPart& part : m.parts) {
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
      l.entries.push_back(e);
      ++stats_.entries;
      stats_.bytes += entry_bytes(e);
    }
    leaves_asked_.erase(part.bucket);
    if (l.entries.size() < l.total) {
      leaves_todo_.push_back(part.bucket);  // the next part
      continue;
    }
    std::vector<BucketEntry> listed;
    listed.reserve(l.entries.size());
    for (const wire::LeafEntry& e : l.entries) listed.push_back(BucketEntry{e.key, e.digest});
    if (store_.leaf_digest(listed) != l.digest && !bugs_.skip_leaf_check) return relist(part.bucket, l);
    finish_listing(part.bucket, l);
  }
  if (leaves_in_flight_ == 0) {
    for (Bucket b : leaves_asked_) leaves_todo_.push_back(b);
    leaves_asked_.clear();
  }
  check_done();
  return Outcome::progress;
}

// A listing that fails a check may hold the liar's entries: it starts over,
// from the next source.
Outcome StateSync::relist(Bucket b, Listing& l) {
  const Digest certified = l.digest;
  l = Listing{};
  l.digest = certified;
  leaves_asked_.erase(b);
  leaves_todo_.push_back(b);
  return Outcome::bad;
}

// The listing is verified: ask for the values that differ from ours.
void StateSync::finish_listing(Bucket b, Listing& l) {
  l.listed = true;
  std::map<Bytes, Digest> ours;
  for (BucketEntry& e : store_.bucket(b)) ours.emplace(std::move(e.key), e.digest);
  for (const wire::LeafEntry& e : l.entries) {
    auto own = ours.find(e.key);
    if (own != ours.end() && own->second == e.digest) continue;
    l.missing.insert(e.key);
    values_wanted_[e.key] = b;
    values_todo_.push_back(e.key);
  }
  try_install(b);
}

Outcome StateSync::on_values(const wire::Values& m) {
  if (m.seq != seq_) return Outcome::progress;
  values_in_flight_ -= std::min<std::size_t>(values_in_flight_, 1);
  std::set<Bucket> touched;
  Outcome outcome = Outcome::progress;
  for (const wire::KeyValue& kv : m.values) {
    auto wanted = values_wanted_.find(kv.key);
    if (wanted == values_wanted_.end()) continue;
    const Bucket b = wanted->second;
    Listing& l = listings_.at(b);
    auto listed = std::lower_bound(l.entries.begin(), l.entries.end(), kv.key,
                                   [](const wire::LeafEntry& e, const Bytes& k) { return e.key < k; });
    SYNOD_ASSERT(listed != l.entries.end() && listed->key == kv.key, "a wanted value is listed");
    if (!kv.present || kv.value.size() > kMaxStoreValueBytes ||
        store_.entry_digest(kv.key, kv.value) != listed->digest) {
      outcome = Outcome::bad;  // what came before it is verified and kept
      break;
    }
    l.values.emplace(kv.key, kv.value);
    l.missing.erase(kv.key);
    values_asked_.erase(kv.key);
    values_wanted_.erase(wanted);
    ++stats_.values;
    stats_.value_bytes += value_bytes(kv);
    stats_.bytes += value_bytes(kv);
    touched.insert(b);
  }
  for (Bucket b : touched) try_install(b);
  if (values_in_flight_ == 0) {
    for (const Bytes& k : values_asked_) values_todo_.push_back(k);
    values_asked_.clear();
  }
  check_done();
  return outcome;
}

void StateSync::try_install(Bucket b) {
  auto it = listings_.find(b);
  SYNOD_ASSERT(it != listings_.end(), "installing a bucket being listed");
  Listing& l = it->second;
  if (!l.listed || !l.missing.empty()) return;
  std::vector<std::pair<Bytes, Bytes>> entries;
  entries.reserve(l.entries.size());
  for (const wire::LeafEntry& e : l.entries) {
    auto fetched = l.values.find(e.key);
    if (fetched != l.values.end()) {
      entries.emplace_back(e.key, std::move(fetched->second));
      continue;
    }
    std::optional<Bytes> own = store_.get(e.key);
    SYNOD_ASSERT(own.has_value(), "an entry not fetched is one we hold with the same digest");
    entries.emplace_back(e.key, std::move(*own));
  }
  if (bugs_.keep_stale) {
    for (const BucketEntry& own : store_.bucket(b)) {
      auto at = std::lower_bound(entries.begin(), entries.end(), own.key,
                                 [](const auto& e, const Bytes& k) { return e.first < k; });
      if (at == entries.end() || at->first != own.key) entries.insert(at, {own.key, *store_.get(own.key)});
    }
  }
  store_.replace_bucket(b, entries);
  SYNOD_ASSERT(broken() || store_.node(MerkleStore::Node{MerkleStore::kLevels, b}) == l.digest,
               "an installed bucket has its certified digest");
  listings_.erase(it);
  ++stats_.leaves;
}

void StateSync::check_done() {
  if (done_ || !nodes_.empty() || !listings_.empty()) return;
  SYNOD_ASSERT(values_wanted_.empty(), "values are wanted only for listings under way");
  SYNOD_ASSERT(broken() || store_.root() == root_, "a finished tree walk leaves the certified root");
  done_ = true;
}

// ---------------------------------------------------------------- serving

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
