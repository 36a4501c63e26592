// check/linearizability.hpp — is a recorded kv history linearizable?
//
// The search is Wing & Gong's, with Lowe's memoisation as in Porcupine:
// walk the calls in real-time order, try to linearize each call that is
// still open, backtrack on a return that cannot be explained, and never
// revisit a (set of linearized operations, model state) pair. The kv model
// is P-compositional (every operation touches one key), so each key is
// checked on its own (Herlihy & Wing: linearizability is local).
//
// Operations with an unknown outcome (info, or an invoke that never
// completed) may take effect at any point after their invocation, or never;
// failed operations (fail) never took effect and are left out.
//
// The search is exponential in the worst case: it stops with `unknown`
// when a key's memo table reaches the state or memory budget, or the
// deadline passes, never hangs.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "check/history.hpp"

namespace synod::check {

// One operation, built by pairing an invoke with its completion.
struct Operation {
  std::uint64_t process = 0;
  OpKind kind = OpKind::get;
  std::string key;
  std::optional<std::string> input;     // put: value; cas: desired
  std::optional<std::string> expected;  // cas: expected (nullopt = absent)
  bool pending = false;                 // outcome unknown (info or never completed)
  // Result, when completed: get -> output (nullopt = absent); del -> output
  // if output_present; cas -> success, and output if output_present.
  bool output_present = false;
  std::optional<std::string> output;
  bool success = true;
  std::int64_t call_us = 0;
  std::int64_t return_us = 0;  // meaningless when pending
  std::size_t invoke_line = 0;
  std::size_t complete_line = 0;  // 0 when pending without an info line
};

// Pairs invokes with completions per process. Errors (line and reason):
// a completion without an open invoke, a second invoke while one is open,
// a completion naming another op or key, a completion before its invoke,
// a result that does not fit the op. Open invokes at the end are pending.
std::variant<std::vector<Operation>, ParseError> pair_operations(std::span<const Event> events);

struct Budget {
  std::size_t max_states_per_key = 4'000'000;  // memo entries
  std::size_t max_memory_bytes = 512u << 20;   // memo table, per key
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

enum class Verdict { linearizable, violation, unknown };
const char* to_string(Verdict verdict);

struct KeyFinding {
  std::string key;
  Verdict verdict = Verdict::linearizable;
  std::size_t operations = 0;
  std::size_t states_explored = 0;
  // violation: the completed operation whose return first cannot be
  // explained (the shortest failing prefix of the key's history ends with
  // it), and a window of operations that cannot be linearized from any
  // state the operations before it can leave — those before the window all
  // completed before any in it began. Indices into the key's operations,
  // in call order.
  std::optional<Operation> first_unexplained;
  std::vector<Operation> window;
  std::string reason;  // unknown: which budget ran out
};

struct CheckResult {
  Verdict verdict = Verdict::linearizable;  // violation if any key has one, else unknown if any, else linearizable
  std::size_t keys = 0;
  std::size_t operations = 0;  // after dropping failed ones
  std::size_t pending = 0;
  std::vector<KeyFinding> findings;  // keys that are not linearizable or unknown, in key order
};

CheckResult check_kv(std::span<const Operation> operations, const Budget& budget = {});

// One key's operations from a given initial state (nullopt = key absent);
// the building block of check_kv, exposed for tests.
Verdict check_key(std::span<const Operation> operations, const std::optional<std::string>& initial,
                  const Budget& budget, std::size_t* states_explored = nullptr);

std::string describe(const Operation& op);  // e.g. "process 2: cas(\"x\", \"1\" -> \"2\") = ok"

}  // namespace synod::check
