// The kv op and result encodings: the documented byte layout, round trips,
// and rejection of malformed bytes with a reason.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kv_support.hpp"

using namespace kv_test;
namespace kv = synod::examples::kv;

namespace {

// decode_op's error for `bytes` as "<code>: <message>", or "accepted".
std::string rejection(const Bytes& bytes) {
  const auto decoded = kv::decode_op(synod::as_view(bytes));
  return decoded ? std::string("accepted") : decoded.error().describe();
}

}  // namespace

TEST_CASE("kv codec: ops have the documented byte layout") {
  CHECK(kv::encode_put("ab", "c") == Bytes{0x01, 2, 0, 0, 0, 'a', 'b', 1, 0, 0, 0, 'c'});
  CHECK(kv::encode_get("k") == Bytes{0x02, 1, 0, 0, 0, 'k'});
  CHECK(kv::encode_del("k") == Bytes{0x03, 1, 0, 0, 0, 'k'});
  CHECK(kv::encode_cas("k", "e", "d") == Bytes{0x04, 1, 0, 0, 0, 'k', 1, 1, 0, 0, 0, 'e', 1, 0, 0, 0, 'd'});
  CHECK(kv::encode_cas("k", std::nullopt, "d") == Bytes{0x04, 1, 0, 0, 0, 'k', 0, 1, 0, 0, 0, 'd'});
}

TEST_CASE("kv codec: results have the documented byte layout") {
  CHECK(kv::encode_result(ok()) == Bytes{0, 0});
  CHECK(kv::encode_result(ok("v")) == Bytes{0, 1, 1, 0, 0, 0, 'v'});
  CHECK(kv::encode_result(not_found()) == Bytes{1, 0});
  CHECK(kv::encode_result(mismatch("c")) == Bytes{2, 1, 1, 0, 0, 0, 'c'});
  CHECK(kv::encode_result(bad_op()) == Bytes{3, 0});
  CHECK(kv::encode_result(full()) == Bytes{4, 0});
}

TEST_CASE("kv codec: every op kind round-trips through decode_op") {
  const std::vector<kv::Op> ops = {
      {kv::OpKind::put, "key", "value", std::nullopt},
      {kv::OpKind::get, "key", "", std::nullopt},
      {kv::OpKind::del, "", "", std::nullopt},
      {kv::OpKind::cas, "key", "desired", std::string("expected")},
      {kv::OpKind::cas, "key", "desired", std::string("")},
      {kv::OpKind::cas, "key", "", std::nullopt},
  };
  for (const kv::Op& op : ops) {
    const Bytes encoded = kv::encode_op(op);
    CAPTURE(synod::to_hex(synod::as_view(encoded)));
    const auto decoded = kv::decode_op(synod::as_view(encoded));
    REQUIRE(decoded.has_value());
    CHECK(*decoded == op);
  }
}

TEST_CASE("kv codec: every result status round-trips through decode_result") {
  for (const KvResult& result : {ok(), ok(""), ok("v"), not_found(), mismatch(std::nullopt), mismatch("cur"),
                                 bad_op(), full()}) {
    CAPTURE(result);
    const auto decoded = kv::decode_result(synod::as_view(kv::encode_result(result)));
    REQUIRE(decoded.has_value());
    CHECK(*decoded == result);
  }
}

TEST_CASE("kv codec: decode_op names what is wrong") {
  const std::vector<std::pair<Bytes, std::string_view>> cases = {
      {{}, "empty operation"},
      {{0x07}, "unknown operation kind 7"},
      {{0x02, 0xff, 0xff, 0xff, 0xff}, "key of 4294967295 bytes exceeds the limit"},
      {{0x02, 3, 0, 0, 0, 'a'}, "truncated key"},
      {{0x02, 0, 0, 0, 0, 'x'}, "1 trailing bytes"},
      {{0x04, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0}, "flag must be 0 or 1"},  // complete but for the flag
  };
  for (const auto& [bytes, what] : cases) {
    const std::string why = rejection(bytes);
    CAPTURE(why);
    CHECK(why.starts_with("decode error: "));
    CHECK(why.find(what) != std::string::npos);
  }
}

TEST_CASE("kv codec: decode_result rejects malformed replies") {
  const std::vector<Bytes> malformed = {
      {},                           // empty
      {0},                          // no value flag
      {5, 0},                       // unknown status
      {0, 2},                       // bad value flag
      {1, 1, 0, 0, 0, 0},           // not_found with a value
      {3, 1, 0, 0, 0, 0},           // bad_op with a value
      {4, 1, 0, 0, 0, 0},           // full with a value
      {0, 1, 2, 0, 0, 0, 'v'},      // truncated value
      {0, 1, 0xff, 0xff, 0xff, 0xff},  // value longer than the limit
      {0, 0, 0},                    // trailing byte
  };
  for (const Bytes& bytes : malformed) {
    CAPTURE(synod::to_hex(synod::as_view(bytes)));
    const auto decoded = kv::decode_result(synod::as_view(bytes));
    CHECK_FALSE(decoded.has_value());
  }
}

TEST_CASE("kv codec: decode_op accepts exactly the ops encode_op produces, for every prefix") {
  const Bytes cas = kv::encode_cas("key", "expected", "desired");
  for (std::size_t cut = 0; cut < cas.size(); ++cut) {
    CAPTURE(cut);
    CHECK_FALSE(kv::decode_op(synod::ByteView(cas.data(), cut)).has_value());
  }
  CHECK(kv::decode_op(synod::as_view(cas)).has_value());
}
