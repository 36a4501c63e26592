// lib/check kv linearizability: hand-written violations are found (with the
// offending key and window), linearizable histories (concurrent, pending,
// failed operations) are accepted, random histories generated from a real
// register are accepted, and the search budget ends in `unknown`.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>

#include "check/history.hpp"
#include "check/linearizability.hpp"

using namespace synod::check;

namespace {

// A history from compact lines: "P inv put x 1 @T", "P ok @T [value|-]",
// "P inv cas x old|- new @T", "P ok cas true|false [value|-] @T", "P info @T",
// "P fail @T". Built as JSON lines, so the parser is exercised too.
class Builder {
 public:
  Builder& put(std::uint64_t p, std::int64_t t, const std::string& k, const std::string& v) {
    return add(p, t, R"("type":"invoke","op":"put","key":")" + k + R"(","value":")" + v + "\"");
  }
  Builder& get(std::uint64_t p, std::int64_t t, const std::string& k) {
    return add(p, t, R"("type":"invoke","op":"get","key":")" + k + "\"");
  }
  Builder& del(std::uint64_t p, std::int64_t t, const std::string& k) {
    return add(p, t, R"("type":"invoke","op":"del","key":")" + k + "\"");
  }
  Builder& cas(std::uint64_t p, std::int64_t t, const std::string& k, const char* expected, const std::string& v) {
    return add(p, t, R"("type":"invoke","op":"cas","key":")" + k + R"(","expected":)" + quote(expected) +
                         R"(,"value":")" + v + "\"");
  }
  Builder& ok(std::uint64_t p, std::int64_t t) { return add(p, t, R"("type":"ok")"); }
  Builder& ok_value(std::uint64_t p, std::int64_t t, const char* value) {
    return add(p, t, R"("type":"ok","value":)" + quote(value));
  }
  Builder& ok_cas(std::uint64_t p, std::int64_t t, bool success, const char* current = nullptr, bool with_current = false) {
    std::string s = R"("type":"ok","success":)" + std::string(success ? "true" : "false");
    if (with_current) s += R"(,"value":)" + quote(current);
    return add(p, t, s);
  }
  Builder& info(std::uint64_t p, std::int64_t t) { return add(p, t, R"("type":"info")"); }
  Builder& fail(std::uint64_t p, std::int64_t t) { return add(p, t, R"("type":"fail")"); }

  CheckResult check(const Budget& budget = {}) const {
    auto parsed = parse_history(text_);
    REQUIRE(std::holds_alternative<std::vector<Event>>(parsed));
    auto ops = pair_operations(std::get<std::vector<Event>>(parsed));
    REQUIRE(std::holds_alternative<std::vector<Operation>>(ops));
    return check_kv(std::get<std::vector<Operation>>(ops), budget);
  }
  Verdict verdict() const { return check().verdict; }

 private:
  static std::string quote(const char* v) { return v ? "\"" + std::string(v) + "\"" : "null"; }
  Builder& add(std::uint64_t p, std::int64_t t, const std::string& fields) {
    text_ += "{" + fields + R"(,"process":)" + std::to_string(p) + R"(,"time":)" + std::to_string(t) + "}\n";
    return *this;
  }
  std::string text_;
};

}  // namespace

// ---------------------------------------------------------------- violations

TEST_CASE("violation: stale read after a newer write completed") {
  Builder h;
  h.put(0, 0, "x", "1").ok(0, 10).put(0, 20, "x", "2").ok(0, 30).get(1, 40, "x").ok_value(1, 50, "1");
  const auto r = h.check();
  CHECK(r.verdict == Verdict::violation);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].key == "x");
  REQUIRE(r.findings[0].first_unexplained);
  CHECK(r.findings[0].first_unexplained->kind == OpKind::get);
  // The minimal window: put 2 then the read; put 1 is not needed.
  REQUIRE(r.findings[0].window.size() == 2);
  CHECK(r.findings[0].window[0].input == "2");
  CHECK(r.findings[0].window[1].kind == OpKind::get);
}

TEST_CASE("violation: lost write (an acknowledged put is not visible later)") {
  Builder h;
  h.put(0, 0, "x", "1").ok(0, 10).get(1, 20, "x").ok_value(1, 30, nullptr);
  CHECK(h.verdict() == Verdict::violation);
}

TEST_CASE("violation: read of a value never written") {
  Builder h;
  h.put(0, 0, "x", "1").get(1, 1, "x").ok(0, 10).ok_value(1, 11, "7");
  CHECK(h.verdict() == Verdict::violation);
}

TEST_CASE("violation: a read going back in time among concurrent reads") {
  // put(1) spans both reads; once a read saw 1, a later read cannot see absent.
  Builder h;
  h.put(0, 0, "x", "1").get(1, 10, "x").ok_value(1, 20, "1").get(2, 30, "x").ok_value(2, 40, nullptr).ok(0, 100);
  CHECK(h.verdict() == Verdict::violation);
}

TEST_CASE("violation: two inserting cas on an absent key both succeed") {
  Builder h;
  h.cas(0, 0, "x", nullptr, "a").cas(1, 1, "x", nullptr, "b").ok_cas(0, 10, true).ok_cas(1, 11, true);
  CHECK(h.verdict() == Verdict::violation);
}

TEST_CASE("violation: cas succeeds although the expected value is not there") {
  Builder h;
  h.put(0, 0, "x", "1").ok(0, 10).cas(0, 20, "x", "2", "3").ok_cas(0, 30, true);
  CHECK(h.verdict() == Verdict::violation);
}

TEST_CASE("violation: cas reports a mismatch although the expected value is there") {
  Builder h;
  h.put(0, 0, "x", "1").ok(0, 10).cas(0, 20, "x", "1", "2").ok_cas(0, 30, false, "1", true);
  CHECK(h.verdict() == Verdict::violation);
}

TEST_CASE("violation: cas mismatch reports a current value no order explains") {
  Builder h;
  h.put(0, 0, "x", "1").ok(0, 10).cas(0, 20, "x", "5", "2").ok_cas(0, 30, false, "9", true);
  CHECK(h.verdict() == Verdict::violation);
}

TEST_CASE("violation: del returns a value that was overwritten before it began") {
  Builder h;
  h.put(0, 0, "x", "1").ok(0, 10).put(0, 20, "x", "2").ok(0, 30).del(1, 40, "x").ok_value(1, 50, "1");
  CHECK(h.verdict() == Verdict::violation);
}

TEST_CASE("violation: a failed put was observed (fail means it never took effect)") {
  Builder h;
  h.put(0, 0, "x", "1").fail(0, 10).get(1, 20, "x").ok_value(1, 30, "1");
  CHECK(h.verdict() == Verdict::violation);
}

TEST_CASE("violation: a pending put cannot explain a read that completed before it was invoked") {
  Builder h;
  h.get(1, 0, "x").ok_value(1, 10, "1").put(0, 20, "x", "1").info(0, 30);
  CHECK(h.verdict() == Verdict::violation);
}

TEST_CASE("violation: only the bad key is reported; other keys are fine") {
  Builder h;
  h.put(0, 0, "good", "1").ok(0, 10).get(1, 20, "good").ok_value(1, 30, "1");
  h.put(0, 40, "bad", "1").ok(0, 50).get(1, 60, "bad").ok_value(1, 70, "2");
  const auto r = h.check();
  CHECK(r.verdict == Verdict::violation);
  CHECK(r.keys == 2);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].key == "bad");
}

// ---------------------------------------------------------------- linearizable

TEST_CASE("linearizable: concurrent put and gets may see either value") {
  Builder h;
  h.put(0, 0, "x", "1").ok(0, 10);
  h.put(0, 20, "x", "2").get(1, 21, "x").get(2, 22, "x").ok_value(1, 30, "2").ok_value(2, 31, "1").ok(0, 40);
  // get 2 saw 1 while get 1 already saw 2 — legal: they overlap (2 before 1 in the order).
  CHECK(h.verdict() == Verdict::linearizable);
}

TEST_CASE("linearizable: an unknown-outcome put may take effect long after it timed out") {
  Builder h;
  h.put(0, 0, "x", "1").info(0, 10).get(1, 1000, "x").ok_value(1, 1010, nullptr).get(1, 2000, "x").ok_value(1, 2010, "1");
  CHECK(h.verdict() == Verdict::linearizable);
}

TEST_CASE("linearizable: an unknown-outcome put may never take effect, and a never-completed one too") {
  Builder h;
  h.put(0, 0, "x", "1").info(0, 10).put(2, 5, "x", "3").get(1, 20, "x").ok_value(1, 30, nullptr);
  CHECK(h.verdict() == Verdict::linearizable);
}

TEST_CASE("linearizable: failed operations are left out; cas chain with mismatch and del") {
  Builder h;
  h.put(0, 0, "x", "a").fail(0, 5);
  h.cas(0, 10, "x", nullptr, "1").ok_cas(0, 20, true);
  h.cas(1, 15, "x", nullptr, "2").ok_cas(1, 25, false, "1", true);
  h.cas(1, 30, "x", "1", "2").ok_cas(1, 40, true);
  h.del(0, 50, "x").ok_value(0, 60, "2");
  h.get(1, 70, "x").ok_value(1, 80, nullptr);
  CHECK(h.verdict() == Verdict::linearizable);
}

TEST_CASE("linearizable: equal timestamps count as overlapping") {
  Builder h;
  h.put(0, 0, "x", "1").ok(0, 10).get(1, 10, "x").ok_value(1, 20, nullptr);
  CHECK(h.verdict() == Verdict::linearizable);
}

// Random histories from a real register: each op takes effect at a random
// point inside its interval, its result computed there. Every such history
// is linearizable; changing one read to a never-written value breaks it.
TEST_CASE("random histories generated from a linearizable register are accepted; a corrupted read is caught") {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 40; ++round) {
    struct Planned {
      std::uint64_t process;
      std::int64_t call, at, ret;
      OpKind kind;
      std::string key, value, expected;
      bool expect_absent = false;
      bool pending = false;
    };
    const int processes = 2 + static_cast<int>(rng() % 5);
    std::vector<Planned> plan;
    std::vector<std::int64_t> clock(processes, 0);
    int counter = 0;
    for (int i = 0; i < 120; ++i) {
      Planned p;
      p.process = rng() % processes;
      p.call = clock[p.process] + 1 + static_cast<std::int64_t>(rng() % 20);
      p.at = p.call + static_cast<std::int64_t>(rng() % 30);
      p.ret = p.at + static_cast<std::int64_t>(rng() % 30);
      clock[p.process] = p.ret;
      p.key = "k" + std::to_string(rng() % 3);
      p.kind = static_cast<OpKind>(rng() % 4);
      p.value = std::to_string(++counter);
      p.expect_absent = rng() % 4 == 0;
      p.expected = std::to_string(1 + rng() % std::max(1, counter));
      p.pending = rng() % 15 == 0;
      plan.push_back(p);
    }
    // Apply at the linearization points, in order.
    std::vector<std::size_t> by_point(plan.size());
    for (std::size_t i = 0; i < plan.size(); ++i) by_point[i] = i;
    std::sort(by_point.begin(), by_point.end(), [&](auto a, auto b) { return plan[a].at < plan[b].at || (plan[a].at == plan[b].at && a < b); });
    std::map<std::string, std::string> store;
    std::vector<Operation> ops(plan.size());
    for (std::size_t i : by_point) {
      const Planned& p = plan[i];
      Operation& op = ops[i];
      op.process = p.process;
      op.kind = p.kind;
      op.key = p.key;
      op.call_us = p.call;
      op.return_us = p.ret;
      op.pending = p.pending;
      auto it = store.find(p.key);
      const std::optional<std::string> current = it == store.end() ? std::nullopt : std::optional(it->second);
      switch (p.kind) {
        case OpKind::put: op.input = p.value; store[p.key] = p.value; break;
        case OpKind::get: op.output_present = true; op.output = current; break;
        case OpKind::del: op.output_present = true; op.output = current; store.erase(p.key); break;
        case OpKind::cas:
          op.input = p.value;
          op.expected = p.expect_absent ? std::nullopt : std::optional(p.expected);
          op.success = current == op.expected;
          if (op.success) {
            store[p.key] = p.value;
          } else {
            op.output_present = true;
            op.output = current;
          }
          break;
      }
    }
    // Sort by call time as a file would (the checker must not depend on it).
    CAPTURE(round);
    const auto good = check_kv(ops);
    CHECK(good.verdict == Verdict::linearizable);
    // Corrupt one completed read.
    for (auto& op : ops) {
      if (op.kind == OpKind::get && !op.pending) {
        op.output = "never-written";
        break;
      }
    }
    CHECK(check_kv(ops).verdict == Verdict::violation);
  }
}

TEST_CASE("budget: a wide concurrent history with a tiny state budget ends in unknown, not a hang") {
  std::vector<Operation> ops;
  // 8 overlapping puts and reads of their values in reverse order: many orders to try.
  for (int i = 0; i < 8; ++i) {
    Operation put;
    put.process = i;
    put.kind = OpKind::put;
    put.key = "x";
    put.input = std::to_string(i);
    put.call_us = 0;
    put.return_us = 100;
    ops.push_back(put);
  }
  for (int i = 0; i < 8; ++i) {
    Operation get;
    get.process = 100 + i;
    get.kind = OpKind::get;
    get.key = "x";
    get.output_present = true;
    get.output = std::to_string(7 - i);
    get.call_us = 0;
    get.return_us = 100;
    ops.push_back(get);
  }
  Budget tiny;
  tiny.max_states_per_key = 50;
  const auto r = check_kv(ops, tiny);
  CHECK(r.verdict == Verdict::unknown);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].verdict == Verdict::unknown);
  // With the default budget the same history is decided (it is linearizable).
  CHECK(check_kv(ops).verdict == Verdict::linearizable);
}
