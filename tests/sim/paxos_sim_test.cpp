// The simulator in paxos mode: scenarios for n = 2f+1 with crash faults
// only, drifting clocks within the configured bound, and runs that replay
// bit for bit.
#include <doctest/doctest.h>

#include <cstdlib>
#include <sstream>

#include "sim/scenario.hpp"
#include "sim/simulator.hpp"

namespace synod::sim {
namespace {

Options paxos_options() {
  Options options;
  options.protocol = Protocol::paxos;
  return options;
}

TEST_CASE("paxos scenarios: 2f+1 replicas, no Byzantine ones, at most f down at any instant") {
  std::size_t with_leases = 0, with_drift = 0, leader_isolations = 0;
  for (std::uint64_t seed = 1; seed <= 500; ++seed) {
    const Scenario s = make_scenario(seed, paxos_options());
    CAPTURE(seed);
    REQUIRE(s.n == 2 * s.f + 1);
    REQUIRE(s.config.protocol == Protocol::paxos);
    REQUIRE(s.config.validate().has_value());
    REQUIRE(s.byzantine_count() == 0);
    for (const CrashPlan& c : s.crashes) {
      REQUIRE(c.crash_us < c.restart_us);
      REQUIRE(c.restart_us <= s.heal_us);
      std::uint32_t down = 0;
      for (const CrashPlan& o : s.crashes) down += (o.crash_us <= c.crash_us && c.crash_us < o.restart_us) ? 1 : 0;
      CHECK(down <= s.f);
    }
    REQUIRE(s.clocks.size() == s.n);
    for (const Clock& clock : s.clocks) {
      CHECK(static_cast<std::uint32_t>(std::abs(clock.drift_ppm)) <= s.config.max_clock_drift_ppm);
      with_drift += clock.drift_ppm != 0 ? 1 : 0;
    }
    with_leases += s.config.lease_duration_ms > 0 ? 1 : 0;
    for (const Partition& p : s.partitions) leader_isolations += p.isolate_leader ? 1 : 0;
  }
  // The draws cover what the scenario promises (not a property of one seed).
  CHECK(with_leases > 100);
  CHECK(with_leases < 400);
  CHECK(with_drift > 100);
  CHECK(leader_isolations > 20);
}

TEST_CASE("paxos scenarios: pbft seeds draw exactly what they drew before (no clocks, no leases)") {
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    const Scenario s = make_scenario(seed, Options{});
    for (const Clock& clock : s.clocks) {
      CHECK(clock.drift_ppm == 0);
      CHECK(clock.offset_us == 0);
    }
    for (const Partition& p : s.partitions) CHECK_FALSE(p.isolate_leader);
  }
}

TEST_CASE("clocks: local time is monotone and global() is its least inverse") {
  for (const Clock clock : {Clock{0, 0}, Clock{100'000, 7}, Clock{-100'000, 999'999}, Clock{1234, 5}, Clock{-1, 0}}) {
    TimeUs previous = 0;
    for (TimeUs t : {TimeUs{0}, TimeUs{1}, TimeUs{999'999}, TimeUs{1'000'000}, TimeUs{3'141'592},
                     TimeUs{120'000'000}, TimeUs{180'000'001}}) {
      const TimeUs local = clock.local(t);
      CHECK(local >= previous);
      previous = local;
      const TimeUs back = clock.global(local);
      CHECK(back <= t);
      CHECK(clock.local(back) >= local);
      if (back > 0) CHECK(clock.local(back - 1) < local);
    }
  }
}

TEST_CASE("paxos runs: the same seed twice gives the same run, event for event") {
  for (std::uint64_t seed : {1ull, 2ull, 3ull}) {
    std::ostringstream trace_a, trace_b;
    Options a = paxos_options();
    a.trace = &trace_a;
    Options b = paxos_options();
    b.trace = &trace_b;
    const auto first = run_seed(seed, a);
    const auto second = run_seed(seed, b);
    REQUIRE(first.has_value());
    REQUIRE(second.has_value());
    CAPTURE(first->scenario);
    CHECK(first->fingerprint == second->fingerprint);
    CHECK(first->events == second->events);
    CHECK(trace_a.str() == trace_b.str());
    CHECK(first->requests_completed > 0);
    CHECK(first->view_changes > 0);  // at least the first leader's election
    CHECK(first->ok());
  }
}

TEST_CASE("paxos runs: fault-free seeds complete requests and pass every checker") {
  Options options = paxos_options();
  options.faults = 0;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto r = run_seed(seed, options);
    REQUIRE(r.has_value());
    CAPTURE(r->scenario);
    CHECK(r->ok());
    CHECK(r->requests_completed >= 3);
    CHECK(r->safety.empty());
    CHECK(r->liveness.empty());
  }
}

TEST_CASE("paxos runs: a broken core is caught (chosen on f accepts, f = 1, crashes)") {
  // With n = 3 and f = 1 a value counts as chosen on a single accept: the
  // leader's own. A crash or partition then loses chosen values.
  Options options = paxos_options();
  options.f = 1;
  options.paxos_bugs.chosen_on_f_accepts = true;
  bool caught = false;
  for (std::uint64_t seed = 1; seed <= 200 && !caught; ++seed) {
    const auto r = run_seed(seed, options);
    REQUIRE(r.has_value());
    caught = r->safety_violation_count > 0;
  }
  CHECK(caught);
}

}  // namespace
}  // namespace synod::sim
