// Multi-Paxos core: leader leases (PROTOCOL.md, "Leases").
//
// A follower grants the leader a lease with each ACCEPTED and heartbeat
// echo: until lease_duration on its own clock it promises no phase 1 to
// anyone else (start_phase1 and on_prepare ask may_promise). The leader
// counts each grant from when it SENT the message that earned it (the first
// send of that ACCEPT: an ACCEPTED may answer any later copy, so the first
// send is the safe lower bound; or the heartbeat whose sequence number the
// echo carries: every heartbeat is numbered, so an idle leader's grants
// keep counting from its latest heartbeats and its lease does not lapse) and
// trusts it for lease_duration minus the drift of both clocks. With f+1 live
// grants (its own included) no other proposer can complete phase 1, so no
// write can be chosen that the leader has not executed: a local read is
// linearizable.
#include <algorithm>

#include "paxos/replica.hpp"
#include "synod/assert.hpp"

namespace synod::paxos {

namespace {
// Heartbeat send times remembered for echoes (one per sequence number); an
// echo of an older one no longer counts (a newer echo will).
constexpr std::size_t kHeartbeatsRemembered = 64;
}  // namespace

void PaxosReplica::grant_lease(ReplicaId leader) {
  if (!leases_on()) return;
  SYNOD_ASSERT(leader < n_, "a lease goes to a replica");
  lease_holder_ = leader;
  lease_holder_known_ = true;
  lease_promised_until_ = now_ + lease_us_;
  SYNOD_ASSERT(lease_promised_until_ > now_, "a grant lies in the future");
}

bool PaxosReplica::may_promise(ReplicaId proposer) const {
  if (!leases_on() || now_ >= lease_promised_until_) return true;
  return lease_holder_known_ && proposer == lease_holder_;
}

void PaxosReplica::note_grant(ReplicaId from, TimeUs sent_us) {
  if (!leases_on() || sent_us == kNever) return;
  SYNOD_ASSERT(sent_us <= now_, "a grant answers a message already sent");
  auto [it, fresh] = grants_.try_emplace(from, sent_us);
  if (!fresh) it->second = std::max(it->second, sent_us);
  SYNOD_ASSERT(grants_.size() <= n_, "one grant per replica");
}

std::uint64_t PaxosReplica::note_heartbeat_sent() {
  const std::uint64_t sequence = ++heartbeat_sequence_;
  if (!leases_on()) return sequence;
  heartbeat_sent_.emplace(sequence, now_);
  // Sequence numbers only grow: the smallest key is the oldest heartbeat.
  while (heartbeat_sent_.size() > kHeartbeatsRemembered) heartbeat_sent_.erase(heartbeat_sent_.begin());
  SYNOD_ASSERT(heartbeat_sent_.size() <= kHeartbeatsRemembered, "remembered heartbeats are bounded");
  return sequence;
}

TimeUs PaxosReplica::heartbeat_sent_us(std::uint64_t sequence) const {
  auto it = heartbeat_sent_.find(sequence);
  return it == heartbeat_sent_.end() ? kNever : it->second;
}

bool PaxosReplica::holds_lease() const {
  if (!is_leader()) return false;
  if (bugs_.lease_read_without_lease) return true;  // the deliberately broken variant
  if (!leases_on() || now_ < lease_reads_from_) return false;
  // Values the leader re-proposed in phase 1 may have been acknowledged by
  // the old leader: none is missing from a local read.
  if (last_executed_ < takeover_through_) return false;
  const TimeUs drift_us = lease_us_ * 2 * config_.max_clock_drift_ppm / 1'000'000;
  const TimeUs trusted_us = lease_us_ > drift_us ? lease_us_ - drift_us : 0;
  std::size_t live = 0;
  for (const auto& [replica, sent_us] : grants_) live += now_ < sent_us + trusted_us ? 1 : 0;
  SYNOD_ASSERT(live <= n_, "one grant per replica");
  return live >= quorum();
}

}  // namespace synod::paxos
