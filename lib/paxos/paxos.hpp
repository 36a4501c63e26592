// paxos/paxos.hpp — the Multi-Paxos protocol core (PROTOCOL.md, "Multi-Paxos").
// A pure, deterministic synod::Replica for n = 2f+1 replicas and crash
// faults: no I/O, no clock (time comes with every input), no randomness but
// a small PRNG seeded by the caller (randomised election timeouts).
//
// Choices the protocol leaves open, made here:
//  * Clients send to the leader. A follower (or a candidate) answers a
//    request with ReplyStatus::not_leader naming the leader it believes in;
//    it never forwards. Only the leader replies with results (one reply
//    suffices in paxos mode).
//  * A read-only request is answered by the leader alone from its state
//    (Reply::read_only = true) only while it holds a lease (leases on:
//    config.lease_duration_ms > 0); otherwise it is ordered through the log
//    like a write and answered on execution (Reply::read_only = false).
//  * The commit index rides on every Accept and Heartbeat; an idle leader
//    also sends a Heartbeat as soon as a slot is chosen, so followers execute
//    without waiting for the next heartbeat interval.
//  * Batches inside Accept/Promise/CatchUp are not re-authenticated: the
//    fault model is crash-only, replica messages are signed, and the leader
//    verified every client signature when the request arrived.
//  * A store-backed replica (synod/store.hpp) behind by more than the log
//    gets no snapshot bytes: its source announces the root of the snapshot
//    it keeps pinned (a CATCH-UP with snapshot_total = 0, wire/messages.hpp),
//    taken on the source's word like every batch above, and the asker
//    fetches what differs from that source by tree walk. Nothing executes
//    while its store is partly transferred, and it does not lead then.
#pragma once

#include <cstdint>
#include <memory>

#include "synod/config.hpp"
#include "synod/replica.hpp"
#include "synod/result.hpp"
#include "synod/state_machine.hpp"
#include "synod/store.hpp"

namespace synod {
class StoreBackend;  // core/store_backend.hpp
}

namespace synod::paxos {

// Deliberately broken behaviours, for tests that prove the simulator's
// checkers can fail. Never set outside tests.
struct Bugs {
  bool skip_promise_persistence = false;  // acceptor does not persist its promise / accepted values
  bool ignore_promised_values = false;    // a new leader ignores accepted values reported in promises
  bool chosen_on_f_accepts = false;       // a value counts as chosen on f accepts instead of f+1
  bool lease_read_without_lease = false;  // the leader serves lease reads without holding a lease
};

// `config` must validate() and use Protocol::paxos (n = 2f+1); `self` < n.
// `crypto` signs with self's key and verifies everyone's; it and `app` must
// outlive the replica. `durable` is what this replica persisted before
// (empty on first start); an error means it is not a state this core wrote.
// `seed` drives the randomised election timeouts (mixed with `self`, so one
// seed for a whole cluster still gives every replica its own timeouts).
Result<std::unique_ptr<Replica>> make_replica(const ClusterConfig& config, ReplicaId self,
                                              const Crypto& crypto, StateMachine& app,
                                              const DurableState& durable, std::uint64_t seed,
                                              Bugs bugs = {});

// The same for a store-backed application (synod/store.hpp): its state lives
// in `backend` (core/store_backend.hpp), which must outlive the replica and
// hold what this replica's earlier runs committed along with `durable`. A
// snapshot pins the store (its root is the snapshot's digest), and a lagging
// replica fetches only what differs by walking the tree of the snapshot its
// source serves (transfer/state_sync.hpp).
Result<std::unique_ptr<Replica>> make_replica(const ClusterConfig& config, ReplicaId self,
                                              const Crypto& crypto, StoreStateMachine& app, StoreBackend& backend,
                                              const DurableState& durable, std::uint64_t seed, Bugs bugs = {});

}  // namespace synod::paxos
