// pbft/pbft.hpp — the PBFT protocol core (PROTOCOL.md, "PBFT").
// A pure, deterministic synod::Replica: no I/O, no clock, no randomness.
#pragma once

#include <memory>

#include "synod/config.hpp"
#include "synod/replica.hpp"
#include "synod/result.hpp"
#include "synod/state_machine.hpp"
#include "synod/store.hpp"

namespace synod {
class StoreBackend;  // core/store_backend.hpp
}

namespace synod::pbft {

// Deliberately broken behaviours, for tests that prove the simulator's
// checkers can fail. Never set outside tests.
struct Bugs {
  bool commit_quorum_f_plus_1 = false;         // committed-local on f+1 commits
  bool skip_pre_prepare_digest_check = false;  // backup trusts d without hashing the batch
  bool skip_new_view_check = false;            // NEW-VIEW accepted without recomputing O
  bool forget_prepared_on_restart = false;     // prepared certificates not persisted
  bool skip_request_authentication = false;    // batch requests accepted without checking signatures
  bool execute_duplicates = false;             // no at-most-once filter on (client, t)
  // A store-backed state's transfer (transfer/state_sync.hpp):
  bool unverified_tree_leaves = false;         // a leaf's listing is not checked against its certified digest
  bool stale_subtree_after_transfer = false;   // keys the certified state lacks are kept
};

// `config` must validate() and use Protocol::pbft; `self` < n. `crypto` signs
// with self's key and verifies everyone's; it and `app` must outlive the
// replica. `durable` is what this replica persisted before (empty on first
// start); an error means it is not a state this core wrote.
Result<std::unique_ptr<Replica>> make_replica(const ClusterConfig& config, ReplicaId self,
                                              const Crypto& crypto, StateMachine& app,
                                              const DurableState& durable, Bugs bugs = {});

// The same for a store-backed application (synod/store.hpp): its state lives
// in `backend` (core/store_backend.hpp), which must outlive the replica and
// hold what this replica's earlier runs committed along with `durable`.
Result<std::unique_ptr<Replica>> make_replica(const ClusterConfig& config, ReplicaId self,
                                              const Crypto& crypto, StoreStateMachine& app, StoreBackend& backend,
                                              const DurableState& durable, Bugs bugs = {});

}  // namespace synod::pbft
