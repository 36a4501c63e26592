// sim/byzantine.hpp and sim/faulty_client.hpp: the adversaries do what
// their strategies say, and sign only with their own key.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "sim/byzantine.hpp"
#include "sim/fake_crypto.hpp"
#include "sim/faulty_client.hpp"
#include "synod/examples/kv.hpp"
#include "wire/codec.hpp"

namespace synod::sim {
namespace {

ClusterConfig config_f1() {
  ClusterConfig c;
  c.f = 1;
  for (ReplicaId i = 0; i < 4; ++i) {
    ReplicaInfo info;  // by field: more fields may follow, all defaulted
    info.id = i;
    info.endpoint = "sim://r" + std::to_string(i);
    info.public_key = "k";
    c.replicas.push_back(std::move(info));
  }
  for (ClientId i = 0; i < 3; ++i) c.clients.push_back({.id = i, .public_key = "k"});
  c.batch_max_requests = 4;
  REQUIRE(c.validate().has_value());
  return c;
}

Bytes request_frame(const KeyTable& keys, ClientId client, RequestNo t) {
  const FakeCrypto crypto(keys, Principal::client(client));
  const wire::Request request{client, t, false, examples::kv::encode_put("k", "v" + std::to_string(t))};
  return wire::make_frame(Principal::client(client), request, [&](ByteView d) { return crypto.sign(d); });
}

TEST_CASE("byzantine: an equivocating primary shows backups different batches, signed only by itself") {
  const ClusterConfig config = config_f1();
  const KeyTable keys(3, 4, 3);
  const FakeCrypto own(keys, Principal::replica(0));
  const FakeCrypto verifier(keys, Principal::replica(1));
  bool equivocated = false;
  for (std::uint64_t seed = 1; seed <= 20 && !equivocated; ++seed) {
    ByzantineReplica byz(config, 0, own, byzantine::equivocate, Prng(seed), 0);
    std::vector<OutboundFrame> out;
    byz.receive(10, Principal::client(0), request_frame(keys, 0, 1), out);
    std::map<Seq, std::set<Bytes>> batches_at;  // encoded batches per seq
    for (const OutboundFrame& frame : out) {
      const auto env = wire::decode_envelope(frame.frame);
      REQUIRE(env.has_value());
      CHECK(env->sender == Principal::replica(0));
      if (env->type != wire::MsgType::pre_prepare) continue;
      CHECK(frame.to.kind == Destination::Kind::replica);  // expanded per backup
      const auto pp = wire::decode<wire::PrePrepare>(env->payload);
      REQUIRE(pp.has_value());
      // Whatever it sends carries its own valid signature over the header.
      CHECK(verifier.verify(Principal::replica(0), wire::signing_input_of(Principal::replica(0), *pp),
                            env->authenticator));
      batches_at[pp->header.seq].insert(wire::encode_batch(pp->batch));
    }
    for (const auto& [seq, batches] : batches_at) equivocated = equivocated || batches.size() > 1;
  }
  CHECK(equivocated);
}

TEST_CASE("byzantine: twins answer each half of the cluster from a different core") {
  const ClusterConfig config = config_f1();
  const KeyTable keys(4, 4, 3);
  const FakeCrypto own(keys, Principal::replica(2));
  ByzantineReplica byz(config, 2, own, byzantine::twins, Prng(5), 0);
  std::vector<OutboundFrame> out;
  byz.receive(10, Principal::client(1), request_frame(keys, 1, 1), out);
  // A backup forwards the request to the primary: one copy, to replica 0,
  // from whichever twin serves replica 0; never to itself.
  for (const OutboundFrame& frame : out) {
    if (frame.to.kind == Destination::Kind::replica) CHECK(frame.to.id != 2);
  }
  CHECK(byz.next_deadline() > 10);
}

TEST_CASE("faulty client: bad signatures fail, a reused t is signed twice with different ops") {
  const ClusterConfig config = config_f1();
  const KeyTable keys(6, 4, 3);
  const FakeCrypto own(keys, Principal::client(2));
  const FakeCrypto verifier(keys, Principal::replica(0));
  FaultyClient client(config, 2, own, faulty::bad_signature | faulty::reuse_t | faulty::impersonate, {0, 1},
                      Prng(8));
  std::map<RequestNo, std::set<Bytes>> ops_per_t;
  std::uint64_t bad = 0, good = 0;
  for (int round = 0; round < 200; ++round) {
    std::vector<OutboundFrame> out;
    std::vector<wire::Request> signed_requests;
    client.act(out, signed_requests);
    for (const wire::Request& r : signed_requests) {
      CHECK(r.client == 2);  // it validly signs only as itself
      ops_per_t[r.t].insert(r.op);
    }
    for (const OutboundFrame& frame : out) {
      const auto env = wire::decode_envelope(frame.frame);
      REQUIRE(env.has_value());
      const auto request = wire::decode<wire::Request>(env->payload);
      REQUIRE(request.has_value());
      const bool valid = verifier.verify(env->sender, wire::signing_input_of(env->sender, *request),
                                         env->authenticator);
      (valid ? good : bad) += 1;
      if (env->sender != Principal::client(2)) CHECK_FALSE(valid);  // impersonation never verifies
    }
  }
  CHECK(bad > 0);
  CHECK(good > 0);
  bool reused = false;
  for (const auto& [t, ops] : ops_per_t) reused = reused || ops.size() > 1;
  CHECK(reused);
}

}  // namespace
}  // namespace synod::sim
