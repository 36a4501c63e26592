// bench/state_prefill.hpp — what `synod-bench --state-bytes N` needs beside
// the cluster: a genesis state written straight into a replica's LMDB store
// before it starts, and the loopback bandwidth a state transfer is compared
// with.
//
// The genesis state: keys "s<i>" (i = 0 .. N/1024 - 1) with 1 KiB values
// (state_value(i)), stored as --app kv-store stores a kv put of them (the
// app namespace byte, MerkleStore::kAppNamespace, then the key), with the
// Merkle index over them, in LmdbStorage::apply commits of at most
// `batch_keys` keys (bounded memory: the store's overlay holds one batch).
// Nothing goes through consensus: every replica must start from the same
// bytes (synod-bench fills one data dir and copies its data.mdb to the
// others before any replica starts).
//
// Not thread-safe; the caller's thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "synod/replica.hpp"
#include "synod/result.hpp"

namespace synod::bench {

inline constexpr std::size_t kStateValueBytes = 1024;

// The key and value of genesis entry i, and the value an update writes to
// it (the same size, other bytes).
std::string state_key(std::uint64_t i);
std::string state_value(std::uint64_t i, bool updated = false);

struct PrefillResult {
  std::uint64_t keys = 0;
  Digest root{};         // the store's Merkle root (MerkleStore::root)
  double seconds = 0;
};

// Fills the LMDB environment in `dir` (created if missing; map_bytes as
// synod-replica --map-mib) with state_bytes / kStateValueBytes genesis
// entries. `crypto` must digest as the replicas do (OpenSslCrypto: SHA-256).
Result<PrefillResult> prefill_store(const std::filesystem::path& dir, std::size_t map_bytes, const Crypto& crypto,
                                    std::uint64_t state_bytes, std::size_t batch_keys = 10'000);

// MB/s (10^6 bytes) of a ZeroMQ PUSH -> PULL transfer of total_bytes in
// frame_bytes frames over 127.0.0.1 TCP, between two contexts (so through
// both ZeroMQ I/O threads, as between processes) on two threads.
Result<double> loopback_bandwidth_mb_per_s(std::size_t total_bytes, std::size_t frame_bytes);

}  // namespace synod::bench
