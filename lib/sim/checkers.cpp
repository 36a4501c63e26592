#include "sim/checkers.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <variant>

#include "sim/describe.hpp"
#include "synod/assert.hpp"

namespace synod::sim {

namespace {

std::string key_text(const RequestKey& key) {
  return "(c" + std::to_string(key.client) + ",t" + std::to_string(key.t) + ")";
}

std::string requests_text(const ExecutedBatch& batch) {
  constexpr std::size_t kShown = 4;
  std::string text = "[";
  for (std::size_t i = 0; i < batch.requests.size() && i < kShown; ++i) {
    if (i > 0) text += " ";
    text += key_text({batch.requests[i].client, batch.requests[i].request});
  }
  if (batch.requests.size() > kShown) text += " +" + std::to_string(batch.requests.size() - kShown);
  return text + "]";
}

}  // namespace

std::string short_hex(const Digest& d) { return to_hex(ByteView(d.data(), 4)) + ".."; }

void ViolationLog::add(std::string message) {
  ++count_;
  if (messages_.size() < kMaxViolationsPerChecker) messages_.push_back(std::move(message));
  SYNOD_ASSERT(messages_.size() <= count_, "kept messages never exceed the count");
}

// ------------------------------------------------------------ SignedRequests

void SignedRequests::add(ClientId client, RequestNo t, const Digest& op_digest, ByteView op) {
  ops_.try_emplace(Key{{client, t}, op_digest}, Bytes(op.begin(), op.end()));
}

const Bytes* SignedRequests::find(ClientId client, RequestNo t, const Digest& op_digest) const {
  const auto it = ops_.find(Key{{client, t}, op_digest});
  return it == ops_.end() ? nullptr : &it->second;
}

// ------------------------------------------------------------ Agreement

void AgreementChecker::on_executed(ReplicaId replica, const ExecutedBatch& batch) {
  const auto [it, inserted] = order_.try_emplace(batch.seq, batch);
  if (inserted) {
    first_executor_[batch.seq] = replica;
    return;
  }
  const ExecutedBatch& first = it->second;
  const ReplicaId other = first_executor_.at(batch.seq);
  const std::string where = "agreement: seq " + std::to_string(batch.seq) + ": replica " +
                            std::to_string(replica) + " executed ";
  if (first.batch_digest != batch.batch_digest) {
    log_.add(where + "batch d=" + short_hex(batch.batch_digest) + " " + requests_text(batch) + " but replica " +
             std::to_string(other) + " executed d=" + short_hex(first.batch_digest) + " " +
             requests_text(first));
    return;
  }
  if (first.requests.size() != batch.requests.size()) {
    log_.add(where + requests_text(batch) + " but replica " + std::to_string(other) + " executed " +
             requests_text(first) + " (same batch digest " + short_hex(batch.batch_digest) + ")");
    return;
  }
  for (std::size_t i = 0; i < batch.requests.size(); ++i) {
    const ExecutedRequest& a = first.requests[i];
    const ExecutedRequest& b = batch.requests[i];
    const std::string request = key_text({b.client, b.request});
    if (a.client != b.client || a.request != b.request || a.operation_digest != b.operation_digest) {
      log_.add(where + "request " + std::to_string(i) + " as " + request + " op " +
               short_hex(b.operation_digest) + " but replica " + std::to_string(other) + " executed " +
               key_text({a.client, a.request}) + " op " + short_hex(a.operation_digest));
      return;
    }
    if (a.result_digest != b.result_digest) {
      log_.add(where + request + " with result " + short_hex(b.result_digest) + " but replica " +
               std::to_string(other) + " got " + short_hex(a.result_digest) +
               " (diverged state or a non-deterministic state machine)");
      return;
    }
  }
}

// ------------------------------------------------------------ Validity

void ValidityChecker::on_executed(ReplicaId replica, const ExecutedBatch& batch) {
  for (const ExecutedRequest& r : batch.requests) {
    if (signed_->find(r.client, r.request, r.operation_digest) != nullptr) continue;
    log_.add("validity: replica " + std::to_string(replica) + " executed " + key_text({r.client, r.request}) +
             " op " + short_hex(r.operation_digest) + " at seq " + std::to_string(batch.seq) +
             ", which client " + std::to_string(r.client) + " never signed");
  }
}

// ------------------------------------------------------------ At-most-once

void AtMostOnceChecker::check(const std::map<Seq, ExecutedBatch>& order) {
  std::map<RequestKey, Seq> seen;
  for (const auto& [seq, batch] : order) {
    for (const ExecutedRequest& r : batch.requests) {
      const RequestKey key{r.client, r.request};
      const auto [it, inserted] = seen.try_emplace(key, seq);
      if (inserted) continue;
      log_.add("at-most-once: " + key_text(key) + " executed at seq " + std::to_string(it->second) +
               (it->second == seq ? " twice in one batch" : " and again at seq " + std::to_string(seq)));
    }
  }
}

// ------------------------------------------------------------ Linearizability

LinearizabilityChecker::LinearizabilityChecker(MakeApp make_app, std::function<Digest(ByteView)> digest,
                                               const SignedRequests& signed_requests, Describe describe)
    : make_app_(std::move(make_app)),
      digest_(std::move(digest)),
      signed_(&signed_requests),
      describe_(std::move(describe)) {
  SYNOD_ASSERT(make_app_ != nullptr && digest_ != nullptr, "checker needs an app factory and a digest");
}

std::string LinearizabilityChecker::describe_op(ByteView op) const {
  if (describe_.op) return describe_.op(op);
  return "op " + to_hex(op.subspan(0, std::min<std::size_t>(op.size(), 8)));
}

std::string LinearizabilityChecker::describe_result(ByteView result) const {
  if (describe_.result) return describe_.result(result);
  return "result " + to_hex(result.subspan(0, std::min<std::size_t>(result.size(), 8)));
}

void LinearizabilityChecker::check(const std::map<Seq, ExecutedBatch>& order, std::span<const ClientOp> history) {
  positions_.clear();
  if (!replay(order, history)) return;
  check_ordered(history);
  check_real_time(history);
}

namespace detail {

struct Executed {
  Seq seq = 0;
  RequestKey key;
  Digest op_digest{};
  const Bytes* op = nullptr;
};

// A read accepted by the read-only quorum, with the window [lo, hi] of
// prefix lengths of the committed order it may have observed.
struct ReadWindow {
  std::size_t lo = 0;
  std::size_t hi = 0;
  const ClientOp* op = nullptr;
  bool satisfied = false;
};

}  // namespace detail

namespace {

using detail::Executed;
using detail::ReadWindow;

constexpr std::size_t kUnbounded = static_cast<std::size_t>(-1);

// (position in the order) by completion and by invocation of history ops,
// sorted, with prefix maxima / suffix minima for the window bounds.
struct RealTimeIndex {
  std::vector<std::pair<Stamp, std::size_t>> completed;  // ordered completions
  std::vector<std::size_t> completed_max;
  std::vector<std::pair<Stamp, std::size_t>> invoked;
  std::vector<std::size_t> invoked_min;

  // Prefix length after every op that completed before `at`.
  std::size_t lo(const Stamp& at) const {
    const auto it = std::lower_bound(completed.begin(), completed.end(), std::make_pair(at, std::size_t{0}));
    return it == completed.begin() ? 0 : completed_max[(it - completed.begin()) - 1] + 1;
  }
  // Prefix length before every op invoked after `at`.
  std::size_t hi(const Stamp& at, std::size_t total) const {
    const auto it = std::upper_bound(invoked.begin(), invoked.end(), std::make_pair(at, kUnbounded));
    return it == invoked.end() ? total : std::min(total, invoked_min[it - invoked.begin()]);
  }
};

}  // namespace

bool LinearizabilityChecker::replay(const std::map<Seq, ExecutedBatch>& order, std::span<const ClientOp> history) {
  std::vector<Executed> executed;
  if (!flatten(order, executed)) return false;
  std::vector<ReadWindow> reads = read_windows(history, executed.size());
  std::sort(reads.begin(), reads.end(), [](const ReadWindow& a, const ReadWindow& b) { return a.lo < b.lo; });

  // Replay one request at a time; before each, try the reads whose window
  // holds the current prefix length.
  std::unique_ptr<StateMachine> app = make_app_();
  std::size_t next_read = 0;
  std::vector<ReadWindow*> active;
  for (std::size_t k = 0; k <= executed.size(); ++k) {
    while (next_read < reads.size() && reads[next_read].lo <= k) active.push_back(&reads[next_read++]);
    for (ReadWindow* w : active) {
      if (!w->satisfied && k <= w->hi && app->query(w->op->op) == w->op->result) w->satisfied = true;
    }
    std::erase_if(active, [k](const ReadWindow* w) { return w->satisfied || w->hi <= k; });
    if (k == executed.size()) break;
    const Executed& e = executed[k];
    const Operation operation{e.key.client, e.key.t, ByteView(*e.op)};
    std::vector<Bytes> results = app->execute(std::span<const Operation>(&operation, 1));
    SYNOD_ASSERT(results.size() == 1, "a state machine returns one result per operation");
    Position& p = positions_.at(e.key);
    if (p.index == k) p.result = std::move(results[0]);
  }
  SYNOD_ASSERT(next_read == reads.size(), "every read window was visited");
  for (const ReadWindow& w : reads) {
    if (w.satisfied) continue;
    log_.add("linearizability: read-only " + describe_op(w.op->op) + " by " + key_text({w.op->client, w.op->t}) +
             " (invoked " + describe_time(w.op->invoked.us) + ", completed " + describe_time(w.op->completed->us) +
             ") accepted " + describe_result(w.op->result) + ", which no state between committed positions " +
             std::to_string(w.lo) + " and " + std::to_string(w.hi) + " gives");
  }
  return true;
}

// The committed order as a list of requests, with their positions; false
// (with a violation) at what cannot be replayed.
bool LinearizabilityChecker::flatten(const std::map<Seq, ExecutedBatch>& order, std::vector<Executed>& executed) {
  Seq expected = order.empty() ? 0 : std::min<Seq>(order.begin()->first, 1);
  for (const auto& [seq, batch] : order) {
    if (seq != expected && !(expected == 0 && seq == 1)) {
      log_.add("linearizability: the committed order has a gap: no correct replica executed seq " +
               std::to_string(expected) + " but seq " + std::to_string(seq) + " was executed");
      return false;
    }
    expected = seq + 1;
    for (const ExecutedRequest& r : batch.requests) {
      const Bytes* op = signed_->find(r.client, r.request, r.operation_digest);
      if (op == nullptr) {
        log_.add("linearizability: cannot replay seq " + std::to_string(seq) + ": " +
                 key_text({r.client, r.request}) + " was never signed (see validity)");
        return false;
      }
      executed.push_back({seq, {r.client, r.request}, r.operation_digest, op});
      positions_.try_emplace(executed.back().key, Position{executed.size() - 1, seq, r.operation_digest, {}});
    }
  }
  return true;
}

// Windows of the reads accepted by the read-only quorum. lo: after every op
// that completed before the read was invoked; hi: before every op invoked
// after the read completed.
std::vector<ReadWindow> LinearizabilityChecker::read_windows(std::span<const ClientOp> history,
                                                             std::size_t total) {
  RealTimeIndex index;
  for (const ClientOp& op : history) {
    const auto it = positions_.find({op.client, op.t});
    if (it == positions_.end()) continue;
    index.invoked.emplace_back(op.invoked, it->second.index);
    if (op.completed && !op.accepted_read_only) index.completed.emplace_back(*op.completed, it->second.index);
  }
  std::sort(index.completed.begin(), index.completed.end());
  std::sort(index.invoked.begin(), index.invoked.end());
  index.completed_max.resize(index.completed.size());
  for (std::size_t i = 0; i < index.completed.size(); ++i) {
    index.completed_max[i] = std::max(index.completed[i].second, i > 0 ? index.completed_max[i - 1] : 0);
  }
  index.invoked_min.resize(index.invoked.size());
  for (std::size_t i = index.invoked.size(); i-- > 0;) {
    const std::size_t after = i + 1 < index.invoked.size() ? index.invoked_min[i + 1] : kUnbounded;
    index.invoked_min[i] = std::min(index.invoked[i].second, after);
  }
  std::vector<ReadWindow> reads;
  for (const ClientOp& op : history) {
    if (!op.completed || !op.accepted_read_only) continue;
    ReadWindow w{index.lo(op.invoked), index.hi(*op.completed, total), &op, false};
    if (w.lo > w.hi) {
      log_.add("linearizability: read " + describe_op(op.op) + " by " + key_text({op.client, op.t}) +
               " has no possible prefix: an op completed before it was invoked is ordered after an op "
               "invoked after it completed");
      continue;
    }
    w.hi = std::min(w.hi, w.lo + kMaxReadWindow);
    reads.push_back(w);
  }
  return reads;
}

void LinearizabilityChecker::check_ordered(std::span<const ClientOp> history) {
  for (const ClientOp& op : history) {
    if (!op.completed || op.accepted_read_only) continue;
    const RequestKey key{op.client, op.t};
    const auto it = positions_.find(key);
    const std::string who = describe_op(op.op) + " by " + key_text(key);
    if (it == positions_.end()) {
      log_.add("linearizability: " + who + " completed at " + describe_time(op.completed->us) + " with " +
               describe_result(op.result) + " but no correct replica executed it");
      continue;
    }
    const Position& p = it->second;
    if (digest_(op.op) != p.op_digest) {
      log_.add("linearizability: " + key_text(key) + " executed at seq " + std::to_string(p.seq) +
               " with op " + short_hex(p.op_digest) + ", not the client's " + who);
      continue;
    }
    if (op.result != p.result) {
      log_.add("linearizability: " + who + " accepted " + describe_result(op.result) +
               " but the committed order gives " + describe_result(p.result) + " (seq " + std::to_string(p.seq) +
               ", position " + std::to_string(p.index) + ")");
    }
  }
}

void LinearizabilityChecker::check_real_time(std::span<const ClientOp> history) {
  // A: completed ordered ops by completion; B: every executed op. For each
  // B, the latest-ordered A that completed before B was invoked must precede B.
  std::vector<std::pair<Stamp, const ClientOp*>> completed;
  for (const ClientOp& op : history) {
    if (op.completed && !op.accepted_read_only && positions_.contains({op.client, op.t})) {
      completed.emplace_back(*op.completed, &op);
    }
  }
  std::sort(completed.begin(), completed.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<const ClientOp*> latest(completed.size());  // prefix argmax by position
  for (std::size_t i = 0; i < completed.size(); ++i) {
    const ClientOp* op = completed[i].second;
    const ClientOp* best = i > 0 ? latest[i - 1] : nullptr;
    if (best == nullptr || positions_.at({op->client, op->t}).index > positions_.at({best->client, best->t}).index) {
      best = op;
    }
    latest[i] = best;
  }
  for (const ClientOp& b : history) {
    const auto pb = positions_.find({b.client, b.t});
    if (pb == positions_.end()) continue;
    const auto it = std::lower_bound(completed.begin(), completed.end(), b.invoked,
                                     [](const auto& entry, const Stamp& s) { return entry.first < s; });
    if (it == completed.begin()) continue;
    const ClientOp* a = latest[(it - completed.begin()) - 1];
    const Position& pa = positions_.at({a->client, a->t});
    if (pa.index < pb->second.index) continue;
    log_.add("linearizability: real-time order: " + describe_op(a->op) + " by " + key_text({a->client, a->t}) +
             " completed at " + describe_time(a->completed->us) + " before " + describe_op(b.op) + " by " +
             key_text({b.client, b.t}) + " was invoked at " + describe_time(b.invoked.us) +
             ", but is ordered after it (seq " + std::to_string(pa.seq) + " vs " + std::to_string(pb->second.seq) +
             ")");
  }
}

// ------------------------------------------------------------ Checkpoints

void CheckpointChecker::on_status(ReplicaId replica, Seq stable_seq, const Digest& state_digest) {
  if (stable_seq == 0) return;  // the initial state has no checkpoint proof
  const auto [it, inserted] = digests_.try_emplace(stable_seq, state_digest, replica);
  if (inserted || it->second.first == state_digest) return;
  log_.add("checkpoint: stable checkpoint at seq " + std::to_string(stable_seq) + ": replica " +
           std::to_string(replica) + " has state digest " + short_hex(state_digest) + " but replica " +
           std::to_string(it->second.second) + " has " + short_hex(it->second.first));
  // Keep the first digest, so one divergent replica is reported once per seq.
}

// ------------------------------------------------------------ Liveness

void LivenessChecker::check(std::span<const ClientOp> history, std::span<const ClientId> correct_clients,
                            TimeUs end_us) {
  SYNOD_ASSERT(bound_us_ > 0, "a liveness bound is positive");
  const std::set<ClientId> correct(correct_clients.begin(), correct_clients.end());
  std::map<ClientId, std::uint32_t> completed_after_heal;
  for (ClientId c : correct) completed_after_heal[c] = 0;
  for (const ClientOp& op : history) {
    if (!correct.contains(op.client)) continue;
    const TimeUs due_from_us = std::max(op.invoked.us, heal_us_);
    const std::string who = "liveness: client " + std::to_string(op.client) + " t=" + std::to_string(op.t) +
                            " invoked at " + describe_time(op.invoked.us);
    if (!op.completed) {
      // >=: the simulator ends a stalled run exactly at heal + bound.
      if (end_us > due_from_us && end_us - due_from_us >= bound_us_) {
        log_.add(who + " is still outstanding at " + describe_time(end_us) + " (network healed at " +
                 describe_time(heal_us_) + ", bound " + describe_time(bound_us_) + ")");
      }
      continue;
    }
    if (op.completed->us < heal_us_) continue;
    if (op.completed->us - due_from_us > bound_us_) {
      log_.add(who + " completed only at " + describe_time(op.completed->us) + " (network healed at " +
               describe_time(heal_us_) + ", bound " + describe_time(bound_us_) + ")");
    }
    if (op.invoked.us >= heal_us_) ++completed_after_heal[op.client];
  }
  for (const auto& [client, count] : completed_after_heal) {
    if (count >= required_ops_) continue;
    log_.add("liveness: client " + std::to_string(client) + " completed " + std::to_string(count) + " of the " +
             std::to_string(required_ops_) + " requests required after the network healed at " +
             describe_time(heal_us_) + " (run ended at " + describe_time(end_us) + ")");
  }
}

// ------------------------------------------------------------ Durability

void DurabilityChecker::on_sent(ReplicaId replica, const wire::Message& message) {
  if (const auto* pp = std::get_if<wire::PrePrepare>(&message)) {
    on_vote("PRE-PREPARE", pre_prepares_, replica, pp->header.view, pp->header.seq, pp->header.digest);
  } else if (const auto* nv = std::get_if<wire::NewView>(&message)) {
    // O: the new primary's pre-prepares for the new view.
    for (const auto& o : nv->pre_prepares) {
      on_vote("PRE-PREPARE (in NEW-VIEW O)", pre_prepares_, replica, o.message.view, o.message.seq, o.message.digest);
    }
  } else if (const auto* p = std::get_if<wire::Prepare>(&message)) {
    on_vote("PREPARE", prepares_, replica, p->view, p->seq, p->digest);
  } else if (const auto* c = std::get_if<wire::Commit>(&message)) {
    on_vote("COMMIT", commits_, replica, c->view, c->seq, c->digest);
    View& prepared = prepared_view_[{replica, c->seq}];
    prepared = std::max(prepared, c->view);
  } else if (const auto* vc = std::get_if<wire::ViewChange>(&message)) {
    on_view_change(replica, *vc);
  }
}

void DurabilityChecker::on_vote(const char* what, std::map<VoteKey, Digest>& sent, ReplicaId replica, View view,
                                Seq seq, const Digest& digest) {
  const auto [it, inserted] = sent.try_emplace(VoteKey{replica, view, seq}, digest);
  if (inserted || it->second == digest) return;
  log_.add("durability: replica " + std::to_string(replica) + " sent " + what + " v=" + std::to_string(view) +
           " s=" + std::to_string(seq) + " d=" + short_hex(digest) + " after sending d=" + short_hex(it->second) +
           " for the same (v, s)");
}

void DurabilityChecker::on_view_change(ReplicaId replica, const wire::ViewChange& vc) {
  const auto [it, inserted] = view_changes_.try_emplace({replica, vc.new_view}, vc);
  if (!inserted && !(it->second == vc)) {
    log_.add("durability: replica " + std::to_string(replica) + " sent two different VIEW-CHANGEs for view " +
             std::to_string(vc.new_view) + " (stable " + std::to_string(it->second.stable_seq) + " with " +
             std::to_string(it->second.prepared.size()) + " certificates, then stable " +
             std::to_string(vc.stable_seq) + " with " + std::to_string(vc.prepared.size()) + ")");
  }
  for (auto p = prepared_view_.lower_bound({replica, vc.stable_seq + 1}); p != prepared_view_.end(); ++p) {
    if (p->first.first != replica) break;
    const Seq seq = p->first.second;
    const View view = p->second;
    if (view >= vc.new_view) continue;
    const auto cert = std::find_if(vc.prepared.begin(), vc.prepared.end(), [&](const wire::PreparedCertificate& c) {
      return c.pre_prepare.message.seq == seq && c.pre_prepare.message.view >= view;
    });
    if (cert != vc.prepared.end()) continue;
    log_.add("durability: replica " + std::to_string(replica) + " sent COMMIT v=" + std::to_string(view) +
             " s=" + std::to_string(seq) + " (so it had prepared it) but later VIEW-CHANGE nv=" +
             std::to_string(vc.new_view) + " stable=" + std::to_string(vc.stable_seq) +
             " carries no prepared certificate for s=" + std::to_string(seq) + " from view " + std::to_string(view) +
             " or later");
  }
}

}  // namespace synod::sim
