// synod-fuzz-wire: untrusted frames through the wire codec, as they arrive
// from a socket (decode_envelope, then decode_message), plus the parts that
// have decoders of their own.
//
// Besides "no crash, no sanitizer report, no unbounded allocation"
// (-malloc_limit_mb), it checks that the codec is canonical: whatever
// decodes re-encodes to exactly the input bytes, and decodes again to an
// equal value. A mismatch traps.
//
// Built on wire's codec core (wire/codec_core.hpp) rather than the public
// wire/codec.hpp, because clang 14 cannot compile libstdc++ 12's
// std::expected; codec.hpp is a thin wrapper over the same functions.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "wire/codec_core.hpp"

using namespace synod;
using namespace synod::wire;
using namespace synod::wire::detail;

namespace {

// Large enough for anything libFuzzer generates here; the cap itself is
// checked below.
constexpr std::size_t kMaxFrameBytes = 1 << 20;

void require(bool ok) {
  if (!ok) __builtin_trap();
}

bool same_bytes(const Bytes& a, ByteView b) { return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin()); }

template <class T>
void round_trip_part(ByteView input) {
  T value{};
  if (decode_into(input, value) != Fault::none) return;
  Bytes again;
  encode_into(value, again);
  require(same_bytes(again, input));
  T twice{};
  require(decode_into(as_view(again), twice) == Fault::none && twice == value);
}

void round_trip_message(MsgType type, ByteView payload) {
  Message message;
  if (decode_message_into(type, payload, message) != Fault::none) return;
  require(message_type(message) == type);
  Bytes again;
  encode_message_into(message, again);
  require(same_bytes(again, payload));
  Message twice;
  require(decode_message_into(type, as_view(again), twice) == Fault::none && twice == message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);

  // A frame from a socket.
  EnvelopeFields envelope;
  const Fault fault = decode_envelope_into(input, kMaxFrameBytes, envelope);
  require(fault != Fault::frame_too_large || size > kMaxFrameBytes);
  if (fault == Fault::none) {
    Bytes again;
    encode_envelope_into(envelope.version, envelope.type, envelope.sender, as_view(envelope.payload),
                         as_view(envelope.authenticator), again);
    require(same_bytes(again, input));
    round_trip_message(envelope.type, as_view(envelope.payload));
  }
  // The frame cap holds for every size, not just the default.
  EnvelopeFields capped;
  require(size == 0 || decode_envelope_into(input, size - 1, capped) == Fault::frame_too_large);

  // A bare payload, its type chosen by the first byte, so that the message
  // decoders are reached without a valid envelope around them.
  if (size > 0) round_trip_message(static_cast<MsgType>(data[0]), input.subspan(1));

  // Parts that are decoded on their own (batches are digested, certificates
  // stored).
  round_trip_part<Batch>(input);
  round_trip_part<PreparedCertificate>(input);
  round_trip_part<Signed<ViewChange>>(input);
  round_trip_part<SignedRequest>(input);
  return 0;
}
