#include "synod/async_client.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "client/session.hpp"
#include "runtime/clock.hpp"
#include "runtime/openssl_crypto.hpp"
#include "runtime/routing_ids.hpp"
#include "runtime/transport.hpp"
#include "wire/codec.hpp"

namespace synod {
namespace {

constexpr std::uint32_t kMaxPollMs = 100;  // how soon the I/O thread notices a stop without a wake-up

}  // namespace

struct AsyncClient::Impl {
  struct Pending {
    Bytes op;
    bool read_only = false;
    TimeUs give_up = 0;
    AsyncClient::Completion done;
  };

  // One client id: its session and the request it has in flight.
  struct Lane {
    ClientId id = 0;
    std::unique_ptr<runtime::OpenSslCrypto> crypto;
    std::unique_ptr<client::Session> session;
    std::optional<Pending> current;
  };

  const ClusterConfig config;  // a copy: the Sessions keep a pointer to it
  AsyncClientOptions options;
  zmq::context_t context{1};
  // Every lane's first retransmission timeout, learnt from all of them: they
  // talk to one cluster through one I/O thread (client/session.hpp).
  client::RetransmitTimer retransmit_timer{config};
  std::vector<Lane> lanes;
  std::map<ClientId, std::size_t> lane_of;  // client id -> index in lanes
  // One DEALER per replica, by id, shared by every lane: replies find their
  // lane by the client id they carry. (A socket per lane and replica made
  // the I/O thread poll k x n sockets, and the replicas keep k x n connections.)
  std::vector<zmq::socket_t> sockets;
  zmq::socket_t wake_rx{context, zmq::socket_type::pull};
  zmq::socket_t wake_tx{context, zmq::socket_type::push};  // guarded by mutex
  std::string wake_endpoint;

  mutable std::mutex mutex;  // guards queue, wake_tx, closed*, stats and peak_in_flight
  std::deque<Pending> queue;
  bool closed = false;
  std::string closed_why = "client closed";
  ClientStats stats;
  std::size_t peak_in_flight = 0;

  std::atomic<bool> stop{false};
  std::thread io;
  bool redispatch = false;  // I/O thread only: a completion submitted since the last dispatch

  Impl(ClusterConfig c, AsyncClientOptions o) : config(std::move(c)), options(o) {}

  void wake() {
    // A full pipe already guarantees a wake-up: dropping this one is fine.
    (void)wake_tx.send(zmq::buffer("w", 1), zmq::send_flags::dontwait);
  }

  // Completions never run under `mutex`: one may submit again.
  void submit(Bytes op, AsyncClient::Completion done, bool read_only) {
    Pending p;
    p.op = std::move(op);
    p.read_only = read_only;
    p.give_up = runtime::monotonic_now_us() + static_cast<TimeUs>(options.timeout.count()) * 1000;
    p.done = std::move(done);
    std::optional<Error> refused;
    {
      std::lock_guard lock(mutex);
      if (closed) {
        refused = Error{ErrorCode::io, closed_why};
      } else if (queue.size() >= options.max_queued) {
        refused = Error{ErrorCode::io,
                        "too many queued requests (max_queued = " + std::to_string(options.max_queued) + ")"};
      } else {
        queue.push_back(std::move(p));
        // A completion that submits runs on the I/O thread: no wake-up, only
        // one more dispatch before the next wait.
        if (std::this_thread::get_id() == io.get_id()) {
          redispatch = true;
        } else {
          wake();
        }
        return;
      }
    }
    p.done(std::unexpected(std::move(*refused)));
  }

  void send(const std::vector<OutboundFrame>& frames) {
    for (const OutboundFrame& out : frames) {
      for (ReplicaId r = 0; r < sockets.size(); ++r) {
        const bool to_r = out.to.kind == Destination::Kind::all_replicas ||
                          (out.to.kind == Destination::Kind::replica && out.to.id == r);
        // dontwait: a replica that is down fills its queue; the Session retransmits.
        if (to_r) (void)sockets[r].send(zmq::buffer(out.frame), zmq::send_flags::dontwait);
      }
    }
  }

  // The lane a frame from a replica is for: a REPLY names its client. The
  // answers to connect()'s status requests have none; anything else without
  // one is counted as a rejected reply.
  Lane* lane_for(ByteView frame) {
    auto envelope = wire::decode_envelope(frame, config.max_frame_bytes);
    if (envelope && envelope->type == wire::MsgType::status_reply) return nullptr;
    if (envelope && envelope->type == wire::MsgType::reply) {
      if (auto reply = wire::decode<wire::Reply>(as_view(envelope->payload))) {
        if (auto it = lane_of.find(reply->client); it != lane_of.end()) return &lanes[it->second];
      }
    }
    std::lock_guard lock(mutex);
    ++stats.replies_rejected;
    return nullptr;
  }

  void finish(Lane& lane, Result<Bytes> result) {
    {
      std::lock_guard lock(mutex);
      if (result) {
        ++stats.completed;
      } else {
        ++stats.timeouts;
      }
      const auto& s = lane.session->stats();
      stats.retransmissions += s.retransmissions;
      stats.replies_rejected += s.replies_malformed + s.replies_bad_auth + s.replies_duplicate + s.replies_unrelated;
    }
    Pending done = std::move(*lane.current);
    lane.current.reset();
    // A fresh session per request keeps the stats above per-request deltas,
    // and after a timeout makes a late reply to the abandoned t unable to
    // complete the next request (the new session continues above it).
    lane.session = std::make_unique<client::Session>(config, lane.id, *lane.crypto, lane.session->next_t());
    done.done(std::move(result));  // last: it may submit, and the lane is idle again
  }

  void on_effects(Lane& lane, client::SessionEffects& out) {
    send(out.send);
    if (out.completed) finish(lane, std::move(out.completed->result));
    out.clear();
  }

  // Hands queued requests to idle lanes; fails those that waited too long.
  void dispatch(TimeUs now) {
    for (Lane& lane : lanes) {
      if (lane.current) continue;
      std::optional<Pending> next;
      std::vector<Pending> expired;
      {
        std::lock_guard lock(mutex);
        while (!queue.empty() && queue.front().give_up <= now) {
          expired.push_back(std::move(queue.front()));
          ++stats.timeouts;
          queue.pop_front();
        }
        if (!queue.empty()) {
          next = std::move(queue.front());
          queue.pop_front();
        }
      }
      for (Pending& p : expired) p.done(fail(ErrorCode::io, "timed out waiting for a free client id"));
      if (!next) return;
      client::SessionEffects out;
      if (auto r = lane.session->submit(now, as_view(next->op), next->read_only, out); !r) {
        next->done(std::unexpected(r.error()));
        continue;  // the lane stays idle for the next one
      }
      lane.current = std::move(next);
      note_in_flight();
      on_effects(lane, out);
    }
  }

  void note_in_flight() {
    const auto busy = static_cast<std::size_t>(
        std::count_if(lanes.begin(), lanes.end(), [](const Lane& l) { return l.current.has_value(); }));
    std::lock_guard lock(mutex);
    peak_in_flight = std::max(peak_in_flight, busy);
  }

  void run() {
    std::vector<zmq::pollitem_t> items{{wake_rx.handle(), 0, ZMQ_POLLIN, 0}};
    for (auto& s : sockets) items.push_back({s.handle(), 0, ZMQ_POLLIN, 0});
    client::SessionEffects out;
    while (!stop.load()) {
      TimeUs now = runtime::monotonic_now_us();
      TimeUs wake_at = now + TimeUs{kMaxPollMs} * 1000;
      for (const Lane& lane : lanes) {
        wake_at = std::min(wake_at, lane.session->next_deadline());
        if (lane.current) wake_at = std::min(wake_at, lane.current->give_up);
      }
      if (redispatch) wake_at = now;
      try {
        zmq::poll(items, std::chrono::milliseconds(wake_at > now ? (wake_at - now + 999) / 1000 : 0));
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        // Nothing can be sent or received any more: fail every request now
        // rather than let its future wait for a timeout that never comes.
        fail_all(std::string("client stopped: poll: ") + e.what());
        return;
      }
      zmq::message_t token;
      while (wake_rx.recv(token, zmq::recv_flags::dontwait)) {
      }
      for (auto& socket : sockets) {
        for (std::size_t i = 0; i < 64 * lanes.size(); ++i) {  // bounded per wake-up
          zmq::message_t message;
          if (!socket.recv(message, zmq::recv_flags::dontwait)) break;
          const ByteView frame(static_cast<const std::uint8_t*>(message.data()), message.size());
          Lane* lane = lane_for(frame);
          if (lane == nullptr) continue;
          lane->session->receive(runtime::monotonic_now_us(), frame, out);
          on_effects(*lane, out);
        }
      }
      now = runtime::monotonic_now_us();
      for (Lane& lane : lanes) {
        if (!lane.current) continue;
        if (now >= lane.current->give_up) {
          finish(lane, fail(ErrorCode::io, "no accepted reply within " + std::to_string(options.timeout.count()) +
                                               " ms (is a quorum of replicas up?); the request may still execute"));
          continue;
        }
        if (now >= lane.session->next_deadline()) {
          lane.session->tick(now, out);
          on_effects(lane, out);
        }
      }
      redispatch = false;  // a completion inside dispatch() sets it again
      dispatch(now);
    }
  }

  // Fails every request not yet completed; later submit()s fail at once.
  // Only from the I/O thread, or once it has stopped (lanes are its own).
  void fail_all(const std::string& why) {
    std::deque<Pending> open;
    for (Lane& lane : lanes) {
      if (lane.current) open.push_back(std::move(*lane.current));
      lane.current.reset();
    }
    {
      std::lock_guard lock(mutex);
      if (!closed) closed_why = why;
      closed = true;
      std::move(queue.begin(), queue.end(), std::back_inserter(open));
      queue.clear();
    }
    // After closing: a completion that submits again is refused at once.
    for (Pending& p : open) p.done(fail(ErrorCode::io, why));
  }

  void shut_down() {
    stop = true;
    {
      std::lock_guard lock(mutex);
      closed = true;
      wake();
    }
    if (io.joinable()) io.join();
    fail_all("client closed");
  }
};

AsyncClient::AsyncClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AsyncClient::~AsyncClient() { impl_->shut_down(); }

Result<std::unique_ptr<AsyncClient>> AsyncClient::connect(const ClusterConfig& config,
                                                          std::vector<ClientIdentity> identities,
                                                          AsyncClientOptions options) {
  if (identities.empty()) return fail(ErrorCode::invalid_argument, "an AsyncClient needs at least one client id");
  auto impl = std::make_unique<Impl>(config, options);
  const RequestNo first_t = runtime::wall_clock_us();
  for (ClientIdentity& identity : identities) {
    if (impl->config.find_client(identity.id) == nullptr) {
      return fail(ErrorCode::invalid_argument, "client " + std::to_string(identity.id) + " is not in the cluster config");
    }
    for (const Impl::Lane& lane : impl->lanes) {
      if (lane.id == identity.id) {
        return fail(ErrorCode::invalid_argument, "client " + std::to_string(identity.id) + " is given twice");
      }
    }
    Impl::Lane& lane = impl->lanes.emplace_back();
    lane.id = identity.id;
    auto crypto = runtime::OpenSslCrypto::for_client(impl->config, std::move(identity.key));
    if (!crypto) return std::unexpected(crypto.error());
    lane.crypto = std::move(*crypto);
    lane.session =
        std::make_unique<client::Session>(impl->config, lane.id, *lane.crypto, first_t, &impl->retransmit_timer);
    impl->lane_of[lane.id] = impl->lanes.size() - 1;
  }
  // The shared sockets take the first id's routing id, and their queues
  // grow with the number of lanes.
  const int hwm = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(options.send_hwm) * impl->lanes.size(),
                                                         std::size_t{1} << 20));
  for (const ReplicaInfo& r : impl->config.replicas) {
    auto& socket = impl->sockets.emplace_back(impl->context, zmq::socket_type::dealer);
    auto connected =
        runtime::connect_client_socket(socket, impl->config, r, runtime::client_routing_id(impl->lanes[0].id), hwm);
    if (!connected) return std::unexpected(connected.error());
  }
  // Every id introduces itself to every replica with a signed STATUS-REQUEST
  // on the shared sockets: a replica that verifies it routes that id's
  // replies there, so backups that only see an id's requests inside a
  // pre-prepare can answer it too (runtime/event_loop.cpp, learn_route).
  for (Impl::Lane& lane : impl->lanes) {
    const Bytes hello = wire::make_frame(Principal::client(lane.id), wire::StatusRequest{0},
                                         [&](ByteView data) { return lane.crypto->sign(data); });
    for (auto& socket : impl->sockets) (void)socket.send(zmq::buffer(hello), zmq::send_flags::dontwait);
  }
  // The wake-up pipe: inproc names are per context, and the context is ours alone.
  impl->wake_endpoint = "inproc://synod-async-client-wake";
  try {
    impl->wake_rx.bind(impl->wake_endpoint);
    impl->wake_tx.set(zmq::sockopt::linger, 0);
    impl->wake_tx.set(zmq::sockopt::sndhwm, 1);
    impl->wake_tx.connect(impl->wake_endpoint);
  } catch (const zmq::error_t& e) {
    return fail(ErrorCode::io, std::string("cannot open the wake-up pipe: ") + e.what());
  }
  Impl* raw = impl.get();
  impl->io = std::thread([raw] { raw->run(); });
  return std::unique_ptr<AsyncClient>(new AsyncClient(std::move(impl)));
}

std::future<Result<Bytes>> AsyncClient::submit(Bytes op, bool read_only) {
  std::promise<Result<Bytes>> promise;
  auto future = promise.get_future();
  impl_->submit(
      std::move(op), [promise = std::move(promise)](Result<Bytes> result) mutable { promise.set_value(std::move(result)); },
      read_only);
  return future;
}

void AsyncClient::submit(Bytes op, Completion done, bool read_only) {
  impl_->submit(std::move(op), std::move(done), read_only);
}
std::size_t AsyncClient::max_in_flight() const { return impl_->lanes.size(); }
std::size_t AsyncClient::peak_in_flight() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->peak_in_flight;
}
ClientStats AsyncClient::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

}  // namespace synod
