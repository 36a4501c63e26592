#include "runtime/metrics.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <utility>

namespace synod::runtime {

namespace {

std::vector<double> latency_bounds() {
  return {25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3,
          1.0,   2.5,   5.0,    10.0};
}
std::vector<double> power_of_two_bounds(double max) {
  std::vector<double> b;
  for (double v = 1; v <= max; v *= 2) b.push_back(v);
  return b;
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const std::string& name, const std::string& labels, double value) {
  out += name;
  if (!labels.empty()) out += "{" + labels + "}";
  out += ' ';
  out += number(value);
  out += '\n';
}

void metric(std::string& out, const char* name, const char* type, const char* help, const std::string& labels,
            double value) {
  header(out, name, type, help);
  sample(out, name, labels, value);
}

void histogram(std::string& out, const char* name, const char* help, const std::string& labels, const Histogram& h) {
  header(out, name, "histogram", help);
  const std::string prefix = labels.empty() ? "" : labels + ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.bounds().size(); ++i) {
    cumulative += h.counts()[i];
    sample(out, std::string(name) + "_bucket", prefix + "le=\"" + number(h.bounds()[i]) + "\"",
           static_cast<double>(cumulative));
  }
  sample(out, std::string(name) + "_bucket", prefix + "le=\"+Inf\"", static_cast<double>(h.count()));
  sample(out, std::string(name) + "_sum", labels, h.sum());
  sample(out, std::string(name) + "_count", labels, static_cast<double>(h.count()));
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  ++counts_[static_cast<std::size_t>(std::distance(bounds_.begin(), it))];
  ++count_;
  sum_ += value;
}

Metrics::Metrics(Protocol protocol, ReplicaId self, std::size_t max_tracked)
    : protocol_(protocol),
      self_(self),
      max_tracked_(std::max<std::size_t>(max_tracked, 1)) {
  exported_.batch_size = Histogram(power_of_two_bounds(4096));
  exported_.commit_latency_seconds = Histogram(latency_bounds());
  exported_.inputs_per_iteration = Histogram(power_of_two_bounds(4096));
}

void Metrics::request_arrived(ClientId c, RequestNo t, TimeUs now) {
  ++pending_received_;
  const auto key = std::pair{c, t};
  if (arrivals_.contains(key)) return;  // a retransmission: keep the first arrival
  if (arrivals_.size() >= max_tracked_) {
    // Evict what waited longest; if everything is recent, drop half (those
    // requests simply get no latency sample).
    std::erase_if(arrivals_, [now](const auto& entry) { return now - entry.second > 10'000'000; });
    if (arrivals_.size() >= max_tracked_) {
      auto it = arrivals_.begin();
      std::advance(it, static_cast<std::ptrdiff_t>(arrivals_.size() / 2));
      pending_evicted_ += static_cast<std::uint64_t>(std::distance(arrivals_.begin(), it));
      arrivals_.erase(arrivals_.begin(), it);
    }
  }
  arrivals_.emplace(key, now);
}

void Metrics::iteration(TimeUs now, std::size_t inputs, const std::vector<ExecutedBatch>& executed,
                        const EventLoopStats& loop, const ReplicaStatus* status) {
  // Latencies are looked up outside the lock (arrivals_ is loop-private).
  std::vector<double> latencies;
  for (const ExecutedBatch& batch : executed) {
    for (const ExecutedRequest& r : batch.requests) {
      auto it = arrivals_.find(std::pair{r.client, r.request});
      if (it == arrivals_.end()) continue;
      latencies.push_back(static_cast<double>(now >= it->second ? now - it->second : 0) * 1e-6);
      arrivals_.erase(it);
    }
  }
  std::lock_guard lock(mu_);
  Exported& e = exported_;
  e.requests_received += pending_received_;
  pending_received_ = 0;
  e.tracked_evicted += pending_evicted_;
  pending_evicted_ = 0;
  e.tracked_requests = arrivals_.size();
  for (const ExecutedBatch& batch : executed) {
    ++e.batches_executed;
    e.requests_executed += batch.requests.size();
    e.batch_size.observe(static_cast<double>(batch.requests.size()));
  }
  for (double l : latencies) e.commit_latency_seconds.observe(l);
  ++e.iterations;
  e.last_inputs = inputs;
  e.inputs_per_iteration.observe(static_cast<double>(inputs));
  e.loop = loop;
  if (status != nullptr) {
    if (e.have_status) {
      if (status->leader != e.status.leader || status->view != e.status.view) ++e.leader_changes;
      if (status->stable_checkpoint > e.status.stable_checkpoint) ++e.checkpoints;
    } else if (status->stable_checkpoint > 0) {
      e.checkpoints = 1;
    }
    e.status = *status;
    e.have_status = true;
  }
}

void Metrics::pause(std::uint64_t iteration_us, std::uint64_t iteration_cpu_us, std::uint64_t input_us) {
  std::lock_guard lock(mu_);
  if (iteration_us > window_max_iteration_us_) {
    window_max_iteration_us_ = iteration_us;
    window_max_iteration_cpu_us_ = iteration_cpu_us;
  }
  window_max_input_us_ = std::max(window_max_input_us_, input_us);
}

std::string Metrics::render() const {
  Exported e;
  std::uint64_t window_iteration_us = 0;
  std::uint64_t window_iteration_cpu_us = 0;
  std::uint64_t window_input_us = 0;
  {
    std::lock_guard lock(mu_);
    e = exported_;
    window_iteration_us = std::exchange(window_max_iteration_us_, 0);
    window_iteration_cpu_us = std::exchange(window_max_iteration_cpu_us_, 0);
    window_input_us = std::exchange(window_max_input_us_, 0);
  }
  std::string out;
  out.reserve(8192);
  const std::string id = "replica=\"" + std::to_string(self_) + "\",protocol=\"" + to_string(protocol_) + "\"";
  auto d = [](std::uint64_t v) { return static_cast<double>(v); };
  metric(out, "synod_requests_received_total", "counter", "Client request frames that reached this replica.", id,
         d(e.requests_received));
  metric(out, "synod_requests_executed_total", "counter", "Requests executed (in ordered batches).", id,
         d(e.requests_executed));
  metric(out, "synod_batches_executed_total", "counter", "Ordered batches executed.", id, d(e.batches_executed));
  histogram(out, "synod_batch_size_requests", "Requests per executed batch.", id, e.batch_size);
  histogram(out, "synod_commit_latency_seconds",
            "From a request's arrival at this replica to its execution.", id, e.commit_latency_seconds);
  metric(out, "synod_commit_latency_tracked_requests", "gauge",
         "Requests that arrived here and are not executed yet (bounded).", id, d(e.tracked_requests));
  metric(out, "synod_commit_latency_evicted_total", "counter",
         "Arrival records dropped at the bound (those requests get no latency sample).", id, d(e.tracked_evicted));
  if (e.have_status) {
    const ReplicaStatus& s = e.status;
    metric(out, "synod_view", "gauge", "Current view (pbft) or ballot round (paxos).", id, d(s.view));
    metric(out, "synod_leader", "gauge", "The primary / leader this replica believes in.", id, d(s.leader));
    metric(out, "synod_is_leader", "gauge", "1 if this replica is the primary / leader.", id, s.is_leader ? 1 : 0);
    metric(out, "synod_changing_view", "gauge", "1 while a view change / election is in progress.", id,
           s.changing_view ? 1 : 0);
    metric(out, "synod_last_executed_seq", "gauge", "Highest executed sequence number.", id, d(s.last_executed));
    metric(out, "synod_stable_checkpoint_seq", "gauge", "Sequence number of the stable checkpoint.", id,
           d(s.stable_checkpoint));
    metric(out, "synod_view_changes_total", "counter", "View changes (pbft) / leader elections (paxos) started.",
           id, d(s.view_changes));
    metric(out, "synod_leader_changes_total", "counter", "Changes of view or leader seen by this process.", id,
           d(e.leader_changes));
    metric(out, "synod_state_transfers_total", "counter", "State transfers completed.", id, d(s.state_transfers));
    metric(out, "synod_checkpoints_total", "counter", "Advances of the stable checkpoint seen by this process.", id,
           d(e.checkpoints));
    header(out, "synod_rejected_messages_total", "counter", "Untrusted inputs the core rejected, by reason.");
    for (std::size_t r = 0; r < static_cast<std::size_t>(Rejection::count_); ++r) {
      sample(out, "synod_rejected_messages_total",
             id + ",reason=\"" + to_string(static_cast<Rejection>(r)) + "\"", d(s.rejected[r]));
    }
  }
  metric(out, "synod_loop_iterations_total", "counter", "Event-loop iterations.", id, d(e.iterations));
  histogram(out, "synod_loop_queue_depth_frames",
            "Frames waiting on the socket, drained per iteration (capped by max_inputs_per_iteration).", id,
            e.inputs_per_iteration);
  metric(out, "synod_loop_queue_depth_last_frames", "gauge", "Frames drained by the last iteration.", id,
         d(e.last_inputs));
  metric(out, "synod_frames_in_total", "counter", "Frames received.", id, d(e.loop.frames_in));
  metric(out, "synod_frames_out_total", "counter", "Frames sent.", id, d(e.loop.frames_out));
  metric(out, "synod_frames_dropped_total", "counter", "Frames dropped (full peer queue, no client route).", id,
         d(e.loop.frames_dropped));
  metric(out, "synod_persist_transactions_total", "counter", "LMDB transactions (fsyncs).", id,
         d(e.loop.persist_transactions));
  metric(out, "synod_persist_ops_total", "counter", "Durable writes.", id, d(e.loop.persist_ops));
  metric(out, "synod_status_requests_total", "counter", "STATUS-REQUESTs answered by the loop.", id,
         d(e.loop.status_requests));
  metric(out, "synod_loop_max_iteration_us", "gauge",
         "Longest event-loop iteration since the previous scrape (reset by every scrape), in microseconds: "
         "from its first frame or tick to its last send, the wait for input excluded.",
         id, d(window_iteration_us));
  metric(out, "synod_loop_max_iteration_cpu_us", "gauge",
         "CPU time this replica's loop thread ran during that longest iteration, in microseconds (the rest "
         "it waited for a core).",
         id, d(window_iteration_cpu_us));
  metric(out, "synod_loop_max_input_us", "gauge",
         "Longest single core input (receive or tick) since the previous scrape (reset by every scrape), in "
         "microseconds.",
         id, d(window_input_us));
  metric(out, "synod_loop_max_iteration_since_start_us", "gauge",
         "Longest event-loop iteration since this process started, in microseconds.", id,
         d(e.loop.max_iteration_us));
  metric(out, "synod_loop_max_input_since_start_us", "gauge",
         "Longest single core input since this process started, in microseconds.", id, d(e.loop.max_input_us));
  metric(out, "synod_state_transfer_bytes_received_total", "counter",
         "Bytes of TREE-NODES, LEAF-ENTRIES and VALUES frames received (the Merkle tree walk; whole frames).", id,
         d(e.loop.state_transfer_bytes_in));
  metric(out, "synod_bytes_received_total", "counter", "Bytes of every frame received.", id, d(e.loop.bytes_in));
  metric(out, "synod_catch_up_bytes_received_total", "counter",
         "Bytes of STATE-SNAPSHOT and COMMITTED-BATCHES (pbft) and CATCH-UP (paxos) frames received.", id,
         d(e.loop.catch_up_bytes_in));
  return out;
}

}  // namespace synod::runtime
