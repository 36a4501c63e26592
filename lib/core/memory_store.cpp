// core/store_backend.hpp: MemoryStore, the in-memory backend with explicit
// commit/crash. Durable tables plus an overlay of the writes since the last
// commit, so commit() costs O(writes), never O(state).
#include <algorithm>
#include <cstring>
#include <limits>

#include "core/store_backend.hpp"
#include "synod/assert.hpp"

namespace synod {

namespace {

// Visits the union of a base range and an overlay range, both ascending by
// key, in key order until visit returns false. An overlay entry replaces the
// base entry with the same key; an empty overlay value (an erase) hides it.
template <class BaseIt, class OverIt, class Less, class Visit>
void merge_ranges(BaseIt base, BaseIt base_end, OverIt over, OverIt over_end, Less less, Visit&& visit) {
  while (base != base_end || over != over_end) {
    const bool base_first = over == over_end || (base != base_end && less(base->first, over->first));
    if (base_first) {
      if (!visit(base->first, base->second)) return;
      ++base;
      continue;
    }
    if (base != base_end && !less(over->first, base->first)) ++base;  // same key: the overlay wins
    if (over->second && !visit(over->first, *over->second)) return;
    ++over;
  }
}

// Applies an overlay to a table: puts and erases, in O(overlay).
template <class Table, class Overlay>
void fold_into(Table& table, Overlay& overlay) {
  for (auto& [key, value] : overlay) {
    if (value)
      table.insert_or_assign(key, std::move(*value));
    else
      table.erase(key);
  }
  overlay.clear();
}

}  // namespace

// memcmp order. (Not std::vector's operator<=>: GCC 12 misreads its memcmp
// bound under -O2 and fails -Werror=stringop-overread.)
bool MemoryStore::BytesLess::operator()(ByteView a, ByteView b) const {
  const std::size_t n = std::min(a.size(), b.size());
  if (n != 0)
    if (const int c = std::memcmp(a.data(), b.data(), n); c != 0) return c < 0;
  return a.size() < b.size();
}

bool MemoryStore::IndexLess::operator()(const IndexKey& a, const IndexKey& b) const {
  if (a.first != b.first) return a.first < b.first;
  return BytesLess{}(as_view(a.second), as_view(b.second));
}

std::optional<Bytes> MemoryStore::get(ByteView key) const {
  if (auto it = pending_.data.find(key); it != pending_.data.end()) return it->second;
  if (auto it = durable_.data.find(key); it != durable_.data.end()) return it->second;
  return std::nullopt;
}

void MemoryStore::scan(ByteView from, ByteView to, const std::function<bool(ByteView, ByteView)>& visit) const {
  const auto range = [&](const auto& table) {
    auto end = to.empty() ? table.end() : table.lower_bound(to);
    return std::pair(table.lower_bound(from), end);
  };
  if (!to.empty() && !BytesLess{}(from, to)) return;  // an empty range
  const auto [base, base_end] = range(durable_.data);
  const auto [over, over_end] = range(pending_.data);
  merge_ranges(base, base_end, over, over_end, BytesLess{},
               [&](const Bytes& key, const Bytes& value) { return visit(as_view(key), as_view(value)); });
}

std::vector<BucketEntry> MemoryStore::bucket(Bucket b) const {
  // The index is ordered by (bucket, key): bucket b is [(b, ""), (b + 1, "")).
  const auto range = [&](const auto& table) {
    auto end = b == std::numeric_limits<Bucket>::max() ? table.end() : table.lower_bound(IndexKey{b + 1, {}});
    return std::pair(table.lower_bound(IndexKey{b, {}}), end);
  };
  const auto [base, base_end] = range(durable_.index);
  const auto [over, over_end] = range(pending_.index);
  std::vector<BucketEntry> out;
  merge_ranges(base, base_end, over, over_end, IndexLess{}, [&](const IndexKey& key, const Digest& digest) {
    out.push_back(BucketEntry{key.second, digest});
    return true;
  });
  return out;
}

void MemoryStore::leaves(const std::function<void(Bucket, const Digest&)>& visit) const {
  merge_ranges(durable_.leaves.begin(), durable_.leaves.end(), pending_.leaves.begin(), pending_.leaves.end(),
               std::less<Bucket>{}, [&](Bucket b, const Digest& digest) {
                 visit(b, digest);
                 return true;
               });
}

void MemoryStore::put(Bucket b, ByteView key, ByteView value, const Digest& entry_digest) {
  if (!get(key)) ++live_keys_;
  pending_.data.insert_or_assign(Bytes(key.begin(), key.end()), Bytes(value.begin(), value.end()));
  pending_.index.insert_or_assign(IndexKey{b, Bytes(key.begin(), key.end())}, entry_digest);
}

void MemoryStore::erase(Bucket b, ByteView key) {
  if (get(key)) {
    SYNOD_ASSERT(live_keys_ > 0, "a live key is counted");
    --live_keys_;
  }
  pending_.data.insert_or_assign(Bytes(key.begin(), key.end()), std::nullopt);
  pending_.index.insert_or_assign(IndexKey{b, Bytes(key.begin(), key.end())}, std::nullopt);
}

void MemoryStore::set_leaf(Bucket b, const Digest& digest) {
  const bool empty = digest == Digest{};  // the zero digest: no leaf stored
  pending_.leaves.insert_or_assign(b, empty ? std::nullopt : std::optional<Digest>(digest));
}

void MemoryStore::commit() {
  fold_into(durable_.data, pending_.data);
  fold_into(durable_.index, pending_.index);
  fold_into(durable_.leaves, pending_.leaves);
  SYNOD_ASSERT(live_keys_ == durable_.data.size(), "after a commit the live view is the durable one");
}

void MemoryStore::crash() {
  pending_ = Overlay{};
  live_keys_ = durable_.data.size();
}

std::size_t MemoryStore::size() const { return live_keys_; }

}  // namespace synod
