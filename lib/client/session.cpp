#include "client/session.hpp"
#include "wire/authenticate.hpp"

#include <algorithm>
#include <string>
#include <variant>

#include "synod/assert.hpp"
#include "wire/codec.hpp"

namespace synod::client {

RetransmitTimer::RetransmitTimer(const ClusterConfig& config)
    : base_us_(static_cast<TimeUs>(config.request_timeout_ms) * 1000), rto_us_(base_us_) {}

// RFC 6298 section 2, with its gains (1/8, 1/4) and K = 4; the margin over
// SRTT is at least a quarter of it (the RFC's clock granularity G), so a
// steady latency does not leave the timeout right at the mean.
void RetransmitTimer::sample(TimeUs latency_us) {
  if (!srtt_us_) {
    srtt_us_ = latency_us;
    rttvar_us_ = latency_us / 2;
  } else {
    const TimeUs deviation = *srtt_us_ > latency_us ? *srtt_us_ - latency_us : latency_us - *srtt_us_;
    rttvar_us_ = (3 * rttvar_us_ + deviation) / 4;
    srtt_us_ = (7 * *srtt_us_ + latency_us) / 8;
  }
  rto_us_ = std::clamp(*srtt_us_ + std::max(4 * rttvar_us_, *srtt_us_ / 4), base_us(), max_us());
}

Session::Session(const ClusterConfig& config, ClientId self, const Crypto& crypto, RequestNo first_t,
                 RetransmitTimer* timer)
    : config_(&config),
      self_(self),
      crypto_(&crypto),
      next_t_(first_t),
      own_timer_(timer == nullptr ? std::make_unique<RetransmitTimer>(config) : nullptr),
      timer_(timer == nullptr ? own_timer_.get() : timer) {
  SYNOD_ASSERT(config.n() > 0, "a session needs at least one replica");
  SYNOD_ASSERT(first_t > 0, "request numbers start at 1 (0 means none)");
  ordered_votes_.resize(config.n());
  read_only_votes_.resize(config.n());
  leader_ = 0;  // view 0's primary; paxos learns the leader from redirects
}

std::uint32_t Session::read_only_quorum() const {
  if (config_->protocol != Protocol::pbft) return config_->reply_quorum();  // paxos: the leader's lease read
  // PBFT: ALL n replicas must return the same tentative result, not 2f+1.
  // An ordered request completes on f+1 replies, and up to f of those may
  // come from faulty replicas, so the only correct replica that executed a
  // completed write may be any one of them; a read quorum that leaves out a
  // single replica can then consist of f faulty replicas plus correct ones
  // that have not executed the write yet, and return a stale value after
  // the write completed (found by synod-sim seed 501: a write completed on
  // replies from a Twins replica and one correct replica; the read then got
  // 3 matching stale replies from the Twins replica and the two lagging
  // correct ones). 2f+1 would be enough only if ordered requests also
  // needed 2f+1 replies (Castro & Liskov pair the read-only optimisation
  // with tentative execution). A read that cannot get n matching replies
  // falls back to an ordered request, so liveness does not depend on it.
  return config_->n();
}

Result<void> Session::submit(TimeUs now, ByteView op, bool read_only, SessionEffects& out) {
  if (busy()) {
    return fail(ErrorCode::invalid_argument,
                "client " + std::to_string(self_) + " already has request t=" + std::to_string(t_) +
                    " outstanding (one request at a time)");
  }
  if (op.size() > config_->max_request_bytes) {
    return fail(ErrorCode::invalid_argument, "operation of " + std::to_string(op.size()) +
                                                 " bytes exceeds max_request_bytes (" +
                                                 std::to_string(config_->max_request_bytes) + ")");
  }
  SYNOD_ASSERT(next_t_ < std::numeric_limits<RequestNo>::max(), "request numbers exhausted");
  t_ = next_t_++;
  op_.assign(op.begin(), op.end());
  submitted_us_ = now;
  redirects_ = 0;
  retransmitted_ = false;
  timeout_us_ = timer_->first_timeout_us();
  for (auto& v : ordered_votes_) v = Vote{};
  for (auto& v : read_only_votes_) v = Vote{};
  arm_timer(now);

  if (read_only && config_->protocol == Protocol::pbft) {
    // A tentative read is answered by every replica without ordering.
    phase_ = Phase::read_only;
    frame_ = make_request_frame(true);
    send_to_all(out);
  } else {
    phase_ = Phase::ordered;
    frame_ = make_request_frame(read_only);
    send_to_leader(out);
  }
  SYNOD_ASSERT(busy() && !frame_.empty(), "a submitted request is outstanding");
  return {};
}

Bytes Session::make_request_frame(bool read_only) const {
  wire::Request request;
  request.client = self_;
  request.t = t_;
  request.read_only = read_only;
  request.op = op_;
  return wire::make_frame(Principal::client(self_), request,
                          [this](ByteView data) { return wire::request_authenticator(*config_, *crypto_, data); });
}

void Session::send_to_leader(SessionEffects& out) const {
  SYNOD_ASSERT(leader_ < config_->n(), "believed leader is a replica");
  out.send.push_back(OutboundFrame{Destination::replica(leader_), frame_});
}

void Session::send_to_all(SessionEffects& out) const {
  out.send.push_back(OutboundFrame{Destination::all_replicas(), frame_});
}

void Session::arm_timer(TimeUs now) {
  SYNOD_ASSERT(timeout_us_ > 0, "request timeout is positive");
  deadline_us_ = now + timeout_us_;
}

void Session::fall_back_to_ordered(TimeUs now, bool to_all, SessionEffects& out) {
  SYNOD_ASSERT(phase_ == Phase::read_only, "only a read-only request falls back");
  ++stats_.read_only_fallbacks;
  phase_ = Phase::ordered;
  retransmitted_ = true;  // its latency includes the read's: no sample
  // Same t: the read was never ordered, so replicas have not used it up.
  frame_ = make_request_frame(false);
  for (auto& v : read_only_votes_) v = Vote{};
  if (to_all) {
    send_to_all(out);
  } else {
    send_to_leader(out);
  }
  arm_timer(now);
}

void Session::tick(TimeUs now, SessionEffects& out) {
  if (!busy() || now < deadline_us_) return;
  // A shared timer may have learnt a longer first timeout since this request
  // was sent (another session backed off): a first send waits that long too,
  // so one slow moment does not send every session's request again at once.
  if (!retransmitted_ && timer_->first_timeout_us() > timeout_us_) {
    timeout_us_ = timer_->first_timeout_us();
    deadline_us_ = submitted_us_ + timeout_us_;
    if (now < deadline_us_) return;
  }
  // Back off first so that the re-armed timer already uses the longer wait;
  // later requests start from it until one completes on its first send.
  timeout_us_ = std::min(timeout_us_ * 2, timer_->max_us());
  timer_->backed_off(timeout_us_);
  retransmitted_ = true;
  ++stats_.retransmissions;
  if (phase_ == Phase::read_only) {
    // PBFT 5.1.3: a read that does not gather 2f+1 matching tentative replies
    // in time is retried as an ordinary (ordered) request.
    fall_back_to_ordered(now, /*to_all=*/true, out);
    return;
  }
  // PROTOCOL.md step 5: on timeout the request goes to all replicas; backups
  // forward it to the primary and start their view-change timers.
  send_to_all(out);
  arm_timer(now);
  SYNOD_ASSERT(deadline_us_ > now, "the retransmission timer moves forward");
}

std::uint32_t Session::record(std::vector<Vote>& votes, ReplicaId from, const Bytes& result, View view) {
  SYNOD_ASSERT(from < votes.size(), "vote from a known replica");
  Vote& vote = votes[from];
  SYNOD_ASSERT(!vote.present, "one vote per replica");
  vote.present = true;
  vote.view = view;
  vote.result = result;
  std::uint32_t matching = 0;
  for (const Vote& v : votes) matching += (v.present && v.result == result) ? 1 : 0;
  SYNOD_ASSERT(matching >= 1, "a vote matches itself");
  return matching;
}

bool Session::read_only_quorum_unreachable() const {
  std::uint32_t received = 0;
  std::uint32_t best = 0;
  for (const Vote& v : read_only_votes_) {
    if (!v.present) continue;
    ++received;
    std::uint32_t matching = 0;
    for (const Vote& w : read_only_votes_) matching += (w.present && w.result == v.result) ? 1 : 0;
    best = std::max(best, matching);
  }
  const std::uint32_t silent = config_->n() - received;
  return best + silent < read_only_quorum();
}

void Session::complete(TimeUs now, const std::vector<Vote>& votes, const Bytes& result, bool read_only,
                       SessionEffects& out) {
  // The view the quorum vouches for: the smallest view among the matching
  // replies, so a faulty replica cannot push the client to a view no
  // correct replica is in (f+1 matching replies include a correct one).
  View quorum_view = std::numeric_limits<View>::max();
  for (const Vote& v : votes) {
    if (v.present && v.result == result) quorum_view = std::min(quorum_view, v.view);
  }
  SYNOD_ASSERT(quorum_view != std::numeric_limits<View>::max(), "a quorum has votes");
  if (config_->protocol == Protocol::pbft && quorum_view > view_) {
    view_ = quorum_view;
    leader_ = static_cast<ReplicaId>(view_ % config_->n());
  }
  out.completed = Completion{t_, result, now - submitted_us_, read_only, quorum_view};
  // Ordered requests only: a read's latency says little about ordering's.
  if (!retransmitted_ && !read_only) timer_->sample(now - submitted_us_);
  phase_ = Phase::idle;
  deadline_us_ = kNoDeadline;
  frame_.clear();
  SYNOD_ASSERT(!busy() && out.completed->t + 1 == next_t_, "completed the outstanding request");
}

void Session::receive(TimeUs now, ByteView frame, SessionEffects& out) {
  auto envelope = wire::decode_envelope(frame, config_->max_frame_bytes);
  if (!envelope || envelope->type != wire::MsgType::reply) {
    ++stats_.replies_malformed;
    return;
  }
  const Principal sender = envelope->sender;
  if (!sender.is_replica() || sender.id >= config_->n()) {
    ++stats_.replies_bad_auth;
    return;
  }
  auto decoded = wire::decode<wire::Reply>(envelope->payload);
  if (!decoded) {
    ++stats_.replies_malformed;
    return;
  }
  const wire::Reply& reply = *decoded;
  if (!busy() || reply.client != self_ || reply.t != t_) {
    ++stats_.replies_unrelated;
    return;
  }
  // Verify last among the cheap checks: a reply's signature or MAC covers
  // its whole payload (wire::signed_part<Reply> is the full encoding).
  if (!wire::reply_authentic(*config_, *crypto_, *envelope)) {
    ++stats_.replies_bad_auth;
    return;
  }

  if (reply.status == wire::ReplyStatus::not_leader) {
    // Paxos: a follower names the leader it believes in; go there now
    // rather than waiting for the timeout.
    if (config_->protocol != Protocol::paxos || reply.leader >= config_->n() || reply.leader == leader_ ||
        redirects_ >= kMaxRedirectsPerRequest) {
      ++stats_.replies_unrelated;
      return;
    }
    ++stats_.redirects;
    ++redirects_;
    leader_ = reply.leader;
    view_ = std::max(view_, reply.view);
    send_to_leader(out);
    return;
  }

  const bool tentative = reply.read_only && config_->protocol == Protocol::pbft;
  if (tentative && phase_ != Phase::read_only) {
    ++stats_.replies_unrelated;  // a late tentative reply after the fallback
    return;
  }
  std::vector<Vote>& votes = tentative ? read_only_votes_ : ordered_votes_;
  if (votes[sender.id].present) {
    ++stats_.replies_duplicate;
    return;
  }
  ++stats_.replies_accepted;
  const std::uint32_t matching = record(votes, sender.id, reply.result, reply.view);
  const std::uint32_t needed = tentative ? read_only_quorum() : config_->reply_quorum();
  if (matching >= needed) {
    if (config_->protocol == Protocol::paxos) leader_ = sender.id;
    // read_only: the pbft read-only quorum, or a paxos leader's lease read.
    complete(now, votes, reply.result, reply.read_only, out);
    return;
  }
  if (tentative && read_only_quorum_unreachable()) {
    // Replicas are in different states (a concurrent write): 2f+1 matching
    // tentative replies can no longer arrive, so order the read now.
    fall_back_to_ordered(now, /*to_all=*/false, out);
  }
}

}  // namespace synod::client
