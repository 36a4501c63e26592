// fault/faulty_core.hpp — deliberately faulty replicas for fault-injection
// tests on real processes (`synod-replica --fault MODE`).
//
// A faulty core is a synod::Replica like any other, so the runtime's event
// loop drives it unchanged. Two shapes:
//  * crash-style modes (silent, slow) wrap the protocol's honest core and
//    act on what it sends; they apply to pbft and paxos alike;
//  * Byzantine modes (pbft only) run fault::ByzantineReplica — the
//    simulator's strategies — with one strategy, around an honest inner
//    core that signs with this replica's own key only.
// The runtime refuses every mode unless the cluster config sets
// allow_fault_injection = true (runtime/core_factory.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "synod/config.hpp"
#include "synod/replica.hpp"
#include "synod/result.hpp"
#include "synod/state_machine.hpp"

namespace synod::fault {

enum class Mode : std::uint8_t {
  silent,              // sends nothing, to replicas or clients (still persists)
  equivocate,          // as primary: a different batch to every other backup
  corrupt_signatures,  // flips an authenticator bit in some frames to replicas
  conflicting_votes,   // PREPARE / COMMIT with random digests to half the replicas
  stale_replay,        // keeps resending frames it saw or sent earlier
  lying_view_change,   // VIEW-CHANGE without its prepared set or with forged certificates; NEW-VIEW with a wrong O
  bad_checkpoint,      // CHECKPOINT with a wrong state digest
  flood,               // validly signed far-future messages at full speed
  slow,                // delays every outgoing frame (Aardvark's slow primary)
};

struct ModeInfo {
  Mode mode;
  const char* name;  // as on the command line
  const char* what;
  bool crash_style;  // applies to paxos too
};

std::span<const ModeInfo> modes();
const char* to_string(Mode mode);
// The error lists the known modes.
Result<Mode> parse_mode(std::string_view name);
// "silent, equivocate, ..." for --help.
std::string mode_names();
// Paxos tolerates crashes only: its modes are the crash-style ones.
bool applies_to(Mode mode, Protocol protocol);

struct FaultSettings {
  // slow: how long every outgoing frame is held back.
  std::uint32_t slow_delay_ms = 200;
  // corrupt-signatures: one frame to a replica in this many is corrupted.
  std::uint64_t corrupt_one_in = 2;
  // stale-replay: one old frame to a random peer per this interval.
  std::uint32_t replay_interval_us = 2'000;
  // flood: a burst of far-future messages per this interval (0: every
  // event-loop iteration, i.e. full speed; the transport's high-water
  // marks bound what is queued).
  std::uint32_t flood_interval_us = 0;
  // Seeds the strategies' random choices.
  std::uint64_t seed = 1;
};

// Crash-style: `honest` (any protocol's core) with its output dropped or delayed.
std::unique_ptr<Replica> wrap_crash_style(Mode mode, std::unique_ptr<Replica> honest, const FaultSettings& settings);

// Byzantine (pbft): a ByzantineReplica running `mode`'s strategy around an
// honest pbft core over `app` and `durable` (its persist ops are passed on,
// so a restarted faulty replica resumes from its honest core's state).
// config, crypto and app must outlive the core.
Result<std::unique_ptr<Replica>> make_byzantine_pbft(Mode mode, const ClusterConfig& config, ReplicaId self,
                                                     const Crypto& crypto, StateMachine& app,
                                                     const DurableState& durable, const FaultSettings& settings);

}  // namespace synod::fault
