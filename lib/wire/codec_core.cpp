// The codec: Cereal portable binary over memory, with total, bounded decoding.
#include "wire/codec_core.hpp"

#include <new>
#include <type_traits>
#include <utility>
#include <variant>

#include "wire/serialize.hpp"

namespace synod::wire {

const char* to_string(MsgType t) {
  switch (t) {
    case MsgType::request: return "request";
    case MsgType::reply: return "reply";
    case MsgType::pre_prepare: return "pre-prepare";
    case MsgType::prepare: return "prepare";
    case MsgType::commit: return "commit";
    case MsgType::checkpoint: return "checkpoint";
    case MsgType::view_change: return "view-change";
    case MsgType::new_view: return "new-view";
    case MsgType::fetch_state: return "fetch-state";
    case MsgType::state_snapshot: return "state-snapshot";
    case MsgType::fetch_batches: return "fetch-batches";
    case MsgType::committed_batches: return "committed-batches";
    case MsgType::fetch_tree: return "fetch-tree";
    case MsgType::tree_nodes: return "tree-nodes";
    case MsgType::fetch_leaves: return "fetch-leaves";
    case MsgType::leaf_entries: return "leaf-entries";
    case MsgType::fetch_values: return "fetch-values";
    case MsgType::values: return "values";
    case MsgType::paxos_prepare: return "paxos-prepare";
    case MsgType::promise: return "promise";
    case MsgType::accept: return "accept";
    case MsgType::accepted: return "accepted";
    case MsgType::nack: return "nack";
    case MsgType::heartbeat: return "heartbeat";
    case MsgType::catch_up_request: return "catch-up-request";
    case MsgType::catch_up: return "catch-up";
    case MsgType::status_request: return "status-request";
    case MsgType::status_reply: return "status-reply";
  }
  return "unknown";
}

namespace detail {
namespace {

// Runs a decoding step and turns whatever it throws into a Fault, so that no
// exception crosses the codec boundary.
template <class Step>
Fault guarded(Step&& step) noexcept {
  try {
    step();
    return Fault::none;
  } catch (const DecodeFailure& failure) {
    return failure.fault;
  } catch (const std::bad_alloc&) {
    // Every allocation is bounded by a multiple of the input size, so this
    // means the input's lengths asked for more than we can hold.
    return Fault::length_overflow;
  } catch (...) {
    // Nothing else is thrown by design; treat it as a value we cannot accept.
    return Fault::bad_value;
  }
}

// Message dispatch by MsgType assumes that no two alternatives share a type.
template <std::size_t... I>
constexpr bool message_types_distinct(std::index_sequence<I...>) {
  constexpr MsgType types[] = {type_of<std::variant_alternative_t<I, Message>>...};
  for (std::size_t a = 0; a < sizeof...(I); ++a) {
    for (std::size_t b = a + 1; b < sizeof...(I); ++b) {
      if (types[a] == types[b]) return false;
    }
  }
  return true;
}
constexpr auto kMessageIndices = std::make_index_sequence<std::variant_size_v<Message>>{};
static_assert(message_types_distinct(kMessageIndices), "two Message alternatives share a MsgType");

template <std::size_t I>
Fault decode_alternative(ByteView payload, Message& out) noexcept {
  return decode_into(payload, out.emplace<I>());
}

template <std::size_t... I>
Fault dispatch(MsgType type, ByteView payload, Message& out, std::index_sequence<I...>) noexcept {
  Fault result = Fault::unknown_type;
  (void)((type == type_of<std::variant_alternative_t<I, Message>>
              ? (result = decode_alternative<I>(payload, out), true)
              : false) ||
         ...);
  return result;
}

}  // namespace

template <class M>
void encode_into(const M& value, Bytes& out) {
  MemoryOutputArchive ar(out);
  ar(value);
}

template <class M>
Fault decode_into(ByteView payload, M& out) noexcept {
  return guarded([&] {
    BoundedInputArchive ar(payload);
    ar(out);
    if (ar.remaining() != 0) BoundedInputArchive::fail(Fault::trailing_bytes);
  });
}

#define SYNOD_WIRE_INSTANTIATE(M)                         \
  template void encode_into<M>(const M&, Bytes&);         \
  template Fault decode_into<M>(ByteView, M&) noexcept;
SYNOD_WIRE_CODEC_TYPES(SYNOD_WIRE_INSTANTIATE)
#undef SYNOD_WIRE_INSTANTIATE

MsgType message_type(const Message& message) {
  return std::visit([](const auto& m) { return type_of<std::remove_cvref_t<decltype(m)>>; }, message);
}

void encode_message_into(const Message& message, Bytes& out) {
  std::visit([&](const auto& m) { encode_into(m, out); }, message);
}

Fault decode_message_into(MsgType type, ByteView payload, Message& out) noexcept {
  return dispatch(type, payload, out, kMessageIndices);
}

void encode_envelope_into(std::uint16_t version, MsgType type, Principal sender, ByteView payload,
                          ByteView authenticator, Bytes& out) {
  out.reserve(out.size() + kEnvelopeOverheadBytes + payload.size() + authenticator.size());
  MemoryOutputArchive ar(out);
  // Written field by field (not as a struct) so the views need no copy; the
  // bytes are those of a struct {u16, u8, u8, u32, Bytes, Bytes}.
  ar(version, static_cast<std::uint8_t>(type), static_cast<std::uint8_t>(sender.kind), sender.id);
  ar(cereal::make_size_tag(static_cast<cereal::size_type>(payload.size())));
  ar(cereal::binary_data(payload.data(), payload.size()));
  ar(cereal::make_size_tag(static_cast<cereal::size_type>(authenticator.size())));
  ar(cereal::binary_data(authenticator.data(), authenticator.size()));
}

Fault decode_envelope_into(ByteView frame, std::size_t max_frame_bytes, EnvelopeFields& out) noexcept {
  // Before touching a byte: an oversized frame costs nothing to reject.
  if (frame.size() > max_frame_bytes) return Fault::frame_too_large;
  // The version, little-endian, also before the guarded decoder: noise is
  // rejected here without the cost of throwing (a flood of it is cheap).
  if (frame.size() >= 2 && (frame[0] | (frame[1] << 8)) != kFormatVersion) return Fault::bad_version;
  return guarded([&] {
    BoundedInputArchive ar(frame);
    // The version first: a peer speaking another version gets bad_version
    // even if the rest of its frame means something else to us.
    ar(out.version);
    if (out.version != kFormatVersion) BoundedInputArchive::fail(Fault::bad_version);
    std::uint8_t type = 0;
    ar(type);
    out.type = static_cast<MsgType>(type);
    if (!is_known(out.type)) BoundedInputArchive::fail(Fault::unknown_type);
    ar(enum_field(out.sender.kind), out.sender.id, out.payload, out.authenticator);
    if (ar.remaining() != 0) BoundedInputArchive::fail(Fault::trailing_bytes);
  });
}

// (format version, type, sender kind, sender id, size-prefixed signed part):
// a signature over one message type, sender or format version never verifies
// as another, and the length prefix keeps the signed part unambiguous.
void signing_input_into(MsgType type, Principal sender, ByteView signed_part, Bytes& out) {
  out.reserve(out.size() + 2 + 1 + 1 + 4 + 8 + signed_part.size());
  MemoryOutputArchive ar(out);
  ar(kFormatVersion, static_cast<std::uint8_t>(type), static_cast<std::uint8_t>(sender.kind), sender.id);
  ar(cereal::make_size_tag(static_cast<cereal::size_type>(signed_part.size())));
  ar(cereal::binary_data(signed_part.data(), signed_part.size()));
}

}  // namespace detail
}  // namespace synod::wire
