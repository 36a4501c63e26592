#include "synod/client.hpp"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "client/session.hpp"
#include "runtime/clock.hpp"
#include "runtime/openssl_crypto.hpp"
#include "runtime/routing_ids.hpp"
#include "runtime/transport.hpp"
#include "wire/codec.hpp"

namespace synod {
struct Client::Impl {
  const ClusterConfig config;  // a copy: the Session keeps a pointer to it
  ClientId self;
  ClientOptions options;
  std::unique_ptr<runtime::OpenSslCrypto> crypto;
  std::unique_ptr<client::Session> session;
  zmq::context_t context{1};
  std::vector<zmq::socket_t> sockets;  // one DEALER per replica, by id
  ClientStats stats;
  std::chrono::microseconds last_latency{0};

  Impl(ClusterConfig c, ClientId id, ClientOptions o) : config(std::move(c)), self(id), options(o) {}

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

  // Feeds every waiting reply to the session; true once one completed it.
  bool drain(std::optional<client::Completion>& done) {
    client::SessionEffects out;
    for (auto& socket : sockets) {
      // Bounded: at most this many frames per socket per wake-up.
      for (int i = 0; i < 1024; ++i) {
        zmq::message_t frame;
        if (!socket.recv(frame, zmq::recv_flags::dontwait)) break;
        while (frame.more()) {  // a replica sends one part; drop any extra
          zmq::message_t extra;
          if (!socket.recv(extra, zmq::recv_flags::none) || !extra.more()) break;
        }
        out.clear();
        session->receive(runtime::monotonic_now_us(), ByteView(static_cast<const std::uint8_t*>(frame.data()), frame.size()), out);
        send(out.send);
        if (out.completed) {
          done = std::move(out.completed);
          return true;
        }
      }
    }
    return false;
  }

  Result<std::vector<ReplicaReport>> status(std::chrono::milliseconds timeout) {
    std::vector<ReplicaReport> reports(config.n());
    for (ReplicaId r = 0; r < reports.size(); ++r) reports[r].id = r;
    // A fresh nonce per call, so a late answer to an earlier call never counts.
    const std::uint64_t nonce = (std::uint64_t{std::random_device{}()} << 32) ^ static_cast<std::uint64_t>(runtime::monotonic_now_us());
    const Bytes frame = wire::make_frame(Principal::client(self), wire::StatusRequest{nonce},
                                         [this](ByteView data) { return crypto->sign(data); });
    for (auto& socket : sockets) (void)socket.send(zmq::buffer(frame), zmq::send_flags::dontwait);
    std::vector<zmq::pollitem_t> items;
    for (auto& s : sockets) items.push_back({s.handle(), 0, ZMQ_POLLIN, 0});
    const TimeUs give_up = runtime::monotonic_now_us() + static_cast<TimeUs>(timeout.count()) * 1000;
    std::size_t answered = 0;
    while (answered < reports.size()) {
      const TimeUs now = runtime::monotonic_now_us();
      if (now >= give_up) break;
      try {
        zmq::poll(items, std::chrono::milliseconds((give_up - now + 999) / 1000));
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) return fail(ErrorCode::io, std::string("poll: ") + e.what());
      }
      for (ReplicaId r = 0; r < sockets.size(); ++r) {
        for (int i = 0; i < 1024; ++i) {  // bounded per wake-up, like drain()
          zmq::message_t reply;
          if (!sockets[r].recv(reply, zmq::recv_flags::dontwait)) break;
          if (reports[r].reachable) continue;
          if (accept_status(r, ByteView(static_cast<const std::uint8_t*>(reply.data()), reply.size()), nonce,
                            reports[r])) {
            ++answered;
          }
        }
      }
    }
    return reports;
  }

  // Untrusted: a status reply counts only if replica r signed it for this nonce.
  bool accept_status(ReplicaId r, ByteView frame, std::uint64_t nonce, ReplicaReport& report) const {
    auto envelope = wire::decode_envelope(frame, config.max_frame_bytes);
    if (!envelope || envelope->type != wire::MsgType::status_reply || envelope->sender != Principal::replica(r)) {
      return false;
    }
    auto decoded = wire::decode<wire::StatusReply>(envelope->payload);
    if (!decoded || decoded->nonce != nonce) return false;
    if (decoded->protocol != static_cast<std::uint8_t>(Protocol::pbft) &&
        decoded->protocol != static_cast<std::uint8_t>(Protocol::paxos)) {
      return false;
    }
    const Bytes input = wire::signing_input(envelope->type, envelope->sender, envelope->payload);
    if (!crypto->verify(envelope->sender, input, envelope->authenticator)) return false;
    const wire::StatusReply& s = *decoded;
    report.reachable = true;
    report.protocol = static_cast<Protocol>(s.protocol);
    report.view = s.view;
    report.leader = s.leader;
    report.is_leader = s.is_leader;
    report.changing_view = s.changing_view;
    report.last_executed = s.last_executed;
    report.stable_checkpoint = s.stable_checkpoint;
    report.state_digest = s.state_digest;
    report.view_changes = s.view_changes;
    report.state_transfers = s.state_transfers;
    report.rejected = s.rejected;
    return true;
  }

  Result<Bytes> invoke(ByteView op, bool read_only) {
    client::SessionEffects out;
    const TimeUs start = runtime::monotonic_now_us();
    if (auto r = session->submit(start, op, read_only, out); !r) return std::unexpected(r.error());
    send(out.send);
    const TimeUs give_up = start + static_cast<TimeUs>(options.timeout.count()) * 1000;
    std::vector<zmq::pollitem_t> items;
    for (auto& s : sockets) items.push_back({s.handle(), 0, ZMQ_POLLIN, 0});
    std::optional<client::Completion> done;
    while (true) {
      const TimeUs now = runtime::monotonic_now_us();
      if (now >= give_up) break;
      const TimeUs wake = std::min(give_up, session->next_deadline());
      const auto wait = std::chrono::milliseconds(wake > now ? (wake - now + 999) / 1000 : 0);
      try {
        zmq::poll(items, wait);
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) return fail(ErrorCode::io, std::string("poll: ") + e.what());
      }
      if (drain(done)) break;
      if (runtime::monotonic_now_us() >= session->next_deadline()) {
        out.clear();
        session->tick(runtime::monotonic_now_us(), out);
        send(out.send);
        if (out.completed) {
          done = std::move(out.completed);
          break;
        }
      }
    }
    const auto& s = session->stats();
    stats.retransmissions = s.retransmissions;
    stats.replies_rejected = s.replies_malformed + s.replies_bad_auth + s.replies_duplicate + s.replies_unrelated;
    if (!done) {
      ++stats.timeouts;
      // The session still waits for the old t; a fresh one continues above
      // it, so a late reply to the abandoned request can never complete a new one.
      const RequestNo next = session->next_t();
      session = std::make_unique<client::Session>(config, self, *crypto, next);
      return fail(ErrorCode::io, "no accepted reply within " + std::to_string(options.timeout.count()) +
                                     " ms (is a quorum of replicas up?); the request may still execute");
    }
    ++stats.completed;
    last_latency = std::chrono::microseconds(done->latency_us);
    return std::move(done->result);
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::connect(const ClusterConfig& config, ClientId id, crypto::PrivateKey key,
                                                ClientOptions options) {
  if (config.find_client(id) == nullptr) {
    return fail(ErrorCode::invalid_argument, "client " + std::to_string(id) + " is not in the cluster config");
  }
  auto impl = std::make_unique<Impl>(config, id, options);
  auto crypto = runtime::OpenSslCrypto::for_client(impl->config, std::move(key));
  if (!crypto) return std::unexpected(crypto.error());
  impl->crypto = std::move(*crypto);
  impl->session = std::make_unique<client::Session>(impl->config, id, *impl->crypto,
                                                    options.first_t.value_or(runtime::wall_clock_us()));
  for (const ReplicaInfo& r : impl->config.replicas) {
    auto& socket = impl->sockets.emplace_back(impl->context, zmq::socket_type::dealer);
    auto connected =
        runtime::connect_client_socket(socket, impl->config, r, runtime::client_routing_id(id), options.send_hwm);
    if (!connected) return std::unexpected(connected.error());
  }
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<Bytes> Client::invoke(ByteView op, bool read_only) { return impl_->invoke(op, read_only); }
Result<std::vector<ReplicaReport>> Client::status(std::chrono::milliseconds timeout) {
  return impl_->status(timeout);
}
std::chrono::microseconds Client::last_latency() const { return impl_->last_latency; }
ClientStats Client::stats() const { return impl_->stats; }
ClientId Client::id() const { return impl_->self; }

}  // namespace synod
