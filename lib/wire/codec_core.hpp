// wire/codec_core.hpp — PRIVATE to lib/wire, its tests and its fuzzers.
//
// The codec proper, with a status-code interface instead of std::expected.
// wire/codec.hpp is a thin std::expected wrapper over this header.
//
// Why a second interface: the libFuzzer build uses clang 14, and clang 14
// cannot instantiate libstdc++ 12's std::expected (<expected> is gated on
// __cpp_concepts >= 202002L, which clang 14 does not define, and without the
// gate it fails on non-trivially-destructible payloads). Keeping <expected>
// out of this header lets the fuzzer exercise exactly the code the library
// ships, built from the same codec_core.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "synod/types.hpp"
#include "wire/messages.hpp"

namespace synod::wire::detail {

// A decoding outcome. Every value except `none` has the same name and
// meaning as the DecodeError of the same name (codec.cpp checks the mapping
// at compile time).
enum class Fault : std::uint8_t {
  none = 0,
  frame_too_large,
  truncated,
  length_overflow,
  bad_version,
  unknown_type,
  bad_value,
  trailing_bytes,
};

// Which enum values may come off the wire. The switches have no default so
// that -Wswitch flags a new enumerator that is not accepted here yet.
constexpr bool is_known(MsgType t) {
  switch (t) {
    case MsgType::request:
    case MsgType::reply:
    case MsgType::pre_prepare:
    case MsgType::prepare:
    case MsgType::commit:
    case MsgType::checkpoint:
    case MsgType::view_change:
    case MsgType::new_view:
    case MsgType::fetch_state:
    case MsgType::state_snapshot:
    case MsgType::fetch_batches:
    case MsgType::committed_batches:
    case MsgType::fetch_tree:
    case MsgType::tree_nodes:
    case MsgType::fetch_leaves:
    case MsgType::leaf_entries:
    case MsgType::fetch_values:
    case MsgType::values:
    case MsgType::paxos_prepare:
    case MsgType::promise:
    case MsgType::accept:
    case MsgType::accepted:
    case MsgType::nack:
    case MsgType::heartbeat:
    case MsgType::catch_up_request:
    case MsgType::catch_up:
    case MsgType::status_request:
    case MsgType::status_reply:
      return true;
  }
  return false;
}
constexpr bool is_known(ReplyStatus s) {
  switch (s) {
    case ReplyStatus::ok:
    case ReplyStatus::not_leader:
      return true;
  }
  return false;
}
constexpr bool is_known(Principal::Kind k) {
  switch (k) {
    case Principal::Kind::replica:
    case Principal::Kind::client:
      return true;
  }
  return false;
}

// Every type with its own encode/decode entry point (explicitly
// instantiated in codec_core.cpp and codec.cpp): each message, and the parts
// that are signed, digested or stored on their own.
#define SYNOD_WIRE_CODEC_TYPES(X) \
  X(Request)                      \
  X(Reply)                        \
  X(PrePrepare)                   \
  X(Prepare)                      \
  X(Commit)                       \
  X(Checkpoint)                   \
  X(ViewChange)                   \
  X(NewView)                      \
  X(FetchState)                   \
  X(StateSnapshot)                \
  X(FetchBatches)                 \
  X(CommittedBatches)             \
  X(PaxosPrepare)                 \
  X(Promise)                      \
  X(Accept)                       \
  X(Accepted)                     \
  X(Nack)                         \
  X(Heartbeat)                    \
  X(CatchUpRequest)               \
  X(CatchUp)                      \
  X(StatusRequest)                \
  X(StatusReply)                  \
  X(FetchTree)                    \
  X(TreeNodes)                    \
  X(FetchLeaves)                  \
  X(LeafEntries)                  \
  X(FetchValues)                  \
  X(Values)                       \
  X(PrePrepareHeader)             \
  X(Signed<PrePrepareHeader>)     \
  X(Signed<Prepare>)              \
  X(Signed<Commit>)               \
  X(Signed<Checkpoint>)           \
  X(Signed<ViewChange>)           \
  X(PreparedCertificate)          \
  X(SignedRequest)                \
  X(Batch)                        \
  X(CommittedBatch)               \
  X(AcceptedEntry)                \
  X(ChosenEntry)                  \
  X(Ballot)                       \
  X(TreeNodeRef)                  \
  X(TreeChildren)                 \
  X(LeafRef)                      \
  X(LeafEntry)                    \
  X(LeafPart)                     \
  X(KeyValue)

// Appends the encoding of `value` to `out`.
template <class M>
void encode_into(const M& value, Bytes& out);

// Decodes all of `payload` into `out` (which should be default-constructed).
// Total: returns a Fault instead of throwing, allocates at most
// WireBound<M>::heap_per_byte * payload.size() bytes (see serialize.hpp).
template <class M>
Fault decode_into(ByteView payload, M& out) noexcept;

MsgType message_type(const Message& message);
void encode_message_into(const Message& message, Bytes& out);
// Decodes `payload` as the Message alternative that `type` names.
Fault decode_message_into(MsgType type, ByteView payload, Message& out) noexcept;

// The envelope's fields (wire/codec.hpp's Envelope, which this header cannot
// name because that header needs <expected>).
struct EnvelopeFields {
  std::uint16_t version = kFormatVersion;
  MsgType type = MsgType::request;
  Principal sender;
  Bytes payload;
  Bytes authenticator;
};

// Fixed part of an envelope: version u16, type u8, sender kind u8, sender id
// u32, and the two 64-bit length prefixes.
inline constexpr std::size_t kEnvelopeOverheadBytes = 2 + 1 + 1 + 4 + 8 + 8;

void encode_envelope_into(std::uint16_t version, MsgType type, Principal sender, ByteView payload,
                          ByteView authenticator, Bytes& out);
Fault decode_envelope_into(ByteView frame, std::size_t max_frame_bytes, EnvelopeFields& out) noexcept;

void signing_input_into(MsgType type, Principal sender, ByteView signed_part, Bytes& out);

}  // namespace synod::wire::detail
