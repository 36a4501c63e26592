#include "sim/scenario.hpp"

#include <algorithm>

#include "sim/byzantine.hpp"
#include "sim/faulty_client.hpp"
#include "sim/prng.hpp"
#include "synod/assert.hpp"

namespace synod::sim {

namespace {

constexpr TimeUs kMs = 1000;

template <class T, std::size_t N>
T pick(Prng& prng, const T (&items)[N]) {
  return items[prng.below(N)];
}

ClusterConfig make_config(Prng& prng, Protocol protocol, std::uint32_t f, std::uint32_t clients) {
  ClusterConfig c;
  c.protocol = protocol;
  c.f = f;
  const std::uint32_t n = protocol == Protocol::pbft ? 3 * f + 1 : 2 * f + 1;
  for (ReplicaId i = 0; i < n; ++i) {
    ReplicaInfo info;  // by field: more fields may follow, all defaulted
    info.id = i;
    info.endpoint = "sim://r" + std::to_string(i);
    info.public_key = "sim-key-r" + std::to_string(i);
    c.replicas.push_back(std::move(info));
  }
  for (ClientId i = 0; i < clients; ++i) c.clients.push_back({i, "sim-key-c" + std::to_string(i)});
  // Small checkpoint intervals and windows, so that a few seconds of
  // traffic go through many checkpoints, garbage collection and state
  // transfers.
  c.checkpoint_interval = pick(prng, {4u, 8u, 16u});
  c.window = c.checkpoint_interval * pick(prng, {2u, 4u});
  c.batch_max_requests = pick(prng, {1u, 2u, 4u, 8u});
  c.batch_timeout_us = static_cast<std::uint32_t>(prng.between(100, 2000));
  c.view_change_timeout_ms = static_cast<std::uint32_t>(prng.between(150, 600));
  c.request_timeout_ms = static_cast<std::uint32_t>(prng.between(100, 400));
  if (protocol == Protocol::paxos) {
    // Short election timeouts against the network's tail make followers
    // campaign at once and proposers duel; long ones make a leader's crash
    // expensive. Leases in half the seeds, with drifting clocks.
    c.heartbeat_interval_ms = static_cast<std::uint32_t>(prng.between(5, 60));
    c.election_timeout_ms = c.heartbeat_interval_ms * static_cast<std::uint32_t>(prng.between(2, 8));
    c.max_clock_drift_ppm = pick(prng, {0u, 1000u, 20'000u, 100'000u});
    if (prng.chance(1, 2)) {
      const std::uint32_t quarters = static_cast<std::uint32_t>(prng.between(1, 3));
      c.lease_duration_ms = std::max<std::uint32_t>(1, c.election_timeout_ms * quarters / 4 * 10 / 11);
    }
  }
  const auto valid = c.validate();
  SYNOD_ASSERT(valid.has_value(), "the simulator draws valid configurations");
  return c;
}

// Partitions one after another inside the safety phase.
std::vector<Partition> make_partitions(Prng& prng, std::uint32_t n, std::uint32_t f, TimeUs heal_us) {
  std::vector<Partition> partitions;
  const std::uint64_t count = prng.below(4);
  TimeUs cursor = prng.below(heal_us / 3);
  for (std::uint64_t i = 0; i < count && cursor < heal_us; ++i) {
    Partition p;
    p.start_us = cursor + prng.below(300 * kMs);
    p.end_us = std::min(heal_us, p.start_us + prng.between(50 * kMs, 1500 * kMs));
    if (p.start_us >= p.end_us) break;
    p.side.assign(n, false);
    if (prng.chance(1, 2)) {
      // Isolate a minority of 1..f replicas.
      const std::uint64_t isolated = prng.between(1, f);
      for (std::uint64_t k = 0; k < isolated; ++k) p.side[prng.below(n)] = true;
    } else {
      for (std::uint32_t r = 0; r < n; ++r) p.side[r] = prng.chance(1, 2);  // any split, maybe no quorum anywhere
    }
    cursor = p.end_us + prng.below(200 * kMs);
    partitions.push_back(std::move(p));
  }
  return partitions;
}

// Crashes of correct replicas such that, at every instant, Byzantine plus
// crashed replicas are at most f.
std::vector<CrashPlan> make_crashes(Prng& prng, const std::vector<std::uint32_t>& byzantine, std::uint32_t f,
                                    TimeUs heal_us) {
  std::vector<CrashPlan> crashes;
  const std::uint32_t byz = static_cast<std::uint32_t>(std::count_if(byzantine.begin(), byzantine.end(),
                                                                      [](std::uint32_t s) { return s != 0; }));
  if (byz >= f) return crashes;
  const std::uint32_t budget = f - byz;
  std::vector<ReplicaId> correct;
  for (ReplicaId r = 0; r < byzantine.size(); ++r) {
    if (byzantine[r] == 0) correct.push_back(r);
  }
  // Half the seeds get a storm of short crashes: restarts that forget what
  // was not persisted, one replica after another, are what durability bugs
  // need (e.g. every correct replica that prepared a batch restarting
  // before a view change).
  const bool storm = prng.chance(1, 2);
  const std::uint64_t wanted = storm ? prng.between(f + 2, 4 * f + 4) : prng.between(1, 2 * f + 2);
  const TimeUs max_down_us = storm ? 300 * kMs : 1500 * kMs;
  constexpr int kAttemptsPerCrash = 8;
  for (std::uint64_t i = 0; i < wanted; ++i) {
    for (int attempt = 0; attempt < kAttemptsPerCrash; ++attempt) {
      CrashPlan c;
      // Replica 0 is the first primary: crashing it forces view changes.
      const bool primary = byzantine[0] == 0 && prng.chance(1, 4);
      c.replica = primary ? 0 : correct[prng.below(correct.size())];
      c.crash_us = prng.between(50 * kMs, heal_us - 50 * kMs);
      c.restart_us = std::min(heal_us, c.crash_us + prng.between(20 * kMs, max_down_us));
      c.after_persist = prng.chance(1, 3);
      // Down replicas at the worst instant of [crash, restart): the overlap
      // count is largest at some other crash's start or at ours.
      bool fits = true;
      std::vector<TimeUs> instants{c.crash_us};
      for (const CrashPlan& o : crashes) {
        if (o.crash_us >= c.crash_us && o.crash_us < c.restart_us) instants.push_back(o.crash_us);
      }
      for (TimeUs at : instants) {
        std::uint32_t down = 1;
        for (const CrashPlan& o : crashes) {
          const bool overlaps = o.crash_us <= at && at < o.restart_us;
          if (overlaps && o.replica == c.replica) fits = false;
          down += overlaps ? 1 : 0;
        }
        if (down > budget) fits = false;
      }
      for (const CrashPlan& o : crashes) {
        // The same replica twice: the intervals must not touch at all.
        if (o.replica == c.replica && o.crash_us < c.restart_us && c.crash_us < o.restart_us) fits = false;
      }
      if (!fits) continue;
      crashes.push_back(c);
      break;
    }
  }
  std::sort(crashes.begin(), crashes.end(), [](const CrashPlan& a, const CrashPlan& b) { return a.crash_us < b.crash_us; });
  return crashes;
}

}  // namespace

TimeUs Clock::local(TimeUs global_us) const {
  // |drift| <= 10% (config.validate), so the product stays far below 2^64
  // for any virtual time the simulator reaches.
  const std::int64_t rate = 1'000'000 + drift_ppm;
  return offset_us + global_us / 1'000'000 * static_cast<TimeUs>(rate) +
         global_us % 1'000'000 * static_cast<TimeUs>(rate) / 1'000'000;
}

TimeUs Clock::global(TimeUs local_us) const {
  if (local_us <= offset_us) return 0;
  const std::int64_t rate = 1'000'000 + drift_ppm;
  const TimeUs elapsed = local_us - offset_us;
  // An estimate at or below the answer, then up to the first instant that
  // reaches local_us (local() is monotone, within a few steps of it).
  TimeUs t = elapsed / static_cast<TimeUs>(rate) * 1'000'000 +
             elapsed % static_cast<TimeUs>(rate) * 1'000'000 / static_cast<TimeUs>(rate);
  t = t > 2 ? t - 2 : 0;
  constexpr int kMaxSteps = 64;
  for (int step = 0; step < kMaxSteps && local(t) < local_us; ++step) ++t;
  SYNOD_ASSERT(local(t) >= local_us, "the inverse of a clock reaches its target");
  return t;
}

std::uint32_t Scenario::byzantine_count() const {
  return static_cast<std::uint32_t>(std::count_if(byzantine.begin(), byzantine.end(), [](std::uint32_t s) { return s != 0; }));
}

Scenario make_scenario(std::uint64_t seed, const Options& options) {
  Prng prng(seed);
  Scenario s;
  if (options.f) {
    s.f = *options.f;
  } else {
    const std::uint64_t roll = prng.below(10);  // bigger clusters are slower: f=1 half the time
    s.f = roll < 5 ? 1 : roll < 8 ? 2 : 3;
  }
  SYNOD_ASSERT(s.f >= 1, "f >= 1");
  const bool paxos = options.protocol == Protocol::paxos;
  s.n = paxos ? 2 * s.f + 1 : 3 * s.f + 1;
  // Swarm testing: each allowed fault class is on for a seed with
  // probability 3/4, so some seeds exercise one fault in isolation.
  const auto on = [&](std::uint32_t cls) { return (options.faults & cls) != 0 && prng.chance(3, 4); };
  const bool network = on(fault::network);
  const bool crash = on(fault::crash);
  const bool byzantine = on(fault::byzantine) && !paxos;  // crash faults only in paxos mode
  const bool clients = on(fault::clients);

  s.correct_clients = static_cast<std::uint32_t>(prng.between(2, kMaxCorrectClients));
  s.faulty_clients = clients ? static_cast<std::uint32_t>(prng.between(1, kMaxFaultyClients)) : 0;
  s.config = make_config(prng, options.protocol, s.f, s.correct_clients + s.faulty_clients);
  s.heal_us = prng.between(1000 * kMs, 3000 * kMs);

  s.faulty_net.base_delay_us = prng.between(50, 2000);
  s.faulty_net.tail_mean_us = prng.below(2000);
  s.faulty_net.tail_cap_us = 50 * kMs;
  s.healed_net = s.faulty_net;  // the same latencies, no losses
  if (network) {
    s.faulty_net.drop_ppm = pick(prng, {0u, 10'000u, 50'000u, 150'000u});
    s.faulty_net.duplicate_ppm = pick(prng, {0u, 10'000u, 50'000u});
    s.faulty_net.reorder_ppm = pick(prng, {0u, 50'000u, 200'000u});
    s.faulty_net.reorder_max_us = prng.between(1 * kMs, 50 * kMs);
    s.faulty_net.corrupt_ppm = pick(prng, {0u, 0u, 10'000u});
    s.partitions = make_partitions(prng, s.n, s.f, s.heal_us);
  }

  s.byzantine.assign(s.n, 0);
  if (byzantine) {
    const std::uint64_t count = prng.between(1, s.f);
    for (std::uint64_t k = 0; k < count; ++k) {
      std::uint32_t strategies = 0;
      for (std::uint32_t bit = 0; bit < byzantine::count_; ++bit) {
        const bool rare = (1u << bit) == byzantine::twins || (1u << bit) == byzantine::silent;
        if (prng.chance(1, rare ? 6 : 3)) strategies |= 1u << bit;
      }
      if (strategies == 0) strategies = 1u << prng.below(byzantine::count_);
      // A Byzantine primary of view 1 gets to send the first NEW-VIEW.
      const bool next_primary = (strategies & byzantine::bad_new_view) != 0 && prng.chance(1, 2);
      // A censoring primary of view 0 starts censoring at once.
      const bool first_primary = (strategies & byzantine::censor) != 0 && prng.chance(1, 2);
      ReplicaId r = first_primary ? 0 : next_primary ? 1 : static_cast<ReplicaId>(prng.below(s.n));
      for (std::uint32_t probe = 0; probe < s.n && s.byzantine[r] != 0; ++probe) r = (r + 1) % s.n;
      s.byzantine[r] = strategies;
    }
    s.inject_interval_us = prng.between(5 * kMs, 50 * kMs);
  }
  if (crash) s.crashes = make_crashes(prng, s.byzantine, s.f, s.heal_us);
  for (std::uint32_t k = 0; k < s.faulty_clients; ++k) {
    std::uint32_t behaviours = static_cast<std::uint32_t>(prng.below(1u << faulty::count_));
    if (behaviours == 0) behaviours = faulty::bad_signature | faulty::reuse_t;
    s.faulty_behaviours.push_back(behaviours);
  }
  s.faulty_interval_us = prng.between(5 * kMs, 100 * kMs);

  s.workload.keys = static_cast<std::uint32_t>(prng.between(1, 6));
  s.workload.read_only_pct = pick(prng, {0u, 30u, 70u});
  s.workload.del_weight = static_cast<std::uint32_t>(prng.below(3));
  s.workload.cas_weight = static_cast<std::uint32_t>(prng.below(4));
  s.workload.think_max_us = pick(prng, {5 * kMs, 20 * kMs, 60 * kMs});
  s.clocks.assign(s.n, Clock{});
  if (paxos) {
    // Drawn last (and only for paxos): pbft seeds draw what they always did.
    const std::int64_t bound = s.config.max_clock_drift_ppm;
    for (Clock& clock : s.clocks) {
      clock.drift_ppm = static_cast<std::int32_t>(static_cast<std::int64_t>(prng.below(2 * bound + 1)) - bound);
      if (prng.chance(1, 3)) clock.drift_ppm = prng.chance(1, 2) ? static_cast<std::int32_t>(bound)
                                                                 : static_cast<std::int32_t>(-bound);
      clock.offset_us = prng.below(1'000'000);
    }
    for (Partition& p : s.partitions) p.isolate_leader = prng.chance(1, 3);
  }
  s.config.max_batches_in_flight = pick(prng, {1u, 2u, 4u, 256u});
  s.config.authentication = options.authentication
                                ? *options.authentication
                                : (prng.chance(1, 2) ? Authentication::macs : Authentication::signatures);
  // Drawn last, so every earlier draw is what it was before chunks. Snapshots
  // here are hundreds of bytes to a few KB: small chunks make a state
  // transfer take many of them.
  s.config.snapshot_chunk_bytes = pick(prng, {32u, 128u, 1024u, 1u << 20});
  // Drawn after that, for the same reason.
  const bool drawn = prng.chance(1, 2);
  s.store_backed = options.store_backed.value_or(drawn);
  if (s.store_backed) s.genesis_keys = pick(prng, {0u, 64u, 3000u});
  SYNOD_ASSERT(s.byzantine.size() == s.n && s.clocks.size() == s.n, "one entry per replica");
  SYNOD_ASSERT(s.faulty_behaviours.size() == s.faulty_clients, "one entry per faulty client");
  return s;
}

std::string Scenario::describe() const {
  std::string text = std::string(config.authentication == Authentication::macs ? "macs " : "") + "f=" + std::to_string(f) + " n=" + std::to_string(n) + " clients=" +
                     std::to_string(correct_clients) + "+" + std::to_string(faulty_clients) + "faulty K=" +
                     std::to_string(config.checkpoint_interval) + " L=" + std::to_string(config.window) +
                     " batch=" + std::to_string(config.batch_max_requests) + "x" +
                     std::to_string(config.max_batches_in_flight) + " T=" +
                     std::to_string(config.view_change_timeout_ms) + "ms chunk=" +
                     std::to_string(config.snapshot_chunk_bytes) + " heal=" + std::to_string(heal_us / 1000) +
                     "ms drop=" + std::to_string(faulty_net.drop_ppm / 10'000) + "% dup=" +
                     std::to_string(faulty_net.duplicate_ppm / 10'000) + "% reorder=" +
                     std::to_string(faulty_net.reorder_ppm / 10'000) + "% corrupt=" +
                     std::to_string(faulty_net.corrupt_ppm / 10'000) + "% partitions=" +
                     std::to_string(partitions.size()) + " crashes=" + std::to_string(crashes.size());
  if (store_backed) text += " store genesis=" + std::to_string(genesis_keys);
  if (config.protocol == Protocol::paxos) {
    text = "paxos " + text + " hb=" + std::to_string(config.heartbeat_interval_ms) + "ms E=" +
           std::to_string(config.election_timeout_ms) + "ms lease=" + std::to_string(config.lease_duration_ms) +
           "ms drift=" + std::to_string(config.max_clock_drift_ppm) + "ppm";
    std::size_t leader_cuts = 0;
    for (const Partition& p : partitions) leader_cuts += p.isolate_leader ? 1 : 0;
    if (leader_cuts > 0) text += " leader-isolations=" + std::to_string(leader_cuts);
  }
  for (ReplicaId r = 0; r < byzantine.size(); ++r) {
    if (byzantine[r] != 0) text += " byz:r" + std::to_string(r) + "=" + describe_strategies(byzantine[r]);
  }
  for (std::uint32_t k = 0; k < faulty_behaviours.size(); ++k) {
    text += " faulty:c" + std::to_string(correct_clients + k) + "=" + describe_behaviours(faulty_behaviours[k]);
  }
  return text;
}

}  // namespace synod::sim
