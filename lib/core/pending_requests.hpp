// core/pending_requests.hpp — the requests a replica holds until they
// execute, shared by the PBFT and Multi-Paxos cores.
//
// Bounded per client (max_pending_per_client), indexed by (client, t), and
// drawn into batches fairly: next_batch() takes one request per client per
// round, starting after the client that led the previous batch, so a client
// that keeps its quota full gets one slot per round like everybody else
// instead of whole batches (PROTOCOL.md, "fair treatment of clients";
// Aardvark). Within a client, requests are proposed in request-number order.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "synod/assert.hpp"
#include "synod/replica.hpp"
#include "synod/types.hpp"

namespace synod {

template <class Request>
class PendingRequests {
 public:
  using Key = std::pair<ClientId, RequestNo>;

  struct Entry {
    Request request;
    std::size_t bytes = 0;          // the operation's size, for batch_max_bytes
    TimeUs received_us = 0;
    TimeUs forwarded_us = 0;        // pbft backups: last forward to the primary
    bool proposed = false;          // in a batch of the current view/leadership
    std::uint64_t arrival = 0;      // order of arrival at this replica
  };

  enum class Admit { added, duplicate, over_limit };

  explicit PendingRequests(std::uint32_t max_per_client) : max_per_client_(max_per_client) {}

  Admit add(ClientId client, RequestNo t, Request request, std::size_t bytes, TimeUs now) {
    const Key key{client, t};
    if (entries_.contains(key)) return Admit::duplicate;
    std::uint32_t& count = per_client_[client];
    if (count >= max_per_client_) {
      if (count == 0) per_client_.erase(client);
      return Admit::over_limit;
    }
    ++count;
    const std::uint64_t arrival = next_arrival_++;
    entries_.emplace(key, Entry{std::move(request), bytes, now, now, false, arrival});
    by_arrival_.emplace(arrival, key);
    SYNOD_ASSERT(count <= max_per_client_, "pending requests are bounded per client");
    return Admit::added;
  }

  Entry* find(const Key& key) {
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second;
  }
  const Entry* find(const Key& key) const {
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second;
  }
  Entry& at(const Key& key) { return entries_.at(key); }

  // The request that arrived first among those still held.
  const Key* oldest() const { return by_arrival_.empty() ? nullptr : &by_arrival_.begin()->second; }

  // The first request of another client that arrived after the held
  // request `key`, or, if none did, the first of another client from the
  // oldest on; nullptr when only key's client has requests held. Repeated
  // calls walk forward through the arrival order, so they reach every
  // client's requests before coming back to any.
  const Key* next_of_another_client(const Key& key) const {
    const auto held = entries_.find(key);
    SYNOD_ASSERT(held != entries_.end(), "next_of_another_client starts from a held request");
    const std::uint64_t from = held->second.arrival;
    for (auto it = by_arrival_.upper_bound(from); it != by_arrival_.end(); ++it) {
      if (it->second.first != key.first) return &it->second;
    }
    for (auto it = by_arrival_.begin(); it != by_arrival_.end() && it->first < from; ++it) {
      if (it->second.first != key.first) return &it->second;
    }
    return nullptr;
  }

  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }
  std::uint32_t count(ClientId client) const {
    auto it = per_client_.find(client);
    return it == per_client_.end() ? 0 : it->second;
  }

  // What can be decided about a client's ordered request numbered t before
  // its signature is checked, given the client's last executed t. Nothing
  // here changes state, so a forged request gets no further than these
  // checks, and the verify (the replica's dominant cost) is spent only on
  // requests that may be admitted or answered. `held`: a copy is held that
  // same_as(entry.request) says is identical, request and signature, so
  // this one is as good as verified (a client's retransmissions, and the
  // copies backups forward to a PBFT primary).
  enum class Screen { verify, stale, held, over_limit };
  template <class Same>
  Screen screen(ClientId client, RequestNo t, RequestNo last_t, Same&& same_as) const {
    if (t == 0 || t < last_t) return Screen::stale;  // t starts at 1; older ones are dropped
    if (t == last_t) return Screen::verify;           // answered with the cached reply, which is signed
    if (const Entry* e = find({client, t})) return same_as(e->request) ? Screen::held : Screen::verify;
    return count(client) >= max_per_client_ ? Screen::over_limit : Screen::verify;
  }

  template <class F>
  void for_each(F&& f) {
    for (auto& [key, entry] : entries_) f(key, entry);
  }

  // A batch of requests not yet proposed: at most max_requests, at most
  // max_bytes of operations (but always at least one request when any is
  // waiting), one request per client per round, rounds starting after the
  // client that came first in the previous batch. `oldest_us` receives the
  // earliest arrival time among all waiting requests (the batch timeout
  // runs from it). The requests are not marked: see mark_proposed().
  std::vector<Key> next_batch(std::size_t max_requests, std::size_t max_bytes, TimeUs* oldest_us) {
    // Each client's waiting requests in t order, clients from the cursor on.
    std::vector<std::vector<Key>> queues;
    TimeUs oldest = std::numeric_limits<TimeUs>::max();
    auto collect = [&](auto from, auto to) {
      for (auto it = from; it != to; ++it) {
        if (it->second.proposed) continue;
        oldest = std::min(oldest, it->second.received_us);
        if (queues.empty() || queues.back().front().first != it->first.first) queues.emplace_back();
        queues.back().push_back(it->first);
      }
    };
    const auto split = entries_.lower_bound(Key{cursor_, 0});
    collect(split, entries_.end());
    collect(entries_.begin(), split);
    if (oldest_us != nullptr) *oldest_us = oldest;

    std::vector<Key> batch;
    std::size_t bytes = 0;
    for (std::size_t round = 0; batch.size() < max_requests; ++round) {
      bool took = false;
      for (const auto& q : queues) {
        if (round >= q.size() || batch.size() == max_requests) continue;
        const std::size_t size = entries_.at(q[round]).bytes;
        if (!batch.empty() && bytes + size > max_bytes) return finish(std::move(batch));
        batch.push_back(q[round]);
        bytes += size;
        took = true;
      }
      if (!took) break;
    }
    return finish(std::move(batch));
  }

  void mark_proposed(const Key& key) {
    Entry& e = entries_.at(key);
    SYNOD_ASSERT(!e.proposed, "a pending request is proposed once per view");
    e.proposed = true;
  }

  // A new view or leadership: everything may be proposed again.
  void unpropose_all() {
    for (auto& [key, entry] : entries_) entry.proposed = false;
  }

  // Drops every request pred(key, entry) selects.
  template <class Pred>
  void drop_if(Pred&& pred) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (!pred(it->first, it->second)) {
        ++it;
        continue;
      }
      erase_counts(it);
      it = entries_.erase(it);
    }
  }

  void clear() {
    entries_.clear();
    by_arrival_.clear();
    per_client_.clear();
  }

  // O(1): every held request is in the arrival index once (the cores check
  // it after every input).
  bool indexed() const { return entries_.size() == by_arrival_.size(); }

  // O(n): the indexes agree with each other and with the bound (tests).
  bool consistent() const {
    if (entries_.size() != by_arrival_.size()) return false;
    std::map<ClientId, std::uint32_t> counts;
    for (const auto& [key, entry] : entries_) {
      ++counts[key.first];
      auto it = by_arrival_.find(entry.arrival);
      if (it == by_arrival_.end() || it->second != key) return false;
    }
    for (const auto& [client, n] : counts) {
      if (n > max_per_client_) return false;
    }
    return counts == per_client_;
  }

 private:
  std::vector<Key> finish(std::vector<Key> batch) {
    // The next batch starts with the client after this one's first.
    if (!batch.empty()) cursor_ = batch.front().first + 1;
    return batch;
  }

  void erase_counts(typename std::map<Key, Entry>::iterator it) {
    by_arrival_.erase(it->second.arrival);
    auto c = per_client_.find(it->first.first);
    SYNOD_ASSERT(c != per_client_.end() && c->second > 0, "a held request is counted");
    if (--c->second == 0) per_client_.erase(c);
  }

  std::uint32_t max_per_client_;
  std::map<Key, Entry> entries_;                 // by (client, t): per-client order
  std::map<std::uint64_t, Key> by_arrival_;      // arrival order
  std::map<ClientId, std::uint32_t> per_client_;  // held requests per client
  std::uint64_t next_arrival_ = 0;
  ClientId cursor_ = 0;  // next_batch's first client
};

// Both cores' screen of a client's request (fields client, t, read_only,
// op) before its signature check: too large, stale or over the client's
// quota is rejected (`why` says how to count it); a copy identical to a
// held request (SignedRequest: request and signature) is `held`; anything
// else must be verified. Read-only requests are never held, so only their
// size is screened.
struct RequestScreen {
  enum class Verdict { verify, held, rejected };
  Verdict verdict = Verdict::verify;
  Rejection why{};
};

template <class SignedRequest, class Request>
RequestScreen screen_client_request(const PendingRequests<SignedRequest>& pending, RequestNo last_t,
                                    std::size_t max_request_bytes, const Request& req, const Bytes& signature) {
  using Verdict = RequestScreen::Verdict;
  using Screen = typename PendingRequests<SignedRequest>::Screen;
  if (req.op.size() > max_request_bytes) return {Verdict::rejected, Rejection::limit};
  if (req.read_only) return {};
  const auto same = [&](const SignedRequest& held) { return held.signature == signature && held.request == req; };
  switch (pending.screen(req.client, req.t, last_t, same)) {
    case Screen::verify: return {};
    case Screen::held: return {Verdict::held, {}};
    case Screen::stale: return {Verdict::rejected, Rejection::invalid};
    case Screen::over_limit: return {Verdict::rejected, Rejection::limit};
  }
  return {};
}

}  // namespace synod
