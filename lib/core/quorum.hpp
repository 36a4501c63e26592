// core/quorum.hpp — one quorum-certificate type for every place a quorum is
// counted (prepares, commits, checkpoints, view changes, paxos promises).
// Each voter counts once: its first vote is kept and a later different vote
// from the same voter is reported as conflicting (the voter is faulty).
#pragma once

#include <cstddef>
#include <map>
#include <vector>

#include "synod/assert.hpp"
#include "synod/types.hpp"

namespace synod {

enum class VoteOutcome { added, duplicate, conflicting };

// Vote: the stored message; Value: what votes must match on (e.g. a digest).
template <class Vote, class Value>
class QuorumCertificate {
 public:
  VoteOutcome add(ReplicaId voter, const Value& value, Vote vote) {
    auto it = votes_.find(voter);
    if (it != votes_.end()) return it->second.value == value ? VoteOutcome::duplicate : VoteOutcome::conflicting;
    votes_.emplace(voter, Entry{value, std::move(vote)});
    return VoteOutcome::added;
  }

  std::size_t count(const Value& value) const {
    std::size_t n = 0;
    for (const auto& [voter, e] : votes_) n += (e.value == value) ? 1 : 0;
    return n;
  }

  bool has_vote(ReplicaId voter) const { return votes_.contains(voter); }

  // The first `limit` votes matching value, in voter order (deterministic).
  std::vector<Vote> matching(const Value& value, std::size_t limit) const {
    std::vector<Vote> out;
    for (const auto& [voter, e] : votes_) {
      if (out.size() == limit) break;
      if (e.value == value) out.push_back(e.vote);
    }
    return out;
  }

  // Some value with at least `quorum` votes, if any.
  const Value* value_with(std::size_t quorum) const {
    SYNOD_ASSERT(quorum > 0, "a quorum is never empty");
    for (const auto& [voter, e] : votes_)
      if (count(e.value) >= quorum) return &e.value;
    return nullptr;
  }

  std::size_t voters() const { return votes_.size(); }
  void clear() { votes_.clear(); }

 private:
  struct Entry {
    Value value;
    Vote vote;
  };
  std::map<ReplicaId, Entry> votes_;
};

}  // namespace synod
