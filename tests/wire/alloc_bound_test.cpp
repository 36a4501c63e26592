// The decoder's memory bound (codec.hpp: kMaxDecodeHeapPerPayloadByte),
// measured: this binary replaces the global operator new/delete to count
// the heap bytes requested while decoding hostile input. (A separate binary,
// so that the other wire tests keep the sanitizers' own operator new.)
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <string>

#include "samples.hpp"
#include "test_util.hpp"
#include "wire/codec.hpp"

namespace {

struct HeapCounter {
  bool on = false;
  std::int64_t live = 0;
  std::int64_t peak = 0;
  std::uint64_t total = 0;
};
HeapCounter heap;

// Each block carries its size in front, so that unsized delete can count it.
constexpr std::size_t kHeader = alignof(std::max_align_t);

// Larger requests are refused without asking malloc: no test here needs
// them, and an unbounded decoder must fail the bounds below rather than
// thrash the machine (or hide behind a bad_alloc).
constexpr std::size_t kRefuseAbove = std::size_t{256} << 20;

void* counted_new(std::size_t n) {
  // Counted before the allocation is attempted, so that a request that
  // fails still shows in `total`.
  if (heap.on) heap.total += n;
  void* base = n > kRefuseAbove ? nullptr : std::malloc(n + kHeader);
  if (base == nullptr) throw std::bad_alloc();
  std::memcpy(base, &n, sizeof n);
  if (heap.on) {
    heap.live += static_cast<std::int64_t>(n);
    heap.peak = std::max(heap.peak, heap.live);
  }
  return static_cast<char*>(base) + kHeader;
}

void counted_delete(void* p) noexcept {
  if (p == nullptr) return;
  char* base = static_cast<char*>(p) - kHeader;
  std::size_t n = 0;
  std::memcpy(&n, base, sizeof n);
  if (heap.on) heap.live -= static_cast<std::int64_t>(n);
  std::free(base);
}

struct HeapUse {
  std::uint64_t peak = 0;   // most bytes live at once
  std::uint64_t total = 0;  // all bytes requested
};

template <class Fn>
HeapUse measure(Fn&& fn) {
  heap = HeapCounter{};
  heap.on = true;
  fn();
  heap.on = false;
  return HeapUse{static_cast<std::uint64_t>(std::max<std::int64_t>(heap.peak, 0)), heap.total};
}

}  // namespace

void* operator new(std::size_t n) { return counted_new(n); }
void* operator new[](std::size_t n) { return counted_new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { counted_delete(p); }
void operator delete[](void* p) noexcept { counted_delete(p); }
void operator delete(void* p, std::size_t) noexcept { counted_delete(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_delete(p); }

using namespace synod;
using namespace synod::wire;
using namespace synod::wire::testing;

namespace {

constexpr std::uint64_t kFactor = kMaxDecodeHeapPerPayloadByte;

const std::vector<Message>& all_messages() {
  static const std::vector<Message> messages = samples::messages();
  return messages;
}

// Decodes a payload as `type` and checks the heap it took against the bound.
std::expected<Message, DecodeError> decode_within_bound(MsgType type, const Bytes& payload) {
  Envelope e;
  e.type = type;
  e.payload = payload;
  std::expected<Message, DecodeError> result = std::unexpected(DecodeError::bad_value);
  const HeapUse use = measure([&] { result = decode_message(e); });
  const std::string type_name = to_string(type);
  CAPTURE(type_name);
  CAPTURE(payload.size());
  CHECK(use.total <= kFactor * payload.size());
  return result;
}

// A NewView built to make every level of the deepest nesting chain reserve
// as much as it is allowed to: each length prefix claims as many elements
// as the remaining bytes could hold at their smallest, and the innermost
// signature then swallows the rest, so the vectors are truncated only after
// they are all allocated.
Bytes worst_case_new_view(std::size_t payload_bytes) {
  Writer w;
  std::vector<std::pair<std::size_t, std::size_t>> counts;  // (offset, min element bytes)
  w.u64(8);                                                 // view
  counts.emplace_back(w.size(), 4 + 32 + 8);                // view_changes: Signed<ViewChange>
  w.u64(0);
  w.u32(1).u64(8).u64(0).u64(0);                            // signer, new_view, stable_seq, no checkpoint proof
  counts.emplace_back(w.size(), 60 + 8);                    // prepared: PreparedCertificate
  w.u64(0);
  w.u32(0).u64(7).u64(1).raw(32, 0xd1).u64(0);              // Signed<PrePrepareHeader>, empty signature
  counts.emplace_back(w.size(), 4 + 48 + 8);                // prepares: Signed<Prepare>
  w.u64(0);
  w.u32(2).u64(7).u64(1).raw(32, 0xd2);                     // signer, Prepare
  counts.emplace_back(w.size(), 1);                         // signature bytes
  w.u64(0);
  REQUIRE(payload_bytes > w.size());
  w.raw(payload_bytes - w.size(), 0x5a);
  for (auto [offset, min_bytes] : counts) put_u64(w.bytes, offset, (payload_bytes - offset - 8) / min_bytes);
  return w.bytes;
}

}  // namespace

TEST_CASE("the heap counter counts") {
  // Without this, every bound below would pass vacuously.
  const HeapUse use = measure([] { Bytes b(1000); (void)b; });
  CHECK(use.total == 1000);
  CHECK(use.peak == 1000);
}

TEST_CASE("the worst nesting chain stays within the documented factor") {
  const Bytes payload = worst_case_new_view(1 << 20);
  Envelope e;
  e.type = MsgType::new_view;
  e.payload = payload;
  std::expected<Message, DecodeError> result;
  const HeapUse use = measure([&] { result = decode_message(e); });
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error() == DecodeError::truncated);
  const double factor = static_cast<double>(use.peak) / static_cast<double>(payload.size());
  MESSAGE("worst-case NewView: " << use.peak << " heap bytes for a " << payload.size()
                                 << "-byte payload (x" << factor << ")");
  // Each level reserved its share: more than the signature copy alone...
  CHECK(use.peak > 4 * payload.size());
  // ...and all of them together within the bound.
  CHECK(use.total <= kFactor * payload.size());

  // One element more at any level is refused before anything is allocated
  // for it.
  Bytes over = payload;
  put_u64(over, 8, get_u64(over, 8) + 1);
  e.payload = over;
  const HeapUse refused = measure([&] { result = decode_message(e); });
  CHECK(result.error() == DecodeError::length_overflow);
  CHECK(refused.total == 0);
}

TEST_CASE("length prefixes of 2^32, 2^63 and 2^64-1 allocate nothing for themselves") {
  const std::uint64_t huge[] = {std::uint64_t{1} << 32, std::uint64_t{1} << 63, ~std::uint64_t{0}};
  for (std::uint64_t length : huge) {
    CAPTURE(length);
    {  // the op bytes of a request (client u32, t u64, read_only u8)
      Bytes p = encode(samples::request(1, 2));
      put_u64(p, 13, length);
      CHECK(decode_within_bound(MsgType::request, p).error() == DecodeError::length_overflow);
    }
    {  // the batch of a pre-prepare (after its 48-byte header)
      Bytes p = encode(samples::pre_prepare());
      put_u64(p, 48, length);
      CHECK(decode_within_bound(MsgType::pre_prepare, p).error() == DecodeError::length_overflow);
    }
    {  // the signature of the first request in that batch
      const PrePrepare pp = samples::pre_prepare();
      Bytes p = encode(pp);
      const std::size_t signature_length_at = 48 + 8 + encode(pp.batch[0].request).size();
      REQUIRE(get_u64(p, signature_length_at) == pp.batch[0].signature.size());
      put_u64(p, signature_length_at, length);
      CHECK(decode_within_bound(MsgType::pre_prepare, p).error() == DecodeError::length_overflow);
    }
    {  // nested: the prepares of the first prepared certificate of a view change
      ViewChange vc = samples::view_change(9, 1);
      vc.checkpoint_proof.clear();
      Bytes p = encode(vc);
      const std::size_t prepares_at = 8 + 8 + 8 + 8 + encode(vc.prepared[0].pre_prepare).size();
      REQUIRE(get_u64(p, prepares_at) == vc.prepared[0].prepares.size());
      put_u64(p, prepares_at, length);
      CHECK(decode_within_bound(MsgType::view_change, p).error() == DecodeError::length_overflow);
    }
    {  // the view changes of a new view, and the chosen entries of a catch-up
      Bytes p = encode(samples::new_view());
      put_u64(p, 8, length);
      CHECK(decode_within_bound(MsgType::new_view, p).error() == DecodeError::length_overflow);
      const CatchUp cu = samples::catch_up();
      Bytes q = encode(cu);
      const std::size_t chosen_at = 12 + 8 + 8 + 8 + 8 + cu.snapshot.size();
      REQUIRE(get_u64(q, chosen_at) == cu.chosen.size());
      put_u64(q, chosen_at, length);
      CHECK(decode_within_bound(MsgType::catch_up, q).error() == DecodeError::length_overflow);
    }
    {  // the envelope's payload and authenticator
      Bytes frame = frame_of(samples::request(1, 2));
      Bytes bad_payload = frame;
      put_u64(bad_payload, kPayloadLengthOffset, length);
      Bytes bad_authenticator = frame;
      const std::size_t authenticator_at = kPayloadLengthOffset + 8 + get_u64(frame, kPayloadLengthOffset);
      put_u64(bad_authenticator, authenticator_at, length);
      for (const Bytes* f : {&bad_payload, &bad_authenticator}) {
        std::expected<Envelope, DecodeError> result;
        const HeapUse use = measure([&] { result = decode_envelope(as_view(*f)); });
        CHECK(result.error() == DecodeError::length_overflow);
        CHECK(use.total <= f->size());
      }
    }
  }
}

TEST_CASE("a 12-byte frame declaring a 2^34-element vector allocates nothing") {
  // The input that makes stock PortableBinaryInputArchive touch 16 GiB.
  Bytes p(12, 0);
  put_u64(p, 0, std::uint64_t{1} << 34);
  for (MsgType type : {MsgType::committed_batches, MsgType::catch_up_request}) {
    auto result = decode_within_bound(type, p);
    CHECK_FALSE(result.has_value());
  }
  std::expected<Batch, DecodeError> batch;
  const HeapUse use = measure([&] { batch = decode<Batch>(as_view(p)); });
  CHECK(batch.error() == DecodeError::length_overflow);
  CHECK(use.total == 0);
}

TEST_CASE("a state-transfer vector over its limit is refused before anything is allocated for it") {
  // Each payload is what encode() makes of a message one element (or byte)
  // over a limit: the bytes are all there, so only the limit refuses it.
  auto refused = [](MsgType type, const Bytes& payload) {
    std::expected<Message, DecodeError> result = std::unexpected(DecodeError::bad_value);
    Envelope e;
    e.type = type;
    e.payload = payload;
    const HeapUse use = measure([&] { result = decode_message(e); });
    CHECK(result.error() == DecodeError::length_overflow);
    return use.total;
  };
  // Outer vectors: nothing at all.
  CHECK(refused(MsgType::fetch_tree, encode(FetchTree{1, std::vector<TreeNodeRef>(kMaxTreeNodesPerFetch + 1)})) == 0);
  CHECK(refused(MsgType::tree_nodes, encode(TreeNodes{1, std::vector<TreeChildren>(kMaxTreeNodesPerFetch + 1)})) == 0);
  CHECK(refused(MsgType::fetch_leaves, encode(FetchLeaves{1, std::vector<LeafRef>(kMaxLeavesPerFetch + 1)})) == 0);
  CHECK(refused(MsgType::leaf_entries, encode(LeafEntries{1, std::vector<LeafPart>(kMaxLeavesPerFetch + 1)})) == 0);
  CHECK(refused(MsgType::fetch_values, encode(FetchValues{1, std::vector<Bytes>(kMaxKeysPerFetch + 1)})) == 0);
  CHECK(refused(MsgType::values, encode(Values{1, std::vector<KeyValue>(kMaxKeysPerFetch + 1)})) == 0);
  // Inner ones: only the one element of the outer vector that holds them.
  CHECK(refused(MsgType::tree_nodes,
                encode(TreeNodes{1, {TreeChildren{{}, std::vector<Digest>(kTreeFanout + 1)}}})) == sizeof(TreeChildren));
  CHECK(refused(MsgType::leaf_entries,
                encode(LeafEntries{1, {LeafPart{0, 0, 0, std::vector<LeafEntry>(kMaxLeafEntriesPerPart + 1)}}})) ==
        sizeof(LeafPart));
  const Bytes long_key(kMaxStateKeyBytes + 1, 0x61);
  CHECK(refused(MsgType::leaf_entries, encode(LeafEntries{1, {LeafPart{0, 0, 1, {LeafEntry{long_key, {}}}}}})) ==
        sizeof(LeafPart) + sizeof(LeafEntry));
  CHECK(refused(MsgType::fetch_values, encode(FetchValues{1, {long_key}})) == sizeof(Bytes));
  CHECK(refused(MsgType::values, encode(Values{1, {KeyValue{long_key, true, {}}}})) == sizeof(KeyValue));
  // A value of kMaxStateValueBytes + 1 bytes: its key is copied, never the value.
  const std::uint64_t value_use =
      refused(MsgType::values, encode(Values{1, {KeyValue{{1, 2, 3}, true, Bytes(kMaxStateValueBytes + 1, 0x7e)}}}));
  CHECK(value_use == sizeof(KeyValue) + 3);
}

TEST_CASE("every prefix of every sample frame decodes within the bound") {
  for (const Message& m : all_messages()) {
    const Bytes frame = frame_of(m);
    for (std::size_t length = 0; length <= frame.size(); ++length) {
      std::expected<Envelope, DecodeError> envelope;
      const HeapUse use = measure([&] { envelope = decode_envelope(ByteView(frame.data(), length)); });
      CHECK(use.total <= length);
    }
    const Bytes payload = encode_message(m);
    for (std::size_t length = 0; length <= payload.size(); ++length) {
      auto result = decode_within_bound(message_type(m), Bytes(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(length)));
      CHECK(result.has_value() == (length == payload.size()));
    }
  }
}

TEST_CASE("random payloads of every type decode within the bound") {
  std::mt19937_64 rng(0x5eed0003);
  for (int i = 0; i < 20000; ++i) {
    const Message& m = all_messages()[rng() % all_messages().size()];
    Bytes payload(rng() % 400);
    // Mostly small bytes, so that length prefixes are often plausible.
    for (auto& b : payload) b = static_cast<std::uint8_t>(rng() % 3 == 0 ? rng() : rng() % 4);
    (void)decode_within_bound(message_type(m), payload);
  }
}
