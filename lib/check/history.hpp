// check/history.hpp — the client history that synod-check reads: one JSON
// object per line (JSON lines), one event per object. The format is
// documented with examples in check/README.md; in short:
//
//   {"type":"invoke","process":1,"time":1000,"op":"put","key":"x","value":"1"}
//   {"type":"ok","process":1,"time":1500,"op":"put","key":"x"}
//   {"type":"invoke","process":2,"time":1100,"op":"get","key":"x"}
//   {"type":"ok","process":2,"time":1600,"op":"get","key":"x","value":"1"}
//
// type: invoke | ok (completed, result known) | fail (did not take effect)
// | info (outcome unknown: it may or may not take effect, at any time after
// its invocation). op: put | get | del | cas (the kv example's operations).
// time: microseconds on one clock shared by every process of the history.
//
// The parser is total: any byte string yields events or an error naming
// the line and the reason. Nothing is allocated beyond the line being read
// (bounded by kMaxLineBytes) and the events kept (bounded by the caller's
// max_events).
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace synod::check {

inline constexpr std::size_t kMaxLineBytes = 1u << 20;
inline constexpr std::size_t kDefaultMaxEvents = 50'000'000;

enum class EventType : std::uint8_t { invoke, ok, fail, info };
enum class OpKind : std::uint8_t { put, get, del, cas };

const char* to_string(EventType type);
const char* to_string(OpKind kind);

// A JSON field that may be absent, null (e.g. "key absent") or a string.
struct OptionalValue {
  bool present = false;
  std::optional<std::string> value;  // nullopt with present = JSON null

  static OptionalValue of(std::optional<std::string> v) { return {true, std::move(v)}; }
  friend bool operator==(const OptionalValue&, const OptionalValue&) = default;
};

struct Event {
  EventType type = EventType::invoke;
  std::uint64_t process = 0;
  std::int64_t time_us = 0;
  std::optional<OpKind> op;    // required on invoke
  std::optional<std::string> key;  // required on invoke
  // invoke: put's value / cas's desired value. ok: get's value read, del's
  // removed value, a failed cas's current value (null = key absent).
  OptionalValue value;
  OptionalValue expected;        // cas invoke: expected value (null = must be absent)
  std::optional<bool> success;   // cas ok: whether it swapped
  std::size_t line = 0;          // 1-based line in the history file

  friend bool operator==(const Event&, const Event&) = default;
};

struct ParseError {
  std::size_t line = 0;
  std::string reason;
};

// One line (without its newline). Blank lines are the caller's business.
// Why an ok event's result fields (value, success) cannot be the result of
// an operation of this kind, or nullopt when they can.
std::optional<std::string> result_shape_problem(OpKind kind, const Event& e);

std::variant<Event, ParseError> parse_event(std::string_view line, std::size_t line_number);

// Every non-blank line of `in`. Lines longer than kMaxLineBytes and more than
// max_events events are errors.
std::variant<std::vector<Event>, ParseError> parse_history(std::istream& in,
                                                           std::size_t max_events = kDefaultMaxEvents);
std::variant<std::vector<Event>, ParseError> parse_history(std::string_view text,
                                                           std::size_t max_events = kDefaultMaxEvents);

// The event as one JSON line (no newline); parse_event() reads it back
// unchanged. Strings are written byte for byte, with '"', '\\' and control
// characters escaped.
std::string to_json_line(const Event& event);
std::string json_quote(std::string_view bytes);

}  // namespace synod::check
