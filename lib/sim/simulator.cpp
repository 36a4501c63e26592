#include "sim/simulator.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <memory>
#include <queue>

#include "client/session.hpp"
#include "paxos/paxos.hpp"
#include "sim/byzantine.hpp"
#include "sim/checkers.hpp"
#include "sim/describe.hpp"
#include "sim/fake_crypto.hpp"
#include "sim/faulty_client.hpp"
#include "sim/prng.hpp"
#include "sim/scenario.hpp"
#include "sim/workload.hpp"
#include "synod/assert.hpp"
#include "synod/examples/kv.hpp"
#include "synod/examples/store_kv.hpp"
#include "wire/codec.hpp"

namespace synod::sim {

namespace {

constexpr TimeUs kNever = std::numeric_limits<TimeUs>::max();
// Runaway guards: a run that needs more is a livelock (a liveness failure),
// not a reason to exhaust memory or time.
constexpr std::uint64_t kMaxEventsPerRun = 20'000'000;
constexpr std::size_t kMaxQueuedEvents = 2'000'000;

enum class EventKind : std::uint8_t {
  deliver,          // frame from `from` to `to`
  replica_timer,    // tick replica `to.id` (if `generation` is current)
  client_timer,     // tick client `to.id` (if `generation` is current)
  client_submit,    // client `to.id` starts its next request
  crash,            // crashes[index]
  restart,          // crashes[index]
  partition_start,  // partitions[index]
  partition_end,
  heal,
  inject,           // Byzantine replica `to.id` misbehaves on its own
  faulty_act,       // faulty client `to.id` misbehaves
};

struct Event {
  TimeUs at = 0;
  std::uint64_t order = 0;  // insertion counter: ties in time keep FIFO order
  EventKind kind = EventKind::deliver;
  Principal from;
  Principal to;
  std::uint64_t generation = 0;  // timers; also the index for crash/partition events
  std::shared_ptr<const Bytes> frame;
};

struct Later {
  bool operator()(const Event& a, const Event& b) const {
    return a.at != b.at ? a.at > b.at : a.order > b.order;
  }
};

struct ReplicaNode {
  ReplicaId id = 0;
  std::unique_ptr<FakeCrypto> crypto;
  // Correct replicas.
  std::unique_ptr<examples::KvStore> app;
  std::unique_ptr<examples::StoreKv> store_app;  // a store-backed run's application
  MemoryStore store;              // its tables: committed with `durable`, crashed with the core
  std::unique_ptr<Replica> core;  // null while crashed
  DurableState durable;
  Clock clock;                    // the replica's own clock (exact for pbft)
  std::uint64_t incarnation = 0;  // starts so far (seeds a paxos core's timeouts)
  bool crash_after_persist = false;
  std::uint64_t seen_view_changes = 0;  // of the current incarnation
  std::uint64_t seen_state_transfers = 0;
  std::uint64_t view_changes = 0;       // over all incarnations
  // Last status seen, for the trace.
  View traced_view = 0;
  bool traced_changing = false;
  Seq traced_stable = 0;
  // Byzantine replicas.
  std::unique_ptr<ByzantineReplica> byzantine;
  // Timer bookkeeping: only the event with the current generation fires.
  std::uint64_t timer_generation = 0;
  TimeUs timer_at = kNever;
};

struct ClientNode {
  ClientId id = 0;
  std::unique_ptr<FakeCrypto> crypto;
  std::unique_ptr<client::Session> session;  // correct clients
  std::optional<Workload> workload;
  std::optional<std::size_t> current;        // index into the history
  std::uint32_t completed_after_heal = 0;
  std::unique_ptr<FaultyClient> faulty;      // faulty clients
  std::uint64_t timer_generation = 0;
  TimeUs timer_at = kNever;
};

class Simulation {
 public:
  Simulation(std::uint64_t seed, const Options& options);
  RunResult run();

 private:
  // Setup.
  void start_replica(ReplicaNode& node);
  // Events.
  void handle(Event& e);
  void deliver(const Event& e);
  void step_correct(ReplicaNode& node, const Bytes* frame);
  void step_byzantine(ReplicaNode& node, Principal from, const Bytes* frame);
  void crash(ReplicaNode& node, const char* how);
  void restart(ReplicaNode& node);
  void heal();
  void submit(ClientNode& client);
  void client_step(ClientNode& client, const Bytes* frame);
  void after_client_effects(ClientNode& client);
  void faulty_act(ClientNode& client);
  // Network.
  void route(Principal from, Destination to, Bytes frame);
  void send_one(Principal from, Principal to, const std::shared_ptr<const Bytes>& frame);
  bool partitioned(ReplicaId a, ReplicaId b) const;
  // Scheduling.
  void push(Event e);
  void schedule_replica_timer(ReplicaNode& node, TimeUs deadline);
  void schedule_client_timer(ClientNode& client);
  // Bookkeeping.
  void observe_status(ReplicaNode& node);
  void resolve_partition(Partition& p);
  void check_sent(const ReplicaNode& node, ByteView frame);
  void record_signed_request(ByteView frame);
  void record_signed_request(const wire::Request& request);
  Stamp stamp() const { return {now_, events_}; }
  bool liveness_done() const;
  void trace(const std::string& line);
  void fingerprint(const Event& e);
  RunResult finish(bool event_limit);

  std::uint64_t seed_;
  const Options& options_;
  Scenario scenario_;
  KeyTable keys_;
  FakeCrypto checker_crypto_;  // digests only
  Prng network_prng_;
  Prng byzantine_prng_;
  Prng client_prng_;

  std::vector<ReplicaNode> replicas_;
  std::vector<Partition> partitions_;  // scenario_.partitions, with leader isolations resolved
  std::vector<ClientNode> clients_;  // correct ones first, then faulty
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  std::uint64_t next_order_ = 0;
  TimeUs now_ = 0;
  std::uint64_t events_ = 0;
  bool healed_ = false;
  std::optional<std::size_t> active_partition_;

  SignedRequests signed_;
  AgreementChecker agreement_;
  ValidityChecker validity_;
  CheckpointChecker checkpoints_;
  DurabilityChecker durability_;
  std::vector<ClientOp> history_;
  std::vector<std::string> simulator_errors_;  // e.g. a replica that cannot restart

  Effects effects_;
  client::SessionEffects session_effects_;
  std::vector<OutboundFrame> outbound_;
  std::vector<wire::Request> signed_scratch_;

  RunResult result_;
};

Simulation::Simulation(std::uint64_t seed, const Options& options)
    : seed_(seed),
      options_(options),
      scenario_(make_scenario(seed, options)),
      keys_(seed, scenario_.n, scenario_.correct_clients + scenario_.faulty_clients),
      checker_crypto_(keys_, Principal::replica(0)),
      network_prng_(mix64(seed ^ 0x6e6574ull)),
      byzantine_prng_(mix64(seed ^ 0x62797aull)),
      client_prng_(mix64(seed ^ 0x636c69ull)),
      validity_(signed_) {
  result_.seed = seed;
  result_.scenario = scenario_.describe();
  const ClusterConfig& config = scenario_.config;

  replicas_.resize(scenario_.n);
  for (ReplicaId i = 0; i < scenario_.n; ++i) {
    ReplicaNode& node = replicas_[i];
    node.id = i;
    node.clock = scenario_.clocks[i];
    node.crypto = std::make_unique<FakeCrypto>(keys_, Principal::replica(i));
    if (scenario_.byzantine[i] != 0) {
      node.byzantine = std::make_unique<ByzantineReplica>(
          config, i, *node.crypto, scenario_.byzantine[i], byzantine_prng_.fork(), mix64(seed ^ 0x636f6cull),
          scenario_.store_backed ? std::optional<std::uint32_t>(scenario_.genesis_keys) : std::nullopt);
    } else {
      if (scenario_.store_backed) write_genesis(node.store, *node.crypto, scenario_.genesis_keys);
      start_replica(node);
    }
  }
  const std::uint32_t total_clients = scenario_.correct_clients + scenario_.faulty_clients;
  clients_.resize(total_clients);
  std::vector<ClientId> victims;
  for (ClientId c = 0; c < scenario_.correct_clients; ++c) victims.push_back(c);
  for (ClientId c = 0; c < total_clients; ++c) {
    ClientNode& client = clients_[c];
    client.id = c;
    client.crypto = std::make_unique<FakeCrypto>(keys_, Principal::client(c));
    if (c < scenario_.correct_clients) {
      client.session = std::make_unique<client::Session>(config, c, *client.crypto);
      client.workload.emplace(client_prng_.fork(), scenario_.workload, c);
    } else {
      client.faulty = std::make_unique<FaultyClient>(config, c, *client.crypto,
                                                     scenario_.faulty_behaviours[c - scenario_.correct_clients],
                                                     victims, client_prng_.fork());
    }
  }
}

void Simulation::start_replica(ReplicaNode& node) {
  SYNOD_ASSERT(node.core == nullptr && node.byzantine == nullptr, "start a correct replica that is down");
  node.app = std::make_unique<examples::KvStore>();
  node.store_app = std::make_unique<examples::StoreKv>();
  ++node.incarnation;
  const std::uint64_t paxos_seed = mix64(seed_ ^ 0x7061786f73ull ^ (node.incarnation << 32));
  Result<std::unique_ptr<Replica>> core;
  if (scenario_.config.protocol == Protocol::paxos) {
    core = scenario_.store_backed ? paxos::make_replica(scenario_.config, node.id, *node.crypto, *node.store_app,
                                                        node.store, node.durable, paxos_seed, options_.paxos_bugs)
                                  : paxos::make_replica(scenario_.config, node.id, *node.crypto, *node.app,
                                                        node.durable, paxos_seed, options_.paxos_bugs);
  } else {
    core = scenario_.store_backed ? pbft::make_replica(scenario_.config, node.id, *node.crypto, *node.store_app,
                                                       node.store, node.durable, options_.bugs)
                                  : pbft::make_replica(scenario_.config, node.id, *node.crypto, *node.app,
                                                       node.durable, options_.bugs);
  }
  if (!core) {
    // A correct replica must come back from whatever it persisted.
    simulator_errors_.push_back("replica " + std::to_string(node.id) + " cannot start from its durable state: " +
                                core.error().describe());
    node.app.reset();
    return;
  }
  node.core = std::move(*core);
  node.seen_view_changes = 0;
  node.seen_state_transfers = 0;
  // A fresh core arms its timers on its first input: give it one now.
  schedule_replica_timer(node, now_ + 1);
}

void Simulation::push(Event e) {
  SYNOD_ASSERT(e.at >= now_, "events are scheduled in the future");
  e.order = next_order_++;
  queue_.push(std::move(e));
}

void Simulation::schedule_replica_timer(ReplicaNode& node, TimeUs deadline) {
  if (deadline == kNever) {
    ++node.timer_generation;  // cancels the pending one
    node.timer_at = kNever;
    return;
  }
  const TimeUs at = std::max(deadline, now_ + 1);
  if (at == node.timer_at) return;  // already scheduled
  node.timer_at = at;
  Event e;
  e.at = at;
  e.kind = EventKind::replica_timer;
  e.to = Principal::replica(node.id);
  e.generation = ++node.timer_generation;
  push(std::move(e));
}

void Simulation::schedule_client_timer(ClientNode& client) {
  const TimeUs deadline = client.session->next_deadline();
  if (deadline == client::kNoDeadline) {
    ++client.timer_generation;
    client.timer_at = kNever;
    return;
  }
  const TimeUs at = std::max(deadline, now_ + 1);
  if (at == client.timer_at) return;
  client.timer_at = at;
  Event e;
  e.at = at;
  e.kind = EventKind::client_timer;
  e.to = Principal::client(client.id);
  e.generation = ++client.timer_generation;
  push(std::move(e));
}

bool Simulation::partitioned(ReplicaId a, ReplicaId b) const {
  if (!active_partition_) return false;
  const Partition& p = partitions_[*active_partition_];
  return p.side[a] != p.side[b];
}

void Simulation::route(Principal from, Destination to, Bytes frame) {
  const auto shared = std::make_shared<const Bytes>(std::move(frame));
  switch (to.kind) {
    case Destination::Kind::all_replicas:
      // A replica's broadcast goes to the others (a core handles its own
      // votes internally and rejects frames from itself).
      for (ReplicaId j = 0; j < scenario_.n; ++j) {
        if (!(from.is_replica() && from.id == j)) send_one(from, Principal::replica(j), shared);
      }
      return;
    case Destination::Kind::replica:
      if (to.id < scenario_.n) send_one(from, Principal::replica(to.id), shared);
      return;
    case Destination::Kind::client:
      if (to.id < clients_.size()) send_one(from, Principal::client(to.id), shared);
      return;
  }
}

void Simulation::send_one(Principal from, Principal to, const std::shared_ptr<const Bytes>& frame) {
  ++result_.messages_sent;
  const NetworkShape& net = healed_ ? scenario_.healed_net : scenario_.faulty_net;
  const bool cut = from.is_replica() && to.is_replica() && partitioned(from.id, to.id);
  if (cut || network_prng_.chance_ppm(net.drop_ppm)) {
    if (options_.trace) {
      trace(describe_principal(from) + " -> " + describe_principal(to) + " dropped" + (cut ? " (partition) " : " ") +
            describe_frame(*frame));
    }
    return;
  }
  const int copies = network_prng_.chance_ppm(net.duplicate_ppm) ? 2 : 1;
  std::shared_ptr<const Bytes> delivered = frame;
  if (!frame->empty() && network_prng_.chance_ppm(net.corrupt_ppm)) {
    // Garbage on the wire: every receiver must reject it, never crash on it.
    auto corrupted = std::make_shared<Bytes>(*frame);
    (*corrupted)[network_prng_.below(corrupted->size())] ^= static_cast<std::uint8_t>(1u << network_prng_.below(8));
    delivered = std::move(corrupted);
  }
  for (int copy = 0; copy < copies; ++copy) {
    TimeUs delay_us = net.base_delay_us + network_prng_.exponential(net.tail_mean_us, net.tail_cap_us);
    if (network_prng_.chance_ppm(net.reorder_ppm)) delay_us += network_prng_.below(net.reorder_max_us + 1);
    Event e;
    e.at = now_ + std::max<TimeUs>(delay_us, 1);
    e.kind = EventKind::deliver;
    e.from = from;
    e.to = to;
    e.frame = delivered;
    push(std::move(e));
  }
}

void Simulation::observe_status(ReplicaNode& node) {
  const ReplicaStatus status = node.core->status();
  checkpoints_.on_status(node.id, status.stable_checkpoint, status.state_digest);
  if (options_.trace) {
    const std::string who = "r" + std::to_string(node.id);
    if (status.view != node.traced_view || status.changing_view != node.traced_changing) {
      trace(who + (status.changing_view ? " CHANGING VIEW to " : " IN VIEW ") + std::to_string(status.view) +
            " (primary r" + std::to_string(status.leader) + ", executed " + std::to_string(status.last_executed) +
            ")");
    }
    if (status.stable_checkpoint != node.traced_stable) {
      trace(who + " STABLE CHECKPOINT s=" + std::to_string(status.stable_checkpoint) +
            " d=" + short_hex(status.state_digest));
    }
    node.traced_view = status.view;
    node.traced_changing = status.changing_view;
    node.traced_stable = status.stable_checkpoint;
  }
  // Counters restart with each incarnation; accumulate their growth.
  if (status.view_changes > node.seen_view_changes) {
    node.view_changes += status.view_changes - node.seen_view_changes;
    node.seen_view_changes = status.view_changes;
  }
  if (status.state_transfers > node.seen_state_transfers) {
    result_.state_transfers += status.state_transfers - node.seen_state_transfers;
    node.seen_state_transfers = status.state_transfers;
  }
}

void Simulation::check_sent(const ReplicaNode& node, ByteView frame) {
  // Only the votes and view changes the durability checker judges are
  // decoded (decoding every frame would double the simulator's cost).
  const auto envelope = wire::decode_envelope(frame);
  SYNOD_ASSERT(envelope.has_value(), "a correct replica sends well-formed frames");
  if (envelope->type == wire::MsgType::catch_up || envelope->type == wire::MsgType::committed_batches) {
    ++result_.catch_ups;
  }
  switch (envelope->type) {
    case wire::MsgType::pre_prepare:
    case wire::MsgType::prepare:
    case wire::MsgType::commit:
    case wire::MsgType::view_change:
    case wire::MsgType::new_view: break;
    default: return;
  }
  const auto message = wire::decode_message(*envelope);
  SYNOD_ASSERT(message.has_value(), "a correct replica sends well-formed messages");
  durability_.on_sent(node.id, *message);
}

void Simulation::step_correct(ReplicaNode& node, const Bytes* frame) {
  SYNOD_ASSERT(node.core != nullptr, "only a running replica steps");
  effects_.clear();
  // A core reads time only from its inputs: its own (drifting) clock.
  const TimeUs local_now = node.clock.local(now_);
  if (frame != nullptr) {
    node.core->receive(local_now, *frame, effects_);
  } else {
    node.core->tick(local_now, effects_);
  }
  // replica.hpp: persist first, all of it, in order; only then send.
  for (PersistOp& op : effects_.persist) {
    if (op.value) {
      node.durable[op.key] = std::move(*op.value);
    } else {
      node.durable.erase(op.key);
    }
  }
  node.store.commit();  // the store's writes in the same commit (synod/store.hpp)
  for (const ExecutedBatch& batch : effects_.executed) {
    if (options_.trace) {
      std::string keys;
      for (const ExecutedRequest& r : batch.requests) {
        keys += " c" + std::to_string(r.client) + "t" + std::to_string(r.request);
      }
      trace("r" + std::to_string(node.id) + " EXECUTE s=" + std::to_string(batch.seq) +
            " d=" + short_hex(batch.batch_digest) + " [" + (keys.empty() ? "" : keys.substr(1)) + "]");
    }
    agreement_.on_executed(node.id, batch);
    validity_.on_executed(node.id, batch);
  }
  observe_status(node);
  if (node.crash_after_persist && !effects_.persist.empty()) {
    // The crash lands between the fsync and the sends: what was persisted
    // stays, what was about to be sent is lost.
    crash(node, "after persist, before send");
    return;
  }
  for (OutboundFrame& out : effects_.send) {
    check_sent(node, out.frame);
    route(Principal::replica(node.id), out.to, std::move(out.frame));
  }
  const TimeUs deadline = node.core->next_deadline();
  schedule_replica_timer(node, deadline == kNever ? kNever : node.clock.global(deadline));
}

void Simulation::step_byzantine(ReplicaNode& node, Principal from, const Bytes* frame) {
  outbound_.clear();
  if (frame != nullptr) {
    node.byzantine->receive(now_, from, *frame, outbound_);
  } else {
    node.byzantine->tick(now_, outbound_);
  }
  for (OutboundFrame& out : outbound_) route(Principal::replica(node.id), out.to, std::move(out.frame));
  schedule_replica_timer(node, node.byzantine->next_deadline());
}

void Simulation::crash(ReplicaNode& node, const char* how) {
  SYNOD_ASSERT(node.core != nullptr && node.byzantine == nullptr, "crash a running correct replica");
  if (options_.trace) trace("r" + std::to_string(node.id) + " CRASH " + how);
  // Volatile state is gone; node.durable (and node.store's committed
  // tables) is what the disk kept.
  node.core.reset();
  node.app.reset();
  node.store.crash();
  node.crash_after_persist = false;
  schedule_replica_timer(node, kNever);
}

void Simulation::restart(ReplicaNode& node) {
  if (node.core != nullptr || node.byzantine != nullptr) return;
  if (options_.trace) {
    trace("r" + std::to_string(node.id) + " RESTART from " + std::to_string(node.durable.size()) + " durable keys");
  }
  start_replica(node);
}

void Simulation::heal() {
  if (options_.trace) trace("HEAL: network healed, crashed replicas restart, no new faults");
  healed_ = true;
  active_partition_.reset();
  for (ReplicaNode& node : replicas_) {
    node.crash_after_persist = false;
    if (node.byzantine == nullptr && node.core == nullptr) restart(node);
  }
}

void Simulation::record_signed_request(const wire::Request& request) {
  signed_.add(request.client, request.t, checker_crypto_.digest(request.op), request.op);
}

void Simulation::record_signed_request(ByteView frame) {
  const auto envelope = wire::decode_envelope(frame);
  SYNOD_ASSERT(envelope.has_value(), "a correct client sends well-formed frames");
  const auto request = wire::decode<wire::Request>(envelope->payload);
  SYNOD_ASSERT(request.has_value(), "a correct client sends requests");
  record_signed_request(*request);
}

void Simulation::submit(ClientNode& client) {
  SYNOD_ASSERT(client.session != nullptr && !client.session->busy(), "submit from an idle correct client");
  const RequestNo t = client.session->next_t();
  Workload::Next next = client.workload->next(t);
  ClientOp op;
  op.client = client.id;
  op.t = t;
  op.op = next.op;
  op.read_only = next.read_only;
  op.invoked = stamp();
  session_effects_.clear();
  const auto submitted = client.session->submit(now_, next.op, next.read_only, session_effects_);
  SYNOD_ASSERT(submitted.has_value(), "the workload's ops fit and the client is idle");
  if (options_.trace) {
    trace("c" + std::to_string(client.id) + " SUBMIT t=" + std::to_string(t) + (next.read_only ? " ro " : " ") +
          describe_kv_op(next.op));
  }
  client.current = history_.size();
  history_.push_back(std::move(op));
  after_client_effects(client);
}

void Simulation::client_step(ClientNode& client, const Bytes* frame) {
  session_effects_.clear();
  if (frame != nullptr) {
    client.session->receive(now_, *frame, session_effects_);
    if (session_effects_.completed && scenario_.config.protocol == Protocol::paxos) {
      // Paxos: one reply completes a request; the leader marks a read it
      // served from its lease (not ordered). The checker must judge it as
      // a read against the committed prefixes, not look for it in the log.
      const auto envelope = wire::decode_envelope(*frame);
      SYNOD_ASSERT(envelope.has_value(), "a completing reply is well formed");
      const auto reply = wire::decode<wire::Reply>(envelope->payload);
      SYNOD_ASSERT(reply.has_value(), "a completing reply is a reply");
      session_effects_.completed->read_only = reply->read_only;
    }
  } else {
    client.session->tick(now_, session_effects_);
  }
  after_client_effects(client);
}

void Simulation::after_client_effects(ClientNode& client) {
  for (OutboundFrame& out : session_effects_.send) {
    record_signed_request(out.frame);
    route(Principal::client(client.id), out.to, std::move(out.frame));
  }
  if (session_effects_.completed) {
    const client::Completion& done = *session_effects_.completed;
    SYNOD_ASSERT(client.current.has_value(), "a completion answers the outstanding op");
    ClientOp& op = history_[*client.current];
    SYNOD_ASSERT(op.t == done.t && !op.completed, "completed once, the op that was outstanding");
    op.completed = stamp();
    op.result = done.result;
    op.accepted_read_only = done.read_only;
    client.workload->observe(op.op, op.result);
    client.current.reset();
    ++result_.requests_completed;
    if (done.read_only) ++result_.unordered_reads;
    if (healed_ && op.invoked.us >= scenario_.heal_us) ++client.completed_after_heal;
    if (options_.trace) {
      trace("c" + std::to_string(client.id) + " DONE t=" + std::to_string(op.t) + " " + describe_kv_op(op.op) +
            " -> " + describe_kv_result(op.result) + (done.read_only ? " (read-only quorum)" : "") +
            " latency=" + std::to_string(done.latency_us) + "us");
    }
    Event e;
    e.at = now_ + client.workload->think_us();
    e.kind = EventKind::client_submit;
    e.to = Principal::client(client.id);
    push(std::move(e));
  }
  schedule_client_timer(client);
}

void Simulation::faulty_act(ClientNode& client) {
  outbound_.clear();
  signed_scratch_.clear();
  client.faulty->act(outbound_, signed_scratch_);
  for (const wire::Request& request : signed_scratch_) record_signed_request(request);
  for (OutboundFrame& out : outbound_) route(Principal::client(client.id), out.to, std::move(out.frame));
  Event e;
  e.at = now_ + scenario_.faulty_interval_us;
  e.kind = EventKind::faulty_act;
  e.to = Principal::client(client.id);
  push(std::move(e));
}

void Simulation::deliver(const Event& e) {
  if (e.to.is_client()) {
    ClientNode& client = clients_.at(e.to.id);
    if (client.session == nullptr) return;  // faulty clients ignore replies
    if (options_.trace) trace(describe_principal(e.from) + " -> c" + std::to_string(e.to.id) + " " + describe_frame(*e.frame));
    client_step(client, e.frame.get());
    return;
  }
  ReplicaNode& node = replicas_.at(e.to.id);
  if (options_.trace) {
    trace(describe_principal(e.from) + " -> r" + std::to_string(e.to.id) +
          (node.byzantine == nullptr && node.core == nullptr ? " lost (crashed) " : " ") + describe_frame(*e.frame));
  }
  if (node.byzantine != nullptr) {
    step_byzantine(node, e.from, e.frame.get());
  } else if (node.core != nullptr) {
    step_correct(node, e.frame.get());
  }
}

void Simulation::handle(Event& e) {
  switch (e.kind) {
    case EventKind::deliver: deliver(e); return;
    case EventKind::replica_timer: {
      ReplicaNode& node = replicas_.at(e.to.id);
      if (e.generation != node.timer_generation) return;  // superseded
      node.timer_at = kNever;
      if (node.byzantine != nullptr) {
        step_byzantine(node, e.to, nullptr);
      } else if (node.core != nullptr) {
        step_correct(node, nullptr);
      }
      return;
    }
    case EventKind::client_timer: {
      ClientNode& client = clients_.at(e.to.id);
      if (e.generation != client.timer_generation) return;
      client.timer_at = kNever;
      client_step(client, nullptr);
      return;
    }
    case EventKind::client_submit: submit(clients_.at(e.to.id)); return;
    case EventKind::crash: {
      const CrashPlan& plan = scenario_.crashes.at(e.generation);
      ReplicaNode& node = replicas_.at(plan.replica);
      if (healed_ || node.core == nullptr) return;
      if (plan.after_persist) {
        node.crash_after_persist = true;  // lands inside its next persisting step
      } else {
        crash(node, "");
      }
      return;
    }
    case EventKind::restart: {
      ReplicaNode& node = replicas_.at(scenario_.crashes.at(e.generation).replica);
      node.crash_after_persist = false;  // a pending mid-step crash that never landed
      restart(node);
      return;
    }
    case EventKind::partition_start:
      if (healed_) return;
      active_partition_ = e.generation;
      resolve_partition(partitions_[e.generation]);
      if (options_.trace) {
        std::string sides;
        for (bool side : partitions_[e.generation].side) sides += side ? 'B' : 'A';
        trace("PARTITION " + sides + " (replica i on side sides[i])");
      }
      return;
    case EventKind::partition_end:
      if (active_partition_ == e.generation) {
        active_partition_.reset();
        if (options_.trace) trace("PARTITION healed");
      }
      return;
    case EventKind::heal: heal(); return;
    case EventKind::inject: {
      ReplicaNode& node = replicas_.at(e.to.id);
      outbound_.clear();
      node.byzantine->inject(now_, outbound_);
      for (OutboundFrame& out : outbound_) route(Principal::replica(node.id), out.to, std::move(out.frame));
      Event next;
      next.at = now_ + scenario_.inject_interval_us;
      next.kind = EventKind::inject;
      next.to = e.to;
      push(std::move(next));
      return;
    }
    case EventKind::faulty_act: faulty_act(clients_.at(e.to.id)); return;
  }
}

void Simulation::resolve_partition(Partition& p) {
  if (!p.isolate_leader) return;
  // The running replica that leads under the highest ballot goes to side B:
  // an isolated leader that still believes it leads, while the majority
  // elects another.
  std::optional<ReplicaId> leader;
  View best = 0;
  for (const ReplicaNode& node : replicas_) {
    if (node.core == nullptr) continue;
    const ReplicaStatus status = node.core->status();
    if (status.is_leader && (!leader || status.view >= best)) {
      leader = node.id;
      best = status.view;
    }
  }
  if (!leader) return;
  // Side B must stay a minority: if the leader joins a side B that already
  // holds f others, it swaps places with one of them.
  std::size_t b_count = 0;
  for (bool side : p.side) b_count += side ? 1 : 0;
  if (!p.side[*leader] && b_count + 1 > scenario_.f) {
    for (ReplicaId r = 0; r < p.side.size(); ++r) {
      if (p.side[r]) {
        p.side[r] = false;
        break;
      }
    }
  }
  p.side[*leader] = true;
}

bool Simulation::liveness_done() const {
  if (!healed_) return false;
  for (ClientId c = 0; c < scenario_.correct_clients; ++c) {
    if (clients_[c].completed_after_heal < options_.liveness_ops) return false;
  }
  return true;
}

void Simulation::trace(const std::string& line) {
  SYNOD_ASSERT(options_.trace != nullptr, "trace only when asked");
  // Flushed line by line: when a core's assertion aborts the process, the
  // trace must already show the events that led there.
  const std::string time = describe_time(now_);
  *options_.trace << std::string(time.size() < 12 ? 12 - time.size() : 0, ' ') << time << "  " << line << std::endl;
}

void Simulation::fingerprint(const Event& e) {
  std::uint64_t h = result_.fingerprint;
  h = mix64(h ^ e.at);
  h = mix64(h ^ (static_cast<std::uint64_t>(e.kind) << 56) ^ (static_cast<std::uint64_t>(e.to.id) << 8) ^
            static_cast<std::uint64_t>(e.to.kind));
  if (e.frame) h = mix64(h ^ fast_hash64(*e.frame, e.frame->size()));
  result_.fingerprint = h;
}

RunResult Simulation::run() {
  if (options_.trace) *options_.trace << "seed " << seed_ << ": " << scenario_.describe() << '\n';
  // The fault schedule, drawn up front by the scenario.
  for (std::size_t i = 0; i < scenario_.crashes.size(); ++i) {
    push(Event{scenario_.crashes[i].crash_us, 0, EventKind::crash, {}, {}, i, nullptr});
    push(Event{scenario_.crashes[i].restart_us, 0, EventKind::restart, {}, {}, i, nullptr});
  }
  partitions_ = scenario_.partitions;
  for (std::size_t i = 0; i < scenario_.partitions.size(); ++i) {
    push(Event{scenario_.partitions[i].start_us, 0, EventKind::partition_start, {}, {}, i, nullptr});
    push(Event{scenario_.partitions[i].end_us, 0, EventKind::partition_end, {}, {}, i, nullptr});
  }
  push(Event{scenario_.heal_us, 0, EventKind::heal, {}, {}, 0, nullptr});
  for (ReplicaNode& node : replicas_) {
    if (node.byzantine == nullptr) continue;
    push(Event{scenario_.inject_interval_us, 0, EventKind::inject, {}, Principal::replica(node.id), 0, nullptr});
    schedule_replica_timer(node, 1);
  }
  for (ClientNode& client : clients_) {
    const TimeUs start_us = 1 + client_prng_.below(10'000);
    const EventKind kind = client.session ? EventKind::client_submit : EventKind::faulty_act;
    push(Event{start_us, 0, kind, {}, Principal::client(client.id), 0, nullptr});
  }

  const TimeUs end_us = std::min(options_.max_virtual_us, scenario_.heal_us + options_.liveness_bound_us);
  bool event_limit = false;
  while (!queue_.empty()) {
    if (queue_.top().at > end_us) {
      now_ = end_us;
      break;
    }
    Event e = queue_.top();
    queue_.pop();
    SYNOD_ASSERT(e.at >= now_, "virtual time never goes backwards");
    now_ = e.at;
    ++events_;
    fingerprint(e);
    handle(e);
    if (liveness_done()) break;
    if (events_ >= kMaxEventsPerRun || queue_.size() >= kMaxQueuedEvents) {
      event_limit = true;
      break;
    }
  }
  return finish(event_limit);
}

RunResult Simulation::finish(bool event_limit) {
  AtMostOnceChecker at_most_once;
  at_most_once.check(agreement_.order());
  LinearizabilityChecker linearizability([] { return std::make_unique<examples::KvStore>(); },
                                         [this](ByteView op) { return checker_crypto_.digest(op); }, signed_,
                                         Describe{describe_kv_op, describe_kv_result});
  linearizability.check(agreement_.order(), history_);
  LivenessChecker liveness(scenario_.heal_us, options_.liveness_bound_us, options_.liveness_ops);
  std::vector<ClientId> correct;
  for (ClientId c = 0; c < scenario_.correct_clients; ++c) correct.push_back(c);
  liveness.check(history_, correct, now_);

  const auto collect = [](const ViolationLog& log, std::vector<std::string>& out, std::uint64_t& count) {
    out.insert(out.end(), log.messages().begin(), log.messages().end());
    count += log.count();
  };
  collect(agreement_.log(), result_.safety, result_.safety_violation_count);
  collect(validity_.log(), result_.safety, result_.safety_violation_count);
  collect(at_most_once.log(), result_.safety, result_.safety_violation_count);
  collect(linearizability.log(), result_.safety, result_.safety_violation_count);
  collect(checkpoints_.log(), result_.safety, result_.safety_violation_count);
  collect(durability_.log(), result_.safety, result_.safety_violation_count);
  for (const std::string& error : simulator_errors_) {
    result_.safety.push_back("durability: " + error);
    ++result_.safety_violation_count;
  }
  collect(liveness.log(), result_.liveness, result_.liveness_failure_count);
  if (event_limit) {
    result_.liveness.push_back("liveness: the run hit the simulator's event limit at " + describe_time(now_) +
                               " (a livelock or a message storm)");
    ++result_.liveness_failure_count;
  }
  for (const ReplicaNode& node : replicas_) {
    if (node.byzantine == nullptr) result_.view_changes = std::max(result_.view_changes, node.view_changes);
  }
  result_.events = events_;
  result_.checkpoints = checkpoints_.checkpoints();
  result_.end_us = now_;
  if (options_.trace) {
    *options_.trace << "end at " << describe_time(now_) << ": " << result_.requests_completed << " requests completed, "
                    << result_.safety_violation_count << " safety violations, " << result_.liveness_failure_count
                    << " liveness failures\n";
  }
  return std::move(result_);
}

}  // namespace

Result<RunResult> run_seed(std::uint64_t seed, const Options& options) {
  if (options.protocol != Protocol::pbft && options.protocol != Protocol::paxos) {
    return fail(ErrorCode::invalid_argument, "the simulator runs --protocol pbft or paxos");
  }
  if (options.f && (*options.f == 0 || *options.f > 32)) {
    return fail(ErrorCode::invalid_argument, "--f must be between 1 and 32");
  }
  if ((options.faults & ~static_cast<std::uint32_t>(fault::all)) != 0) {
    return fail(ErrorCode::invalid_argument, "unknown fault classes in the mask");
  }
  Simulation simulation(seed, options);
  return simulation.run();
}

// ------------------------------------------------------------------ options

Result<std::uint32_t> parse_faults(std::string_view list) {
  if (list == "all") return static_cast<std::uint32_t>(fault::all);
  if (list == "none" || list.empty()) return 0u;
  std::uint32_t mask = 0;
  constexpr std::size_t kMaxItems = 16;
  for (std::size_t items = 0; items < kMaxItems && !list.empty(); ++items) {
    const std::size_t comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    if (item == "network") {
      mask |= fault::network;
    } else if (item == "crash") {
      mask |= fault::crash;
    } else if (item == "byzantine") {
      mask |= fault::byzantine;
    } else if (item == "clients") {
      mask |= fault::clients;
    } else if (item == "all") {
      mask |= fault::all;
    } else {
      return fail(ErrorCode::invalid_argument, "unknown fault class \"" + std::string(item) +
                                                   "\" (expected network, crash, byzantine, clients, all or none)");
    }
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
  }
  if (!list.empty()) return fail(ErrorCode::invalid_argument, "too many fault classes");
  return mask;
}

std::string describe_faults(std::uint32_t faults) {
  if (faults == fault::all) return "all";
  if (faults == 0) return "none";
  std::string text;
  const auto add = [&](std::uint32_t bit, const char* name) {
    if ((faults & bit) == 0) return;
    if (!text.empty()) text += ",";
    text += name;
  };
  add(fault::network, "network");
  add(fault::crash, "crash");
  add(fault::byzantine, "byzantine");
  add(fault::clients, "clients");
  return text;
}

namespace {

struct BugName {
  const char* name;
  bool pbft::Bugs::*field;
};

constexpr BugName kBugNames[] = {
    {"commit-quorum-f1", &pbft::Bugs::commit_quorum_f_plus_1},
    {"skip-digest-check", &pbft::Bugs::skip_pre_prepare_digest_check},
    {"skip-new-view-check", &pbft::Bugs::skip_new_view_check},
    {"forget-prepared", &pbft::Bugs::forget_prepared_on_restart},
    {"skip-request-auth", &pbft::Bugs::skip_request_authentication},
    {"execute-duplicates", &pbft::Bugs::execute_duplicates},
    {"unverified-tree-leaves", &pbft::Bugs::unverified_tree_leaves},
    {"stale-subtree", &pbft::Bugs::stale_subtree_after_transfer},
};

}  // namespace

Result<void> set_bug(std::string_view name, pbft::Bugs& bugs) {
  for (const BugName& bug : kBugNames) {
    if (name == bug.name) {
      bugs.*bug.field = true;
      return {};
    }
  }
  std::string known;
  for (const BugName& bug : kBugNames) known += std::string(known.empty() ? "" : ", ") + bug.name;
  return fail(ErrorCode::invalid_argument, "unknown bug \"" + std::string(name) + "\" (known: " + known + ")");
}

struct PaxosBugName {
  const char* name;
  bool paxos::Bugs::*field;
};

constexpr PaxosBugName kPaxosBugNames[] = {
    {"skip-promise-persistence", &paxos::Bugs::skip_promise_persistence},
    {"ignore-promised-values", &paxos::Bugs::ignore_promised_values},
    {"chosen-on-f-accepts", &paxos::Bugs::chosen_on_f_accepts},
    {"lease-read-without-lease", &paxos::Bugs::lease_read_without_lease},
};

Result<void> set_bug(std::string_view name, paxos::Bugs& bugs) {
  for (const PaxosBugName& bug : kPaxosBugNames) {
    if (name == bug.name) {
      bugs.*bug.field = true;
      return {};
    }
  }
  std::string known;
  for (const PaxosBugName& bug : kPaxosBugNames) known += std::string(known.empty() ? "" : ", ") + bug.name;
  return fail(ErrorCode::invalid_argument,
              "unknown paxos bug \"" + std::string(name) + "\" (known: " + known + ")");
}

std::string describe_bugs(const paxos::Bugs& bugs) {
  std::string text;
  for (const PaxosBugName& bug : kPaxosBugNames) {
    if (bugs.*bug.field) text += std::string(text.empty() ? "" : ",") + bug.name;
  }
  return text;
}

std::vector<std::string> bug_names(Protocol protocol) {
  std::vector<std::string> names;
  if (protocol == Protocol::paxos) {
    for (const PaxosBugName& bug : kPaxosBugNames) names.emplace_back(bug.name);
  } else {
    for (const BugName& bug : kBugNames) names.emplace_back(bug.name);
  }
  return names;
}

std::string describe_bugs(const pbft::Bugs& bugs) {
  std::string text;
  for (const BugName& bug : kBugNames) {
    if (bugs.*bug.field) text += std::string(text.empty() ? "" : ",") + bug.name;
  }
  return text;
}

}  // namespace synod::sim
