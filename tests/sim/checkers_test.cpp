// sim/checkers.hpp: every checker flags a hand-made history that breaks its
// property and passes one that keeps it.
#include <doctest/doctest.h>

#include "sim/checkers.hpp"
#include "sim/fake_crypto.hpp"
#include "synod/examples/kv.hpp"

namespace synod::sim {
namespace {

namespace kv = examples::kv;

Digest digest_of(ByteView data) { return fast_hash256(data, 0); }
Digest digest_of(const Bytes& data) { return digest_of(ByteView(data)); }

ExecutedRequest executed(ClientId c, RequestNo t, const Bytes& op, std::string_view result = "") {
  return ExecutedRequest{c, t, digest_of(op), digest_of(to_bytes(result))};
}

ExecutedBatch batch(Seq seq, std::vector<ExecutedRequest> requests) {
  Digest d{};
  d[0] = static_cast<std::uint8_t>(seq);
  for (const auto& r : requests) d[1] ^= r.operation_digest[0];
  return ExecutedBatch{seq, d, std::move(requests)};
}

bool mentions(const ViolationLog& log, std::string_view text) {
  for (const std::string& m : log.messages()) {
    if (m.find(text) != std::string::npos) return true;
  }
  return false;
}

// ------------------------------------------------------------ agreement

TEST_CASE("agreement: replicas executing the same batch at a seq agree") {
  AgreementChecker checker;
  const Bytes op = kv::encode_put("k", "v");
  checker.on_executed(0, batch(1, {executed(0, 1, op)}));
  checker.on_executed(1, batch(1, {executed(0, 1, op)}));
  checker.on_executed(0, batch(2, {}));
  CHECK(checker.log().ok());
  CHECK(checker.order().size() == 2);
}

TEST_CASE("agreement: two batch digests at one seq are a violation") {
  AgreementChecker checker;
  checker.on_executed(0, batch(3, {executed(0, 1, kv::encode_put("k", "a"))}));
  checker.on_executed(2, batch(3, {executed(0, 2, kv::encode_put("k", "b"))}));
  CHECK_FALSE(checker.log().ok());
  CHECK(mentions(checker.log(), "seq 3"));
  CHECK(mentions(checker.log(), "replica 2"));
}

TEST_CASE("agreement: the same digest with other requests or other results is a violation") {
  const Bytes op = kv::encode_put("k", "a");
  AgreementChecker requests;
  ExecutedBatch a = batch(1, {executed(0, 1, op)});
  ExecutedBatch b = a;
  b.requests[0].request = 2;
  requests.on_executed(0, a);
  requests.on_executed(1, b);
  CHECK_FALSE(requests.log().ok());

  AgreementChecker results;
  ExecutedBatch c = a;
  c.requests[0].result_digest = digest_of(to_bytes("other"));
  results.on_executed(0, a);
  results.on_executed(1, c);
  CHECK_FALSE(results.log().ok());
  CHECK(mentions(results.log(), "result"));
}

// ------------------------------------------------------------ validity

TEST_CASE("validity: executing a signed request is fine; an unsigned one is a violation") {
  SignedRequests signed_requests;
  const Bytes op = kv::encode_put("k", "v");
  signed_requests.add(0, 1, digest_of(op), op);
  ValidityChecker checker(signed_requests);
  checker.on_executed(0, batch(1, {executed(0, 1, op)}));
  CHECK(checker.log().ok());
  checker.on_executed(0, batch(2, {executed(0, 2, op)}));  // t=2 never signed
  CHECK_FALSE(checker.log().ok());
  CHECK(mentions(checker.log(), "never signed"));
}

TEST_CASE("validity: a signed (client, t) with a different op is a violation") {
  SignedRequests signed_requests;
  const Bytes op = kv::encode_put("k", "v");
  signed_requests.add(0, 1, digest_of(op), op);
  ValidityChecker checker(signed_requests);
  checker.on_executed(1, batch(1, {executed(0, 1, kv::encode_put("k", "forged"))}));
  CHECK_FALSE(checker.log().ok());
}

// ------------------------------------------------------------ at-most-once

TEST_CASE("at-most-once: distinct (client, t) pass; a repeat at another seq or in one batch fails") {
  const Bytes op = kv::encode_put("k", "v");
  std::map<Seq, ExecutedBatch> order;
  order[1] = batch(1, {executed(0, 1, op), executed(1, 1, op)});
  order[2] = batch(2, {executed(0, 2, op)});
  AtMostOnceChecker ok;
  ok.check(order);
  CHECK(ok.log().ok());

  order[3] = batch(3, {executed(0, 1, op)});
  AtMostOnceChecker twice;
  twice.check(order);
  CHECK_FALSE(twice.log().ok());
  CHECK(mentions(twice.log(), "seq 1 and again at seq 3"));

  std::map<Seq, ExecutedBatch> same_batch;
  same_batch[1] = batch(1, {executed(2, 5, op), executed(2, 5, op)});
  AtMostOnceChecker in_batch;
  in_batch.check(same_batch);
  CHECK_FALSE(in_batch.log().ok());
  CHECK(mentions(in_batch.log(), "twice in one batch"));
}

// ------------------------------------------------------------ linearizability

// A committed order and a client history, built by hand.
struct LinFixture {
  SignedRequests signed_requests;
  std::map<Seq, ExecutedBatch> order;
  std::vector<ClientOp> history;

  // Appends a batch at the next seq with the given (client, t, op).
  void commit(std::vector<std::tuple<ClientId, RequestNo, Bytes>> requests) {
    std::vector<ExecutedRequest> rs;
    for (auto& [c, t, op] : requests) {
      signed_requests.add(c, t, digest_of(op), op);
      rs.push_back(executed(c, t, op));
    }
    const Seq seq = order.size() + 1;
    order[seq] = batch(seq, std::move(rs));
  }
  // A correct client's op: invoked at `invoked_us`, completed at
  // `completed_us` (0 = outstanding) with `result`.
  ClientOp& op(ClientId c, RequestNo t, Bytes op_bytes, TimeUs invoked_us, TimeUs completed_us, kv::KvResult result,
               bool read_only = false) {
    ClientOp o;
    o.client = c;
    o.t = t;
    o.op = std::move(op_bytes);
    o.read_only = read_only;
    o.accepted_read_only = read_only;
    o.invoked = {invoked_us, invoked_us};
    if (completed_us != 0) o.completed = Stamp{completed_us, completed_us};
    o.result = kv::encode_result(result);
    history.push_back(std::move(o));
    return history.back();
  }
  ViolationLog check() {
    LinearizabilityChecker checker([] { return std::make_unique<examples::KvStore>(); },
                                   [](ByteView b) { return digest_of(b); }, signed_requests);
    checker.check(order, history);
    return checker.log();
  }
};

const kv::KvResult kOk{kv::KvResult::Status::ok, std::nullopt};
kv::KvResult ok_value(std::string v) { return {kv::KvResult::Status::ok, std::move(v)}; }
const kv::KvResult kNotFound{kv::KvResult::Status::not_found, std::nullopt};

TEST_CASE("linearizability: results that match the committed order pass") {
  LinFixture fx;
  fx.commit({{0, 1, kv::encode_put("k", "a")}});
  fx.commit({{1, 1, kv::encode_get("k")}, {0, 2, kv::encode_put("k", "b")}});
  fx.op(0, 1, kv::encode_put("k", "a"), 10, 20, kOk);
  fx.op(1, 1, kv::encode_get("k"), 30, 40, ok_value("a"));
  fx.op(0, 2, kv::encode_put("k", "b"), 30, 45, kOk);
  CHECK(fx.check().ok());
}

TEST_CASE("linearizability: an accepted result that differs from the replayed one fails") {
  LinFixture fx;
  fx.commit({{0, 1, kv::encode_put("k", "a")}});
  fx.commit({{1, 1, kv::encode_get("k")}});
  fx.op(0, 1, kv::encode_put("k", "a"), 10, 20, kOk);
  fx.op(1, 1, kv::encode_get("k"), 30, 40, kNotFound);  // stale: k was a
  const ViolationLog log = fx.check();
  CHECK_FALSE(log.ok());
  CHECK(mentions(log, "committed order gives"));
}

TEST_CASE("linearizability: a completed request that no correct replica executed fails") {
  LinFixture fx;
  fx.commit({{0, 1, kv::encode_put("k", "a")}});
  fx.op(0, 1, kv::encode_put("k", "a"), 10, 20, kOk);
  fx.op(0, 2, kv::encode_put("k", "b"), 30, 40, kOk);
  CHECK(mentions(fx.check(), "no correct replica executed it"));
}

TEST_CASE("linearizability: an op completed before another was invoked must be ordered first") {
  LinFixture fx;
  fx.commit({{1, 1, kv::encode_put("x", "b")}});
  fx.commit({{0, 1, kv::encode_put("k", "a")}});
  fx.op(0, 1, kv::encode_put("k", "a"), 10, 20, kOk);
  fx.op(1, 1, kv::encode_put("x", "b"), 30, 40, kOk);  // invoked after c0t1 completed, ordered before it
  const ViolationLog log = fx.check();
  CHECK_FALSE(log.ok());
  CHECK(mentions(log, "real-time order"));
}

TEST_CASE("linearizability: concurrent ops may be ordered either way") {
  LinFixture fx;
  fx.commit({{1, 1, kv::encode_put("x", "b")}});
  fx.commit({{0, 1, kv::encode_put("k", "a")}});
  fx.op(0, 1, kv::encode_put("k", "a"), 10, 40, kOk);
  fx.op(1, 1, kv::encode_put("x", "b"), 20, 30, kOk);
  CHECK(fx.check().ok());
}

TEST_CASE("linearizability: a read-only result must come from a prefix inside its real-time window") {
  LinFixture fx;
  fx.commit({{0, 1, kv::encode_put("k", "a")}});
  fx.commit({{0, 2, kv::encode_put("k", "b")}});
  fx.op(0, 1, kv::encode_put("k", "a"), 10, 20, kOk);
  fx.op(0, 2, kv::encode_put("k", "b"), 50, 60, kOk);
  SUBCASE("the state between the writes: fine") {
    fx.op(1, 1, kv::encode_get("k"), 30, 40, ok_value("a"), true);
    CHECK(fx.check().ok());
  }
  SUBCASE("concurrent with the second write: either value is fine") {
    fx.op(1, 1, kv::encode_get("k"), 55, 70, ok_value("a"), true);
    fx.op(2, 1, kv::encode_get("k"), 55, 70, ok_value("b"), true);
    CHECK(fx.check().ok());
  }
  SUBCASE("a value from before a write that completed before the read: stale") {
    fx.op(1, 1, kv::encode_get("k"), 30, 40, kNotFound, true);
    CHECK(mentions(fx.check(), "read-only"));
  }
  SUBCASE("a value written by an op invoked after the read completed: from the future") {
    fx.op(1, 1, kv::encode_get("k"), 30, 40, ok_value("b"), true);
    CHECK(mentions(fx.check(), "read-only"));
  }
}

TEST_CASE("linearizability: a gap in the committed order is reported") {
  LinFixture fx;
  fx.commit({{0, 1, kv::encode_put("k", "a")}});
  fx.commit({{0, 2, kv::encode_put("k", "b")}});
  fx.order.erase(1);
  CHECK(mentions(fx.check(), "gap"));
}

TEST_CASE("linearizability: the executed op must be the one the client sent") {
  LinFixture fx;
  fx.commit({{0, 1, kv::encode_put("k", "forged")}});
  fx.op(0, 1, kv::encode_put("k", "a"), 10, 20, kOk);
  CHECK(mentions(fx.check(), "not the client's"));
}

// ------------------------------------------------------------ checkpoints

TEST_CASE("checkpoints: equal digests at a seq pass, different ones fail, seq 0 is ignored") {
  CheckpointChecker checker;
  Digest a{}, b{};
  b[0] = 1;
  checker.on_status(0, 0, a);
  checker.on_status(1, 0, b);
  checker.on_status(0, 8, a);
  checker.on_status(1, 8, a);
  CHECK(checker.log().ok());
  CHECK(checker.checkpoints() == 1);
  checker.on_status(2, 8, b);
  CHECK_FALSE(checker.log().ok());
  CHECK(mentions(checker.log(), "seq 8"));
}

// ------------------------------------------------------------ liveness

ClientOp client_op(ClientId c, RequestNo t, TimeUs invoked_us, std::optional<TimeUs> completed_us) {
  ClientOp o;
  o.client = c;
  o.t = t;
  o.invoked = {invoked_us, invoked_us};
  if (completed_us) o.completed = Stamp{*completed_us, *completed_us};
  return o;
}

TEST_CASE("liveness: requests completing within the bound after the heal pass") {
  LivenessChecker checker(/*heal_us=*/1000, /*bound_us=*/500, /*required_ops=*/2);
  const std::vector<ClientOp> history{client_op(0, 1, 100, 1400), client_op(0, 2, 1400, 1500),
                                      client_op(0, 3, 1500, 1600), client_op(0, 4, 1600, std::nullopt)};
  const std::vector<ClientId> correct{0};
  checker.check(history, correct, 1700);
  CHECK(checker.log().ok());
}

TEST_CASE("liveness: a request outstanding past the bound fails") {
  LivenessChecker checker(1000, 500, 0);
  const std::vector<ClientOp> history{client_op(0, 1, 100, std::nullopt)};
  const std::vector<ClientId> correct{0};
  checker.check(history, correct, 1600);
  CHECK(mentions(checker.log(), "still outstanding"));
}

TEST_CASE("liveness: a request completed too late fails") {
  LivenessChecker checker(1000, 500, 0);
  const std::vector<ClientOp> history{client_op(0, 1, 1200, 1800)};
  const std::vector<ClientId> correct{0};
  checker.check(history, correct, 1900);
  CHECK(mentions(checker.log(), "completed only at"));
}

TEST_CASE("liveness: too few requests completed after the heal fails; faulty clients are not judged") {
  LivenessChecker checker(1000, 500, 2);
  const std::vector<ClientOp> history{client_op(0, 1, 1100, 1200), client_op(5, 1, 100, std::nullopt)};
  const std::vector<ClientId> correct{0};
  checker.check(history, correct, 1300);
  CHECK(checker.log().count() == 1);
  CHECK(mentions(checker.log(), "completed 1 of the 2"));
}

// ------------------------------------------------------------ durability

Digest digest_n(std::uint8_t n) {
  Digest d{};
  d[0] = n;
  return d;
}

wire::PreparedCertificate cert(View view, Seq seq, const Digest& d) {
  wire::PreparedCertificate c;
  c.pre_prepare.message = {view, seq, d};
  return c;
}

TEST_CASE("durability: consistent votes and view changes pass") {
  DurabilityChecker checker;
  checker.on_sent(1, wire::Prepare{0, 5, digest_n(1)});
  checker.on_sent(1, wire::Prepare{0, 5, digest_n(1)});  // a retransmission
  checker.on_sent(1, wire::Commit{0, 5, digest_n(1)});
  const wire::ViewChange vc{1, 0, {}, {cert(0, 5, digest_n(1))}};
  checker.on_sent(1, vc);
  checker.on_sent(1, vc);
  // A commit below the stable checkpoint needs no certificate.
  checker.on_sent(2, wire::Commit{0, 3, digest_n(1)});
  checker.on_sent(2, wire::ViewChange{1, 4, {}, {}});
  CHECK(checker.log().ok());
}

TEST_CASE("durability: two different prepares or commits for one (v, s) fail") {
  DurabilityChecker prepares;
  prepares.on_sent(1, wire::Prepare{0, 5, digest_n(1)});
  prepares.on_sent(1, wire::Prepare{0, 5, digest_n(2)});
  CHECK(mentions(prepares.log(), "sent PREPARE v=0 s=5"));
  DurabilityChecker commits;
  commits.on_sent(1, wire::Commit{2, 7, digest_n(1)});
  commits.on_sent(1, wire::Commit{2, 7, digest_n(2)});
  CHECK_FALSE(commits.log().ok());
  DurabilityChecker other_replica;  // different replicas may differ (one may be wrong, not this checker's job)
  other_replica.on_sent(1, wire::Prepare{0, 5, digest_n(1)});
  other_replica.on_sent(2, wire::Prepare{0, 5, digest_n(2)});
  CHECK(other_replica.log().ok());
}

TEST_CASE("durability: a primary that pre-prepares two batches for one (v, s) fails, also via NEW-VIEW") {
  DurabilityChecker direct;
  direct.on_sent(1, wire::PrePrepare{{1, 23, digest_n(1)}, {}});
  direct.on_sent(1, wire::PrePrepare{{1, 23, digest_n(1)}, {}});  // a retransmission
  CHECK(direct.log().ok());
  direct.on_sent(1, wire::PrePrepare{{1, 23, digest_n(2)}, {}});
  CHECK(mentions(direct.log(), "PRE-PREPARE v=1 s=23"));

  DurabilityChecker via_new_view;
  wire::NewView nv;
  nv.view = 1;
  nv.pre_prepares.push_back({1, {1, 22, digest_n(1)}, {}});
  via_new_view.on_sent(1, nv);
  via_new_view.on_sent(1, wire::PrePrepare{{1, 22, digest_n(3)}, {}});  // after a restart that forgot O
  CHECK(mentions(via_new_view.log(), "s=22"));
}

TEST_CASE("durability: a VIEW-CHANGE that forgets a prepared seq fails") {
  DurabilityChecker checker;
  checker.on_sent(3, wire::Commit{0, 9, digest_n(1)});
  checker.on_sent(3, wire::ViewChange{1, 8, {}, {}});
  CHECK(mentions(checker.log(), "carries no prepared certificate for s=9"));
}

TEST_CASE("durability: a certificate from an older view than the commit does not count") {
  DurabilityChecker checker;
  checker.on_sent(3, wire::Commit{2, 9, digest_n(1)});
  checker.on_sent(3, wire::ViewChange{3, 0, {}, {cert(1, 9, digest_n(1))}});
  CHECK_FALSE(checker.log().ok());
}

TEST_CASE("durability: two different VIEW-CHANGEs for one view fail") {
  DurabilityChecker checker;
  checker.on_sent(0, wire::ViewChange{4, 0, {}, {}});
  checker.on_sent(0, wire::ViewChange{4, 8, {}, {}});
  CHECK(mentions(checker.log(), "two different VIEW-CHANGEs for view 4"));
}

}  // namespace
}  // namespace synod::sim
