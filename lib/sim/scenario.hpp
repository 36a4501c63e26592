// sim/scenario.hpp — everything one seed decides, drawn up front (except
// per-message network luck and Byzantine/faulty-client choices, which draw
// from their own forked generators during the run).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/simulator.hpp"
#include "sim/workload.hpp"
#include "synod/config.hpp"

namespace synod::sim {

struct NetworkShape {
  TimeUs base_delay_us = 500;
  TimeUs tail_mean_us = 500;      // exponential extra delay
  TimeUs tail_cap_us = 50'000;
  std::uint32_t drop_ppm = 0;
  std::uint32_t duplicate_ppm = 0;
  std::uint32_t reorder_ppm = 0;  // a message gets an extra uniform delay
  std::uint32_t corrupt_ppm = 0;  // a byte of the frame flipped in transit
  TimeUs reorder_max_us = 0;
};

// Replicas whose side differs cannot talk between start_us and end_us.
struct Partition {
  TimeUs start_us = 0;
  TimeUs end_us = 0;
  std::vector<bool> side;  // per replica
  // paxos: the replica leading at start_us is moved to side B (the
  // simulator resolves it then), isolating it with whatever else is there.
  bool isolate_leader = false;
};

struct CrashPlan {
  ReplicaId replica = 0;
  TimeUs crash_us = 0;
  TimeUs restart_us = 0;
  // Crash inside the next step that persists something: its persist ops
  // are applied, its messages never leave (durable before visible).
  bool after_persist = false;
};

// A replica's clock (paxos leases): local = offset + t * (1e6 + drift) / 1e6
// for global virtual time t, with |drift| <= config.max_clock_drift_ppm.
// pbft seeds keep every clock exact.
struct Clock {
  std::int32_t drift_ppm = 0;
  TimeUs offset_us = 0;
  TimeUs local(TimeUs global_us) const;
  TimeUs global(TimeUs local_us) const;  // the first global instant whose local time reaches local_us
};

struct Scenario {
  std::uint32_t f = 1;
  std::uint32_t n = 4;
  std::uint32_t correct_clients = 2;
  std::uint32_t faulty_clients = 0;
  ClusterConfig config;
  NetworkShape faulty_net;
  NetworkShape healed_net;
  std::vector<Partition> partitions;    // non-overlapping, in time order
  std::vector<CrashPlan> crashes;
  std::vector<std::uint32_t> byzantine; // per replica: strategy mask, 0 = correct (always 0 for paxos)
  std::vector<Clock> clocks;            // per replica
  std::vector<std::uint32_t> faulty_behaviours;  // per faulty client
  WorkloadShape workload;
  TimeUs heal_us = 2'000'000;
  TimeUs inject_interval_us = 20'000;   // Byzantine injections
  TimeUs faulty_interval_us = 20'000;   // faulty client actions
  // The store-backed kv (synod/store.hpp), every replica's store starting
  // from the same genesis_keys keys (keys no client touches), so a transfer
  // compares a large state and fetches the few parts that differ.
  bool store_backed = false;
  std::uint32_t genesis_keys = 0;

  std::uint32_t byzantine_count() const;
  std::string describe() const;
};

Scenario make_scenario(std::uint64_t seed, const Options& options);

// Largest f a seed draws when --f is not given.
inline constexpr std::uint32_t kMaxDrawnF = 3;
inline constexpr std::uint32_t kMaxCorrectClients = 6;
inline constexpr std::uint32_t kMaxFaultyClients = 2;

}  // namespace synod::sim
