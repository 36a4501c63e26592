#include "check/linearizability.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <unordered_map>
#include <unordered_set>

namespace synod::check {

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::linearizable: return "linearizable";
    case Verdict::violation: return "violation";
    case Verdict::unknown: return "unknown";
  }
  return "?";
}

namespace {

std::string show(const std::optional<std::string>& v) { return v ? json_quote(*v) : std::string("absent"); }

// Fills the result of `op` from an ok event; the error names the mismatch.
std::optional<std::string> take_result(Operation& op, const Event& e) {
  if (auto problem = result_shape_problem(op.kind, e)) return problem;
  if (op.kind == OpKind::cas) op.success = *e.success;
  op.output_present = e.value.present;
  op.output = e.value.value;
  return std::nullopt;
}

}  // namespace

std::variant<std::vector<Operation>, ParseError> pair_operations(std::span<const Event> events) {
  std::vector<Operation> ops;
  std::vector<bool> dropped;  // failed operations
  std::unordered_map<std::uint64_t, std::size_t> open;  // process -> index in ops
  for (const Event& e : events) {
    auto it = open.find(e.process);
    if (e.type == EventType::invoke) {
      if (it != open.end()) {
        return ParseError{e.line, "process " + std::to_string(e.process) + " invokes again while its operation from line " +
                                      std::to_string(ops[it->second].invoke_line) + " is open"};
      }
      Operation op;
      op.process = e.process;
      op.kind = *e.op;
      op.key = *e.key;
      if (op.kind == OpKind::put || op.kind == OpKind::cas) op.input = e.value.value;
      if (op.kind == OpKind::cas) op.expected = e.expected.value;
      op.call_us = e.time_us;
      op.invoke_line = e.line;
      open.emplace(e.process, ops.size());
      ops.push_back(std::move(op));
      dropped.push_back(false);
      continue;
    }
    if (it == open.end()) {
      return ParseError{e.line, std::string(to_string(e.type)) + " for process " + std::to_string(e.process) +
                                    " without an open invoke"};
    }
    Operation& op = ops[it->second];
    if (e.op && *e.op != op.kind) {
      return ParseError{e.line, std::string("completion names op ") + to_string(*e.op) + " but line " +
                                    std::to_string(op.invoke_line) + " invoked " + to_string(op.kind)};
    }
    if (e.key && *e.key != op.key) {
      return ParseError{e.line, "completion names key " + json_quote(*e.key) + " but line " +
                                    std::to_string(op.invoke_line) + " invoked key " + json_quote(op.key)};
    }
    if (e.time_us < op.call_us) {
      return ParseError{e.line, "completion time " + std::to_string(e.time_us) + " is before its invoke (line " +
                                    std::to_string(op.invoke_line) + ", time " + std::to_string(op.call_us) + ")"};
    }
    op.complete_line = e.line;
    if (e.type == EventType::ok) {
      if (auto problem = take_result(op, e)) return ParseError{e.line, *problem};
      op.return_us = e.time_us;
    } else if (e.type == EventType::info) {
      op.pending = true;
    } else {
      dropped[it->second] = true;
    }
    open.erase(it);
  }
  for (auto& [process, index] : open) ops[index].pending = true;
  std::vector<Operation> kept;
  kept.reserve(ops.size());
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (!dropped[i]) kept.push_back(std::move(ops[i]));
  }
  return kept;
}

std::string describe(const Operation& op) {
  std::string s = "process " + std::to_string(op.process) + ": ";
  switch (op.kind) {
    case OpKind::put: s += "put(" + json_quote(op.key) + ", " + show(op.input) + ")"; break;
    case OpKind::get: s += "get(" + json_quote(op.key) + ")"; break;
    case OpKind::del: s += "del(" + json_quote(op.key) + ")"; break;
    case OpKind::cas: s += "cas(" + json_quote(op.key) + ", " + show(op.expected) + " -> " + show(op.input) + ")"; break;
  }
  if (op.pending) return s + " = ? (outcome unknown)";
  switch (op.kind) {
    case OpKind::put: return s + " = ok";
    case OpKind::get: return s + " = " + show(op.output);
    case OpKind::del: return s + (op.output_present ? " = removed " + show(op.output) : " = ok");
    case OpKind::cas:
      if (op.success) return s + " = ok";
      return s + " = mismatch" + (op.output_present ? " (current " + show(op.output) + ")" : "");
  }
  return s;
}

// ------------------------------------------------------------------ search

namespace {

constexpr std::int32_t kAbsent = 0;

// An operation of one key with its values interned: the model state is one
// int32 (the id of the key's value, kAbsent when the key does not exist).
struct Compiled {
  OpKind kind = OpKind::get;
  bool pending = false;
  std::int32_t input = kAbsent;
  std::int32_t expected = kAbsent;
  bool output_present = false;
  std::int32_t output = kAbsent;
  bool success = true;
};

// The kv model: the state after `op` from `state`, or nullopt when the
// op's recorded result is impossible from `state`.
std::optional<std::int32_t> step(std::int32_t state, const Compiled& op) {
  switch (op.kind) {
    case OpKind::put: return op.input;
    case OpKind::get:
      if (!op.pending && op.output != state) return std::nullopt;
      return state;
    case OpKind::del:
      if (!op.pending && op.output_present && op.output != state) return std::nullopt;
      return kAbsent;
    case OpKind::cas:
      if (op.pending) return state == op.expected ? op.input : state;
      if (op.success) {
        if (state != op.expected) return std::nullopt;
        return op.input;
      }
      if (state == op.expected) return std::nullopt;
      if (op.output_present && op.output != state) return std::nullopt;
      return state;
  }
  return std::nullopt;
}

struct MemoHash {
  std::size_t operator()(const std::vector<std::uint64_t>& v) const noexcept {
    std::uint64_t h = 0x9E3779B97F4A7C15ull ^ v.size();
    for (std::uint64_t w : v) {
      h ^= w + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
      h *= 0xBF58476D1CE4E5B9ull;
    }
    return static_cast<std::size_t>(h ^ (h >> 31));
  }
};

}  // namespace

Verdict check_key(std::span<const Operation> operations, const std::optional<std::string>& initial,
                  const Budget& budget, std::size_t* states_explored) {
  // Intern every value; 0 is "absent".
  std::unordered_map<std::string, std::int32_t> ids;
  auto id_of = [&](const std::optional<std::string>& v) -> std::int32_t {
    if (!v) return kAbsent;
    auto [it, inserted] = ids.emplace(*v, static_cast<std::int32_t>(ids.size() + 1));
    return it->second;
  };
  std::vector<Compiled> ops;
  std::vector<std::int64_t> calls, returns;
  for (const Operation& op : operations) {
    // A pending get (or a pending anything that cannot change state) can
    // always be left out: it has no effect and no result to explain.
    if (op.pending && op.kind == OpKind::get) continue;
    Compiled c;
    c.kind = op.kind;
    c.pending = op.pending;
    c.input = id_of(op.input);
    c.expected = id_of(op.expected);
    c.output_present = op.output_present;
    c.output = id_of(op.output);
    c.success = op.success;
    ops.push_back(c);
    calls.push_back(op.call_us);
    returns.push_back(op.return_us);
  }
  const std::int32_t initial_state = id_of(initial);
  const std::size_t n = ops.size();

  // Entries: a call per operation and a return per completed one, in time
  // order; at equal times calls come first (the operations overlap).
  struct Entry {
    std::int64_t time;
    bool is_return;
    std::uint32_t op;
  };
  std::vector<Entry> entries;
  entries.reserve(2 * n);
  std::size_t completed = 0;
  for (std::size_t i = 0; i < n; ++i) {
    entries.push_back({calls[i], false, static_cast<std::uint32_t>(i)});
    if (!ops[i].pending) {
      entries.push_back({returns[i], true, static_cast<std::uint32_t>(i)});
      ++completed;
    }
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.time != b.time) return a.time < b.time;
    if (a.is_return != b.is_return) return !a.is_return;
    return a.op < b.op;
  });
  if (completed == 0) return Verdict::linearizable;

  // A doubly linked list over the entries, with a head sentinel at index E.
  const std::int64_t e_count = static_cast<std::int64_t>(entries.size());
  const std::int64_t head = e_count;
  std::vector<std::int64_t> next(entries.size() + 1), prev(entries.size() + 1), match(entries.size(), -1);
  std::vector<std::int64_t> call_entry_of(n, -1);
  for (std::int64_t i = 0; i < e_count; ++i) {
    if (!entries[i].is_return) call_entry_of[entries[i].op] = i;
  }
  for (std::int64_t i = 0; i < e_count; ++i) {
    if (entries[i].is_return) match[call_entry_of[entries[i].op]] = i;
  }
  next[head] = e_count > 0 ? 0 : -1;
  prev[head] = -1;
  for (std::int64_t i = 0; i < e_count; ++i) {
    prev[i] = i == 0 ? head : i - 1;
    next[i] = i + 1 < e_count ? i + 1 : -1;
  }
  auto lift = [&](std::int64_t call) {
    next[prev[call]] = next[call];
    if (next[call] >= 0) prev[next[call]] = prev[call];
    const std::int64_t ret = match[call];
    if (ret >= 0) {
      next[prev[ret]] = next[ret];
      if (next[ret] >= 0) prev[next[ret]] = prev[ret];
    }
  };
  auto unlift = [&](std::int64_t call) {
    const std::int64_t ret = match[call];
    if (ret >= 0) {
      next[prev[ret]] = ret;
      if (next[ret] >= 0) prev[next[ret]] = ret;
    }
    next[prev[call]] = call;
    if (next[call] >= 0) prev[next[call]] = call;
  };

  const std::size_t words = (n + 63) / 64;
  std::vector<std::uint64_t> linearized(words + 1, 0);  // the bitset, then the state in the last word
  std::unordered_set<std::vector<std::uint64_t>, MemoHash> memo;
  const std::size_t bytes_per_entry = (words + 1) * 8 + 64;  // vector + node + bucket, roughly
  struct Frame {
    std::int64_t call;
    std::int32_t state;
  };
  std::vector<Frame> stack;
  stack.reserve(n);
  std::int32_t state = initial_state;
  std::size_t remaining = completed;
  std::int64_t entry = next[head];
  std::uint64_t iterations = 0;
  auto finish = [&](Verdict v) {
    if (states_explored) *states_explored = memo.size();
    return v;
  };
  while (remaining > 0) {
    if ((++iterations & 0xFFF) == 0 && budget.deadline && std::chrono::steady_clock::now() > *budget.deadline) {
      return finish(Verdict::unknown);
    }
    if (entry < 0) return finish(Verdict::violation);  // cannot happen while a return remains; defensive
    const Entry& en = entries[static_cast<std::size_t>(entry)];
    if (!en.is_return) {
      const auto after = step(state, ops[en.op]);
      if (after) {
        linearized[en.op / 64] |= 1ull << (en.op % 64);
        linearized[words] = static_cast<std::uint32_t>(*after);
        if (memo.size() >= budget.max_states_per_key || memo.size() * bytes_per_entry >= budget.max_memory_bytes) {
          return finish(Verdict::unknown);
        }
        if (memo.insert(linearized).second) {
          stack.push_back({entry, state});
          state = *after;
          if (!ops[en.op].pending) --remaining;
          lift(entry);
          entry = next[head];
          continue;
        }
        linearized[en.op / 64] &= ~(1ull << (en.op % 64));
      }
      entry = next[entry];
      continue;
    }
    // A return whose call is not linearized yet: undo the last choice.
    if (stack.empty()) return finish(Verdict::violation);
    const Frame top = stack.back();
    stack.pop_back();
    const std::uint32_t op = entries[static_cast<std::size_t>(top.call)].op;
    linearized[op / 64] &= ~(1ull << (op % 64));
    state = top.state;
    if (!ops[op].pending) ++remaining;
    unlift(top.call);
    entry = next[top.call];
  }
  return finish(Verdict::linearizable);
}

// ------------------------------------------------------------------ per key

namespace {

// The key's history cut at time t: operations invoked after t are gone,
// operations that had not returned by t have an unknown outcome.
std::vector<Operation> prefix_until(std::span<const Operation> ops, std::int64_t t) {
  std::vector<Operation> out;
  for (const Operation& op : ops) {
    if (op.call_us > t) continue;
    Operation copy = op;
    if (!copy.pending && copy.return_us > t) copy.pending = true;
    out.push_back(std::move(copy));
  }
  return out;
}

// Shortest failing prefix, then the latest cut from which the rest fails
// whatever state the operations before the cut left behind.
void explain(KeyFinding& finding, std::vector<Operation> ops, const Budget& budget) {
  std::stable_sort(ops.begin(), ops.end(), [](const Operation& a, const Operation& b) { return a.call_us < b.call_us; });
  std::vector<std::int64_t> returns;
  for (const auto& op : ops) {
    if (!op.pending) returns.push_back(op.return_us);
  }
  std::sort(returns.begin(), returns.end());
  returns.erase(std::unique(returns.begin(), returns.end()), returns.end());
  // Failing is monotone in t: a linearization of a longer prefix restricts
  // to one of a shorter prefix.
  std::size_t lo = 0, hi = returns.size();  // first failing index in [lo, hi]
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (check_key(prefix_until(ops, returns[mid]), std::nullopt, budget) == Verdict::violation) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  std::vector<Operation> prefix = lo < returns.size() ? prefix_until(ops, returns[lo]) : ops;
  if (lo < returns.size()) {
    for (const auto& op : prefix) {
      if (!op.pending && op.return_us == returns[lo]) {
        finding.first_unexplained = op;
        break;
      }
    }
  }
  finding.window = prefix;
  // Cuts, latest first: every operation before index i returned before
  // operation i was invoked. The window after the cut must fail from every
  // value the earlier operations could have left (absent or one they wrote).
  std::vector<std::int64_t> max_return_before(prefix.size() + 1, std::numeric_limits<std::int64_t>::min());
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const std::int64_t r = prefix[i].pending ? std::numeric_limits<std::int64_t>::max() : prefix[i].return_us;
    max_return_before[i + 1] = std::max(max_return_before[i], r);
  }
  constexpr int kMaxCutsTried = 64;
  int tried = 0;
  for (std::size_t i = prefix.size(); i-- > 1 && tried < kMaxCutsTried;) {
    if (max_return_before[i] >= prefix[i].call_us) continue;
    ++tried;
    std::vector<std::optional<std::string>> states{std::nullopt};
    for (std::size_t j = 0; j < i; ++j) {
      if (prefix[j].kind == OpKind::put || prefix[j].kind == OpKind::cas) states.push_back(prefix[j].input);
    }
    std::sort(states.begin(), states.end());
    states.erase(std::unique(states.begin(), states.end()), states.end());
    const std::span<const Operation> window(prefix.data() + i, prefix.size() - i);
    bool fails_from_all = true;
    for (const auto& s : states) {
      if (check_key(window, s, budget) != Verdict::violation) {
        fails_from_all = false;
        break;
      }
    }
    if (fails_from_all) {
      finding.window.assign(window.begin(), window.end());
      break;
    }
  }
  // A read whose outcome is unknown (cut off by the prefix) explains nothing.
  std::erase_if(finding.window, [](const Operation& op) { return op.pending && op.kind == OpKind::get; });
}

}  // namespace

CheckResult check_kv(std::span<const Operation> operations, const Budget& budget) {
  CheckResult result;
  std::map<std::string, std::vector<Operation>> by_key;
  for (const auto& op : operations) {
    by_key[op.key].push_back(op);
    ++result.operations;
    if (op.pending) ++result.pending;
  }
  result.keys = by_key.size();
  bool any_unknown = false, any_violation = false;
  for (auto& [key, ops] : by_key) {
    KeyFinding finding;
    finding.key = key;
    finding.operations = ops.size();
    const Verdict v = check_key(ops, std::nullopt, budget, &finding.states_explored);
    finding.verdict = v;
    if (v == Verdict::linearizable) continue;
    if (v == Verdict::unknown) {
      any_unknown = true;
      const bool late = budget.deadline && std::chrono::steady_clock::now() > *budget.deadline;
      finding.reason = late ? "deadline passed" : "search budget exhausted (" + std::to_string(finding.states_explored) + " states)";
    } else {
      any_violation = true;
      explain(finding, ops, budget);
    }
    result.findings.push_back(std::move(finding));
  }
  result.verdict = any_violation ? Verdict::violation : any_unknown ? Verdict::unknown : Verdict::linearizable;
  return result;
}

}  // namespace synod::check
