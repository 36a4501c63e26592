// ClusterConfig::validate(): the two reference configurations pass, and each
// bad value is rejected with an invalid_config error that names the problem.
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/durable_shape.hpp"
#include "synod/config.hpp"

namespace {

using synod::ClusterConfig;
using synod::Protocol;

ClusterConfig config_with(Protocol protocol, std::uint32_t replicas) {
  ClusterConfig config;
  config.protocol = protocol;
  config.f = 1;
  for (std::uint32_t i = 0; i < replicas; ++i) {
    config.replicas.push_back({i, "tcp://127.0.0.1:" + std::to_string(7000 + i), "replica-key-" + std::to_string(i)});
  }
  config.clients = {{7, "client-key-7"}, {9, "client-key-9"}};
  return config;
}

ClusterConfig pbft_config() { return config_with(Protocol::pbft, 4); }
ClusterConfig paxos_config() { return config_with(Protocol::paxos, 3); }

// validate()'s verdict as text: "valid", or the error with its code.
std::string verdict(const ClusterConfig& config) {
  const auto result = config.validate();
  return result ? std::string("valid") : result.error().describe();
}

struct BadValue {
  const char* name;
  std::function<void(ClusterConfig&)> change;
  const char* message;  // must appear in the error
};

void check_rejected(const ClusterConfig& base, const std::vector<BadValue>& cases) {
  for (const BadValue& bad : cases) {
    CAPTURE(bad.name);
    ClusterConfig config = base;
    bad.change(config);
    const std::string why = verdict(config);
    CAPTURE(why);
    CHECK(why.starts_with("invalid config: "));
    CHECK(why.find(bad.message) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("config: pbft with 4 replicas and f = 1 is valid") { CHECK(verdict(pbft_config()) == "valid"); }

TEST_CASE("config: paxos with 3 replicas and f = 1 is valid") { CHECK(verdict(paxos_config()) == "valid"); }

TEST_CASE("config: a config without clients is valid") {
  ClusterConfig config = pbft_config();
  config.clients.clear();
  CHECK(verdict(config) == "valid");
}

TEST_CASE("config: boundary values that are allowed") {
  ClusterConfig config = paxos_config();
  config.window = 2 * config.checkpoint_interval;  // exactly 2K
  config.election_timeout_ms = config.heartbeat_interval_ms + 1;
  config.max_clock_drift_ppm = 0;
  config.lease_duration_ms = config.election_timeout_ms - 1;
  config.max_frame_bytes = 4096;
  config.max_request_bytes = 4095;
  config.batch_max_bytes = 4095;
  CHECK(verdict(config) == "valid");
}

TEST_CASE("config: the replica count must be exactly the protocol's 3f+1 or 2f+1") {
  auto add_replica = [](ClusterConfig& c) {
    const synod::ReplicaId id = c.n();
    c.replicas.push_back({id, "tcp://127.0.0.1:" + std::to_string(7000 + id), "key-extra"});
  };
  check_rejected(pbft_config(), {
      {"pbft with 3 replicas", [](ClusterConfig& c) { c.replicas.pop_back(); },
       "pbft with f = 1 needs exactly 4 replicas (3f+1), but 3 are configured"},
      {"pbft f = 2 with 4 replicas", [](ClusterConfig& c) { c.f = 2; }, "needs exactly 7 replicas (3f+1)"},
      // 2f+1 = 3 of 5 replicas: two quorums could share only one, faulty, replica.
      {"pbft f = 1 with 5 replicas", add_replica, "needs exactly 4 replicas (3f+1), but 5 are configured"},
  });
  check_rejected(paxos_config(), {
      {"paxos with 2 replicas", [](ClusterConfig& c) { c.replicas.pop_back(); },
       "paxos with f = 1 needs exactly 3 replicas (2f+1), but 2 are configured"},
      {"paxos f = 1 with 4 replicas", add_replica, "needs exactly 3 replicas (2f+1), but 4 are configured"},
  });
}

TEST_CASE("config: f outside 1..32 is rejected") {
  check_rejected(pbft_config(), {
      {"f = 0", [](ClusterConfig& c) { c.f = 0; }, "f must be at least 1"},
      {"f = 33", [](ClusterConfig& c) { c.f = 33; }, "f = 33 exceeds the supported maximum of 32"},
  });
}

TEST_CASE("config: replica ids must be 0..n-1 in order") {
  check_rejected(pbft_config(), {
      {"duplicate id", [](ClusterConfig& c) { c.replicas[2].id = 1; }, "entry 2 has id 1 (duplicate id)"},
      {"ids start at 1", [](ClusterConfig& c) { for (auto& r : c.replicas) ++r.id; },
       "replica ids must be 0..n-1 in order: entry 0 has id 1"},
      {"id out of range", [](ClusterConfig& c) { c.replicas[3].id = 9; }, "entry 3 has id 9"},
  });
}

TEST_CASE("config: each replica needs a unique endpoint and a public key") {
  check_rejected(pbft_config(), {
      {"missing endpoint", [](ClusterConfig& c) { c.replicas[2].endpoint.clear(); }, "replica 2 has no endpoint"},
      {"duplicate endpoint", [](ClusterConfig& c) { c.replicas[3].endpoint = c.replicas[0].endpoint; },
       "replica 3 reuses endpoint tcp://127.0.0.1:7000"},
      {"missing replica key", [](ClusterConfig& c) { c.replicas[1].public_key.clear(); },
       "replica 1 has no public key"},
  });
}

TEST_CASE("config: clients need unique ids and public keys") {
  check_rejected(pbft_config(), {
      {"duplicate client id", [](ClusterConfig& c) { c.clients[1].id = c.clients[0].id; }, "duplicate client id 7"},
      {"missing client key", [](ClusterConfig& c) { c.clients[1].public_key.clear(); },
       "client 9 has no public key"},
  });
}

TEST_CASE("config: window must be a multiple of checkpoint_interval and at least twice it") {
  check_rejected(pbft_config(), {
      {"window not a multiple", [](ClusterConfig& c) { c.window = 3 * c.checkpoint_interval + 1; },
       "must be a multiple of checkpoint_interval (128)"},
      {"window = K", [](ClusterConfig& c) { c.window = c.checkpoint_interval; }, "and at least twice it"},
      {"checkpoint_interval = 0", [](ClusterConfig& c) { c.checkpoint_interval = 0; },
       "checkpoint_interval must be greater than 0"},
      {"window = 0", [](ClusterConfig& c) { c.window = 0; }, "window must be greater than 0"},
  });
}

TEST_CASE("config: batch sizes must be positive") {
  check_rejected(pbft_config(), {
      {"batch_max_requests = 0", [](ClusterConfig& c) { c.batch_max_requests = 0; },
       "batch_max_requests must be greater than 0"},
      {"batch_max_bytes = 0", [](ClusterConfig& c) { c.batch_max_bytes = 0; },
       "batch_max_bytes must be greater than 0"},
  });
}

TEST_CASE("config: timeouts must be positive and consistent") {
  check_rejected(paxos_config(), {
      {"view_change_timeout_ms = 0", [](ClusterConfig& c) { c.view_change_timeout_ms = 0; },
       "view_change_timeout_ms must be greater than 0"},
      {"request_timeout_ms = 0", [](ClusterConfig& c) { c.request_timeout_ms = 0; },
       "request_timeout_ms must be greater than 0"},
      {"heartbeat_interval_ms = 0", [](ClusterConfig& c) { c.heartbeat_interval_ms = 0; },
       "heartbeat_interval_ms must be greater than 0"},
      {"election timeout = heartbeat", [](ClusterConfig& c) { c.election_timeout_ms = c.heartbeat_interval_ms; },
       "election_timeout_ms (50) must exceed heartbeat_interval_ms (50)"},
      {"election timeout < heartbeat", [](ClusterConfig& c) { c.election_timeout_ms = 10; },
       "election_timeout_ms (10) must exceed heartbeat_interval_ms (50)"},
      {"lease = election timeout", [](ClusterConfig& c) { c.lease_duration_ms = c.election_timeout_ms; },
       "lease_duration_ms (stretched by max_clock_drift_ppm) must be shorter than election_timeout_ms"},
      {"lease > election timeout", [](ClusterConfig& c) { c.lease_duration_ms = c.election_timeout_ms + 1; },
       "lease_duration_ms (stretched by max_clock_drift_ppm) must be shorter than election_timeout_ms"},
      {"lease shorter, but not once drift stretches it",
       [](ClusterConfig& c) {
         c.max_clock_drift_ppm = 100000;
         c.lease_duration_ms = c.election_timeout_ms - 1;
       },
       "lease_duration_ms (stretched by max_clock_drift_ppm) must be shorter than election_timeout_ms"},
      {"drift over 10%", [](ClusterConfig& c) { c.max_clock_drift_ppm = 100001; },
       "max_clock_drift_ppm must be at most 100000"},
  });
}

TEST_CASE("config: paxos timers are not checked in pbft mode") {
  ClusterConfig config = pbft_config();
  config.heartbeat_interval_ms = 0;
  config.election_timeout_ms = 0;
  CHECK(verdict(config) == "valid");
}

TEST_CASE("config: frame and request limits must be consistent") {
  check_rejected(pbft_config(), {
      {"max_frame_bytes too small", [](ClusterConfig& c) { c.max_frame_bytes = 4095; },
       "max_frame_bytes must be at least 4096"},
      {"max_request_bytes = 0", [](ClusterConfig& c) { c.max_request_bytes = 0; },
       "max_request_bytes must be greater than 0"},
      {"max_request_bytes = max_frame_bytes", [](ClusterConfig& c) { c.max_request_bytes = c.max_frame_bytes; },
       "max_request_bytes must be below max_frame_bytes"},
      {"batch_max_bytes = max_frame_bytes", [](ClusterConfig& c) { c.batch_max_bytes = c.max_frame_bytes; },
       "batch_max_bytes must be below max_frame_bytes"},
      {"batch smaller than a request", [](ClusterConfig& c) { c.batch_max_bytes = c.max_request_bytes - 1; },
       "batch_max_bytes must be at least max_request_bytes"},
      {"max_pending_per_client = 0", [](ClusterConfig& c) { c.max_pending_per_client = 0; },
       "max_pending_per_client must be greater than 0"},
      {"snapshot_chunk_bytes = 0", [](ClusterConfig& c) { c.snapshot_chunk_bytes = 0; },
       "snapshot_chunk_bytes must be greater than 0"},
      {"max_snapshot_bytes = 0", [](ClusterConfig& c) { c.max_snapshot_bytes = 0; },
       "max_snapshot_bytes must be greater than 0"},
  });
}

TEST_CASE("config: a snapshot chunk is snapshot_chunk_bytes, at most half a frame") {
  ClusterConfig config = pbft_config();
  config.snapshot_chunk_bytes = 1000;
  config.max_frame_bytes = 4096;
  config.max_request_bytes = 1024;
  config.batch_max_bytes = 2048;
  CHECK(config.snapshot_chunk() == 1000);
  config.snapshot_chunk_bytes = 3000;  // valid: a smaller frame need not lower it by hand
  CHECK(verdict(config) == "valid");
  CHECK(config.snapshot_chunk() == 2048);
}

TEST_CASE("config: quorum sizes follow the protocol") {
  const ClusterConfig pbft = pbft_config(), paxos = paxos_config();
  CHECK(pbft.quorum() == 3);
  CHECK(pbft.reply_quorum() == 2);
  CHECK(pbft.required_replicas() == 4);
  CHECK(paxos.quorum() == 2);
  CHECK(paxos.reply_quorum() == 1);
  CHECK(paxos.required_replicas() == 3);
}

TEST_CASE("config: find_client finds configured clients only") {
  const ClusterConfig config = pbft_config();
  REQUIRE(config.find_client(9) != nullptr);
  CHECK(config.find_client(9)->public_key == "client-key-9");
  CHECK(config.find_client(8) == nullptr);
}

TEST_CASE("config: parse_protocol accepts the two names and rejects others with the text") {
  CHECK(synod::parse_protocol("pbft") == Protocol::pbft);
  CHECK(synod::parse_protocol("paxos") == Protocol::paxos);
  for (const char* bad : {"", "PBFT", "raft", "pbft "}) {
    CAPTURE(bad);
    const auto parsed = synod::parse_protocol(bad);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().code == synod::ErrorCode::invalid_config);
    CHECK(parsed.error().message == std::string("protocol must be \"pbft\" or \"paxos\", not \"") + bad + "\"");
  }
}

TEST_CASE("config: parse_signature_scheme accepts the two names and rejects others with the text") {
  CHECK(synod::parse_signature_scheme("ed25519") == synod::SignatureScheme::ed25519);
  CHECK(synod::parse_signature_scheme("ecdsa-p256") == synod::SignatureScheme::ecdsa_p256);
  for (const char* bad : {"", "ecdsa_p256", "rsa", "Ed25519"}) {
    CAPTURE(bad);
    const auto parsed = synod::parse_signature_scheme(bad);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().code == synod::ErrorCode::invalid_config);
    CHECK(parsed.error().message.find(std::string("not \"") + bad + "\"") != std::string::npos);
  }
}

TEST_CASE("config: to_string and parse round-trip") {
  for (Protocol p : {Protocol::pbft, Protocol::paxos}) CHECK(synod::parse_protocol(synod::to_string(p)) == p);
  for (auto s : {synod::SignatureScheme::ed25519, synod::SignatureScheme::ecdsa_p256}) {
    CHECK(synod::parse_signature_scheme(synod::to_string(s)) == s);
  }
}

TEST_CASE("the durable shape record: absent or equal passes, a change is named, garbage is corrupt") {
  const ClusterConfig config = pbft_config();
  CHECK(synod::check_durable_shape(config, {}));
  const synod::PersistOp record = synod::durable_shape_record(config);
  REQUIRE(record.value.has_value());
  synod::DurableState durable{{record.key, *record.value}};
  CHECK(synod::check_durable_shape(config, durable));

  const auto refused = synod::check_durable_shape(paxos_config(), durable);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == synod::ErrorCode::invalid_config);
  CHECK(refused.error().message.find("written with protocol = pbft, replicas = 4; the config has protocol = paxos, "
                                     "replicas = 3") != std::string::npos);

  durable[record.key].push_back(0);  // one byte too many
  const auto corrupt = synod::check_durable_shape(config, durable);
  REQUIRE_FALSE(corrupt);
  CHECK(corrupt.error().code == synod::ErrorCode::corrupt);
}
