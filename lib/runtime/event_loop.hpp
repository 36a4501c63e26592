// runtime/event_loop.hpp — drives one protocol core against ZeroMQ sockets,
// the monotonic clock and LMDB, on the calling thread.
//
// Sockets:
//  * one ROUTER bound at this replica's endpoint: every inbound frame, from
//    peers and clients alike, arrives here as [routing id, frame];
//  * one DEALER per peer, connected to the peer's endpoint, for outbound
//    replica frames (routing id "synod-replica:<self>", so frames a peer
//    forwards on a client's behalf are never mistaken for the client);
//  * client replies leave through the ROUTER to the routing id that client
//    last sent an authenticated request from. The map holds configured
//    clients only, so it is bounded by config.clients.size(); a routing id
//    is (re)learnt only after the request's signature verifies, so a forged
//    sender field cannot divert another client's replies. Before any such
//    request, replies go to the id synod clients announce
//    (runtime/routing_ids.hpp).
// Every socket: ZMQ_MAXMSGSIZE = config.max_frame_bytes, bounded send and
// receive high-water marks (a full peer queue drops the frame: the
// protocols tolerate loss and retransmit), ZMQ_LINGER 0.
//
// One iteration (etcd-raft's Ready loop, with group commit):
//   1. poll until a frame arrives or core.next_deadline() (capped, so a stop
//      request is seen promptly);
//   2. feed up to max_inputs_per_iteration frames to core.receive(), and
//      none after the iteration has been busy max_iteration_busy_us;
//   3. core.tick() if its deadline has passed;
//   4. storage.apply(every persist op of 2 and 3, options.store) — ONE
//      transaction/fsync, with the store's writes of 2 and 3 if there is a
//      store (also when they are all there is to commit);
//   5. only then send every frame of 2 and 3 (durable before visible).
// A storage failure stops the loop with an error: sending frames whose
// state is not durable could make this replica equivocate after a restart.
// Bad frames are the core's business (it authenticates and counts them).
// The exception: a client's STATUS-REQUEST is answered by the loop itself
// from core.status() (see answer_status in event_loop.cpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "runtime/clock.hpp"
#include "runtime/lmdb_storage.hpp"
#include "synod/config.hpp"
#include "synod/replica.hpp"
#include "synod/result.hpp"

namespace synod::runtime {

class Metrics;  // runtime/metrics.hpp

struct EventLoopOptions {
  std::size_t max_inputs_per_iteration = 256;  // bounds the work (and persist batch) per fsync
  // No more frames are taken once an iteration has been busy this long: what
  // it took is committed and sent first, so one busy spell (a burst of large
  // state-transfer frames, say) delays the others' messages by about this
  // plus one input, not by max_inputs_per_iteration inputs.
  std::uint32_t max_iteration_busy_us = 2000;
  int send_hwm = 10000;                        // frames queued per socket before dropping
  int receive_hwm = 10000;
  // Reconnect back-off to a peer that went away. Capped low: a restarted
  // peer hears nothing from us until we reconnect, and a paxos replica that
  // hears no leader within its election timeout campaigns (loopback and LAN
  // reconnect attempts cost next to nothing).
  int reconnect_ivl_ms = 50;
  int reconnect_ivl_max_ms = 250;
  std::uint32_t max_poll_ms = 100;  // how soon a stop request is noticed
  // Called with the core's status at most once per status_interval_ms.
  std::function<void(const ReplicaStatus&)> on_status;
  std::uint32_t status_interval_ms = 1000;
  // When set, fed once per iteration (and the core's status at most every
  // 100 ms); must outlive the loop. Rendered by another thread.
  Metrics* metrics = nullptr;
  std::string curve_secret_key;  // Z85; required when the config has curve = true (runtime/transport.hpp)
  // A store-backed core's StoreBackend (made by storage.open_store()): its
  // pending writes are committed in the same transaction as the persist ops
  // (runtime/lmdb_store.hpp). Must outlive the loop. Null: no store.
  LmdbStore* store = nullptr;
};

struct EventLoopStats {
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t frames_dropped = 0;         // peer queue full, unknown client route
  std::uint64_t extra_parts_dropped = 0;    // multipart messages with more than one frame
  std::uint64_t persist_transactions = 0;
  std::uint64_t busy_iterations = 0;  // iterations that took a frame or ticked
  std::uint64_t persist_ops = 0;
  std::uint64_t status_requests = 0;  // STATUS-REQUESTs answered by the loop, never fed to the core
  std::uint64_t status_rejected = 0;  // of those: unknown client, bad signature, malformed
  // Pauses, since start (Metrics also keeps them per scrape): the busiest
  // iteration (from taking its first frame, or its tick, to its last send;
  // the wait for input excluded) and the longest single core.receive() or
  // core.tick(), in microseconds.
  std::uint64_t max_iteration_us = 0;
  std::uint64_t max_input_us = 0;
  // The CPU time (this thread's) of the busiest iteration by that measure:
  // the rest of a long iteration was time without a core (2 cores shared by
  // a whole test cluster, say).
  std::uint64_t max_iteration_cpu_us = 0;
  // Whole frames received (envelope included) of the Merkle tree walk
  // (TREE-NODES, LEAF-ENTRIES, VALUES), and of the other ways a lagging
  // replica is brought up (pbft STATE-SNAPSHOT and COMMITTED-BATCHES, paxos
  // CATCH-UP).
  std::uint64_t state_transfer_bytes_in = 0;
  std::uint64_t bytes_in = 0;  // every frame received (a replica's whole inbound traffic)
  std::uint64_t catch_up_bytes_in = 0;
};

class EventLoop {
 public:
  // Binds and connects the sockets; the error names the endpoint.
  static Result<std::unique_ptr<EventLoop>> create(const ClusterConfig& config, ReplicaId self, Replica& core,
                                                   LmdbStorage& storage, const Crypto& crypto,
                                                   EventLoopOptions options = {});
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs until `stop` becomes true (returns success) or storage fails.
  Result<void> run(const std::atomic<bool>& stop);

  const EventLoopStats& stats() const;

 private:
  struct Impl;
  explicit EventLoop(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace synod::runtime
