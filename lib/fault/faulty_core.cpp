#include "fault/faulty_core.hpp"

#include <algorithm>
#include <deque>
#include <iterator>
#include <limits>

#include "fault/byzantine.hpp"
#include "synod/assert.hpp"
#include "wire/codec.hpp"

namespace synod::fault {

namespace {

constexpr ModeInfo kModes[] = {
    {Mode::silent, "silent", "sends nothing (to replicas or clients)", true},
    {Mode::equivocate, "equivocate", "as primary: different batches to different backups", false},
    {Mode::corrupt_signatures, "corrupt-signatures", "bad authenticators on some frames to replicas", false},
    {Mode::conflicting_votes, "conflicting-votes", "PREPARE/COMMIT with random digests to half the replicas", false},
    {Mode::stale_replay, "stale-replay", "keeps resending old frames (its own and others')", false},
    {Mode::lying_view_change, "lying-view-change", "VIEW-CHANGE with forged or missing certificates, NEW-VIEW with a wrong O", false},
    {Mode::bad_checkpoint, "bad-checkpoint", "CHECKPOINT with a wrong state digest", false},
    {Mode::flood, "flood", "validly signed far-future messages at full speed", false},
    {Mode::slow, "slow", "delays every outgoing frame (--fault-delay-ms)", true},
};

// Bounds on what `slow` holds back; beyond them a frame is dropped, as a
// full socket queue would drop it.
constexpr std::size_t kMaxDelayedFrames = 1u << 16;
constexpr std::size_t kMaxDelayedBytes = 64u << 20;

// Crash-style faults: the honest core runs unchanged (and persists as
// usual: durable before visible still holds); only its frames are dropped
// (silent) or held back (slow).
class CrashStyleCore final : public Replica {
 public:
  CrashStyleCore(Mode mode, std::unique_ptr<Replica> honest, const FaultSettings& settings)
      : mode_(mode), honest_(std::move(honest)), delay_us_(TimeUs{settings.slow_delay_ms} * 1000) {}

  void receive(TimeUs now, ByteView frame, Effects& out) override {
    scratch_.clear();
    honest_->receive(now, frame, scratch_);
    pass(now, out);
  }

  void tick(TimeUs now, Effects& out) override {
    scratch_.clear();
    if (honest_->next_deadline() <= now) honest_->tick(now, scratch_);
    pass(now, out);
  }

  TimeUs next_deadline() const override {
    const TimeUs inner = honest_->next_deadline();
    return delayed_.empty() ? inner : std::min(inner, delayed_.front().at);
  }

  ReplicaStatus status() const override { return honest_->status(); }

 private:
  struct Delayed {
    TimeUs at;
    OutboundFrame frame;
  };

  void pass(TimeUs now, Effects& out) {
    std::move(scratch_.persist.begin(), scratch_.persist.end(), std::back_inserter(out.persist));
    std::move(scratch_.executed.begin(), scratch_.executed.end(), std::back_inserter(out.executed));
    if (mode_ == Mode::slow) {
      for (OutboundFrame& frame : scratch_.send) {
        if (delayed_.size() >= kMaxDelayedFrames || delayed_bytes_ + frame.frame.size() > kMaxDelayedBytes) continue;
        delayed_bytes_ += frame.frame.size();
        delayed_.push_back({now + delay_us_, std::move(frame)});
      }
      // Release in order: every frame waits the same delay, so the queue is sorted by time.
      while (!delayed_.empty() && delayed_.front().at <= now) {
        delayed_bytes_ -= delayed_.front().frame.frame.size();
        out.send.push_back(std::move(delayed_.front().frame));
        delayed_.pop_front();
      }
    }
    // silent: the frames are dropped.
    scratch_.clear();
  }

  Mode mode_;
  std::unique_ptr<Replica> honest_;
  TimeUs delay_us_;
  Effects scratch_;
  std::deque<Delayed> delayed_;
  std::size_t delayed_bytes_ = 0;
};

std::uint32_t strategy_of(Mode mode) {
  switch (mode) {
    case Mode::equivocate: return byzantine::equivocate;
    case Mode::corrupt_signatures: return byzantine::corrupt_signatures;
    case Mode::conflicting_votes: return byzantine::conflicting_votes;
    case Mode::stale_replay: return byzantine::replay;
    case Mode::lying_view_change: return byzantine::bad_view_change | byzantine::bad_new_view;
    case Mode::bad_checkpoint: return byzantine::bad_checkpoint;
    case Mode::flood: return byzantine::flood;
    case Mode::silent:
    case Mode::slow: break;
  }
  return 0;
}

// A ByzantineReplica behind the synod::Replica interface. Its own
// misbehaviour (replays, floods) runs from tick(): next_deadline() asks for
// a tick at every injection time.
class ByzantineCore final : public Replica {
 public:
  ByzantineCore(const ClusterConfig& config, std::unique_ptr<ByzantineReplica> replica, TimeUs inject_interval_us,
                bool injects)
      : config_(&config), replica_(std::move(replica)), inject_interval_us_(inject_interval_us), injects_(injects) {}

  void receive(TimeUs now, ByteView frame, Effects& out) override {
    // The claimed sender only routes input between Twins' cores and picks
    // client requests to remember; a malformed frame goes to the core as
    // is (it rejects and counts it).
    const auto envelope = wire::decode_envelope(frame, config_->max_frame_bytes);
    const Principal from = envelope ? envelope->sender : Principal::client(0);
    replica_->receive(now, from, frame, out.send);
    forward_persisted(out);
  }

  void tick(TimeUs now, Effects& out) override {
    if (replica_->next_deadline() <= now) replica_->tick(now, out.send);
    if (injects_ && now >= next_inject_us_) {
      replica_->inject(now, out.send);
      next_inject_us_ = now + inject_interval_us_;
    }
    forward_persisted(out);
  }

  TimeUs next_deadline() const override {
    const TimeUs inner = replica_->next_deadline();
    return injects_ ? std::min(inner, next_inject_us_) : inner;
  }

  ReplicaStatus status() const override { return replica_->status(); }

 private:
  void forward_persisted(Effects& out) {
    std::vector<PersistOp> ops = replica_->take_persisted();
    std::move(ops.begin(), ops.end(), std::back_inserter(out.persist));
  }

  const ClusterConfig* config_;
  std::unique_ptr<ByzantineReplica> replica_;
  TimeUs inject_interval_us_;
  bool injects_;
  TimeUs next_inject_us_ = 0;
};

}  // namespace

std::span<const ModeInfo> modes() { return kModes; }

const char* to_string(Mode mode) {
  for (const ModeInfo& info : kModes) {
    if (info.mode == mode) return info.name;
  }
  return "unknown";
}

std::string mode_names() {
  std::string names;
  for (const ModeInfo& info : kModes) {
    if (!names.empty()) names += ", ";
    names += info.name;
  }
  return names;
}

Result<Mode> parse_mode(std::string_view name) {
  for (const ModeInfo& info : kModes) {
    if (name == info.name) return info.mode;
  }
  return fail(ErrorCode::invalid_argument,
              "unknown fault mode '" + std::string(name) + "' (modes: " + mode_names() + ")");
}

bool applies_to(Mode mode, Protocol protocol) {
  if (protocol == Protocol::pbft) return true;
  for (const ModeInfo& info : kModes) {
    if (info.mode == mode) return info.crash_style;
  }
  return false;
}

std::unique_ptr<Replica> wrap_crash_style(Mode mode, std::unique_ptr<Replica> honest, const FaultSettings& settings) {
  SYNOD_ASSERT(mode == Mode::silent || mode == Mode::slow, "a crash-style mode");
  return std::make_unique<CrashStyleCore>(mode, std::move(honest), settings);
}

Result<std::unique_ptr<Replica>> make_byzantine_pbft(Mode mode, const ClusterConfig& config, ReplicaId self,
                                                     const Crypto& crypto, StateMachine& app,
                                                     const DurableState& durable, const FaultSettings& settings) {
  const std::uint32_t strategy = strategy_of(mode);
  if (strategy == 0) {
    return fail(ErrorCode::invalid_argument, std::string("fault mode ") + to_string(mode) + " is not a Byzantine mode");
  }
  if (config.protocol != Protocol::pbft) {
    return fail(ErrorCode::invalid_argument, std::string("fault mode ") + to_string(mode) + " needs pbft");
  }
  if (settings.corrupt_one_in == 0) return fail(ErrorCode::invalid_argument, "corrupt_one_in must be positive");
  // Fail like the honest core would (bad config, durable state it cannot
  // read) before the ByzantineReplica asserts on it.
  if (auto probe = pbft::make_replica(config, self, crypto, app, durable); !probe) {
    return std::unexpected(probe.error());
  }
  ByzantineReplica::Options options;
  options.app = &app;
  options.durable = durable;
  options.forward_persist = true;
  options.even_halves = true;
  options.silent_to_all = true;
  options.corrupt_one_in = settings.corrupt_one_in;
  auto replica = std::make_unique<ByzantineReplica>(config, self, crypto, strategy, Prng(settings.seed),
                                                    mix64(settings.seed ^ 0x636f6cull), std::move(options));
  TimeUs interval = 0;
  bool injects = false;
  if (mode == Mode::stale_replay) {
    injects = true;
    interval = settings.replay_interval_us;
  } else if (mode == Mode::flood) {
    injects = true;
    interval = settings.flood_interval_us;
  }
  return std::unique_ptr<Replica>(std::make_unique<ByzantineCore>(config, std::move(replica), interval, injects));
}

}  // namespace synod::fault
