// The Counter example: each operation, its error results, and its snapshot.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "synod/examples/counter.hpp"

namespace {

using synod::Bytes;
using synod::Operation;
using synod::examples::Counter;
namespace counter = synod::examples::counter;

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

// Executes one operation as a batch of one and returns the result as text.
std::string run_counter(Counter& c, const Bytes& op) {
  const Operation batch[] = {Operation{.client = 1, .request = 1, .payload = synod::as_view(op)}};
  const std::vector<Bytes> results = c.execute(batch);
  REQUIRE(results.size() == 1);
  return synod::to_string(synod::as_view(results[0]));
}

std::string run_counter(Counter& c, std::string_view op) { return run_counter(c, synod::to_bytes(op)); }

Counter counter_at(std::uint64_t value) {
  Counter c;
  REQUIRE(run_counter(c, counter::encode_add(value)) == std::to_string(value));
  return c;
}

}  // namespace

TEST_CASE("counter: inc adds one and returns the new value") {
  Counter c;
  CHECK(run_counter(c, counter::encode_inc()) == "1");
  CHECK(run_counter(c, counter::encode_inc()) == "2");
  CHECK(c.value() == 2);
}

TEST_CASE("counter: add N adds N and returns the new value") {
  Counter c;
  CHECK(run_counter(c, counter::encode_add(40)) == "40");
  CHECK(run_counter(c, counter::encode_add(2)) == "42");
  CHECK(run_counter(c, counter::encode_add(0)) == "42");
}

TEST_CASE("counter: the op helpers produce the documented text") {
  CHECK(synod::to_string(synod::as_view(counter::encode_inc())) == "inc");
  CHECK(synod::to_string(synod::as_view(counter::encode_add(7))) == "add 7");
  CHECK(synod::to_string(synod::as_view(counter::encode_get())) == "get");
}

TEST_CASE("counter: get returns the value and changes nothing") {
  Counter c = counter_at(5);
  CHECK(run_counter(c, counter::encode_get()) == "5");
  CHECK(c.value() == 5);
}

TEST_CASE("counter: execute returns one result per operation, in order") {
  Counter c;
  const Bytes inc = counter::encode_inc(), add = counter::encode_add(10), get = counter::encode_get();
  const Operation batch[] = {{1, 1, synod::as_view(inc)}, {2, 1, synod::as_view(add)}, {1, 2, synod::as_view(get)}};
  const std::vector<Bytes> results = c.execute(batch);
  REQUIRE(results.size() == 3);
  CHECK(synod::to_string(synod::as_view(results[0])) == "1");
  CHECK(synod::to_string(synod::as_view(results[1])) == "11");
  CHECK(synod::to_string(synod::as_view(results[2])) == "11");
}

TEST_CASE("counter: add that would overflow is an error and leaves the value") {
  Counter c = counter_at(kMax - 1);
  CHECK(run_counter(c, counter::encode_inc()) == std::to_string(kMax));
  const std::string result = run_counter(c, counter::encode_inc());
  CHECK(result.starts_with("error: overflow"));
  CHECK(c.value() == kMax);
}

TEST_CASE("counter: malformed operations are errors and change nothing") {
  const std::vector<std::string> malformed = {
      "",         "inc ",      "INC",         " inc",     "add",         "add ",
      "add x",    "add -1",    "add +1",      "add 0x10", "add 1 ",      "add  1",
      "add 1.5",  "get 1",     "dec",         "add 18446744073709551616",  // 2^64
      std::string("inc\0", 4), std::string(1000, 'a'),
  };
  for (const std::string& op : malformed) {
    CAPTURE(op);
    Counter c = counter_at(3);
    CHECK(run_counter(c, op).starts_with("error: "));
    CHECK(c.value() == 3);
  }
}

TEST_CASE("counter: decode_result reads values and turns error text into an Error") {
  CHECK(counter::decode_result(synod::as_view(synod::to_bytes("42"))) == 42u);
  CHECK(counter::decode_result(synod::as_view(synod::to_bytes(std::to_string(kMax)))) == kMax);
  const auto rejected = counter::decode_result(synod::as_view(synod::to_bytes("error: overflow")));
  REQUIRE_FALSE(rejected.has_value());
  CHECK(rejected.error().message.find("overflow") != std::string::npos);
  for (const char* garbage : {"", "x", "-1", "18446744073709551616", "1 ", "000000000000000000001"}) {
    CAPTURE(garbage);
    CHECK_FALSE(counter::decode_result(synod::as_view(synod::to_bytes(garbage))).has_value());
  }
}

TEST_CASE("counter: query answers get without changing state") {
  Counter c = counter_at(9);
  const Bytes answer = c.query(synod::as_view(counter::encode_get()));
  CHECK(synod::to_string(synod::as_view(answer)) == "9");
  CHECK(c.value() == 9);
}

TEST_CASE("counter: query rejects writes") {
  Counter c = counter_at(9);
  for (const Bytes& write : {counter::encode_inc(), counter::encode_add(1)}) {
    CHECK(synod::to_string(synod::as_view(c.query(synod::as_view(write)))).starts_with("error: "));
  }
  CHECK(c.value() == 9);
}

TEST_CASE("counter: snapshot is the value as 8 bytes little-endian") {
  Counter c = counter_at(0x0102030405060708);
  CHECK(c.snapshot() == Bytes{0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01});
  CHECK(Counter{}.snapshot() == Bytes(8, 0));
}

TEST_CASE("counter: restore round-trips a snapshot") {
  for (std::uint64_t value : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{0x8000000000000000}, kMax}) {
    CAPTURE(value);
    const Counter source = counter_at(value);
    Counter target = counter_at(77);
    REQUIRE(target.restore(synod::as_view(source.snapshot())).has_value());
    CHECK(target.value() == value);
    CHECK(target.snapshot() == source.snapshot());
  }
}

TEST_CASE("counter: restore rejects every size but 8 and keeps the value") {
  for (std::size_t size : {0, 1, 7, 9, 16}) {
    CAPTURE(size);
    Counter c = counter_at(5);
    const auto restored = c.restore(synod::as_view(Bytes(size, 0xff)));
    REQUIRE_FALSE(restored.has_value());
    CHECK(restored.error().code == synod::ErrorCode::decode);
    CHECK(c.value() == 5);
  }
}
