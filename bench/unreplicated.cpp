#include "unreplicated.hpp"

#include <limits>

#include "wire/authenticate.hpp"
#include "wire/codec.hpp"

namespace synod::bench {

UnreplicatedCore::UnreplicatedCore(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                   StateMachine& app)
    : config_(config), self_(self), crypto_(crypto), app_(app) {}

void UnreplicatedCore::receive(TimeUs, ByteView frame, Effects& out) {
  auto envelope = wire::decode_envelope(frame, config_.max_frame_bytes);
  if (!envelope) return reject(Rejection::malformed);
  const Principal sender = envelope->sender;
  if (envelope->type != wire::MsgType::request || !sender.is_client()) return reject(Rejection::invalid);
  if (config_.find_client(sender.id) == nullptr) return reject(Rejection::unknown_sender);
  const Bytes input = wire::signing_input(envelope->type, sender, as_view(envelope->payload));
  if (!wire::request_authentic(config_, crypto_, self_, sender, as_view(input), as_view(envelope->authenticator))) {
    return reject(Rejection::bad_authenticator);
  }
  auto request = wire::decode<wire::Request>(as_view(envelope->payload));
  if (!request) return reject(Rejection::malformed);
  if (request->client != sender.id) return reject(Rejection::unknown_sender);
  if (request->op.size() > config_.max_request_bytes) return reject(Rejection::limit);
  if (request->read_only) return reply(request->client, request->t, true, app_.query(as_view(request->op)), out);
  const RequestNo last = clients_.last_t(request->client);
  if (request->t == 0 || request->t < last) return reject(Rejection::invalid);
  if (request->t == last) return reply(request->client, request->t, false, clients_.find(request->client)->last_result, out);
  const Operation op{request->client, request->t, as_view(request->op)};
  auto results = execute_at_most_once(app_, clients_, std::span<const Operation>(&op, 1));
  if (results.size() != 1 || !results[0]) return;
  ++last_executed_;
  ExecutedBatch batch;
  batch.seq = last_executed_;
  batch.requests.push_back({request->client, request->t, {}, {}});
  out.executed.push_back(std::move(batch));
  reply(request->client, request->t, false, *results[0], out);
}

void UnreplicatedCore::reply(ClientId client, RequestNo t, bool read_only, const Bytes& result, Effects& out) {
  const wire::Reply message{0, client, t, wire::ReplyStatus::ok, self_, read_only, result};
  out.send.push_back({Destination::client(client), wire::reply_frame(config_, crypto_, self_, message)});
}

void UnreplicatedCore::tick(TimeUs, Effects&) {}

TimeUs UnreplicatedCore::next_deadline() const { return std::numeric_limits<TimeUs>::max(); }

ReplicaStatus UnreplicatedCore::status() const {
  ReplicaStatus s;
  s.protocol = config_.protocol;
  s.id = self_;
  s.leader = self_;
  s.is_leader = true;
  s.last_executed = last_executed_;
  for (std::size_t i = 0; i < static_cast<std::size_t>(Rejection::count_); ++i) s.rejected[i] = rejected_[i];
  return s;
}

}  // namespace synod::bench
