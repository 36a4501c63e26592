// wire/codec.hpp — bytes <-> messages. Encoding is Cereal's portable binary
// format (little-endian fixed-width integers, 64-bit length prefixes).
//
// Decoding is total over untrusted input: it returns a value or a
// DecodeError, never throws out, never crashes, and checks every length
// prefix against the bytes that remain before it allocates, so memory is
// bounded by a small multiple of the frame size.
#pragma once

#include <cstddef>
#include <expected>

#include "synod/types.hpp"
#include "wire/messages.hpp"

namespace synod::wire {

inline constexpr std::size_t kDefaultMaxFrameBytes = 16u << 20;

enum class DecodeError : std::uint8_t {
  frame_too_large,  // frame over the configured cap
  truncated,        // input ended inside a value
  length_overflow,  // a length prefix larger than the bytes that remain, or than its field's limit
  bad_version,      // envelope format version we do not speak
  unknown_type,     // message type byte we do not know
  bad_value,        // e.g. a bool that is not 0/1, an enum out of range
  trailing_bytes,   // bytes left over after the value
};
const char* to_string(DecodeError e);

// The one frame format on every socket. The authenticator covers
// signing_input(type, sender, signed_part(message)).
struct Envelope {
  std::uint16_t version = kFormatVersion;
  MsgType type = MsgType::request;
  Principal sender;
  Bytes payload;        // encode(message)
  Bytes authenticator;  // signature (or MAC vector)
  friend bool operator==(const Envelope&, const Envelope&) = default;
};

// ---- encoding (our own values; cannot fail)

template <class M>
Bytes encode(const M& message);  // payload bytes of any message type or part
Bytes encode_envelope(const Envelope& envelope);

// Digest input for a batch: d = digest(encode(batch)).
inline Bytes encode_batch(const Batch& batch) { return encode(batch); }

// The bytes an authenticator covers.
Bytes signing_input(MsgType type, Principal sender, ByteView signed_part);

// The part of a message that its signature covers: the whole message, except
// PRE-PREPARE whose signature covers only its header (v, s, d).
template <class M>
Bytes signed_part(const M& message) {
  return encode(message);
}
template <>
inline Bytes signed_part<PrePrepare>(const PrePrepare& message) {
  return encode(message.header);
}

template <class M>
Bytes signing_input_of(Principal sender, const M& message) {
  return signing_input(type_of<M>, sender, signed_part(message));
}

// Builds a complete frame: payload, authenticator = sign(signing input).
template <class M, class SignFn>
Bytes make_frame(Principal sender, const M& message, SignFn&& sign) {
  Envelope e;
  e.type = type_of<M>;
  e.sender = sender;
  e.payload = encode(message);
  e.authenticator = sign(signing_input(e.type, sender, signed_part(message)));
  return encode_envelope(e);
}

// The message variant's own type, and its payload encoding (encode<M> of
// whichever alternative it holds).
MsgType message_type(const Message& message);
Bytes encode_message(const Message& message);

// ---- decoding (untrusted bytes)
//
// Memory bound. Every length prefix is admitted only if that many elements,
// each at its smallest possible encoding, fit in the bytes that remain, and
// each vector is then allocated exactly once. So decoding never allocates
// more than a fixed multiple of its input:
//   decode_envelope(frame)    at most frame.size() heap bytes (the payload
//                             and authenticator copies);
//   decode<M>(payload),
//   decode_message(envelope)  at most kMaxDecodeHeapPerPayloadByte x
//                             payload.size() heap bytes, live or freed, for
//                             any input, valid or not;
// so one frame from the socket costs at most (1 + 8) x frame.size(), i.e.
// at most 9 x max_frame_bytes (144 MiB at the default cap) in the worst case.
// The factor is the worst nesting chain (NewView > Signed<ViewChange> >
// PreparedCertificate > Signed<Prepare> > signature bytes: 6.04), rounded
// up; codec.cpp checks every message type against it at compile time
// and tests/wire measures it.
inline constexpr std::size_t kMaxDecodeHeapPerPayloadByte = 8;

std::expected<Envelope, DecodeError> decode_envelope(ByteView frame,
                                                     std::size_t max_frame_bytes = kDefaultMaxFrameBytes);
template <class M>
std::expected<M, DecodeError> decode(ByteView payload);
// Decodes envelope.payload as the message its type names.
std::expected<Message, DecodeError> decode_message(const Envelope& envelope);

}  // namespace synod::wire
