#include "runtime/event_loop.hpp"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include "runtime/lmdb_store.hpp"
#include "runtime/metrics.hpp"
#include "runtime/routing_ids.hpp"
#include "runtime/transport.hpp"
#include "wire/authenticate.hpp"
#include "wire/codec.hpp"

namespace synod::runtime {

namespace {

// An iteration busy for more CPU time than this is logged (info) with where
// the time went: inputs, the commit, what it executed and sent.
constexpr std::uint64_t kSlowIterationCpuUs = 5'000;

void configure(zmq::socket_t& socket, const ClusterConfig& config, const EventLoopOptions& options) {
  configure_socket(socket, SocketLimits{static_cast<std::int64_t>(config.max_frame_bytes), options.send_hwm,
                                        options.receive_hwm, options.reconnect_ivl_ms, options.reconnect_ivl_max_ms});
}

void append(Effects& into, Effects& from) {
  std::move(from.persist.begin(), from.persist.end(), std::back_inserter(into.persist));
  std::move(from.send.begin(), from.send.end(), std::back_inserter(into.send));
  std::move(from.executed.begin(), from.executed.end(), std::back_inserter(into.executed));
  from.clear();
}

}  // namespace

struct EventLoop::Impl {
  const ClusterConfig& config;
  ReplicaId self;
  Replica& core;
  LmdbStorage& storage;
  const Crypto& crypto;
  EventLoopOptions options;
  zmq::context_t context{1};
  zmq::socket_t router{context, zmq::socket_type::router};
  std::vector<zmq::socket_t> peers;  // indexed by replica id; self's slot unused
  std::map<ClientId, std::string> client_routes;  // bounded: configured clients only
  EventLoopStats stats;
  TimeUs next_status_us = 0;
  TimeUs next_slow_log_us = 0;             // the next "slow iteration" line may come then
  std::uint64_t slow_iterations_unlogged = 0;
  TimeUs next_metrics_status_us = 0;
  // This iteration's pause (EventLoopStats::max_iteration_us, max_input_us):
  // when it took its first frame (0: none yet), its longest single input.
  TimeUs busy_since = 0;
  std::uint64_t busy_since_cpu_us = 0;
  TimeUs longest_input_us = 0;

  Impl(const ClusterConfig& c, ReplicaId s, Replica& r, LmdbStorage& st, const Crypto& cr, EventLoopOptions o)
      : config(c), self(s), core(r), storage(st), crypto(cr), options(std::move(o)) {}

  Result<void> open() {
    const std::string& endpoint = config.replicas[self].endpoint;
    CurveKeyPair own_curve;  // this replica's CURVE key pair (runtime/transport.hpp)
    if (config.curve) {
      if (!curve_available()) return fail(ErrorCode::invalid_config, "curve = true, but libzmq has no CURVE support");
      auto public_key = curve_public_of(options.curve_secret_key);
      if (!public_key) return fail(ErrorCode::invalid_config, "curve = true needs this replica's CURVE secret key");
      if (*public_key != config.curve_public_keys.at(self)) {
        return fail(ErrorCode::invalid_config, "the CURVE secret key does not match replica " + std::to_string(self) +
                                                   "'s curve_public_key in the config");
      }
      own_curve.public_key = *public_key;
      own_curve.secret_key = options.curve_secret_key;
    }
    try {
      configure(router, config, options);
      if (config.curve) make_curve_server(router, own_curve.secret_key);
      router.set(zmq::sockopt::router_handover, 1);  // a restarted peer/client takes its routing id back at once
      router.bind(endpoint);
    } catch (const zmq::error_t& e) {
      return fail(ErrorCode::io, "cannot bind " + endpoint + ": " + e.what());
    }
    const std::string my_routing_id = replica_routing_id(self);
    for (const ReplicaInfo& peer : config.replicas) {
      peers.emplace_back(context, zmq::socket_type::dealer);
      if (peer.id == self) continue;
      try {
        configure(peers.back(), config, options);
        if (config.curve) make_curve_client(peers.back(), config.curve_public_keys.at(peer.id), own_curve);
        peers.back().set(zmq::sockopt::routing_id, my_routing_id);
        peers.back().connect(peer.endpoint);
      } catch (const zmq::error_t& e) {
        return fail(ErrorCode::io, "cannot connect to replica " + std::to_string(peer.id) + " at " + peer.endpoint +
                                       ": " + e.what());
      }
    }
    return {};
  }

  // Learns where client c's replies go, from a request c provably sent
  // (or a status request: answer_status).
  void learn_route(std::string_view rid, const wire::Envelope& envelope) {
    if (rid.starts_with(kReplicaRoutingPrefix)) return;
    if (envelope.type != wire::MsgType::request || !envelope.sender.is_client()) return;
    const ClientId c = envelope.sender.id;
    if (config.find_client(c) == nullptr) return;
    auto it = client_routes.find(c);
    if (it != client_routes.end() && it->second == rid) return;  // known route: no second verification
    // A request's signature covers its whole payload (wire::signed_part).
    const Bytes input = wire::signing_input(envelope.type, envelope.sender, as_view(envelope.payload));
    if (!wire::request_authentic(config, crypto, self, envelope.sender, as_view(input), as_view(envelope.authenticator)))
      return;
    client_routes[c] = std::string(rid);
  }

  // Answers a configured client's signed STATUS-REQUEST from core.status(),
  // to the routing id it came from. The core never sees these: status is an
  // operator's question to this process, not part of either protocol. Only
  // configured clients get an answer (one verify and one sign per request,
  // the same cost a request has), anything else is dropped and counted.
  // The answer reveals no vote, so it need not wait for this iteration's
  // persist (durable before visible is about protocol messages).
  void answer_status(std::string_view rid, const wire::Envelope& envelope) {
    ++stats.status_requests;
    const Principal sender = envelope.sender;
    auto request = wire::decode_message(envelope);
    if (!sender.is_client() || config.find_client(sender.id) == nullptr || !request ||
        !std::holds_alternative<wire::StatusRequest>(*request)) {
      ++stats.status_rejected;
      return;
    }
    const Bytes input = wire::signing_input(envelope.type, sender, as_view(envelope.payload));
    if (!crypto.verify(sender, as_view(input), as_view(envelope.authenticator))) {
      ++stats.status_rejected;
      return;
    }
    // A verified status request is also where the client's replies go: a
    // synod::AsyncClient introduces each of its ids this way.
    if (!rid.starts_with(kReplicaRoutingPrefix)) client_routes[sender.id] = std::string(rid);
    const ReplicaStatus status = core.status();
    wire::StatusReply reply;
    reply.nonce = std::get<wire::StatusRequest>(*request).nonce;
    reply.protocol = static_cast<std::uint8_t>(status.protocol);
    reply.view = status.view;
    reply.leader = status.leader;
    reply.is_leader = status.is_leader;
    reply.changing_view = status.changing_view;
    reply.last_executed = status.last_executed;
    reply.stable_checkpoint = status.stable_checkpoint;
    reply.state_digest = status.state_digest;
    reply.view_changes = status.view_changes;
    reply.state_transfers = status.state_transfers;
    reply.rejected.assign(std::begin(status.rejected), std::end(status.rejected));
    const Bytes frame =
        wire::make_frame(Principal::replica(self), reply, [this](ByteView data) { return crypto.sign(data); });
    if (!router.send(zmq::buffer(rid), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      ++stats.frames_dropped;
      return;
    }
    router.send(zmq::buffer(frame), zmq::send_flags::dontwait);
    ++stats.frames_out;
  }

  // Reads one [routing id, frame] message, waiting up to the socket's
  // receive timeout for it when `wait`; false when none came.
  bool receive_one(TimeUs now, Effects& scratch, Effects& all, bool wait = false) {
    zmq::message_t routing_id;
    if (!router.recv(routing_id, wait ? zmq::recv_flags::none : zmq::recv_flags::dontwait)) return false;
    if (!routing_id.more()) return true;  // an empty message: nothing to feed
    zmq::message_t frame;
    if (!router.recv(frame, zmq::recv_flags::none)) return true;  // parts of a message arrive together
    // Our peers and clients send exactly one frame; drain anything more
    // without keeping it, so a malicious multipart message costs no memory.
    while (frame.more()) {
      zmq::message_t extra;
      if (!router.recv(extra, zmq::recv_flags::none)) break;
      ++stats.extra_parts_dropped;
      if (!extra.more()) break;
    }
    ++stats.frames_in;
    if (busy_since == 0) start_busy(monotonic_now_us());
    stats.bytes_in += frame.size();
    const ByteView bytes(static_cast<const std::uint8_t*>(frame.data()), frame.size());
    const std::string_view rid(static_cast<const char*>(routing_id.data()), routing_id.size());
    // Decoded here only to route it; the core decodes (and counts) frames itself.
    if (auto envelope = wire::decode_envelope(bytes, config.max_frame_bytes)) {
      count_transfer_bytes(envelope->type, bytes.size());
      if (envelope->type == wire::MsgType::status_request) {
        answer_status(rid, *envelope);
        return true;
      }
      learn_route(rid, *envelope);
      if (options.metrics != nullptr && envelope->type == wire::MsgType::request && envelope->sender.is_client()) {
        if (auto request = wire::decode<wire::Request>(as_view(envelope->payload))) {
          options.metrics->request_arrived(request->client, request->t, now);
        }
      }
    }
    const TimeUs started = monotonic_now_us();
    core.receive(now, bytes, scratch);
    longest_input_us = std::max(longest_input_us, monotonic_now_us() - started);
    append(all, scratch);
    return true;
  }

  void start_busy(TimeUs now) {
    busy_since = now;
    busy_since_cpu_us = thread_cpu_us();
  }

  // Whether to take another frame this iteration.
  bool may_take_more(std::size_t inputs) const {
    return inputs > 0 && inputs < options.max_inputs_per_iteration &&
           monotonic_now_us() - busy_since < options.max_iteration_busy_us;
  }

  void count_transfer_bytes(wire::MsgType type, std::size_t bytes) {
    switch (type) {
      case wire::MsgType::tree_nodes:
      case wire::MsgType::leaf_entries:
      case wire::MsgType::values:
        stats.state_transfer_bytes_in += bytes;
        break;
      case wire::MsgType::state_snapshot:
      case wire::MsgType::committed_batches:
      case wire::MsgType::catch_up:
        stats.catch_up_bytes_in += bytes;
        break;
      default:
        break;
    }
  }

  void send_to_peer(ReplicaId to, const Bytes& frame) {
    if (to >= peers.size() || to == self) return;
    if (peers[to].send(zmq::buffer(frame), zmq::send_flags::dontwait)) {
      ++stats.frames_out;
    } else {
      ++stats.frames_dropped;  // peer's queue is full (down or slow): the protocol retransmits
    }
  }

  void send_to_client(ClientId c, const Bytes& frame) {
    auto it = client_routes.find(c);
    // No verified request from c yet: try the routing id synod's clients
    // announce (replies are signed, so a wrong recipient learns nothing it
    // could use; the ROUTER drops the reply if nobody has that id).
    const std::string route = it != client_routes.end() ? it->second : client_routing_id(c);
    // A ROUTER drops (does not block) a message for a gone or full peer.
    if (!router.send(zmq::buffer(route), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      ++stats.frames_dropped;
      return;
    }
    router.send(zmq::buffer(frame), zmq::send_flags::dontwait);
    ++stats.frames_out;
  }

  void send_all(const std::vector<OutboundFrame>& frames) {
    for (const OutboundFrame& out : frames) {
      switch (out.to.kind) {
        case Destination::Kind::replica:
          send_to_peer(out.to.id, out.frame);
          break;
        case Destination::Kind::all_replicas:
          for (ReplicaId r = 0; r < peers.size(); ++r) send_to_peer(r, out.frame);
          break;
        case Destination::Kind::client:
          send_to_client(out.to.id, out.frame);
          break;
      }
    }
  }

  std::chrono::milliseconds poll_timeout(TimeUs now) const {
    const TimeUs deadline = core.next_deadline();
    const TimeUs cap_us = TimeUs{options.max_poll_ms} * 1000;
    const TimeUs wait_us = deadline <= now ? 0 : std::min(deadline - now, cap_us);
    // Round up: waking a little late is fine, spinning before a deadline is not.
    return std::chrono::milliseconds((wait_us + 999) / 1000);
  }

  Result<void> iteration() {
    Effects scratch;
    Effects all;
    std::size_t inputs = 0;
    busy_since = 0;
    longest_input_us = 0;
    // The wait is the first receive itself, with the deadline as its timeout
    // (an option, not a system call): one wake-up check fewer per iteration
    // than zmq_poll, which looks at the socket's events before and after.
    router.set(zmq::sockopt::rcvtimeo, static_cast<int>(poll_timeout(monotonic_now_us()).count()));
    try {
      if (receive_one(monotonic_now_us(), scratch, all, /*wait=*/true)) ++inputs;
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) return fail(ErrorCode::io, std::string("receive: ") + e.what());
      return {};  // a signal: the caller checks its stop flag
    }
    while (may_take_more(inputs) && receive_one(monotonic_now_us(), scratch, all)) ++inputs;
    const TimeUs now = monotonic_now_us();
    if (now >= core.next_deadline()) {
      if (busy_since == 0) start_busy(now);
      core.tick(now, scratch);
      longest_input_us = std::max(longest_input_us, monotonic_now_us() - now);
      append(all, scratch);
    }
    // A store-backed core may have written its store without a persist op.
    const bool store_pending = options.store != nullptr && options.store->has_pending();
    TimeUs commit_us = 0;
    if (!all.persist.empty() || store_pending) {
      // Durable before visible: nothing of this iteration leaves before this commit.
      const TimeUs commit_started = monotonic_now_us();
      if (auto r = storage.apply(all.persist, options.store); !r) return r;
      commit_us = monotonic_now_us() - commit_started;
      ++stats.persist_transactions;
      stats.persist_ops += all.persist.size();
    }
    if (options.metrics != nullptr) {
      // Before the sends, so a client that saw its reply finds it counted.
      std::optional<ReplicaStatus> status;
      if (now >= next_metrics_status_us) {
        next_metrics_status_us = now + 100'000;
        status = core.status();
      }
      options.metrics->iteration(monotonic_now_us(), inputs, all.executed, stats, status ? &*status : nullptr);
    }
    send_all(all.send);
    if (busy_since != 0) {
      ++stats.busy_iterations;
      const TimeUs busy_us = monotonic_now_us() - busy_since;
      const std::uint64_t busy_cpu_us = thread_cpu_us() - busy_since_cpu_us;
      if (busy_us > stats.max_iteration_us) {
        stats.max_iteration_us = busy_us;
        stats.max_iteration_cpu_us = busy_cpu_us;
      }
      stats.max_input_us = std::max<std::uint64_t>(stats.max_input_us, longest_input_us);
      if (options.metrics != nullptr) options.metrics->pause(busy_us, busy_cpu_us, longest_input_us);
      // Where a long pause went (an iteration should stay within a few ms):
      // at most one line a second, counting the others.
      if (busy_cpu_us > kSlowIterationCpuUs) {
        if (now >= next_slow_log_us) {
          next_slow_log_us = now + 1'000'000;
          spdlog::info("slow iteration: {} us ({} us CPU): {} inputs, longest {} us; commit {} us ({} persist ops{}); "
                       "{} executed batches, {} frames sent; {} more slow iterations since the last such line",
                       busy_us, busy_cpu_us, inputs, longest_input_us, commit_us, all.persist.size(),
                       store_pending ? " and store writes" : "", all.executed.size(), all.send.size(),
                       slow_iterations_unlogged);
          slow_iterations_unlogged = 0;
        } else {
          ++slow_iterations_unlogged;
        }
      }
    }
    for (const ExecutedBatch& batch : all.executed) {
      spdlog::debug("executed seq {} ({} requests)", batch.seq, batch.requests.size());
    }
    if (options.on_status && now >= next_status_us) {
      next_status_us = now + TimeUs{options.status_interval_ms} * 1000;
      options.on_status(core.status());
    }
    return {};
  }
};

EventLoop::EventLoop(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventLoop::~EventLoop() = default;

Result<std::unique_ptr<EventLoop>> EventLoop::create(const ClusterConfig& config, ReplicaId self, Replica& core,
                                                     LmdbStorage& storage, const Crypto& crypto,
                                                     EventLoopOptions options) {
  if (self >= config.n()) return fail(ErrorCode::invalid_argument, "replica id " + std::to_string(self) + " is not in the config");
  auto impl = std::make_unique<Impl>(config, self, core, storage, crypto, std::move(options));
  if (auto r = impl->open(); !r) return std::unexpected(r.error());
  return std::unique_ptr<EventLoop>(new EventLoop(std::move(impl)));
}

Result<void> EventLoop::run(const std::atomic<bool>& stop) {
  try {
    while (!stop.load(std::memory_order_relaxed)) {
      if (auto r = impl_->iteration(); !r) return r;
    }
  } catch (const zmq::error_t& e) {
    return fail(ErrorCode::io, std::string("ZeroMQ: ") + e.what());
  }
  return {};
}

const EventLoopStats& EventLoop::stats() const { return impl_->stats; }

}  // namespace synod::runtime
