// synod/config.hpp — the cluster configuration shared by replicas, clients,
// tools and the simulator. Plain data plus validate(); parsing from TOML lives
// with the tools. Every limit synod enforces is a named field here or a named
// constant next to the code that enforces it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "synod/result.hpp"
#include "synod/types.hpp"

namespace synod {

enum class Protocol : std::uint8_t { pbft, paxos };
enum class SignatureScheme : std::uint8_t { ed25519, ecdsa_p256 };
// How messages on the normal path are authenticated (wire/authenticate.hpp).
// signatures: every message is signed. macs: HMAC-SHA256 authenticators
// under per-pair keys (derived from the configured key pairs) on requests
// (one MAC per replica, beside the client's signature, which a replica
// checks only when its own MAC fails), on replies, and on pbft commits
// (beside their signature, which is checked only when a commit proof is
// served). Pre-prepares, prepares, checkpoints, view changes and new views
// stay signed: they go into proofs for third parties.
enum class Authentication : std::uint8_t { signatures, macs };

const char* to_string(Protocol p);
const char* to_string(SignatureScheme s);
const char* to_string(Authentication a);
Result<Protocol> parse_protocol(std::string_view text);
Result<SignatureScheme> parse_signature_scheme(std::string_view text);
Result<Authentication> parse_authentication(std::string_view text);

struct ReplicaInfo {
  ReplicaId id = 0;
  std::string endpoint;    // e.g. "tcp://127.0.0.1:7000"
  std::string public_key;  // PEM text (runtime) or an opaque key id (simulator)
};

struct ClientInfo {
  ClientId id = 0;
  std::string public_key;
};

struct ClusterConfig {
  Protocol protocol = Protocol::pbft;
  SignatureScheme signature_scheme = SignatureScheme::ed25519;
  Authentication authentication = Authentication::signatures;
  std::uint32_t f = 1;
  std::vector<ReplicaInfo> replicas;  // ids must be 0..n-1
  std::vector<ClientInfo> clients;

  // Batching (core/batching.hpp): with nothing in flight a request goes out
  // at once; otherwise a batch closes when it holds batch_max_requests
  // requests or batch_max_bytes of operations, or batch_timeout_us after its
  // first request, and while max_batches_in_flight batches are proposed and
  // not executed only a full batch goes out.
  std::uint32_t batch_max_requests = 128;
  std::uint32_t batch_max_bytes = 1u << 20;
  std::uint32_t batch_timeout_us = 500;
  std::uint32_t max_batches_in_flight = 2;

  // Checkpoints every checkpoint_interval (K) sequence numbers; the log window
  // L = window is a multiple of K (PROTOCOL.md: L = 2K).
  std::uint32_t checkpoint_interval = 128;
  std::uint32_t window = 256;

  // Timeouts. view_change_timeout_ms is T of PROTOCOL.md (doubles per failed
  // view change). request_timeout_ms is the client's retransmit timeout.
  std::uint32_t view_change_timeout_ms = 1000;
  std::uint32_t request_timeout_ms = 500;
  std::uint32_t heartbeat_interval_ms = 50;     // paxos
  std::uint32_t election_timeout_ms = 300;      // paxos, randomised up to 2x
  std::uint32_t lease_duration_ms = 0;          // paxos leader leases; 0 = off
  std::uint32_t max_clock_drift_ppm = 1000;     // bound used by leases

  // Limits on untrusted input and memory.
  std::uint32_t max_frame_bytes = 16u << 20;
  std::uint32_t max_request_bytes = 64u << 10;
  std::uint32_t max_pending_per_client = 16;

  // State transfer (pbft) and catch-up (paxos) send a snapshot in chunks of
  // snapshot_chunk() bytes, one frame each, so an application state larger
  // than a frame still reaches a replica that lags. A receiver refuses a
  // snapshot announced larger than max_snapshot_bytes: the bound on what a
  // peer can make it hold.
  std::uint32_t snapshot_chunk_bytes = 4u << 20;
  std::uint32_t max_snapshot_bytes = 1u << 30;

  // Lets `synod-replica --fault MODE` run a deliberately faulty replica of
  // this cluster (fault-injection tests). Off by default, so a production
  // config cannot start one by accident.
  bool allow_fault_injection = false;

  // Durability of the replicas' LMDB state. true (the default): every commit
  // is fsynced before the messages it covers leave, so a replica survives a
  // machine crash or power loss. false: commits reach the operating system
  // (MDB_NOSYNC) but are not flushed: the state survives the replica
  // process dying (kill -9) but not the machine; for benchmarks that want
  // the protocol's cost without the disk's, and for tests.
  bool fsync = true;

  // CurveZMQ on every socket: replicas are CURVE servers with the key pairs
  // in curve_public_keys (cluster.toml: replica.curve_public_key; secret halves in
  // keys/replica-<id>.curve, never in the config); replicas and clients
  // connect as CURVE clients, checking the server's public key. Frames are
  // signed either way; CURVE adds confidentiality and server authentication.
  bool curve = false;
  std::vector<std::string> curve_public_keys;  // by replica id, Z85 (40 characters); needed when curve is on

  std::uint32_t n() const { return static_cast<std::uint32_t>(replicas.size()); }
  // PBFT: 2f+1 of 3f+1. Paxos: f+1 of 2f+1.
  std::uint32_t quorum() const { return protocol == Protocol::pbft ? 2 * f + 1 : f + 1; }
  // Matching replies a client needs for an ordered request.
  std::uint32_t reply_quorum() const { return protocol == Protocol::pbft ? f + 1 : 1; }
  std::uint32_t required_replicas() const { return protocol == Protocol::pbft ? 3 * f + 1 : 2 * f + 1; }
  // snapshot_chunk_bytes, but at most half a frame (the rest of the frame
  // holds the chunk's proof and the slots sent with it).
  std::uint32_t snapshot_chunk() const { return std::min(snapshot_chunk_bytes, max_frame_bytes / 2); }

  const ClientInfo* find_client(ClientId id) const;

  // Checks every field; the error names the field and what is wrong with it.
  Result<void> validate() const;
};

}  // namespace synod
