// wire/codec.hpp's std::expected interface over codec_core (see there for
// why the core has a status-code interface of its own).
#include "wire/codec.hpp"

#include <utility>
#include <variant>

#include "synod/store.hpp"
#include "wire/codec_core.hpp"
#include "wire/serialize.hpp"

namespace synod::wire {
namespace {

using detail::Fault;

// Fault and DecodeError name the same outcomes; a cast is a valid mapping
// only while these hold.
#define SYNOD_WIRE_SAME(name)                                                              \
  static_assert(static_cast<int>(Fault::name) == static_cast<int>(DecodeError::name) + 1, \
                "Fault and DecodeError out of step: " #name);
SYNOD_WIRE_SAME(frame_too_large)
SYNOD_WIRE_SAME(truncated)
SYNOD_WIRE_SAME(length_overflow)
SYNOD_WIRE_SAME(bad_version)
SYNOD_WIRE_SAME(unknown_type)
SYNOD_WIRE_SAME(bad_value)
SYNOD_WIRE_SAME(trailing_bytes)
#undef SYNOD_WIRE_SAME

DecodeError to_error(Fault fault) {
  return static_cast<DecodeError>(static_cast<int>(fault) - 1);
}

// The state transfer's limits are the store's (messages.hpp cannot include
// synod/store.hpp: the fuzz build compiles the codec core without <expected>).
static_assert(kMaxStateKeyBytes == 1 + kMaxStoreKeyBytes, "a state key is a namespace byte and a store key");
static_assert(kMaxStateValueBytes == kMaxStoreValueBytes, "a state value is a store value");

// The documented memory bound holds for every message (see codec.hpp).
template <std::size_t... I>
constexpr bool within_heap_bound(std::index_sequence<I...>) {
  return ((detail::WireBound<std::variant_alternative_t<I, Message>>::heap_per_byte <=
           static_cast<double>(kMaxDecodeHeapPerPayloadByte)) &&
          ...);
}
static_assert(within_heap_bound(std::make_index_sequence<std::variant_size_v<Message>>{}),
              "a message nests deeper than kMaxDecodeHeapPerPayloadByte allows");

}  // namespace

const char* to_string(DecodeError e) {
  switch (e) {
    case DecodeError::frame_too_large: return "frame too large";
    case DecodeError::truncated: return "truncated";
    case DecodeError::length_overflow: return "length prefix exceeds the remaining bytes";
    case DecodeError::bad_version: return "unsupported format version";
    case DecodeError::unknown_type: return "unknown message type";
    case DecodeError::bad_value: return "invalid field value";
    case DecodeError::trailing_bytes: return "trailing bytes";
  }
  return "decode error";
}

template <class M>
Bytes encode(const M& message) {
  Bytes out;
  detail::encode_into(message, out);
  return out;
}

template <class M>
std::expected<M, DecodeError> decode(ByteView payload) {
  M message;
  if (Fault fault = detail::decode_into(payload, message); fault != Fault::none) {
    return std::unexpected(to_error(fault));
  }
  return message;
}

#define SYNOD_WIRE_INSTANTIATE(M)             \
  template Bytes encode<M>(const M&);         \
  template std::expected<M, DecodeError> decode<M>(ByteView);
SYNOD_WIRE_CODEC_TYPES(SYNOD_WIRE_INSTANTIATE)
#undef SYNOD_WIRE_INSTANTIATE

MsgType message_type(const Message& message) { return detail::message_type(message); }

Bytes encode_message(const Message& message) {
  Bytes out;
  detail::encode_message_into(message, out);
  return out;
}

Bytes encode_envelope(const Envelope& envelope) {
  Bytes out;
  detail::encode_envelope_into(envelope.version, envelope.type, envelope.sender, as_view(envelope.payload),
                               as_view(envelope.authenticator), out);
  return out;
}

Bytes signing_input(MsgType type, Principal sender, ByteView signed_part) {
  Bytes out;
  detail::signing_input_into(type, sender, signed_part, out);
  return out;
}

std::expected<Envelope, DecodeError> decode_envelope(ByteView frame, std::size_t max_frame_bytes) {
  detail::EnvelopeFields fields;
  if (Fault fault = detail::decode_envelope_into(frame, max_frame_bytes, fields); fault != Fault::none) {
    return std::unexpected(to_error(fault));
  }
  Envelope envelope;
  envelope.version = fields.version;
  envelope.type = fields.type;
  envelope.sender = fields.sender;
  envelope.payload = std::move(fields.payload);
  envelope.authenticator = std::move(fields.authenticator);
  return envelope;
}

std::expected<Message, DecodeError> decode_message(const Envelope& envelope) {
  // An Envelope can also be built by hand; only decode what we can speak.
  if (envelope.version != kFormatVersion) return std::unexpected(DecodeError::bad_version);
  Message message;
  if (Fault fault = detail::decode_message_into(envelope.type, as_view(envelope.payload), message);
      fault != Fault::none) {
    return std::unexpected(to_error(fault));
  }
  return message;
}

}  // namespace synod::wire
