// client/session.hpp — the client side of the protocol as a pure core: no
// sockets, no clock, no threads. The runtime client wraps it with a
// transport and a timer; the simulator drives it directly.
//
// One Session is one client id with at most one outstanding request (the
// PBFT rule: a client's t is strictly increasing and it waits for each
// request before sending the next). The driver's loop, like a replica's:
//   1. out.clear(); session.submit(...) / receive(...) / tick(...)
//   2. send every frame of out.send;
//   3. out.completed, when set, is the outstanding request's accepted result;
//   4. call tick(now) at or soon after next_deadline().
//
// Accepting a result (PROTOCOL.md, "Normal case" step 5):
//  * ordered: config.reply_quorum() replies (pbft: f+1; paxos: 1) from
//    distinct replicas with the same t and the same result bytes, each with
//    a valid replica signature;
//  * read-only (pbft): matching tentative replies (read_only set) from ALL n
//    replicas (not 2f+1: see read_only_quorum() in session.cpp for the
//    stale read that 2f+1 allows when ordered requests complete on f+1);
//    on a mismatch that can no longer reach n, or on timeout, the same t is
//    resent as an ordered request;
//  * on timeout the request goes to all replicas, with exponential backoff
//    capped at kMaxBackoffFactor * request_timeout_ms.
// The first timeout of a request adapts to the latency the client sees
// (RetransmitTimer below). Without it a closed-loop load deep enough to
// queue requests for longer than request_timeout_ms sends every request to
// all replicas again, and the backups' verifying and forwarding of those
// copies collapses the throughput (pbft f=3 with signatures on 2 cores: 692
// ops/s with 256 requests outstanding, 344 with 512).
// Not thread-safe. `config` and `crypto` must outlive the Session.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "synod/config.hpp"
#include "synod/replica.hpp"
#include "synod/result.hpp"
#include "synod/types.hpp"

namespace synod::client {

inline constexpr TimeUs kNoDeadline = std::numeric_limits<TimeUs>::max();
// Retransmission backoff stops doubling at this multiple of request_timeout_ms.
inline constexpr std::uint32_t kMaxBackoffFactor = 8;
// Paxos redirects followed for one request before waiting for the timeout
// (bounds a redirect ping-pong between two replicas that disagree).
inline constexpr std::uint32_t kMaxRedirectsPerRequest = 16;

// The first retransmission timeout of a request, as TCP's (RFC 6298):
// SRTT + max(4 RTTVAR, SRTT / 4) over ordered requests that completed on
// their first send (Karn: a resent request's latency is no sample), never
// below request_timeout_ms nor above the backoff cap. After a
// retransmission the backed-off timeout stays until such a request
// completes. Sessions driven by one thread against one cluster may share
// one (an AsyncClient's lanes do, so each learns from all, and a request
// still on its first send when another session backs off waits the longer
// timeout too); a Session without one keeps its own. Not thread-safe.
class RetransmitTimer {
 public:
  explicit RetransmitTimer(const ClusterConfig& config);
  TimeUs first_timeout_us() const { return rto_us_; }
  TimeUs base_us() const { return base_us_; }
  TimeUs max_us() const { return base_us_ * kMaxBackoffFactor; }
  void sample(TimeUs latency_us);                       // a request completed on its first send
  void backed_off(TimeUs timeout_us) { rto_us_ = timeout_us; }  // a request was resent after timeout_us

 private:
  TimeUs base_us_;
  TimeUs rto_us_;
  std::optional<TimeUs> srtt_us_;  // none until the first sample
  TimeUs rttvar_us_ = 0;
};

struct Completion {
  RequestNo t = 0;
  Bytes result;
  TimeUs latency_us = 0;   // from submit() to the reply that completed it
  bool read_only = false;  // answered without ordering: the pbft read-only quorum or a paxos lease read
  View view = 0;           // view the accepting replies carried
};

struct SessionEffects {
  std::vector<OutboundFrame> send;
  std::optional<Completion> completed;

  void clear() {
    send.clear();
    completed.reset();
  }
};

// Counted reasons for replies that did not count, and other events.
struct SessionStats {
  std::uint64_t replies_accepted = 0;    // counted towards a quorum
  std::uint64_t replies_malformed = 0;   // not a decodable reply frame
  std::uint64_t replies_bad_auth = 0;    // signature did not verify / not a replica
  std::uint64_t replies_unrelated = 0;   // other client, other t, or idle
  std::uint64_t replies_duplicate = 0;   // a second reply from the same replica
  std::uint64_t retransmissions = 0;
  std::uint64_t read_only_fallbacks = 0;
  std::uint64_t redirects = 0;
};

class Session {
 public:
  // `first_t` is the first request number; a client that restarts must pick
  // one above every t it used before (e.g. from a clock), or replicas will
  // answer with cached replies.
  // `timer`: a RetransmitTimer shared with other sessions, which must
  // outlive this one; null for a timer of its own.
  Session(const ClusterConfig& config, ClientId self, const Crypto& crypto, RequestNo first_t = 1,
          RetransmitTimer* timer = nullptr);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Starts a request. Errors: a request is still outstanding; op too large.
  Result<void> submit(TimeUs now, ByteView op, bool read_only, SessionEffects& out);
  // Feeds a frame that arrived for this client. Untrusted: never fails,
  // never asserts on content; anything that does not count is counted.
  void receive(TimeUs now, ByteView frame, SessionEffects& out);
  void tick(TimeUs now, SessionEffects& out);

  TimeUs next_deadline() const { return busy() ? deadline_us_ : kNoDeadline; }
  bool busy() const { return phase_ != Phase::idle; }
  ClientId id() const { return self_; }
  View view() const { return view_; }
  ReplicaId leader() const { return leader_; }
  RequestNo next_t() const { return next_t_; }
  // The t of the outstanding request (0 when idle).
  RequestNo outstanding_t() const { return busy() ? t_ : 0; }
  const SessionStats& stats() const { return stats_; }
  // The first timeout the next request gets (RetransmitTimer).
  TimeUs retransmit_timeout_us() const { return timer_->first_timeout_us(); }

 private:
  enum class Phase : std::uint8_t { idle, read_only, ordered };

  struct Vote {
    bool present = false;
    View view = 0;
    Bytes result;
  };

  Bytes make_request_frame(bool read_only) const;
  void send_to_leader(SessionEffects& out) const;
  void send_to_all(SessionEffects& out) const;
  void fall_back_to_ordered(TimeUs now, bool to_all, SessionEffects& out);
  void arm_timer(TimeUs now);
  // Records a vote; returns the number of votes with the same result.
  std::uint32_t record(std::vector<Vote>& votes, ReplicaId from, const Bytes& result, View view);
  bool read_only_quorum_unreachable() const;
  void complete(TimeUs now, const std::vector<Vote>& votes, const Bytes& result, bool read_only,
                SessionEffects& out);
  std::uint32_t read_only_quorum() const;

  const ClusterConfig* config_;
  ClientId self_;
  const Crypto* crypto_;
  RequestNo next_t_;

  Phase phase_ = Phase::idle;
  RequestNo t_ = 0;
  Bytes op_;
  Bytes frame_;  // the outstanding request, signed once, resent as is
  TimeUs submitted_us_ = 0;
  TimeUs deadline_us_ = kNoDeadline;
  TimeUs timeout_us_ = 0;
  bool retransmitted_ = false;  // the outstanding request was sent again: its latency is no sample
  std::unique_ptr<RetransmitTimer> own_timer_;  // when no shared one was given
  RetransmitTimer* timer_;
  std::uint32_t redirects_ = 0;
  std::vector<Vote> ordered_votes_;    // indexed by replica id
  std::vector<Vote> read_only_votes_;  // indexed by replica id

  View view_ = 0;
  ReplicaId leader_ = 0;
  SessionStats stats_;
};

}  // namespace synod::client
