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
// protocol requires per client id). For several requests in flight use
// synod::AsyncClient (synod/async_client.hpp), which drives a pool of ids.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

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

// One replica's answer to Client::status(): what that replica says about
// itself (under pbft a faulty replica can lie; compare the answers).
struct ReplicaReport {
  ReplicaId id = 0;
  bool reachable = false;  // a signed status reply from this replica arrived in time
  Protocol protocol = Protocol::pbft;
  View view = 0;  // view, or ballot round
  ReplicaId leader = 0;
  bool is_leader = false;
  bool changing_view = false;
  Seq last_executed = 0;
  Seq stable_checkpoint = 0;
  Digest state_digest{};  // at stable_checkpoint (all zeros before the first one)
  std::uint64_t view_changes = 0;
  std::uint64_t state_transfers = 0;
  std::vector<std::uint64_t> rejected;  // indexed by synod::Rejection
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

  // Asks every replica for its status (answered by the replica process
  // itself, not ordered) and waits until all have answered or `timeout`
  // passed. One report per configured replica, in id order; a replica that
  // did not answer in time is reported with reachable == false.
  // Errors: only a failing socket poll.
  Result<std::vector<ReplicaReport>> status(std::chrono::milliseconds timeout);

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
