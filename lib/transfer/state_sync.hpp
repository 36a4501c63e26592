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
//      receiver's own bucket (MerkleStore::replace_bucket).
// Whatever fails a check is the source's fault (Outcome::bad): the caller
// asks another source, and the sync goes on from where it was, since
// everything kept so far was verified. The sync is done when nothing is
// left to fetch; the receiver's root is then the certified one (checked).
//
// Memory: at most kBuckets pending leaves, kMaxValuesInFlight values, and
// one listing per pending bucket; a listing is bounded by max_listing_bytes.
//
// Pure and deterministic: no I/O, no clock. Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "core/merkle_store.hpp"
#include "wire/messages.hpp"

namespace synod::transfer {

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
  // Everything asked and not answered is wanted again (a lost request, or
  // a new source).
  void retry();

  Outcome on_tree_nodes(const wire::TreeNodes& m);
  Outcome on_leaf_entries(const wire::LeafEntries& m);
  Outcome on_values(const wire::Values& m);

  const SyncStats& stats() const { return stats_; }
  // A broken variant runs: the certified root is not guaranteed at the end.
  bool broken() const { return bugs_.skip_leaf_check || bugs_.keep_stale; }

 private:
  struct Listing {
    Digest digest{};                        // the certified leaf digest
    std::uint32_t total = 0;                // from the first part
    std::vector<wire::LeafEntry> entries;   // the first entries.size() of them
    std::size_t bytes = 0;
    // Values still wanted (listed entries that differ from ours), by key.
    std::set<Bytes> missing;
    std::map<Bytes, Bytes> values;  // those received, verified
    bool listed = false;            // all `total` entries in and verified
  };

  void want_node(MerkleStore::Node n, const Digest& certified);
  Outcome relist(Bucket b, Listing& l);
  void finish_listing(Bucket b, Listing& l);
  void try_install(Bucket b);
  void check_done();

  MerkleStore& store_;
  const Seq seq_;
  const Digest root_;
  const std::size_t max_listing_bytes_;
  const SyncBugs bugs_;

  // Interior nodes whose children are wanted, with their certified digests.
  std::map<MerkleStore::Node, Digest> nodes_;
  std::deque<MerkleStore::Node> nodes_todo_;
  std::set<MerkleStore::Node> nodes_asked_;
  // Buckets being listed or filled.
  std::map<Bucket, Listing> listings_;
  std::deque<Bucket> leaves_todo_;
  std::set<Bucket> leaves_asked_;
  // Values wanted: key -> its bucket.
  std::map<Bytes, Bucket> values_wanted_;
  std::deque<Bytes> values_todo_;
  std::set<Bytes> values_asked_;
  // Requests outstanding, per kind (bounded by kRequestsInFlight).
  std::size_t tree_in_flight_ = 0;
  std::size_t leaves_in_flight_ = 0;
  std::size_t values_in_flight_ = 0;
  bool done_ = false;
  SyncStats stats_;
};

// The serving side: answers from the state pinned at m.seq (nothing if it
// is not pinned), within budget_bytes of payload (at least one item).
wire::TreeNodes serve_tree(const MerkleStore& store, const wire::FetchTree& m);
wire::LeafEntries serve_leaves(const MerkleStore& store, const wire::FetchLeaves& m, std::size_t budget_bytes);
wire::Values serve_values(const MerkleStore& store, const wire::FetchValues& m, std::size_t budget_bytes);

}  // namespace synod::transfer
