// transfer/state_sync.hpp — state transfer of only what differs, for a
// store-backed replica (core/merkle_store.hpp). docs/PROTOCOL.md, "State
// transfer by tree walk".
//
// The receiver knows a certified root (2f+1 signed checkpoints in pbft, the
// leader's word in paxos) and walks the tree from it:
//   1. FETCH-TREE asks for the children of a node whose certified digest
//      differs from its own; the answer must hash to that digest
//      (node_digest), so every child digest is certified in turn;
//   2. a differing child above the leaves is walked the same way; a
//      differing leaf is listed with FETCH-LEAVES: its (key, entry digest)
//      pairs, in parts, must hash to the leaf's certified digest;
//   3. the values of listed entries that differ from its own are fetched
//      with FETCH-VALUES, each checked against its entry digest;
//   4. a bucket whose listing and values are complete replaces the
//      receiver's own bucket (MerkleStore::install_bucket).
// Whatever fails a check is the source's fault (Outcome::bad): the caller
// asks another source, and the sync goes on from where it was, since
// everything kept so far was verified. The sync is done when nothing is
// left to fetch; the receiver's root is then the certified one (checked).
//
// Flow control: at most kRequestsInFlight requests per kind are
// outstanding, all to one source, which answers them in order (one ordered
// channel). An answer from the source is matched to the request that asked
// its first item; whatever that request asked and the answer left out (a
// source cuts answers at its byte budget) is wanted again at once, and so is
// what every earlier request, of any kind, asked and never got (the source
// dropped it: over its limit, or the state is no longer pinned there).
// While answers come, nothing outstanding is asked twice: it is queued
// behind them. When a whole timer period brings nothing new, the caller asks
// everything again (retry), of another source.
//
// Moving on: retarget() moves the walk to a newer certified root (the
// caller does so when its target is no longer served) and keeps
// what was verified under the old one that the new one still certifies: the
// children of interior nodes by digest (a node digest binds its children),
// and listings and fetched values of a bucket whose leaf digest is the same.
// Answers about the old state that arrive after the move are checked
// against the new certified digests too: what matches is kept, the rest is
// skipped without blame. So a transfer that the cluster's progress overtakes
// fetches again only what changed meanwhile.
//
// Memory: at most kBuckets pending leaves, one listing per pending bucket
// (bounded by max_listing_bytes), the values of pending listings, and the
// verified interior nodes (at most 69,905 x 16 digests).
//
// Pure and deterministic: no I/O, no clock. Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/merkle_store.hpp"
#include "wire/messages.hpp"

namespace synod::transfer {

namespace detail {
// Hashes for the walk's bookkeeping (hash tables: a transfer of a million
// keys looks each up several times).
struct BytesHash {
  std::size_t operator()(const Bytes& b) const {
    return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
  }
};
struct DigestHash {  // digests are uniform: their first bytes will do
  std::size_t operator()(const Digest& d) const {
    std::size_t h;
    std::memcpy(&h, d.data(), sizeof h);
    return h;
  }
};
struct NodeHash {
  std::size_t operator()(const MerkleStore::Node& n) const { return (std::size_t{n.level} << 32) | n.index; }
};
}  // namespace detail

enum class Outcome : std::uint8_t {
  progress,  // verified and kept (maybe nothing new: a duplicate)
  bad,       // failed a check against the certified digests: ask elsewhere
};

struct SyncStats {
  std::uint64_t nodes = 0;         // interior nodes whose children arrived
  std::uint64_t leaves = 0;        // buckets replaced
  std::uint64_t entries = 0;       // listed entries received
  std::uint64_t values = 0;        // values received
  std::uint64_t value_bytes = 0;   // their key and value bytes
  std::uint64_t bytes = 0;         // everything received (approximate wire payload)
};

// Deliberately broken variants, for the simulator's proof that its checkers
// catch them. Never set outside tests.
struct SyncBugs {
  bool skip_leaf_check = false;  // a listing is not verified against its leaf's certified digest
  bool keep_stale = false;       // keys the certified state lacks stay in the store
};

class StateSync {
 public:
  // Messages asked for at once, at most, per kind (the pipeline).
  static constexpr std::size_t kRequestsInFlight = 4;

  StateSync(MerkleStore& store, Seq seq, const Digest& root, std::size_t max_listing_bytes, SyncBugs bugs = {});

  Seq seq() const { return seq_; }
  const Digest& root() const { return root_; }
  // Nothing left to fetch: the store's root is the certified one.
  bool done() const;

  // The requests to send next (to the current source): what is wanted and
  // not yet asked, within the pipeline bound.
  std::vector<wire::Message> next_requests();
  // Everything asked and not answered is wanted again (a new source).
  void retry();
  // Walks toward a newer certified state (seq > this one's) from here,
  // keeping what the new root still certifies (see above).
  void retarget(Seq seq, const Digest& root);

  // An answer, from the current source or not (what it brings is checked
  // and kept either way; only the source's answers close requests).
  Outcome on_tree_nodes(const wire::TreeNodes& m, bool from_source = true);
  Outcome on_leaf_entries(const wire::LeafEntries& m, bool from_source = true);
  Outcome on_values(const wire::Values& m, bool from_source = true);

  const SyncStats& stats() const { return stats_; }
  // A broken variant runs: the certified root is not guaranteed at the end.
  bool broken() const { return bugs_.skip_leaf_check || bugs_.keep_stale; }

 private:
  // The outstanding requests of one kind: which request asked each item, so
  // an answer closes its own request (tickets in ask order).
  template <class Item, class Hash>
  class Asks {
   public:
    std::deque<Item> todo;  // wanted, not asked (stale items are skipped on take)

    // The next request, under `ticket`: up to `max` items of todo that are
    // still wanted and not asked already. Empty: nothing to ask.
    template <class Wanted>
    std::vector<Item> take(std::size_t max, std::uint64_t ticket, const Wanted& wanted);
    std::size_t in_flight() const { return requests_.size(); }
    // The outstanding request that asked i.
    std::optional<std::uint64_t> ticket_of(const Item& i) const;
    // i arrived and was kept: asked no more.
    void answered(const Item& i) { asked_.erase(i); }
    // Request `ticket` (or a later one) is answered, and the source answers
    // in order: what the requests up to it asked and did not get is wanted
    // again, first.
    void close_through(std::uint64_t ticket);
    void retry();
    void clear();

   private:
    void close_one(std::uint64_t ticket);

    std::unordered_map<Item, std::uint64_t, Hash> asked_;
    std::map<std::uint64_t, std::vector<Item>> requests_;  // by ticket: the items asked
  };

  struct Listing {
    Digest digest{};                    // the certified leaf digest
    std::uint32_t total = 0;            // from the first part
    std::vector<BucketEntry> entries;   // the first entries.size() of them
    std::size_t bytes = 0;
    bool listed = false;                // all `total` entries in and verified
    // Once listed, per entry: whether its value is wanted (it differs from
    // ours), and the value once received and verified.
    std::vector<bool> wanted;
    std::vector<std::optional<Bytes>> values;
    std::size_t missing = 0;            // wanted, not received
    bool missing_value(std::size_t i) const { return wanted[i] && !values[i]; }
  };

  Outcome take_tree_nodes(const wire::TreeNodes& m, bool from_source);
  Outcome take_leaf_entries(const wire::LeafEntries& m, bool from_source);
  Outcome take_values(const wire::Values& m, bool from_source);
  void take_stale_listings(const wire::LeafEntries& m);
  void answered_through(std::uint64_t ticket);
  void keep_for_carried(const wire::KeyValue& kv);
  void want_node(MerkleStore::Node n, const Digest& certified);
  void expand(MerkleStore::Node n, const MerkleStore::Children& children);
  void adopt(Bucket b, Listing l);
  Outcome relist(Bucket b, Listing& l);
  void finish_listing(Bucket b, Listing& l);
  void try_install(Bucket b);
  void install_keeping_stale(Bucket b, const Listing& l);
  void check_done();

  MerkleStore& store_;
  Seq seq_;
  Digest root_;
  const std::size_t max_listing_bytes_;
  const SyncBugs bugs_;

  // Interior nodes whose children are wanted, with their certified digests.
  std::unordered_map<MerkleStore::Node, Digest, detail::NodeHash> nodes_;
  Asks<MerkleStore::Node, detail::NodeHash> node_asks_;
  // Verified children by node digest (kept across retarget()).
  std::unordered_map<Digest, MerkleStore::Children, detail::DigestHash> known_;
  // Buckets being listed or filled.
  std::unordered_map<Bucket, Listing> listings_;
  Asks<Bucket, std::hash<Bucket>> leaf_asks_;
  // Listings of an earlier root, adopted if the new one certifies the same leaf.
  std::unordered_map<Bucket, Listing> carried_;
  // Values wanted: key -> its bucket.
  std::unordered_map<Bytes, Bucket, detail::BytesHash> values_wanted_;
  Asks<Bytes, detail::BytesHash> value_asks_;
  bool done_ = false;
  std::uint64_t next_ticket_ = 0;  // shared by the kinds: the order of asking
  SyncStats stats_;
};

// The serving side keeps a pin that a peer is still fetching from for a
// while after its own state moved on (linger), so that peer's walk need not
// move to a newer root (each move costs it a walk of what it has pending).
// Bounded: nothing lingers once the pins hold more than max_pinned_bytes of
// copy-on-write data, so a peer that keeps asking cannot grow our memory
// without bound.
class ServedPins {
 public:
  // What both protocols allow lingering pins to hold.
  static constexpr std::size_t kMaxLingeringBytes = 64u << 20;

  void served(Seq seq, TimeUs now) { last_served_[seq] = now; }
  // The lowest seq to keep pinned, given that `latest` (the newest pin) is
  // kept anyway.
  Seq floor(Seq latest, TimeUs now, TimeUs linger, std::size_t pinned_bytes,
            std::size_t max_pinned_bytes = kMaxLingeringBytes);

 private:
  std::map<Seq, TimeUs> last_served_;
};

// The serving side: answers from the state pinned at m.seq (nothing if it
// is not pinned), within budget_bytes of payload (at least one item).
wire::TreeNodes serve_tree(const MerkleStore& store, const wire::FetchTree& m);
wire::LeafEntries serve_leaves(const MerkleStore& store, const wire::FetchLeaves& m, std::size_t budget_bytes);
wire::Values serve_values(const MerkleStore& store, const wire::FetchValues& m, std::size_t budget_bytes);

}  // namespace synod::transfer
