// The codec's public interface (wire/codec.hpp): round trips of every
// message, the frame layout, and rejection of every kind of bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <variant>

#include "core/merkle_store.hpp"
#include "samples.hpp"
#include "test_util.hpp"
#include "wire/codec.hpp"

using namespace synod;
using namespace synod::wire;
using namespace synod::wire::testing;

namespace {

const std::vector<Message>& all_messages() {
  static const std::vector<Message> messages = samples::messages();
  return messages;
}

bool is_truncation(DecodeError e) { return e == DecodeError::truncated || e == DecodeError::length_overflow; }

// Both directions of the codec are canonical: whatever decodes, re-encodes
// to exactly the bytes it came from. Returns false if a decoded frame does not.
bool decodes_canonically_or_fails(ByteView frame) {
  auto envelope = decode_envelope(frame);
  if (!envelope) return true;
  if (encode_envelope(*envelope) != Bytes(frame.begin(), frame.end())) return false;
  auto message = decode_message(*envelope);
  if (!message) return true;
  return message_type(*message) == envelope->type && encode_message(*message) == envelope->payload;
}

}  // namespace

TEST_CASE("the samples cover every message type") {
  std::set<std::size_t> indices;
  for (const Message& m : all_messages()) indices.insert(m.index());
  CHECK(indices.size() == std::variant_size_v<Message>);
}

TEST_CASE("every message round-trips through make_frame, decode_envelope and decode_message") {
  for (const Message& original : all_messages()) {
    const std::string type_name = to_string(message_type(original));
    CAPTURE(type_name);
    const Principal sender = samples::sender_of(original);
    const Bytes frame = frame_of(original);

    auto envelope = decode_envelope(as_view(frame));
    REQUIRE(envelope.has_value());
    CHECK(envelope->version == kFormatVersion);
    CHECK(envelope->type == message_type(original));
    CHECK(envelope->sender == sender);
    CHECK(envelope->payload == encode_message(original));
    // The authenticator was made over the signing input of this type, sender
    // and signed part, and can be checked from the envelope alone.
    const Bytes signed_part_bytes = std::visit([](const auto& m) { return signed_part(m); }, original);
    CHECK(envelope->authenticator == sign(signing_input(envelope->type, envelope->sender, as_view(signed_part_bytes))));

    auto decoded = decode_message(*envelope);
    REQUIRE(decoded.has_value());
    CHECK(decoded->index() == original.index());
    CHECK(*decoded == original);
    CHECK(encode_envelope(*envelope) == frame);
  }
}

TEST_CASE("every codec part round-trips through encode and decode") {
  const auto parts = std::make_tuple(
      samples::pre_prepare_header(3, 4), samples::signed_by(2, samples::pre_prepare_header(3, 4)),
      samples::signed_by(1, samples::prepare(3, 4)), samples::signed_by(1, samples::commit(3, 4)),
      samples::signed_by(3, samples::checkpoint(64)), samples::signed_by(2, samples::view_change(9, 2)),
      samples::prepared_certificate(5, 6), samples::signed_request(11, 12), samples::batch(5),
      samples::committed_batch(17), samples::accepted_entry(18), samples::chosen_entry(19), samples::ballot(),
      TreeNodeRef{5, samples::kMax32}, samples::tree_children(2, 0x0123), LeafRef{7, 9}, samples::leaf_entry(4),
      samples::leaf_part(), samples::key_value());
  std::apply(
      [](const auto&... part) {
        auto check = [](const auto& value) {
          using T = std::remove_cvref_t<decltype(value)>;
          const Bytes bytes = encode(value);
          auto back = decode<T>(as_view(bytes));
          REQUIRE(back.has_value());
          CHECK(*back == value);
          CHECK(encode(*back) == bytes);
        };
        (check(part), ...);
      },
      parts);
  // A batch is the digest input of a pre-prepare.
  CHECK(encode_batch(samples::batch(2)) == encode(samples::batch(2)));
}

TEST_CASE("the encoding is little-endian, fixed-width, with 64-bit length prefixes") {
  const Request r{0x04030201u, 0x0c0b0a0908070605ull, true, {0xAA, 0xBB}};
  const Bytes expected = {0x01, 0x02, 0x03, 0x04,                          // client u32
                          0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,  // t u64
                          0x01,                                            // read_only
                          0x02, 0, 0, 0, 0, 0, 0, 0,                       // op length u64
                          0xAA, 0xBB};
  CHECK(encode(r) == expected);

  Envelope e;
  e.type = MsgType::commit;
  e.sender = Principal::client(0x0d0c0b0au);
  e.payload = {0x11};
  e.authenticator = {0x22, 0x33};
  const Bytes frame = {0x01, 0x00,              // version
                       12,                      // type: commit
                       1,                       // sender kind: client
                       0x0a, 0x0b, 0x0c, 0x0d,  // sender id
                       1, 0, 0, 0, 0, 0, 0, 0, 0x11,
                       2, 0, 0, 0, 0, 0, 0, 0, 0x22, 0x33};
  CHECK(encode_envelope(e) == frame);
}

TEST_CASE("signing input: domain-separated by format version, type and sender") {
  const Bytes part = encode(samples::prepare(7, 42));
  const Bytes base = signing_input(MsgType::prepare, Principal::replica(2), as_view(part));

  Writer expected;
  expected.u16(kFormatVersion).u8(static_cast<std::uint8_t>(MsgType::prepare)).u8(0).u32(2).u64(part.size());
  expected.bytes.insert(expected.bytes.end(), part.begin(), part.end());
  CHECK(base == expected.bytes);

  // Prepare and Commit have identical bodies; their signatures must not be
  // interchangeable.
  CHECK(signing_input(MsgType::commit, Principal::replica(2), as_view(part)) != base);
  CHECK(signing_input(MsgType::prepare, Principal::replica(3), as_view(part)) != base);
  CHECK(signing_input(MsgType::prepare, Principal::client(2), as_view(part)) != base);
  Bytes other_part = part;
  other_part.back() ^= 1;
  CHECK(signing_input(MsgType::prepare, Principal::replica(2), as_view(other_part)) != base);
  CHECK(signing_input_of(Principal::replica(2), samples::prepare(7, 42)) == base);
}

TEST_CASE("a pre-prepare's signed part is its header only") {
  const PrePrepare pp = samples::pre_prepare();
  CHECK(signed_part(pp) == encode(pp.header));
  CHECK(signed_part(pp) != encode(pp));
  CHECK(signed_part(samples::prepare(1, 2)) == encode(samples::prepare(1, 2)));
  // The pre-prepare header is signed as a pre-prepare, so a Signed<header>
  // in a certificate verifies against the primary's original signature.
  CHECK(signing_input_of(Principal::replica(0), pp) == signing_input_of(Principal::replica(0), pp.header));
}

TEST_CASE("truncation at every byte position is an error, never a crash") {
  for (const Message& m : all_messages()) {
    const std::string type_name = to_string(message_type(m));
    CAPTURE(type_name);
    const Bytes frame = frame_of(m);
    for (std::size_t length = 0; length < frame.size(); ++length) {
      CAPTURE(length);
      auto result = decode_envelope(ByteView(frame.data(), length));
      REQUIRE_FALSE(result.has_value());
      CHECK(is_truncation(result.error()));
    }
    // The same inside the payload, with an intact envelope around it.
    Envelope e = *decode_envelope(as_view(frame));
    const Bytes payload = e.payload;
    for (std::size_t length = 0; length < payload.size(); ++length) {
      CAPTURE(length);
      e.payload.assign(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(length));
      auto result = decode_message(e);
      REQUIRE_FALSE(result.has_value());
      CHECK(is_truncation(result.error()));
    }
  }
}

TEST_CASE("trailing bytes are rejected") {
  const Bytes frame = frame_of(samples::new_view());
  Bytes longer = frame;
  longer.push_back(0);
  CHECK(decode_envelope(as_view(longer)).error() == DecodeError::trailing_bytes);

  Envelope e = *decode_envelope(as_view(frame));
  e.payload.push_back(0);
  CHECK(decode_message(e).error() == DecodeError::trailing_bytes);

  Bytes prepare = encode(samples::prepare(1, 2));
  prepare.push_back(0x7f);
  CHECK(decode<Prepare>(as_view(prepare)).error() == DecodeError::trailing_bytes);
}

TEST_CASE("a frame of another format version is rejected as bad_version") {
  const Bytes frame = frame_of(samples::request(1, 2));
  for (std::uint16_t version : {std::uint16_t{0}, std::uint16_t{2}, std::uint16_t{0x0100}, std::uint16_t{0xffff}}) {
    CAPTURE(version);
    Bytes patched = frame;
    patched[0] = static_cast<std::uint8_t>(version);
    patched[1] = static_cast<std::uint8_t>(version >> 8);
    CHECK(decode_envelope(as_view(patched)).error() == DecodeError::bad_version);
    // The version is judged before anything else in the frame.
    CHECK(decode_envelope(ByteView(patched.data(), 2)).error() == DecodeError::bad_version);
  }
  Envelope e = *decode_envelope(as_view(frame));
  e.version = 2;
  CHECK(decode_message(e).error() == DecodeError::bad_version);
}

TEST_CASE("an unknown message type is rejected as unknown_type") {
  const Bytes frame = frame_of(samples::request(1, 2));
  int unknown = 0;
  for (int type = 0; type <= 255; ++type) {
    Bytes patched = frame;
    patched[2] = static_cast<std::uint8_t>(type);
    bool known = false;
    for (const Message& m : all_messages()) known = known || static_cast<int>(message_type(m)) == type;
    auto envelope = decode_envelope(as_view(patched));
    CAPTURE(type);
    if (known) {
      CHECK(envelope.has_value());
    } else {
      ++unknown;
      CHECK(envelope.error() == DecodeError::unknown_type);
      Envelope e = *decode_envelope(as_view(frame));
      e.type = static_cast<MsgType>(type);
      CHECK(decode_message(e).error() == DecodeError::unknown_type);
    }
  }
  CHECK(unknown == 256 - static_cast<int>(std::variant_size_v<Message>));
}

TEST_CASE("a payload decoded as the wrong type is rejected, not misread") {
  // A Prepare's payload under the Commit type has the same shape (v, s, d),
  // which is why signatures are domain-separated; anything else must fail.
  Envelope e = *decode_envelope(as_view(frame_of(samples::new_view())));
  e.type = MsgType::pre_prepare;
  CHECK_FALSE(decode_message(e).has_value());
  e.type = MsgType::fetch_state;
  CHECK(decode_message(e).error() == DecodeError::trailing_bytes);
}

TEST_CASE("bools decode only from 0 and 1, enums only from known values") {
  // Request: client u32, t u64, then read_only at offset 12.
  Bytes request = encode(samples::request(1, 2));
  for (std::uint8_t v : {std::uint8_t{2}, std::uint8_t{0x80}, std::uint8_t{0xff}}) {
    request[12] = v;
    CHECK(decode<Request>(as_view(request)).error() == DecodeError::bad_value);
  }
  request[12] = 0;
  CHECK(decode<Request>(as_view(request)).has_value());

  // Reply: view u64, client u32, t u64, then status at offset 20, leader u32,
  // then read_only at offset 25.
  const Bytes reply = encode(samples::reply());
  for (std::uint8_t v : {std::uint8_t{2}, std::uint8_t{0xff}}) {
    Bytes bad_status = reply;
    bad_status[20] = v;
    CHECK(decode<Reply>(as_view(bad_status)).error() == DecodeError::bad_value);
    Bytes bad_bool = reply;
    bad_bool[25] = v;
    CHECK(decode<Reply>(as_view(bad_bool)).error() == DecodeError::bad_value);
  }
  Bytes ok_status = reply;
  ok_status[20] = static_cast<std::uint8_t>(ReplyStatus::ok);
  CHECK(decode<Reply>(as_view(ok_status))->status == ReplyStatus::ok);

  // A bool deep inside a nested vector: the read_only of the first request
  // of a pre-prepare's batch (header 48, batch count 8, client 4, t 8).
  Bytes pp = encode(samples::pre_prepare());
  pp[48 + 8 + 12] = 7;
  CHECK(decode<PrePrepare>(as_view(pp)).error() == DecodeError::bad_value);

  // The sender kind in the envelope (offset 3).
  Bytes frame = frame_of(samples::request(1, 2));
  frame[3] = 2;
  CHECK(decode_envelope(as_view(frame)).error() == DecodeError::bad_value);
}

TEST_CASE("frames over the cap are rejected before decoding") {
  const Bytes frame = frame_of(samples::committed_batches());
  CHECK(decode_envelope(as_view(frame), frame.size()).has_value());
  CHECK(decode_envelope(as_view(frame), frame.size() - 1).error() == DecodeError::frame_too_large);
  // Over the default cap, even if the bytes are garbage (zero version would
  // otherwise be bad_version).
  const Bytes huge(kDefaultMaxFrameBytes + 1, 0);
  CHECK(decode_envelope(as_view(huge)).error() == DecodeError::frame_too_large);
  CHECK(decode_envelope(ByteView(huge.data(), 4), 3).error() == DecodeError::frame_too_large);
}

TEST_CASE("huge length prefixes are length_overflow") {
  // (The allocation side of this is measured in alloc_bound_test.cpp.)
  const std::uint64_t huge[] = {std::uint64_t{1} << 32, std::uint64_t{1} << 63, ~std::uint64_t{0}};
  for (std::uint64_t length : huge) {
    CAPTURE(length);
    Bytes frame = frame_of(samples::request(1, 2));
    put_u64(frame, kPayloadLengthOffset, length);
    CHECK(decode_envelope(as_view(frame)).error() == DecodeError::length_overflow);

    Bytes batch = encode(samples::batch(2));
    put_u64(batch, 0, length);
    CHECK(decode<Batch>(as_view(batch)).error() == DecodeError::length_overflow);
  }
  // One more element than the remaining bytes could hold at 1 byte each.
  Bytes request = encode(Request{1, 2, false, {9, 9, 9}});
  put_u64(request, 13, 4);
  CHECK(decode<Request>(as_view(request)).error() == DecodeError::length_overflow);
}

TEST_CASE("error names") {
  std::set<std::string> names;
  for (int e = 0; e <= static_cast<int>(DecodeError::trailing_bytes); ++e) {
    names.insert(to_string(static_cast<DecodeError>(e)));
  }
  CHECK(names.size() == 7);
  std::set<std::string> types;
  for (const Message& m : all_messages()) types.insert(to_string(message_type(m)));
  CHECK(types.size() == std::variant_size_v<Message>);
  CHECK(types.count("unknown") == 0);
}

TEST_CASE("random bytes never crash, and whatever decodes re-encodes exactly") {
  std::mt19937_64 rng(0x5eed0001);
  auto byte = [&] { return static_cast<std::uint8_t>(rng()); };
  int decoded_envelopes = 0;

  // Pure noise, of every short length.
  for (int i = 0; i < 20000; ++i) {
    Bytes input(rng() % 300);
    for (auto& b : input) b = byte();
    REQUIRE(decodes_canonically_or_fails(as_view(input)));
  }
  // Noise behind a valid header, so that it reaches the message decoders:
  // version, a known type, a valid sender, an exact payload length, then an
  // authenticator.
  for (int i = 0; i < 20000; ++i) {
    const Message& m = all_messages()[rng() % all_messages().size()];
    Writer w;
    w.u16(kFormatVersion).u8(static_cast<std::uint8_t>(message_type(m))).u8(rng() % 2).u32(static_cast<std::uint32_t>(rng()));
    const std::size_t payload = rng() % 200;
    w.u64(payload);
    for (std::size_t k = 0; k < payload; ++k) w.u8(rng() % 4 == 0 ? 0 : byte());  // zeros make short lengths likely
    w.u64(0);
    auto envelope = decode_envelope(as_view(w.bytes));
    REQUIRE(envelope.has_value());
    ++decoded_envelopes;
    REQUIRE(decodes_canonically_or_fails(as_view(w.bytes)));
  }
  CHECK(decoded_envelopes == 20000);
}

TEST_CASE("mutated valid frames never crash, and whatever decodes re-encodes exactly") {
  std::mt19937_64 rng(0x5eed0002);
  int still_decoding = 0;
  for (int i = 0; i < 30000; ++i) {
    const Message& m = all_messages()[rng() % all_messages().size()];
    Bytes frame = frame_of(m);
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits && !frame.empty(); ++k) {
      const std::size_t at = rng() % frame.size();
      switch (rng() % 4) {
        case 0: frame[at] = static_cast<std::uint8_t>(rng()); break;
        case 1: frame[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8)); break;
        case 2: frame.erase(frame.begin() + static_cast<std::ptrdiff_t>(at)); break;
        default: frame.insert(frame.begin() + static_cast<std::ptrdiff_t>(at), static_cast<std::uint8_t>(rng())); break;
      }
    }
    REQUIRE(decodes_canonically_or_fails(as_view(frame)));
    auto envelope = decode_envelope(as_view(frame));
    if (envelope && decode_message(*envelope)) ++still_decoding;
  }
  // Some mutations land in opaque bytes (signatures, ops) and still decode:
  // evidence that the round-trip check above was actually exercised.
  CHECK(still_decoding > 0);
}

// ---------------------------------------------------------------- Merkle state transfer

namespace {

// One sample of each state-transfer message.
std::vector<Message> state_transfer_messages() {
  return {samples::fetch_tree(),   samples::tree_nodes(),   samples::fetch_leaves(),
          samples::leaf_entries(), samples::fetch_values(), samples::values()};
}

// Encodes `value` (encoding never checks a limit) and decodes it back.
template <class M>
std::expected<M, DecodeError> re_decode(const M& value) {
  return decode<M>(as_view(encode(value)));
}

Bytes filled(std::size_t n, std::uint8_t fill) { return Bytes(n, fill); }

}  // namespace

static_assert(kTreeFanout == MerkleStore::kFanout, "TreeChildren carries one node's children");

TEST_CASE("state transfer: the message types are 20..25") {
  CHECK(static_cast<int>(MsgType::fetch_tree) == 20);
  CHECK(static_cast<int>(MsgType::tree_nodes) == 21);
  CHECK(static_cast<int>(MsgType::fetch_leaves) == 22);
  CHECK(static_cast<int>(MsgType::leaf_entries) == 23);
  CHECK(static_cast<int>(MsgType::fetch_values) == 24);
  CHECK(static_cast<int>(MsgType::values) == 25);
  CHECK(std::string(to_string(MsgType::fetch_tree)) == "fetch-tree");
  CHECK(std::string(to_string(MsgType::values)) == "values");
  CHECK(type_of<FetchTree> == MsgType::fetch_tree);
  CHECK(type_of<TreeNodes> == MsgType::tree_nodes);
  CHECK(type_of<FetchLeaves> == MsgType::fetch_leaves);
  CHECK(type_of<LeafEntries> == MsgType::leaf_entries);
  CHECK(type_of<FetchValues> == MsgType::fetch_values);
  CHECK(type_of<Values> == MsgType::values);
}

TEST_CASE("state transfer: every message round-trips as a signed frame, and every truncation is rejected") {
  for (const Message& original : state_transfer_messages()) {
    const std::string type_name = to_string(message_type(original));
    CAPTURE(type_name);
    const Bytes frame = frame_of(original);
    auto envelope = decode_envelope(as_view(frame));
    REQUIRE(envelope.has_value());
    CHECK(envelope->type == message_type(original));
    auto decoded = decode_message(*envelope);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == original);
    // Signed over the whole payload, like FETCH-STATE.
    const Bytes part = std::visit([](const auto& m) { return signed_part(m); }, original);
    CHECK(part == envelope->payload);

    for (std::size_t length = 0; length < frame.size(); ++length) {
      auto cut = decode_envelope(ByteView(frame.data(), length));
      REQUIRE_FALSE(cut.has_value());
      CHECK(is_truncation(cut.error()));
    }
    Envelope e = *envelope;
    for (std::size_t length = 0; length < envelope->payload.size(); ++length) {
      e.payload.assign(envelope->payload.begin(), envelope->payload.begin() + static_cast<std::ptrdiff_t>(length));
      auto cut = decode_message(e);
      REQUIRE_FALSE(cut.has_value());
      CHECK(is_truncation(cut.error()));
    }
  }
}

TEST_CASE("state transfer: the field layout") {
  // seq u64, node count u64, then (level u8, index u32) per node.
  const Bytes fetch = encode(FetchTree{7, {{2, 0x01020304u}}});
  const Bytes expected = {7, 0, 0, 0, 0, 0, 0, 0,  // seq
                          1, 0, 0, 0, 0, 0, 0, 0,  // node count
                          2,                       // level
                          0x04, 0x03, 0x02, 0x01}; // index
  CHECK(fetch == expected);
  // bucket u32, from u32, total u32, entry count u64, then (key, digest) per
  // entry; a key value: key, present u8, value.
  CHECK(encode(LeafPart{1, 2, 3, {LeafEntry{{9}, samples::digest(1)}}}).size() == 4 + 4 + 4 + 8 + (8 + 1 + 32));
  CHECK(encode(KeyValue{{9}, true, {1, 2}}) == Bytes{1, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 0, 0, 0, 0, 0, 0, 0, 1, 2});
}

TEST_CASE("state transfer: every vector decodes up to its limit and not one element beyond") {
  SUBCASE("FetchTree and TreeNodes: kMaxTreeNodesPerFetch nodes") {
    FetchTree fetch{1, std::vector<TreeNodeRef>(kMaxTreeNodesPerFetch, TreeNodeRef{5, 3})};
    CHECK(re_decode(fetch) == fetch);
    fetch.nodes.push_back({});
    CHECK(re_decode(fetch).error() == DecodeError::length_overflow);

    TreeNodes nodes{1, std::vector<TreeChildren>(kMaxTreeNodesPerFetch, samples::tree_children(4, 1))};
    CHECK(re_decode(nodes) == nodes);
    nodes.nodes.push_back({});
    CHECK(re_decode(nodes).error() == DecodeError::length_overflow);
  }
  SUBCASE("TreeChildren: kTreeFanout children") {
    TreeNodes nodes{1, {samples::tree_children(0, 0)}};
    REQUIRE(nodes.nodes[0].children.size() == kTreeFanout);
    CHECK(re_decode(nodes) == nodes);
    nodes.nodes[0].children.push_back(samples::digest(99));
    CHECK(re_decode(nodes).error() == DecodeError::length_overflow);
    CHECK(re_decode(nodes.nodes[0]).error() == DecodeError::length_overflow);
  }
  SUBCASE("FetchLeaves and LeafEntries: kMaxLeavesPerFetch leaves or parts") {
    FetchLeaves fetch{1, std::vector<LeafRef>(kMaxLeavesPerFetch, LeafRef{3, 4})};
    CHECK(re_decode(fetch) == fetch);
    fetch.leaves.push_back({});
    CHECK(re_decode(fetch).error() == DecodeError::length_overflow);

    LeafEntries entries{1, std::vector<LeafPart>(kMaxLeavesPerFetch, LeafPart{1, 0, 1, {samples::leaf_entry(1)}})};
    CHECK(re_decode(entries) == entries);
    entries.parts.push_back({});
    CHECK(re_decode(entries).error() == DecodeError::length_overflow);
  }
  SUBCASE("LeafPart: kMaxLeafEntriesPerPart entries") {
    const std::vector<LeafEntry> most(kMaxLeafEntriesPerPart, samples::leaf_entry(2));
    LeafEntries entries{1, {LeafPart{1, 0, 5000, most}}};
    CHECK(re_decode(entries) == entries);
    entries.parts[0].entries.push_back(samples::leaf_entry(3));
    CHECK(re_decode(entries).error() == DecodeError::length_overflow);
    CHECK(re_decode(entries.parts[0]).error() == DecodeError::length_overflow);
  }
  SUBCASE("keys: kMaxStateKeyBytes, wherever they are") {
    const Bytes longest = filled(kMaxStateKeyBytes, 0x61);
    const Bytes too_long = filled(kMaxStateKeyBytes + 1, 0x61);

    LeafEntries entries{1, {LeafPart{1, 0, 1, {LeafEntry{longest, samples::digest(1)}}}}};
    CHECK(re_decode(entries) == entries);
    entries.parts[0].entries[0].key = too_long;
    CHECK(re_decode(entries).error() == DecodeError::length_overflow);

    FetchValues fetch{1, std::vector<Bytes>(kMaxKeysPerFetch, longest)};
    CHECK(re_decode(fetch) == fetch);
    fetch.keys.back() = too_long;
    CHECK(re_decode(fetch).error() == DecodeError::length_overflow);

    Values values{1, {KeyValue{longest, true, {1}}}};
    CHECK(re_decode(values) == values);
    values.values[0].key = too_long;
    CHECK(re_decode(values).error() == DecodeError::length_overflow);
  }
  SUBCASE("FetchValues and Values: kMaxKeysPerFetch keys or values") {
    FetchValues fetch{1, std::vector<Bytes>(kMaxKeysPerFetch, Bytes{1, 2})};
    CHECK(re_decode(fetch) == fetch);
    fetch.keys.push_back({});
    CHECK(re_decode(fetch).error() == DecodeError::length_overflow);

    Values values{1, std::vector<KeyValue>(kMaxKeysPerFetch, KeyValue{{1}, false, {}})};
    CHECK(re_decode(values) == values);
    values.values.push_back({});
    CHECK(re_decode(values).error() == DecodeError::length_overflow);
  }
  SUBCASE("a value: kMaxStateValueBytes (= the store's kMaxStoreValueBytes)") {
    Values values{1, {KeyValue{{1}, true, filled(kMaxStateValueBytes, 0x7e)}}};
    const Bytes frame = frame_of(values);
    CHECK(frame.size() < kDefaultMaxFrameBytes);
    auto envelope = decode_envelope(as_view(frame));
    REQUIRE(envelope.has_value());
    CHECK(decode_message(*envelope) == Message(values));
    values.values[0].value.push_back(0);
    CHECK(re_decode(values).error() == DecodeError::length_overflow);
  }
}

TEST_CASE("state transfer: a count over a limit is length_overflow even with the bytes behind it") {
  // By hand, so that it is the limit and not the remaining bytes that
  // refuses: a FetchTree of 2^32 nodes, and one of kMaxTreeNodesPerFetch + 1
  // with every node's bytes present.
  Writer huge;
  huge.u64(1).u64(std::uint64_t{1} << 32).raw(64, 0);
  CHECK(decode<FetchTree>(as_view(huge.bytes)).error() == DecodeError::length_overflow);
  Writer over;
  over.u64(1).u64(kMaxTreeNodesPerFetch + 1).raw((kMaxTreeNodesPerFetch + 1) * 5, 0);
  CHECK(decode<FetchTree>(as_view(over.bytes)).error() == DecodeError::length_overflow);
  put_u64(over.bytes, 8, kMaxTreeNodesPerFetch);
  over.bytes.resize(16 + kMaxTreeNodesPerFetch * 5);
  CHECK(decode<FetchTree>(as_view(over.bytes))->nodes.size() == kMaxTreeNodesPerFetch);
}
