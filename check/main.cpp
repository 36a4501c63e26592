// synod-check — is a recorded kv client history linearizable?
//   synod-check HISTORY [--json] [--max-states N] [--max-mib M] [--timeout-s S]
// HISTORY is a JSON-lines file (format: check/README.md), "-" for stdin.
// Exit status: 0 linearizable, 1 violation (the key and an offending window
// are printed), 2 bad input (line and reason) or bad arguments, 3 unknown
// (a key's search ran out of budget; no violation found elsewhere).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "check/history.hpp"
#include "check/linearizability.hpp"

namespace {

namespace ck = synod::check;

std::string lines_of(const ck::Operation& op) {
  std::string s = "line " + std::to_string(op.invoke_line);
  if (op.complete_line != 0) s += "-" + std::to_string(op.complete_line);
  return s;
}

std::string times_of(const ck::Operation& op) {
  return "[" + std::to_string(op.call_us) + " .. " + (op.pending ? std::string("?") : std::to_string(op.return_us)) + "]";
}

std::string op_json(const ck::Operation& op) {
  std::string s = "{\"process\":" + std::to_string(op.process) + ",\"op\":\"" + ck::to_string(op.kind) +
                  "\",\"key\":" + ck::json_quote(op.key) + ",\"invoke_line\":" + std::to_string(op.invoke_line) +
                  ",\"complete_line\":" + std::to_string(op.complete_line) + ",\"call\":" + std::to_string(op.call_us) +
                  ",\"return\":" + (op.pending ? std::string("null") : std::to_string(op.return_us)) +
                  ",\"pending\":" + (op.pending ? "true" : "false") + ",\"description\":" + ck::json_quote(ck::describe(op)) + "}";
  return s;
}

void print_json(const ck::CheckResult& r) {
  std::string out = "{\"result\":\"" + std::string(ck::to_string(r.verdict)) + "\",\"keys\":" + std::to_string(r.keys) +
                    ",\"operations\":" + std::to_string(r.operations) + ",\"pending\":" + std::to_string(r.pending) +
                    ",\"findings\":[";
  for (std::size_t i = 0; i < r.findings.size(); ++i) {
    const auto& f = r.findings[i];
    out += (i ? "," : "") + std::string("{\"key\":") + ck::json_quote(f.key) + ",\"verdict\":\"" + ck::to_string(f.verdict) +
           "\",\"operations\":" + std::to_string(f.operations) + ",\"states_explored\":" + std::to_string(f.states_explored);
    if (!f.reason.empty()) out += ",\"reason\":" + ck::json_quote(f.reason);
    if (f.first_unexplained) out += ",\"first_unexplained\":" + op_json(*f.first_unexplained);
    if (f.verdict == ck::Verdict::violation) {
      out += ",\"window\":[";
      for (std::size_t j = 0; j < f.window.size(); ++j) out += (j ? "," : "") + op_json(f.window[j]);
      out += "]";
    }
    out += "}";
  }
  out += "]}";
  std::printf("%s\n", out.c_str());
}

void print_text(const ck::CheckResult& r) {
  for (const auto& f : r.findings) {
    if (f.verdict == ck::Verdict::unknown) {
      std::printf("key %s: unknown (%s) over %zu operations\n", ck::json_quote(f.key).c_str(), f.reason.c_str(),
                  f.operations);
      continue;
    }
    std::printf("key %s: NOT linearizable (%zu operations)\n", ck::json_quote(f.key).c_str(), f.operations);
    if (f.first_unexplained) {
      std::printf("  first result that no order explains: %s %s  %s\n", lines_of(*f.first_unexplained).c_str(),
                  times_of(*f.first_unexplained).c_str(), ck::describe(*f.first_unexplained).c_str());
    }
    std::printf("  offending window (%zu operations; no order of them is legal from any state the earlier ones can leave):\n",
                f.window.size());
    for (const auto& op : f.window) {
      std::printf("    %-14s %-30s %s\n", lines_of(op).c_str(), times_of(op).c_str(), ck::describe(op).c_str());
    }
  }
  std::printf("%s: %zu keys, %zu operations (%zu with unknown outcome)\n",
              r.verdict == ck::Verdict::linearizable ? "linearizable"
              : r.verdict == ck::Verdict::violation  ? "NOT linearizable"
                                                     : "unknown (search budget exhausted)",
              r.keys, r.operations, r.pending);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"synod-check: check that a kv client history (JSON lines, see check/README.md) is linearizable.\n"
               "Exit status: 0 linearizable, 1 violation, 2 bad input, 3 unknown (search budget exhausted)."};
  std::string path;
  bool json = false;
  std::size_t max_states = ck::Budget{}.max_states_per_key;
  std::size_t max_mib = ck::Budget{}.max_memory_bytes >> 20;
  double timeout_s = 300;
  cli.add_option("HISTORY", path, "history file (JSON lines), - for stdin")->required();
  cli.add_flag("--json", json, "print the result as one JSON object");
  cli.add_option("--max-states", max_states, "memo entries per key before giving up (unknown)")->check(CLI::PositiveNumber);
  cli.add_option("--max-mib", max_mib, "memo memory per key in MiB before giving up (unknown)")->check(CLI::PositiveNumber);
  cli.add_option("--timeout-s", timeout_s, "give up (unknown) after this many seconds; 0: no limit")->check(CLI::NonNegativeNumber);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "synod-check: %s\n", e.what());
    return 2;
  }

  std::variant<std::vector<ck::Event>, ck::ParseError> parsed;
  if (path == "-") {
    parsed = ck::parse_history(std::cin);
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "synod-check: cannot open %s\n", path.c_str());
      return 2;
    }
    parsed = ck::parse_history(in);
  }
  if (auto* err = std::get_if<ck::ParseError>(&parsed)) {
    std::fprintf(stderr, "synod-check: %s:%zu: %s\n", path.c_str(), err->line, err->reason.c_str());
    return 2;
  }
  auto ops = ck::pair_operations(std::get<std::vector<ck::Event>>(parsed));
  if (auto* err = std::get_if<ck::ParseError>(&ops)) {
    std::fprintf(stderr, "synod-check: %s:%zu: %s\n", path.c_str(), err->line, err->reason.c_str());
    return 2;
  }
  ck::Budget budget;
  budget.max_states_per_key = max_states;
  budget.max_memory_bytes = max_mib << 20;
  if (timeout_s > 0) {
    budget.deadline = std::chrono::steady_clock::now() +
                      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(timeout_s));
  }
  const auto result = ck::check_kv(std::get<std::vector<ck::Operation>>(ops), budget);
  if (json) {
    print_json(result);
  } else {
    print_text(result);
  }
  switch (result.verdict) {
    case ck::Verdict::linearizable: return 0;
    case ck::Verdict::violation: return 1;
    case ck::Verdict::unknown: return 3;
  }
  return 3;
}
