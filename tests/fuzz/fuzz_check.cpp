// synod-fuzz-check: synod-check's input path — a history file through
// parse_history, pair_operations and check_kv — as a user's file reaches it.
//
// Checked besides "no crash, no unbounded allocation": every event parsed
// is written back by to_json_line and parses again to the same event, and
// the checker, under a small budget, returns one of its three verdicts
// with findings only for keys that are not linearizable.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "check/history.hpp"
#include "check/linearizability.hpp"

using namespace synod::check;

namespace {

void require(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_history(text, /*max_events=*/4096);
  if (const auto* error = std::get_if<ParseError>(&parsed)) {
    require(!error->reason.empty());
    return 0;
  }
  const auto& events = std::get<std::vector<Event>>(parsed);
  for (const Event& e : events) {
    auto again = parse_event(to_json_line(e), e.line);
    const auto* round_trip = std::get_if<Event>(&again);
    require(round_trip != nullptr && *round_trip == e);
  }
  auto paired = pair_operations(events);
  if (const auto* error = std::get_if<ParseError>(&paired)) {
    require(!error->reason.empty());
    return 0;
  }
  const auto& operations = std::get<std::vector<Operation>>(paired);
  Budget budget;
  budget.max_states_per_key = 20'000;
  budget.max_memory_bytes = 8u << 20;
  const CheckResult result = check_kv(operations, budget);
  require(result.operations <= operations.size());
  for (const KeyFinding& finding : result.findings) require(finding.verdict != Verdict::linearizable);
  require((result.verdict == Verdict::linearizable) == result.findings.empty());
  return 0;
}
