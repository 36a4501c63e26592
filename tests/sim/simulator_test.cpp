// The simulator itself: a seed replays bit for bit (also across threads),
// the scenarios it draws respect the fault budget, and its options parse.
#include <doctest/doctest.h>

#include <sstream>
#include <thread>

#include "sim/scenario.hpp"
#include "sim/simulator.hpp"

namespace synod::sim {
namespace {

TEST_CASE("determinism: the same seed twice gives the same run, event for event") {
  for (std::uint64_t seed : {1ull, 2ull, 77ull}) {
    std::ostringstream trace_a, trace_b;
    Options a;
    a.trace = &trace_a;
    Options b;
    b.trace = &trace_b;
    const auto first = run_seed(seed, a);
    const auto second = run_seed(seed, b);
    REQUIRE(first.has_value());
    REQUIRE(second.has_value());
    CHECK(first->fingerprint == second->fingerprint);
    CHECK(first->events == second->events);
    CHECK(first->requests_completed == second->requests_completed);
    CHECK(first->end_us == second->end_us);
    CHECK(trace_a.str() == trace_b.str());
    CHECK(first->events > 0);
  }
}

TEST_CASE("determinism: different seeds give different runs") {
  const auto a = run_seed(5, Options{});
  const auto b = run_seed(6, Options{});
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(a->fingerprint != b->fingerprint);
}

TEST_CASE("determinism: tracing does not change the run") {
  std::ostringstream trace;
  Options traced;
  traced.trace = &trace;
  const auto with = run_seed(11, traced);
  const auto without = run_seed(11, Options{});
  REQUIRE(with.has_value());
  REQUIRE(without.has_value());
  CHECK(with->fingerprint == without->fingerprint);
}

TEST_CASE("determinism: seeds run on two threads give what they give alone") {
  constexpr std::uint64_t kSeeds = 6;
  std::vector<std::uint64_t> alone(kSeeds), threaded(kSeeds);
  for (std::uint64_t i = 0; i < kSeeds; ++i) alone[i] = run_seed(100 + i, Options{})->fingerprint;
  std::thread other([&] {
    for (std::uint64_t i = 0; i < kSeeds; i += 2) threaded[i] = run_seed(100 + i, Options{})->fingerprint;
  });
  for (std::uint64_t i = 1; i < kSeeds; i += 2) threaded[i] = run_seed(100 + i, Options{})->fingerprint;
  other.join();
  CHECK(alone == threaded);
}

TEST_CASE("scenarios: Byzantine plus crashed replicas never exceed f at any instant") {
  for (std::uint64_t seed = 1; seed <= 500; ++seed) {
    const Scenario s = make_scenario(seed, Options{});
    CAPTURE(seed);
    REQUIRE(s.n == 3 * s.f + 1);
    REQUIRE(s.byzantine_count() <= s.f);
    for (const CrashPlan& c : s.crashes) {
      REQUIRE(c.crash_us < c.restart_us);
      REQUIRE(c.restart_us <= s.heal_us);
      REQUIRE(s.byzantine[c.replica] == 0);  // only correct replicas crash
      std::uint32_t down = 0;
      for (const CrashPlan& o : s.crashes) down += (o.crash_us <= c.crash_us && c.crash_us < o.restart_us) ? 1 : 0;
      CHECK(s.byzantine_count() + down <= s.f);
    }
    for (const Partition& p : s.partitions) REQUIRE(p.end_us <= s.heal_us);
  }
}

TEST_CASE("scenarios: --faults none draws no faults; --f fixes the cluster size") {
  Options options;
  options.faults = 0;
  options.f = 2;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    const Scenario s = make_scenario(seed, options);
    CHECK(s.f == 2);
    CHECK(s.byzantine_count() == 0);
    CHECK(s.crashes.empty());
    CHECK(s.partitions.empty());
    CHECK(s.faulty_clients == 0);
    CHECK(s.faulty_net.drop_ppm == 0);
  }
}

TEST_CASE("options: fault lists and bug names of both protocols") {
  CHECK(parse_faults("all").value() == fault::all);
  CHECK(parse_faults("none").value() == 0);
  CHECK(parse_faults("network,crash").value() == (fault::network | fault::crash));
  CHECK_FALSE(parse_faults("network,lightning").has_value());
  pbft::Bugs bugs;
  CHECK(set_bug("commit-quorum-f1", bugs).has_value());
  CHECK(bugs.commit_quorum_f_plus_1);
  CHECK_FALSE(set_bug("no-such-bug", bugs).has_value());
  CHECK(describe_bugs(bugs) == "commit-quorum-f1");
  paxos::Bugs paxos_bugs;
  CHECK(set_bug("chosen-on-f-accepts", paxos_bugs).has_value());
  CHECK(set_bug("lease-read-without-lease", paxos_bugs).has_value());
  CHECK(paxos_bugs.chosen_on_f_accepts);
  CHECK(paxos_bugs.lease_read_without_lease);
  CHECK_FALSE(paxos_bugs.skip_promise_persistence);
  CHECK_FALSE(set_bug("commit-quorum-f1", paxos_bugs).has_value());  // a pbft bug
  CHECK(describe_bugs(paxos_bugs) == "chosen-on-f-accepts,lease-read-without-lease");
  CHECK(bug_names(Protocol::paxos).size() == 4);
  CHECK(bug_names(Protocol::pbft).size() == 8);
}

}  // namespace
}  // namespace synod::sim
