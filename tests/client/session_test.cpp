// client::Session: when a request completes (PROTOCOL.md "Normal case" step
// 5 and the read-only optimisation), where its frames go, and what it ignores.
#include <doctest/doctest.h>

#include <cstring>

#include "client/session.hpp"
#include "wire/codec.hpp"

namespace synod::client {
namespace {

// A test double for Crypto: a signature names its signer and checksums the
// data, so it verifies only for that signer and that data. (Not secret; the
// Session only needs "wrong signer or tampered data fails".)
class TestCrypto final : public Crypto {
 public:
  explicit TestCrypto(Principal self) : self_(self) {}
  Digest digest(ByteView data) const override {
    Digest d{};
    const std::uint64_t h = fnv(data, 0);
    std::memcpy(d.data(), &h, sizeof h);
    return d;
  }
  Bytes sign(ByteView data) const override { return signature(self_, data); }
  bool verify(Principal signer, ByteView data, ByteView sig) const override {
    const Bytes expected = signature(signer, data);
    return sig.size() == expected.size() && std::equal(sig.begin(), sig.end(), expected.begin());
  }
  Bytes mac(Principal peer, ByteView data) const override { return pair_mac(self_, peer, data); }
  bool verify_mac(Principal peer, ByteView data, ByteView tag) const override {
    const Bytes expected = pair_mac(self_, peer, data);
    return tag.size() == expected.size() && std::equal(tag.begin(), tag.end(), expected.begin());
  }
  // The MAC both ends of a pair compute.
  static Bytes pair_mac(Principal a, Principal b, ByteView data) {
    const std::uint64_t x = (static_cast<std::uint64_t>(a.kind) << 32) | a.id;
    const std::uint64_t y = (static_cast<std::uint64_t>(b.kind) << 32) | b.id;
    const std::uint64_t h = fnv(data, 0x3ac0ffeeull ^ (std::min(x, y) * 0x9e3779b97f4a7c15ull) ^ std::max(x, y));
    Bytes tag(kMacBytes);
    std::memcpy(tag.data(), &h, sizeof h);
    return tag;
  }
  static Bytes signature(Principal who, ByteView data) {
    const std::uint64_t h = fnv(data, (static_cast<std::uint64_t>(who.kind) << 32) | who.id);
    Bytes sig(8);
    std::memcpy(sig.data(), &h, sizeof h);
    return sig;
  }

 private:
  static std::uint64_t fnv(ByteView data, std::uint64_t salt) {
    std::uint64_t h = 0xcbf29ce484222325ull ^ salt;
    for (std::uint8_t b : data) h = (h ^ b) * 0x100000001b3ull;
    return h;
  }
  Principal self_;
};

ClusterConfig make_config(std::uint32_t f, Protocol protocol = Protocol::pbft) {
  ClusterConfig c;
  c.protocol = protocol;
  c.f = f;
  const std::uint32_t n = protocol == Protocol::pbft ? 3 * f + 1 : 2 * f + 1;
  for (ReplicaId i = 0; i < n; ++i) c.replicas.push_back({i, "sim://r" + std::to_string(i), "k"});
  c.clients.push_back({7, "k"});
  c.request_timeout_ms = 100;
  REQUIRE(c.validate().has_value());
  return c;
}

constexpr ClientId kSelf = 7;

// A reply frame from replica `from`, signed by it (or by `signer`).
Bytes reply_frame(ReplicaId from, RequestNo t, std::string_view result, View view = 0, bool read_only = false,
                  ClientId client = kSelf, std::optional<Principal> signer = std::nullopt) {
  const wire::Reply reply{view, client, t, wire::ReplyStatus::ok, static_cast<ReplicaId>(view % 4), read_only,
                          to_bytes(result)};
  const TestCrypto crypto(signer.value_or(Principal::replica(from)));
  return wire::make_frame(Principal::replica(from), reply, [&](ByteView d) { return crypto.sign(d); });
}

wire::Request decode_request(const OutboundFrame& out) {
  const auto env = wire::decode_envelope(out.frame);
  REQUIRE(env.has_value());
  REQUIRE(env->type == wire::MsgType::request);
  const auto request = wire::decode<wire::Request>(env->payload);
  REQUIRE(request.has_value());
  return *request;
}

struct Fixture {
  explicit Fixture(std::uint32_t f = 1, Protocol protocol = Protocol::pbft)
      : config(make_config(f, protocol)), crypto(Principal::client(kSelf)), session(config, kSelf, crypto) {}
  ClusterConfig config;
  TestCrypto crypto;
  Session session;
  SessionEffects out;

  void submit(std::string_view op, bool read_only = false, TimeUs now = 1000) {
    out.clear();
    REQUIRE(session.submit(now, to_bytes(op), read_only, out).has_value());
  }
  // Feeds a frame; returns whether it completed the request.
  bool feed(const Bytes& frame, TimeUs now = 2000) {
    out.clear();
    session.receive(now, frame, out);
    return out.completed.has_value();
  }
};

TEST_CASE("an ordered request goes to the primary of the believed view, signed by the client") {
  Fixture fx;
  fx.submit("op");
  REQUIRE(fx.out.send.size() == 1);
  CHECK(fx.out.send[0].to.kind == Destination::Kind::replica);
  CHECK(fx.out.send[0].to.id == 0);
  const wire::Request request = decode_request(fx.out.send[0]);
  CHECK(request.client == kSelf);
  CHECK(request.t == 1);
  CHECK_FALSE(request.read_only);
  CHECK(request.op == to_bytes("op"));
  const auto env = wire::decode_envelope(fx.out.send[0].frame);
  CHECK(fx.crypto.verify(Principal::client(kSelf), wire::signing_input_of(Principal::client(kSelf), request),
                         env->authenticator));
  CHECK(fx.session.busy());
}

TEST_CASE("f matching replies do not complete an ordered request; f+1 do (f = 1)") {
  Fixture fx(1);
  fx.submit("op");
  CHECK_FALSE(fx.feed(reply_frame(0, 1, "r")));
  CHECK(fx.feed(reply_frame(1, 1, "r")));
  CHECK(fx.out.completed->t == 1);
  CHECK(fx.out.completed->result == to_bytes("r"));
  CHECK_FALSE(fx.out.completed->read_only);
  CHECK(fx.out.completed->latency_us == 1000);
  CHECK_FALSE(fx.session.busy());
}

TEST_CASE("f matching replies do not complete an ordered request; f+1 do (f = 2)") {
  Fixture fx(2);
  fx.submit("op");
  CHECK_FALSE(fx.feed(reply_frame(3, 1, "r")));
  CHECK_FALSE(fx.feed(reply_frame(5, 1, "r")));
  CHECK(fx.feed(reply_frame(6, 1, "r")));
}

TEST_CASE("replies with different results do not match") {
  Fixture fx(1);
  fx.submit("op");
  CHECK_FALSE(fx.feed(reply_frame(0, 1, "a")));
  CHECK_FALSE(fx.feed(reply_frame(1, 1, "b")));
  CHECK(fx.feed(reply_frame(2, 1, "b")));
  CHECK(fx.out.completed->result == to_bytes("b"));
}

TEST_CASE("two replies from the same replica count once") {
  Fixture fx(1);
  fx.submit("op");
  CHECK_FALSE(fx.feed(reply_frame(2, 1, "r")));
  CHECK_FALSE(fx.feed(reply_frame(2, 1, "r")));
  CHECK(fx.session.stats().replies_duplicate == 1);
  CHECK(fx.session.busy());
  CHECK(fx.feed(reply_frame(3, 1, "r")));
}

TEST_CASE("a reply with a bad signature is ignored") {
  Fixture fx(1);
  fx.submit("op");
  CHECK_FALSE(fx.feed(reply_frame(0, 1, "r")));
  // Claims to be replica 1 but signed by replica 2.
  CHECK_FALSE(fx.feed(reply_frame(1, 1, "r", 0, false, kSelf, Principal::replica(2))));
  CHECK(fx.session.stats().replies_bad_auth == 1);
  // A flipped authenticator byte.
  Bytes tampered = reply_frame(1, 1, "r");
  tampered.back() ^= 0x01;
  CHECK_FALSE(fx.feed(tampered));
  CHECK(fx.session.busy());
  CHECK(fx.feed(reply_frame(1, 1, "r")));  // the genuine one still counts
}

TEST_CASE("replies for another t or another client are ignored") {
  Fixture fx(1);
  fx.submit("op");
  CHECK_FALSE(fx.feed(reply_frame(0, 2, "r")));
  CHECK_FALSE(fx.feed(reply_frame(1, 0, "r")));
  CHECK_FALSE(fx.feed(reply_frame(2, 1, "r", 0, false, /*client=*/8)));
  CHECK(fx.session.stats().replies_unrelated == 3);
  CHECK_FALSE(fx.feed(reply_frame(3, 1, "r")));  // the first that counts
  CHECK(fx.feed(reply_frame(0, 1, "r")));
}

TEST_CASE("garbage frames are counted, never trusted") {
  Fixture fx(1);
  fx.submit("op");
  CHECK_FALSE(fx.feed(Bytes{1, 2, 3}));
  CHECK_FALSE(fx.feed(Bytes{}));
  CHECK(fx.session.stats().replies_malformed == 2);
  CHECK(fx.session.busy());
}

TEST_CASE("request numbers strictly increase and one request is outstanding at a time") {
  Fixture fx(1);
  fx.submit("a");
  SessionEffects out;
  const auto second = fx.session.submit(1500, to_bytes("b"), false, out);
  CHECK_FALSE(second.has_value());
  CHECK(out.send.empty());
  CHECK(fx.feed(reply_frame(0, 1, "r")) == false);
  CHECK(fx.feed(reply_frame(1, 1, "r")));
  fx.submit("b");
  CHECK(decode_request(fx.out.send[0]).t == 2);
}

TEST_CASE("an operation over max_request_bytes is refused") {
  Fixture fx(1);
  SessionEffects out;
  const Bytes big(fx.config.max_request_bytes + 1, 0x61);
  const auto r = fx.session.submit(0, big, false, out);
  CHECK_FALSE(r.has_value());
  CHECK_FALSE(fx.session.busy());
}

TEST_CASE("after a timeout the request is retransmitted to all replicas, with capped exponential backoff") {
  Fixture fx(1);
  fx.submit("op", false, 0);
  const TimeUs timeout_us = fx.config.request_timeout_ms * 1000;
  CHECK(fx.session.next_deadline() == timeout_us);
  fx.out.clear();
  fx.session.tick(timeout_us - 1, fx.out);
  CHECK(fx.out.send.empty());
  TimeUs now = timeout_us;
  TimeUs expected_wait = timeout_us;
  for (int round = 0; round < 8; ++round) {
    fx.out.clear();
    fx.session.tick(now, fx.out);
    REQUIRE(fx.out.send.size() == 1);
    CHECK(fx.out.send[0].to.kind == Destination::Kind::all_replicas);
    CHECK(decode_request(fx.out.send[0]).t == 1);  // the same t
    expected_wait = std::min<TimeUs>(expected_wait * 2, timeout_us * kMaxBackoffFactor);
    CHECK(fx.session.next_deadline() == now + expected_wait);
    now = fx.session.next_deadline();
  }
  CHECK(fx.session.stats().retransmissions == 8);
  CHECK(expected_wait == timeout_us * kMaxBackoffFactor);
}

// Completes the outstanding request t of fx with f+1 = 2 matching replies at `now`.
void complete_at(Fixture& fx, RequestNo t, TimeUs now) {
  CHECK_FALSE(fx.feed(reply_frame(0, t, "ok"), now));
  REQUIRE(fx.feed(reply_frame(1, t, "ok"), now));
}

TEST_CASE("the first timeout adapts: the backed-off timeout stays until a request completes on its first send") {
  Fixture fx(1);
  const TimeUs base = fx.config.request_timeout_ms * 1000;
  CHECK(fx.session.retransmit_timeout_us() == base);
  // t = 1 needs one retransmission, then completes: no latency sample (Karn).
  fx.submit("op", false, 0);
  fx.out.clear();
  fx.session.tick(base, fx.out);
  REQUIRE(fx.out.send.size() == 1);
  complete_at(fx, 1, base + 10);
  CHECK(fx.session.retransmit_timeout_us() == 2 * base);
  // t = 2 starts from the backed-off timeout: nothing is resent at `base`.
  const TimeUs start = 10 * base;
  fx.submit("op", false, start);
  CHECK(fx.session.next_deadline() == start + 2 * base);
  fx.out.clear();
  fx.session.tick(start + base, fx.out);
  CHECK(fx.out.send.empty());
  // It completes on its first send after 1.5 x base: the first sample.
  // RTO = SRTT + max(4 RTTVAR, SRTT / 4) = 1.5 base + 4 x 0.75 base, capped at 8 base.
  complete_at(fx, 2, start + base + base / 2);
  CHECK(fx.session.retransmit_timeout_us() == std::min<TimeUs>(base * 9 / 2, base * kMaxBackoffFactor));
  // A steady 1.5 x base: the timeout settles above it and below 2 x base.
  TimeUs now = 20 * base;
  for (RequestNo t = 3; t < 60; ++t, now += 10 * base) {
    fx.submit("op", false, now);
    complete_at(fx, t, now + base + base / 2);
  }
  CHECK(fx.session.retransmit_timeout_us() > base + base / 2);
  CHECK(fx.session.retransmit_timeout_us() < 2 * base);
  // Fast replies bring it back down to request_timeout_ms, never below.
  for (RequestNo t = 60; t < 120; ++t, now += 10 * base) {
    fx.submit("op", false, now);
    complete_at(fx, t, now + 1);
  }
  CHECK(fx.session.retransmit_timeout_us() == base);
  CHECK(fx.session.stats().retransmissions == 1);
}

// Two sessions a (t from 1) and b (t from 100) sharing one RetransmitTimer,
// beside the fixture's session, which has its own.
struct SharedTimer : Fixture {
  const TimeUs base = config.request_timeout_ms * 1000;
  RetransmitTimer shared{config};
  Session a{config, kSelf, crypto, 1, &shared};
  Session b{config, kSelf, crypto, 100, &shared};
};

TEST_CASE("sessions that share a RetransmitTimer learn from each other") {
  SharedTimer st;
  const TimeUs base = st.base;
  SessionEffects out;
  // a's request is resent once: b's next request starts from the backed-off timeout.
  REQUIRE(st.a.submit(0, to_bytes("op"), false, out).has_value());
  out.clear();
  st.a.tick(base, out);
  REQUIRE(out.send.size() == 1);
  CHECK(st.b.retransmit_timeout_us() == 2 * base);
  REQUIRE(st.b.submit(base, to_bytes("op"), false, out).has_value());
  CHECK(st.b.next_deadline() == base + 2 * base);
  // b completes on its first send after 3 x base: a's next request waits longer still.
  out.clear();
  st.b.receive(4 * base, reply_frame(0, 100, "ok"), out);
  st.b.receive(4 * base, reply_frame(1, 100, "ok"), out);
  REQUIRE(out.completed.has_value());
  CHECK(st.shared.first_timeout_us() ==
        std::min<TimeUs>(3 * base + 4 * (3 * base / 2), base * kMaxBackoffFactor));
  CHECK(st.a.retransmit_timeout_us() == st.shared.first_timeout_us());
  // A session of its own is unaffected.
  CHECK(st.session.retransmit_timeout_us() == base);
}

TEST_CASE("a first send waits the longer timeout a session sharing its timer backed off to") {
  SharedTimer st;
  const TimeUs base = st.base;
  SessionEffects out;
  REQUIRE(st.a.submit(0, to_bytes("op"), false, out).has_value());
  REQUIRE(st.b.submit(10, to_bytes("op"), false, out).has_value());
  out.clear();
  st.a.tick(base, out);  // a times out first and backs the shared timer off to 2 x base
  REQUIRE(out.send.size() == 1);
  out.clear();
  st.b.tick(base + 10, out);  // b's own deadline: it now waits until 2 x base after its send
  CHECK(out.send.empty());
  CHECK(st.b.next_deadline() == 10 + 2 * base);
  st.b.tick(10 + 2 * base, out);  // then it is resent, and backs off from there
  REQUIRE(out.send.size() == 1);
  CHECK(out.send[0].to.kind == Destination::Kind::all_replicas);
  CHECK(st.b.next_deadline() == 10 + 2 * base + 4 * base);
  CHECK(st.b.stats().retransmissions == 1);
}

TEST_CASE("read-only: sent to all, completes on n matching tentative replies, not on 2f+1") {
  Fixture fx(1);
  fx.submit("get", true);
  REQUIRE(fx.out.send.size() == 1);
  CHECK(fx.out.send[0].to.kind == Destination::Kind::all_replicas);
  CHECK(decode_request(fx.out.send[0]).read_only);
  CHECK_FALSE(fx.feed(reply_frame(0, 1, "v", 0, true)));
  CHECK_FALSE(fx.feed(reply_frame(1, 1, "v", 0, true)));
  // 2f+1 matching is not enough: with ordered requests completing on f+1
  // replies, the one correct replica that executed a completed write may be
  // the replica still missing here (the stale read synod-sim found).
  CHECK_FALSE(fx.feed(reply_frame(2, 1, "v", 0, true)));
  CHECK(fx.feed(reply_frame(3, 1, "v", 0, true)));
  CHECK(fx.out.completed->read_only);
  CHECK(fx.out.completed->result == to_bytes("v"));
}

TEST_CASE("read-only: the stale-read scenario falls back instead of completing") {
  // Replica 3 executed a write (and answered it, with faulty replica 0);
  // replicas 1 and 2 lag. Three stale tentative replies must not complete.
  Fixture fx(1);
  fx.submit("get", true);
  CHECK_FALSE(fx.feed(reply_frame(0, 1, "stale", 0, true)));
  CHECK_FALSE(fx.feed(reply_frame(1, 1, "stale", 0, true)));
  CHECK_FALSE(fx.feed(reply_frame(2, 1, "stale", 0, true)));
  CHECK(fx.out.send.empty());
  CHECK_FALSE(fx.feed(reply_frame(3, 1, "fresh", 0, true)));
  REQUIRE(fx.out.send.size() == 1);  // the ordered fallback
  CHECK_FALSE(decode_request(fx.out.send[0]).read_only);
}

TEST_CASE("read-only: a mismatch that cannot reach n falls back to an ordered request with the same t") {
  Fixture fx(1);
  fx.submit("get", true);
  CHECK_FALSE(fx.feed(reply_frame(0, 1, "a", 0, true)));
  CHECK(fx.out.send.empty());
  CHECK_FALSE(fx.feed(reply_frame(1, 1, "b", 0, true)));
  // a:1, b:1, two silent: n = 4 matching is no longer reachable.
  REQUIRE(fx.out.send.size() == 1);
  CHECK(fx.out.send[0].to.kind == Destination::Kind::replica);
  const wire::Request request = decode_request(fx.out.send[0]);
  CHECK(request.t == 1);
  CHECK_FALSE(request.read_only);
  CHECK(fx.session.stats().read_only_fallbacks == 1);
  // Late tentative replies no longer count; ordered replies complete it.
  CHECK_FALSE(fx.feed(reply_frame(3, 1, "a", 0, true)));
  CHECK_FALSE(fx.feed(reply_frame(0, 1, "b")));
  CHECK(fx.feed(reply_frame(1, 1, "b")));
  CHECK_FALSE(fx.out.completed->read_only);
}

TEST_CASE("read-only: on timeout it falls back to an ordered request sent to all replicas") {
  Fixture fx(1);
  fx.submit("get", true, 0);
  CHECK_FALSE(fx.feed(reply_frame(0, 1, "v", 0, true)));
  fx.out.clear();
  fx.session.tick(fx.session.next_deadline(), fx.out);
  REQUIRE(fx.out.send.size() == 1);
  CHECK(fx.out.send[0].to.kind == Destination::Kind::all_replicas);
  CHECK_FALSE(decode_request(fx.out.send[0]).read_only);
  CHECK(decode_request(fx.out.send[0]).t == 1);
  CHECK(fx.session.stats().read_only_fallbacks == 1);
}

TEST_CASE("the client learns the view from the replies that complete a request") {
  Fixture fx(1);
  fx.submit("a");
  CHECK_FALSE(fx.feed(reply_frame(1, 1, "r", 6)));
  CHECK(fx.feed(reply_frame(2, 1, "r", 5)));
  // The smaller of the quorum's views: a faulty replica alone cannot move
  // the client to a view no correct replica is in.
  CHECK(fx.session.view() == 5);
  fx.submit("b");
  CHECK(fx.out.send[0].to.id == 5 % 4);
}

TEST_CASE("a single faulty reply with a huge view does not redirect the client") {
  Fixture fx(1);
  fx.submit("a");
  CHECK_FALSE(fx.feed(reply_frame(3, 1, "r", 1'000'003)));
  CHECK(fx.feed(reply_frame(1, 1, "r", 0)));
  CHECK(fx.session.view() == 0);
}

TEST_CASE("paxos: one reply completes, and not_leader redirects to the named leader") {
  Fixture fx(1, Protocol::paxos);
  fx.submit("op");
  REQUIRE(fx.out.send.size() == 1);
  CHECK(fx.out.send[0].to.id == 0);
  wire::Reply redirect{3, kSelf, 1, wire::ReplyStatus::not_leader, 2, false, {}};
  const TestCrypto r0(Principal::replica(0));
  const Bytes frame = wire::make_frame(Principal::replica(0), redirect, [&](ByteView d) { return r0.sign(d); });
  CHECK_FALSE(fx.feed(frame));
  REQUIRE(fx.out.send.size() == 1);
  CHECK(fx.out.send[0].to.kind == Destination::Kind::replica);
  CHECK(fx.out.send[0].to.id == 2);
  CHECK(fx.session.leader() == 2);
  CHECK(fx.feed(reply_frame(2, 1, "r", 3)));
  fx.submit("next");
  CHECK(fx.out.send[0].to.id == 2);
}

TEST_CASE("paxos: a read goes to the leader alone; a lease read reports read_only, an ordered one does not") {
  Fixture fx(1, Protocol::paxos);
  fx.submit("get", true);
  REQUIRE(fx.out.send.size() == 1);
  CHECK(fx.out.send[0].to.id == 0);
  CHECK(decode_request(fx.out.send[0]).read_only);
  REQUIRE(fx.feed(reply_frame(0, 1, "v", 0, true)));
  CHECK(fx.out.completed->read_only);
  // Without a lease the leader orders the read and its reply says so.
  fx.submit("get", true);
  REQUIRE(fx.feed(reply_frame(0, 2, "v", 0, false)));
  CHECK_FALSE(fx.out.completed->read_only);
}

}  // namespace
}  // namespace synod::client
