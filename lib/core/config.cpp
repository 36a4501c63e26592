#include "synod/config.hpp"

#include <set>
#include <string>

#include "synod/replica.hpp"

namespace synod {

const char* to_string(Protocol p) { return p == Protocol::pbft ? "pbft" : "paxos"; }

const char* to_string(SignatureScheme s) {
  return s == SignatureScheme::ed25519 ? "ed25519" : "ecdsa-p256";
}

const char* to_string(Authentication a) { return a == Authentication::signatures ? "signatures" : "macs"; }

Result<Protocol> parse_protocol(std::string_view text) {
  if (text == "pbft") return Protocol::pbft;
  if (text == "paxos") return Protocol::paxos;
  return fail(ErrorCode::invalid_config,
              "protocol must be \"pbft\" or \"paxos\", not \"" + std::string(text) + "\"");
}

Result<SignatureScheme> parse_signature_scheme(std::string_view text) {
  if (text == "ed25519") return SignatureScheme::ed25519;
  if (text == "ecdsa-p256") return SignatureScheme::ecdsa_p256;
  return fail(ErrorCode::invalid_config, "signature_scheme must be \"ed25519\" or \"ecdsa-p256\", not \"" +
                                             std::string(text) + "\"");
}

Result<Authentication> parse_authentication(std::string_view text) {
  if (text == "signatures") return Authentication::signatures;
  if (text == "macs") return Authentication::macs;
  return fail(ErrorCode::invalid_config,
              "authentication must be \"signatures\" or \"macs\", not \"" + std::string(text) + "\"");
}

const char* to_string(Rejection r) {
  switch (r) {
    case Rejection::malformed: return "malformed";
    case Rejection::bad_authenticator: return "bad_authenticator";
    case Rejection::unknown_sender: return "unknown_sender";
    case Rejection::wrong_view: return "wrong_view";
    case Rejection::out_of_window: return "out_of_window";
    case Rejection::conflicting: return "conflicting";
    case Rejection::invalid: return "invalid";
    case Rejection::limit: return "limit";
    case Rejection::count_: break;
  }
  return "unknown";
}

const ClientInfo* ClusterConfig::find_client(ClientId id) const {
  for (const auto& c : clients)
    if (c.id == id) return &c;
  return nullptr;
}

namespace {

Result<void> bad(std::string message) { return fail(ErrorCode::invalid_config, std::move(message)); }

Result<void> positive(std::uint64_t value, const char* field) {
  if (value == 0) return bad(std::string(field) + " must be greater than 0");
  return {};
}

}  // namespace

Result<void> ClusterConfig::validate() const {
  // Largest cluster the limits below are sized for.
  constexpr std::uint32_t kMaxF = 32;
  if (f == 0) return bad("f must be at least 1");
  if (f > kMaxF) return bad("f = " + std::to_string(f) + " exceeds the supported maximum of " + std::to_string(kMaxF));
  // Exactly 3f+1 (2f+1): the quorums below are sized for that n, and with
  // more replicas two quorums of 2f+1 (f+1) could meet in no correct one.
  if (n() != required_replicas()) {
    return bad(std::string(to_string(protocol)) + " with f = " + std::to_string(f) + " needs exactly " +
               std::to_string(required_replicas()) + " replicas (" +
               (protocol == Protocol::pbft ? "3f+1" : "2f+1") + "), but " + std::to_string(n()) +
               " are configured");
  }
  std::set<std::string> endpoints;
  for (std::size_t i = 0; i < replicas.size(); ++i) {
    const ReplicaInfo& r = replicas[i];
    const std::string name = "replica " + std::to_string(r.id);
    if (r.id != i) {
      return bad("replica ids must be 0..n-1 in order: entry " + std::to_string(i) + " has id " +
                 std::to_string(r.id) + (r.id < i ? " (duplicate id)" : ""));
    }
    if (r.endpoint.empty()) return bad(name + " has no endpoint");
    if (!endpoints.insert(r.endpoint).second) return bad(name + " reuses endpoint " + r.endpoint);
    if (r.public_key.empty()) return bad(name + " has no public key");
    if (curve && (i >= curve_public_keys.size() || curve_public_keys[i].size() != 40)) {
      return bad(name + " needs a curve_public_key (40 Z85 characters) when curve is on");
    }
  }
  if (!curve_public_keys.empty() && curve_public_keys.size() != replicas.size()) {
    return bad("curve_public_keys must have one key per replica");
  }
  constexpr std::size_t kMaxClients = 1u << 16;
  if (clients.size() > kMaxClients) return bad("at most " + std::to_string(kMaxClients) + " clients are supported");
  std::set<ClientId> client_ids;
  for (const ClientInfo& c : clients) {
    if (!client_ids.insert(c.id).second) return bad("duplicate client id " + std::to_string(c.id));
    if (c.public_key.empty()) return bad("client " + std::to_string(c.id) + " has no public key");
  }

  if (auto r = positive(batch_max_requests, "batch_max_requests"); !r) return r;
  if (auto r = positive(max_batches_in_flight, "max_batches_in_flight"); !r) return r;
  if (auto r = positive(batch_max_bytes, "batch_max_bytes"); !r) return r;
  if (auto r = positive(checkpoint_interval, "checkpoint_interval"); !r) return r;
  if (auto r = positive(window, "window"); !r) return r;
  if (window % checkpoint_interval != 0 || window < 2 * checkpoint_interval) {
    return bad("window (" + std::to_string(window) + ") must be a multiple of checkpoint_interval (" +
               std::to_string(checkpoint_interval) + ") and at least twice it");
  }
  if (auto r = positive(view_change_timeout_ms, "view_change_timeout_ms"); !r) return r;
  if (auto r = positive(request_timeout_ms, "request_timeout_ms"); !r) return r;
  if (protocol == Protocol::paxos) {
    if (auto r = positive(heartbeat_interval_ms, "heartbeat_interval_ms"); !r) return r;
    if (election_timeout_ms <= heartbeat_interval_ms) {
      return bad("election_timeout_ms (" + std::to_string(election_timeout_ms) +
                 ") must exceed heartbeat_interval_ms (" + std::to_string(heartbeat_interval_ms) + ")");
    }
    constexpr std::uint32_t kMaxDriftPpm = 100000;  // 10%: beyond that a lease bound means nothing
    if (max_clock_drift_ppm > kMaxDriftPpm) {
      return bad("max_clock_drift_ppm must be at most " + std::to_string(kMaxDriftPpm));
    }
    // A lease must run out, on the slowest allowed clock, before a follower
    // may start an election.
    const double lease_worst_ms = lease_duration_ms * (1.0 + max_clock_drift_ppm / 1e6);
    if (lease_duration_ms != 0 && lease_worst_ms >= election_timeout_ms) {
      return bad("lease_duration_ms (stretched by max_clock_drift_ppm) must be shorter than election_timeout_ms");
    }
  }
  constexpr std::uint32_t kMinFrameBytes = 4096;
  if (max_frame_bytes < kMinFrameBytes) {
    return bad("max_frame_bytes must be at least " + std::to_string(kMinFrameBytes));
  }
  if (auto r = positive(max_request_bytes, "max_request_bytes"); !r) return r;
  if (max_request_bytes >= max_frame_bytes) return bad("max_request_bytes must be below max_frame_bytes");
  if (batch_max_bytes >= max_frame_bytes) return bad("batch_max_bytes must be below max_frame_bytes");
  if (batch_max_bytes < max_request_bytes) {
    return bad("batch_max_bytes must be at least max_request_bytes, or a large request fits no batch");
  }
  if (auto r = positive(max_pending_per_client, "max_pending_per_client"); !r) return r;
  if (auto r = positive(snapshot_chunk_bytes, "snapshot_chunk_bytes"); !r) return r;
  if (auto r = positive(max_snapshot_bytes, "max_snapshot_bytes"); !r) return r;
  return {};
}

}  // namespace synod
