// runtime/config_file.hpp — the cluster configuration on disk: DIR/cluster.toml
// (TOML, read with toml++) and the PEM public keys it names.
//
// Format (every ClusterConfig field may appear at the top level; an absent
// field keeps the ClusterConfig default; an unknown key is an error, so a
// typo never silently falls back to a default):
//
//   protocol = "pbft"                 # or "paxos"
//   signature_scheme = "ed25519"      # or "ecdsa-p256"
//   authentication = "signatures"     # or "macs" (synod/config.hpp)
//   f = 1
//   batch_max_requests = 128          # ... every other ClusterConfig field
//   curve = false                     # CurveZMQ on every socket (runtime/transport.hpp)
//   fsync = true                      # false: LMDB commits without fsync (survive kill -9, not power loss)
//   allow_fault_injection = false     # true lets synod-replica --fault MODE run (tests only)
//   [[replica]]
//   id = 0
//   endpoint = "tcp://127.0.0.1:7000"
//   public_key_file = "keys/replica-0.pub"   # relative to the toml's folder
//   curve_public_key = "..."          # Z85; required when curve = true
//   [[client]]
//   id = 0
//   public_key_file = "keys/client-0.pub"
//
// Errors are one line naming the file, the line and the key, e.g.
//   "/x/cluster.toml:7: key 'f': expected an integer in [0, 4294967295]".
#pragma once

#include <filesystem>

#include "synod/config.hpp"
#include "synod/result.hpp"

namespace synod::runtime {

// Reads `path`, loads every public key file into ReplicaInfo/ClientInfo::
// public_key (PEM text), and returns the config only if it validate()s.
Result<ClusterConfig> load_cluster_config(const std::filesystem::path& path);

// The key file names write_cluster_config() puts in the toml, relative to
// its folder (synod-cluster init writes the keys there).
std::string replica_public_key_file(ReplicaId id);  // "keys/replica-<id>.pub"
std::string client_public_key_file(ClientId id);    // "keys/client-<id>.pub"

// Writes `config` as TOML to `path` (atomically: temp file + rename). Key
// files are referenced by the names above; public_key fields are not
// written (they live in the key files). Every field is written, so the
// file documents the values in force.
Result<void> write_cluster_config(const std::filesystem::path& path, const ClusterConfig& config);

}  // namespace synod::runtime
