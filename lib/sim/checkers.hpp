// sim/checkers.hpp — the simulator's judges. Each checker is independent,
// fed by the simulator as events happen (or with the whole history at the
// end), and unit-tested with hand-made histories (tests/sim/). A checker
// never asserts on what it checks: a violation is a finding, recorded as a
// readable message (PROTOCOL.md, "What both modes must show").
//
// Only *correct* replicas feed them: honest replicas, including ones that
// crashed and restarted (durability is what keeps them correct). Byzantine
// replicas' executions are not checked; they may do anything.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sim/history.hpp"
#include "synod/replica.hpp"
#include "synod/state_machine.hpp"
#include "synod/types.hpp"
#include "wire/messages.hpp"

namespace synod::sim {

// Messages kept per checker; the first ones are the interesting ones, and
// the bound keeps a badly broken run from using unbounded memory.
inline constexpr std::size_t kMaxViolationsPerChecker = 8;

class ViolationLog {
 public:
  void add(std::string message);
  bool ok() const { return count_ == 0; }
  std::uint64_t count() const { return count_; }
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  std::vector<std::string> messages_;
  std::uint64_t count_ = 0;
};

// Every request that some client (correct or faulty) validly signed, with
// its operation bytes, keyed by (client, t, digest(op)). Faulty clients may
// sign two different ops with one t; both are here.
class SignedRequests {
 public:
  void add(ClientId client, RequestNo t, const Digest& op_digest, ByteView op);
  const Bytes* find(ClientId client, RequestNo t, const Digest& op_digest) const;
  std::size_t size() const { return ops_.size(); }

 private:
  struct Key {
    RequestKey request;
    Digest op_digest{};
    friend auto operator<=>(const Key&, const Key&) = default;
  };
  std::map<Key, Bytes> ops_;
};

std::string short_hex(const Digest& d);  // "ab12cd34.." for messages

// (1) Agreement: for every seq, every correct replica that executed it
// executed the same batch digest with the same requests (client, t, op
// digest) and the same result digests. Also builds the global committed
// order (the first execution seen at each seq).
class AgreementChecker {
 public:
  void on_executed(ReplicaId replica, const ExecutedBatch& batch);
  const std::map<Seq, ExecutedBatch>& order() const { return order_; }
  const ViolationLog& log() const { return log_; }

 private:
  std::map<Seq, ExecutedBatch> order_;
  std::map<Seq, ReplicaId> first_executor_;
  ViolationLog log_;
};

// (2) Validity: every executed request was signed by its client.
class ValidityChecker {
 public:
  explicit ValidityChecker(const SignedRequests& signed_requests) : signed_(&signed_requests) {}
  void on_executed(ReplicaId replica, const ExecutedBatch& batch);
  const ViolationLog& log() const { return log_; }

 private:
  const SignedRequests* signed_;
  ViolationLog log_;
};

// (3) At-most-once: in the global committed order no (client, t) executes
// twice (at two seqs or twice in one batch).
class AtMostOnceChecker {
 public:
  void check(const std::map<Seq, ExecutedBatch>& order);
  const ViolationLog& log() const { return log_; }

 private:
  ViolationLog log_;
};

// (4) Linearizability of what correct clients observed. Replays the global
// committed order, one request at a time, on a fresh state machine:
//  * the order has no gaps (seq 1, 2, ...) and every op is known;
//  * an ordered request a client accepted executed, with that client's op,
//    and its accepted result equals the replayed one;
//  * real time: if A completed before B was invoked, A precedes B in the order;
//  * a read accepted by the read-only quorum equals query() on some prefix
//    that holds every op completed before the read was invoked and no op
//    invoked after the read completed.
// The state machine must not depend on batch boundaries (KvStore does not).
struct Describe {
  std::function<std::string(ByteView)> op;      // e.g. "put(k1, v7)"
  std::function<std::string(ByteView)> result;  // e.g. "ok v7"
};

namespace detail {
struct Executed;
struct ReadWindow;
}  // namespace detail

class LinearizabilityChecker {
 public:
  using MakeApp = std::function<std::unique_ptr<StateMachine>()>;
  // `digest` is how op digests in ExecutedRequest were computed.
  LinearizabilityChecker(MakeApp make_app, std::function<Digest(ByteView)> digest,
                         const SignedRequests& signed_requests, Describe describe = {});
  void check(const std::map<Seq, ExecutedBatch>& order, std::span<const ClientOp> history);
  const ViolationLog& log() const { return log_; }

  // Bound on replayed prefixes a single read may be tried against; a read
  // whose window is wider is checked against its first kMaxReadWindow
  // prefixes only (and the simulator's workload keeps windows narrow).
  static constexpr std::size_t kMaxReadWindow = 1u << 16;

 private:
  struct Position {
    std::size_t index = 0;  // in the replayed order
    Seq seq = 0;
    Digest op_digest{};
    Bytes result;
  };
  bool replay(const std::map<Seq, ExecutedBatch>& order, std::span<const ClientOp> history);
  bool flatten(const std::map<Seq, ExecutedBatch>& order, std::vector<detail::Executed>& executed);
  std::vector<detail::ReadWindow> read_windows(std::span<const ClientOp> history, std::size_t total);
  void check_ordered(std::span<const ClientOp> history);
  void check_real_time(std::span<const ClientOp> history);
  std::string describe_op(ByteView op) const;
  std::string describe_result(ByteView result) const;

  MakeApp make_app_;
  std::function<Digest(ByteView)> digest_;
  const SignedRequests* signed_;
  Describe describe_;
  std::map<RequestKey, Position> positions_;
  ViolationLog log_;
};

// (5) Stable checkpoints: correct replicas that reached a stable checkpoint
// at the same seq agree on its state digest.
class CheckpointChecker {
 public:
  void on_status(ReplicaId replica, Seq stable_seq, const Digest& state_digest);
  const ViolationLog& log() const { return log_; }
  std::size_t checkpoints() const { return digests_.size(); }

 private:
  std::map<Seq, std::pair<Digest, ReplicaId>> digests_;
  ViolationLog log_;
};

// (6) Liveness after the network heals: every correct client's request that
// was outstanding at heal_us, and every later one, completes within bound_us
// of max(invoked, heal_us); and each correct client completes at least
// required_ops requests invoked after heal_us. A run that stalls fails.
class LivenessChecker {
 public:
  LivenessChecker(TimeUs heal_us, TimeUs bound_us, std::uint32_t required_ops)
      : heal_us_(heal_us), bound_us_(bound_us), required_ops_(required_ops) {}
  void check(std::span<const ClientOp> history, std::span<const ClientId> correct_clients, TimeUs end_us);
  const ViolationLog& log() const { return log_; }

 private:
  TimeUs heal_us_;
  TimeUs bound_us_;
  std::uint32_t required_ops_;
  ViolationLog log_;
};

// (7) Durability: a correct replica never contradicts what it sent, even
// across crashes and restarts (PROTOCOL.md pitfall: "forgetting after a
// restart what was prepared or sent"). Fed every frame a correct replica
// sends:
//  * never two different PRE-PREPAREs (as primary, or in a NEW-VIEW's O),
//    PREPAREs, or COMMITs for one (v, s);
//  * never two different VIEW-CHANGEs for one new view;
//  * a COMMIT(v, s, d) says it prepared (v, s, d): a later VIEW-CHANGE for a
//    view above v whose stable checkpoint is below s must carry a prepared
//    certificate for s from view v or later (that is what the new primary
//    relies on to keep a committed batch at s).
class DurabilityChecker {
 public:
  void on_sent(ReplicaId replica, const wire::Message& message);
  const ViolationLog& log() const { return log_; }

 private:
  struct VoteKey {
    ReplicaId replica = 0;
    View view = 0;
    Seq seq = 0;
    friend auto operator<=>(const VoteKey&, const VoteKey&) = default;
  };
  void on_vote(const char* what, std::map<VoteKey, Digest>& sent, ReplicaId replica, View view, Seq seq,
               const Digest& digest);
  void on_view_change(ReplicaId replica, const wire::ViewChange& vc);

  std::map<VoteKey, Digest> pre_prepares_;
  std::map<VoteKey, Digest> prepares_;
  std::map<VoteKey, Digest> commits_;
  std::map<std::pair<ReplicaId, Seq>, View> prepared_view_;  // highest view with a COMMIT sent
  std::map<std::pair<ReplicaId, View>, wire::ViewChange> view_changes_;
  ViolationLog log_;
};

}  // namespace synod::sim
