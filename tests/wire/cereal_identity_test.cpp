// Our memory archives speak stock Cereal's portable binary format: the same
// serialize functions produce the same bytes through
// cereal::PortableBinaryOutputArchive (minus its 1-byte endianness header).
// Also checks each WireBound's min_bytes against a real encoding.
#include <doctest/doctest.h>

#include <cereal/archives/portable_binary.hpp>
#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "samples.hpp"
#include "wire/codec.hpp"
#include "wire/codec_core.hpp"
#include "wire/serialize.hpp"

using namespace synod;
using namespace synod::wire;

namespace {

template <class T>
Bytes with_memory_archive(const T& value) {
  Bytes out;
  detail::MemoryOutputArchive ar(out);
  ar(value);
  return out;
}

// Stock Cereal, over a std::ostringstream, with its header byte removed.
template <class T>
Bytes with_stock_cereal(const T& value) {
  std::ostringstream stream(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive ar(stream);
    ar(value);
  }
  const std::string bytes = stream.str();
  REQUIRE_FALSE(bytes.empty());
  // The header says "little-endian": 1.
  CHECK(static_cast<std::uint8_t>(bytes[0]) == 1);
  return Bytes(bytes.begin() + 1, bytes.end());
}

template <class T>
void check_identical(const T& value) {
  CHECK(with_memory_archive(value) == with_stock_cereal(value));
}

// For the wire types: the public encode() is that archive, too.
template <class T>
void check_identical_wire(const T& value) {
  check_identical(value);
  CHECK(encode(value) == with_memory_archive(value));
}

}  // namespace

TEST_CASE("every message encodes byte-identically to cereal::PortableBinaryOutputArchive") {
  for (const Message& m : samples::messages()) {
    const std::string type_name = to_string(message_type(m));
    CAPTURE(type_name);
    std::visit([](const auto& message) { check_identical_wire(message); }, m);
  }
}

TEST_CASE("every codec part encodes byte-identically to cereal::PortableBinaryOutputArchive") {
  const auto parts = std::make_tuple(
      samples::pre_prepare_header(3, 4), samples::signed_by(2, samples::pre_prepare_header(3, 4)),
      samples::signed_by(1, samples::prepare(3, 4)), samples::signed_by(1, samples::commit(3, 4)),
      samples::signed_by(3, samples::checkpoint(64)), samples::signed_by(2, samples::view_change(9, 2)),
      samples::prepared_certificate(5, 6), samples::signed_request(11, 12), samples::batch(5),
      samples::committed_batch(17), samples::accepted_entry(18), samples::chosen_entry(19), samples::ballot());
  std::apply([](const auto&... part) { (check_identical_wire(part), ...); }, parts);
}

TEST_CASE("Cereal's own std::vector and std::array encodings are what our archive writes") {
  // These go through cereal/types/vector.hpp and array.hpp in both archives:
  // binary blocks for integer elements, a 64-bit element count for vectors,
  // no count for arrays.
  check_identical(Bytes{});
  check_identical(Bytes{1, 2, 3, 250});
  check_identical(std::vector<std::uint64_t>{1, samples::kMax64, 0x0102030405060708ull});
  check_identical(std::vector<std::uint32_t>{});
  check_identical(samples::digest(9));
  check_identical(true);
  check_identical(std::uint16_t{0xbeef});
  CHECK(with_memory_archive(Bytes{7}) == Bytes{1, 0, 0, 0, 0, 0, 0, 0, 7});
  CHECK(with_memory_archive(samples::digest(9)).size() == kDigestBytes);
}

TEST_CASE("min_bytes is the size of the smallest encoding of each type") {
  // A default-constructed value has every vector empty: the smallest
  // encoding there is. A WireBound that misses or misstates a member fails
  // here, and with it the decoder's allocation bound.
#define SYNOD_WIRE_CHECK_MIN(M)                                                 \
  {                                                                             \
    INFO(#M);                                                                   \
    CHECK(with_memory_archive(M{}).size() == detail::WireBound<M>::min_bytes); \
  }
  SYNOD_WIRE_CODEC_TYPES(SYNOD_WIRE_CHECK_MIN)
#undef SYNOD_WIRE_CHECK_MIN
  // Spot checks against the field lists.
  CHECK(detail::WireBound<SignedRequest>::min_bytes == 4 + 8 + 1 + 8 + 8);
  CHECK(detail::WireBound<Signed<Prepare>>::min_bytes == 4 + 8 + 8 + 32 + 8);
}

TEST_CASE("the heap factor of every message is within the documented bound") {
  double worst = 0;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((worst = std::max(worst, detail::WireBound<std::variant_alternative_t<I, Message>>::heap_per_byte)), ...);
  }(std::make_index_sequence<std::variant_size_v<Message>>{});
  MESSAGE("worst heap bytes per payload byte: " << worst);
  CHECK(worst > 1.0);  // at least the byte vectors themselves
  CHECK(worst <= static_cast<double>(kMaxDecodeHeapPerPayloadByte));
  // The deepest chain, as documented in codec.hpp.
  CHECK(detail::WireBound<NewView>::heap_per_byte == doctest::Approx(worst));
}
