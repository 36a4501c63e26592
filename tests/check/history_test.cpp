// lib/check history format: the parser accepts the documented events,
// rejects malformed lines with their line number, and is total over garbage.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "check/history.hpp"
#include "check/linearizability.hpp"

using namespace synod::check;

namespace {

std::string error_of(std::string_view text) {
  auto parsed = parse_history(text);
  if (auto* err = std::get_if<ParseError>(&parsed)) return std::to_string(err->line) + ": " + err->reason;
  auto ops = pair_operations(std::get<std::vector<Event>>(parsed));
  if (auto* err = std::get_if<ParseError>(&ops)) return std::to_string(err->line) + ": " + err->reason;
  return "";
}

}  // namespace

TEST_CASE("parser: a documented invoke and ok are read field by field") {
  auto parsed = parse_event(R"({"type":"invoke","process":7,"time":-5,"op":"cas","key":"k","expected":null,"value":"v"})", 3);
  REQUIRE(std::holds_alternative<Event>(parsed));
  const Event& e = std::get<Event>(parsed);
  CHECK(e.type == EventType::invoke);
  CHECK(e.process == 7);
  CHECK(e.time_us == -5);
  CHECK(e.op == OpKind::cas);
  CHECK(e.key == "k");
  CHECK(e.expected.present);
  CHECK(!e.expected.value);
  CHECK(e.value.value == "v");
  CHECK(e.line == 3);
  auto ok = parse_event(R"( { "type" : "ok", "process": 7, "time": 9, "success": false, "value": "w", "note": "x" } )", 4);
  REQUIRE(std::holds_alternative<Event>(ok));
  CHECK(std::get<Event>(ok).success == false);
}

TEST_CASE("parser: escapes decode, and to_json_line round-trips any bytes") {
  auto parsed = parse_event(R"({"type":"invoke","process":0,"time":0,"op":"put","key":"a\"b\\c\u00e9\ud83d\ude00","value":"\n\t"})", 1);
  REQUIRE(std::holds_alternative<Event>(parsed));
  CHECK(std::get<Event>(parsed).key == "a\"b\\c\xC3\xA9\xF0\x9F\x98\x80");
  CHECK(std::get<Event>(parsed).value.value == "\n\t");

  Event e;
  e.type = EventType::invoke;
  e.process = 3;
  e.time_us = 123456789;
  e.op = OpKind::cas;
  e.key = std::string("k\0\x01\x7f\xff\"\\", 8);
  e.expected = OptionalValue::of("old");
  e.value = OptionalValue::of(std::string(300, 'z'));
  e.line = 9;
  auto back = parse_event(to_json_line(e), 9);
  REQUIRE(std::holds_alternative<Event>(back));
  CHECK(std::get<Event>(back) == e);
}

TEST_CASE("parser: malformed lines are rejected with their line number") {
  const std::string good = R"({"type":"invoke","process":0,"time":0,"op":"get","key":"x"})";
  const char* bad[] = {
      "not json",
      "{",
      "[1,2]",
      R"({"type":"invoke","process":0,"time":0,"op":"get","key":"x"} trailing)",
      R"({"process":0,"time":0,"op":"get","key":"x"})",                      // no type
      R"({"type":"start","process":0,"time":0,"op":"get","key":"x"})",       // unknown type
      R"({"type":"invoke","time":0,"op":"get","key":"x"})",                  // no process
      R"({"type":"invoke","process":-1,"time":0,"op":"get","key":"x"})",     // negative process
      R"({"type":"invoke","process":0,"op":"get","key":"x"})",               // no time
      R"({"type":"invoke","process":0,"time":1.5,"op":"get","key":"x"})",    // fraction
      R"({"type":"invoke","process":0,"time":99999999999999999999,"op":"get","key":"x"})",
      R"({"type":"invoke","process":0,"time":0,"op":"inc","key":"x"})",      // unknown op
      R"({"type":"invoke","process":0,"time":0,"op":"get"})",                // no key
      R"({"type":"invoke","process":0,"time":0,"op":"get","key":{"a":1}})",  // nested
      R"({"type":"invoke","process":0,"time":0,"op":"get","key":"x","key":"y"})",  // duplicate
      R"({"type":"invoke","process":0,"time":0,"op":"put","key":"x"})",      // put without value
      R"({"type":"invoke","process":0,"time":0,"op":"cas","key":"x","value":"1"})",  // cas without expected
      R"({"type":"invoke","process":0,"time":0,"op":"get","key":"x","value":"1"})",  // get with value
      R"({"type":"invoke","process":0,"time":0,"op":"get","key":"x\q"})",    // bad escape
      R"({"type":"invoke","process":0,"time":0,"op":"get","key":"\ud800"})", // lone surrogate
      R"({"type":"invoke","process":0,"time":0,"op":"get","key":"x)",        // unterminated
      R"({"type":"ok","process":0,"time":0,"op":"get"})",                    // ok get without value
      R"({"type":"ok","process":0,"time":0,"op":"cas"})",                    // ok cas without success
      R"({"type":"fail","process":0,"time":0,"value":"1"})",                 // fail with a result
  };
  for (const char* line : bad) {
    CAPTURE(line);
    const std::string text = good + "\n\n" + line + "\n";
    CHECK(error_of(text).rfind("3: ", 0) == 0);
  }
  CHECK(error_of(good + "\n") == "");
}

TEST_CASE("pairing: completions must match an open invoke of the same process, op and key") {
  const std::string put0 = R"({"type":"invoke","process":0,"time":10,"op":"put","key":"x","value":"1"})";
  CHECK(error_of(R"({"type":"ok","process":0,"time":0})").rfind("1: ", 0) == 0);
  CHECK(error_of(put0 + "\n" + put0).rfind("2: ", 0) == 0);  // second invoke while open
  CHECK(error_of(put0 + "\n" + R"({"type":"ok","process":0,"time":5})").rfind("2: ", 0) == 0);  // before invoke
  CHECK(error_of(put0 + "\n" + R"({"type":"ok","process":0,"time":20,"op":"get","value":null})").rfind("2: ", 0) == 0);
  CHECK(error_of(put0 + "\n" + R"({"type":"ok","process":0,"time":20,"key":"y"})").rfind("2: ", 0) == 0);
  CHECK(error_of(put0 + "\n" + R"({"type":"ok","process":0,"time":20,"value":"1"})").rfind("2: ", 0) == 0);
  CHECK(error_of(put0 + "\n" + R"({"type":"ok","process":0,"time":20})") == "");
}

TEST_CASE("parser: a line over the size limit is an error, not an allocation") {
  std::string text = R"({"type":"invoke","process":0,"time":0,"op":"put","key":"x","value":")";
  text += std::string(kMaxLineBytes + 10, 'a');
  text += "\"}\n";
  CHECK(error_of(text).rfind("1: line longer", 0) == 0);
  auto limited = parse_history(std::string_view(R"({"type":"info","process":0,"time":0})" "\n" R"({"type":"info","process":0,"time":0})"), 1);
  CHECK(std::holds_alternative<ParseError>(limited));
}

TEST_CASE("parser: total over random garbage and mutated valid lines") {
  std::mt19937_64 rng(42);
  const std::string valid = R"({"type":"ok","process":12,"time":345,"op":"cas","key":"k\u0041","success":false,"value":null})";
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string line;
    if (i % 2 == 0) {
      const std::size_t n = rng() % 80;
      for (std::size_t j = 0; j < n; ++j) line.push_back(static_cast<char>(rng() % 256));
    } else {
      line = valid;
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < edits; ++k) {
        const std::size_t at = rng() % line.size();
        switch (rng() % 3) {
          case 0: line[at] = static_cast<char>(rng() % 256); break;
          case 1: line.erase(at, 1 + rng() % 5); break;
          default: line.insert(at, 1, "{}[]\",:\\u0"[rng() % 11]); break;
        }
        if (line.empty()) line.push_back('{');
      }
    }
    auto parsed = parse_event(line, 1);  // must return, whatever the bytes
    if (std::holds_alternative<Event>(parsed)) ++accepted;
  }
  CHECK(accepted < 20000);
  CHECK(std::holds_alternative<Event>(parse_event(valid, 1)));
}
