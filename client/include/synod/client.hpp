// synod/client.hpp — the blocking client: invoke(op) returns the result a
// quorum of replicas agreed on (pbft: f+1 matching signed replies; paxos:
// the leader's), or an error after a timeout.
//
// Built on synod::client::Session (lib/client, the pure client protocol:
// quorums, retransmission with backoff, paxos redirects) over one ZeroMQ
// DEALER socket per replica.
//
// Request numbers: a replica answers a request number t it has already
// executed with the cached reply, and drops lower ones, so t must keep
// increasing across client restarts. By default the first t is the wall
// clock in microseconds since the Unix epoch (then +1 per request): a
// restarted client starts above every t it used before as long as it sent
// fewer than one request per microsecond on average and the clock did not
// step back. ClientOptions::first_t overrides it (e.g. a persisted counter).
//
// Not thread-safe: one invoke() at a time (one outstanding request, as the
// protocol requires per client id). Run several Clients (ids) for parallelism.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "synod/config.hpp"
#include "synod/crypto/private_key.hpp"
#include "synod/result.hpp"
#include "synod/types.hpp"

namespace synod {

struct ClientOptions {
  std::chrono::milliseconds timeout{10'000};  // per invoke(), including retransmissions
  std::optional<RequestNo> first_t;           // default: microseconds since the epoch
  int send_hwm = 1000;
};

struct ClientStats {
  std::uint64_t completed = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t retransmissions = 0;
  std::uint64_t replies_rejected = 0;  // malformed, bad signature, duplicates, unrelated
};

class Client {
 public:
  // Connects (asynchronously: replicas may come up later) to every replica
  // in `config`. `key` is client `id`'s private key. The error names what
  // is wrong (unknown client id, key of another scheme...).
  static Result<std::unique_ptr<Client>> connect(const ClusterConfig& config, ClientId id, crypto::PrivateKey key,
                                                 ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Submits `op` and waits for its accepted result. read_only asks for the
  // unordered read path (falls back to ordering when it cannot complete).
  // Errors: timeout (the request may still execute later), op too large.
  Result<Bytes> invoke(ByteView op, bool read_only = false);

  // The latency of the last successful invoke(), from submit to quorum.
  std::chrono::microseconds last_latency() const;
  ClientStats stats() const;
  ClientId id() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace synod
