// sim/simulator.hpp — the deterministic simulator (TigerBeetle's VOPR for
// synod). One 64-bit seed decides a whole run: cluster size, clients,
// workload, network behaviour, partitions, crashes, Byzantine replicas and
// their strategies, faulty clients. A run has two phases:
//  1. safety: faults as the seed chose them, for a few virtual seconds;
//  2. liveness: the network heals, crashed replicas restart, no new faults
//     (Byzantine replicas and faulty clients stay as they are), and every
//     correct client must complete its requests within a bound.
// Every run is judged by the checkers of sim/checkers.hpp. A failing seed
// replays bit for bit (same seed, same options, same build).
//
// run_seed() is reentrant: runs share nothing, so seeds may run on several
// threads at once.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "paxos/paxos.hpp"
#include "pbft/pbft.hpp"
#include "synod/config.hpp"
#include "synod/result.hpp"
#include "synod/types.hpp"

namespace synod::sim {

namespace fault {
enum Class : std::uint32_t {
  network = 1u << 0,    // drops, duplicates, reordering, partitions
  crash = 1u << 1,      // correct replicas crash (also between persist and send) and restart
  byzantine = 1u << 2,  // up to f Byzantine replicas
  clients = 1u << 3,    // faulty clients
  all = network | crash | byzantine | clients,
};
}  // namespace fault

// "network,crash", "all", "none" -> a fault::Class mask.
Result<std::uint32_t> parse_faults(std::string_view list);
std::string describe_faults(std::uint32_t faults);

// --bug names <-> pbft::Bugs / paxos::Bugs fields.
Result<void> set_bug(std::string_view name, pbft::Bugs& bugs);
Result<void> set_bug(std::string_view name, paxos::Bugs& bugs);
std::vector<std::string> bug_names(Protocol protocol = Protocol::pbft);
std::string describe_bugs(const pbft::Bugs& bugs);  // "" when none
std::string describe_bugs(const paxos::Bugs& bugs);

struct Options {
  Protocol protocol = Protocol::pbft;
  std::optional<std::uint32_t> f;     // default: drawn from the seed (1..3)
  // Authentication mode; default: drawn from the seed (after everything
  // else, so a seed draws the same scenario either way).
  std::optional<Authentication> authentication;
  // The application: a whole-state kv (StateMachine) or the store-backed kv
  // (synod/store.hpp: checkpoints are Merkle roots, transfer by tree walk);
  // default: drawn from the seed.
  std::optional<bool> store_backed;
  std::uint32_t faults = fault::all;  // fault classes a seed may draw from
  pbft::Bugs bugs;                    // broken variants for honest replicas (pbft)
  paxos::Bugs paxos_bugs;             // broken variants for every replica (paxos)
  TimeUs max_virtual_us = 120'000'000;
  // Liveness: after the heal, each correct client's requests complete
  // within liveness_bound_us, and each completes liveness_ops of them.
  TimeUs liveness_bound_us = 60'000'000;
  std::uint32_t liveness_ops = 3;
  std::ostream* trace = nullptr;  // readable event log, or none
};

struct RunResult {
  std::uint64_t seed = 0;
  std::string scenario;                      // what the seed chose, one line
  std::vector<std::string> safety;           // violation messages
  std::vector<std::string> liveness;
  std::uint64_t safety_violation_count = 0;  // may exceed the messages kept
  std::uint64_t liveness_failure_count = 0;
  std::uint64_t requests_completed = 0;      // by correct clients
  // pbft: view changes; paxos: leader (ballot) changes.
  std::uint64_t view_changes = 0;            // most installed by one correct replica
  // pbft: stable checkpoints fetched; paxos: snapshots installed by catch-up.
  std::uint64_t state_transfers = 0;         // summed over correct replicas
  std::uint64_t unordered_reads = 0;         // reads completed without ordering (pbft: n matching; paxos: lease)
  std::uint64_t catch_ups = 0;               // catch-up answers sent (FetchBatches answers / CatchUp)
  std::uint64_t messages_sent = 0;
  std::uint64_t events = 0;
  std::uint64_t checkpoints = 0;             // distinct stable checkpoints seen
  TimeUs end_us = 0;
  std::uint64_t fingerprint = 0;             // hash of every event: equal runs, equal value

  bool ok() const { return safety_violation_count == 0 && liveness_failure_count == 0; }
};

// Runs one seed. Errors: options the simulator cannot run.
Result<RunResult> run_seed(std::uint64_t seed, const Options& options);

}  // namespace synod::sim
