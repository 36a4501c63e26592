// runtime/metrics.hpp — a replica's counters, histograms and gauges, in the
// Prometheus text exposition format (version 0.0.4).
//
// The event loop feeds it on its own thread (request arrivals, executed
// batches, frames drained per iteration, its EventLoopStats and, at most
// every status_interval, the core's ReplicaStatus); render() may be called
// from any thread (the HTTP server's, runtime/metrics_server.hpp). One mutex
// guards the exported values; the loop holds it once per iteration for a few
// additions, and render() only copies under it and formats outside, so a
// scrape never stalls the loop for longer than that copy.
//
// Commit latency is measured at this replica: from the arrival of a client's
// request frame to the execution of that request (a request this replica
// never received directly, e.g. a backup's under PBFT when the client sent
// only to the primary, has no sample). Arrival times are kept for at most
// max_tracked requests (older ones are evicted first), so a flood of
// requests that never execute costs bounded memory.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <map>
#include <utility>
#include <vector>

#include "runtime/event_loop.hpp"
#include "synod/replica.hpp"

namespace synod::runtime {

// Cumulative histogram with fixed upper bounds (the +Inf bucket is implicit).
class Histogram {
 public:
  Histogram() : Histogram(std::vector<double>{}) {}
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  const std::vector<double>& bounds() const { return bounds_; }
  const std::vector<std::uint64_t>& counts() const { return counts_; }  // per bucket, not cumulative; last = +Inf
  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

class Metrics {
 public:
  Metrics(Protocol protocol, ReplicaId self, std::size_t max_tracked = 65536);

  // ---- event-loop thread only
  // A client's request frame (client c, request number t) arrived at `now`.
  void request_arrived(ClientId c, RequestNo t, TimeUs now);
  // End of one loop iteration: `inputs` frames were drained from the socket,
  // `executed` are this iteration's executed batches; `status` is non-null
  // when the loop sampled the core this iteration.
  void iteration(TimeUs now, std::size_t inputs, const std::vector<ExecutedBatch>& executed,
                 const EventLoopStats& loop, const ReplicaStatus* status);
  // The iteration that just ended was busy for `iteration_us` (the wait for
  // input excluded), of which `iteration_cpu_us` this thread ran, and its
  // longest core input took `input_us`.
  void pause(std::uint64_t iteration_us, std::uint64_t iteration_cpu_us, std::uint64_t input_us);

  // ---- any thread
  // Also starts a new window for the per-scrape maxima
  // (synod_loop_max_iteration_us, synod_loop_max_input_us).
  std::string render() const;

 private:
  struct Exported {
    std::uint64_t requests_received = 0;
    std::uint64_t requests_executed = 0;
    std::uint64_t batches_executed = 0;
    Histogram batch_size;
    Histogram commit_latency_seconds;
    Histogram inputs_per_iteration;
    std::uint64_t iterations = 0;
    std::uint64_t last_inputs = 0;
    std::uint64_t tracked_requests = 0;
    std::uint64_t tracked_evicted = 0;
    EventLoopStats loop;
    bool have_status = false;
    ReplicaStatus status;
    std::uint64_t leader_changes = 0;
    std::uint64_t checkpoints = 0;
  };
  Protocol protocol_;
  ReplicaId self_;
  std::size_t max_tracked_;
  // loop-thread only
  std::map<std::pair<ClientId, RequestNo>, TimeUs> arrivals_;
  std::uint64_t pending_received_ = 0;
  std::uint64_t pending_evicted_ = 0;

  mutable std::mutex mu_;
  Exported exported_;
  // Maxima since the previous render() (reset by it, hence mutable).
  mutable std::uint64_t window_max_iteration_us_ = 0;
  mutable std::uint64_t window_max_iteration_cpu_us_ = 0;  // of that iteration
  mutable std::uint64_t window_max_input_us_ = 0;
};

}  // namespace synod::runtime
