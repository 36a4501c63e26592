// synod/async_client.hpp — several requests in flight at once.
//
// PBFT allows one outstanding request per client id (a replica answers a
// client's requests in t order and keeps one cached reply per client), so
// concurrency comes from a pool of client ids: each id is one
// synod::client::Session; all of them share one DEALER socket per replica
// (each id introduces itself to every replica when connecting). submit()
// queues an operation; one I/O thread hands it to the first idle session,
// drives retransmissions and timeouts, and fulfils the returned future (or
// calls the given completion). With k ids, up to k requests are in flight;
// more wait in a bounded queue.
//
// Requests on different ids are ordered independently: two submissions are
// not guaranteed to execute in submission order. Wait for a future before
// submitting an operation that must come after it.
//
// Thread-safe: submit() may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <vector>

#include "synod/client.hpp"
#include "synod/config.hpp"
#include "synod/crypto/private_key.hpp"
#include "synod/result.hpp"
#include "synod/types.hpp"

namespace synod {

struct AsyncClientOptions {
  // Per request, from submit() to its accepted result (queueing included).
  std::chrono::milliseconds timeout{10'000};
  std::size_t max_queued = 10'000;  // submissions waiting for an idle id; beyond it submit() fails at once
  int send_hwm = 1000;
};

struct ClientIdentity {
  ClientId id = 0;
  crypto::PrivateKey key;
};

class AsyncClient {
 public:
  // One session per identity (ids must be distinct and configured). The
  // error names what is wrong.
  static Result<std::unique_ptr<AsyncClient>> connect(const ClusterConfig& config,
                                                      std::vector<ClientIdentity> identities,
                                                      AsyncClientOptions options = {});
  // Stops the I/O thread; requests not yet completed fail with "client closed".
  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  // Queues `op`; the future yields the accepted result or an error (timeout,
  // queue full, op too large, client closed). Never blocks.
  std::future<Result<Bytes>> submit(Bytes op, bool read_only = false);

  // The same, with a completion instead of a future: `done` gets the result
  // exactly once, on the client's I/O thread, so it must not block; it may
  // submit again (a closed loop needs no thread of its own, and the next
  // request is sent in the same wake-up). A submission refused at once
  // (queue full, client closed) completes on the caller's thread before
  // submit() returns; requests still open when the client is destroyed
  // complete on the destroying thread.
  using Completion = std::move_only_function<void(Result<Bytes>)>;
  void submit(Bytes op, Completion done, bool read_only = false);

  std::size_t max_in_flight() const;   // the number of client ids
  std::size_t peak_in_flight() const;  // the most requests that were in flight at once
  ClientStats stats() const;

 private:
  struct Impl;
  explicit AsyncClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace synod
