#include "runtime/core_factory.hpp"

#include <string>

#include "core/store_backend.hpp"
#include "fault/faulty_core.hpp"
#include "paxos/paxos.hpp"
#include "pbft/pbft.hpp"

namespace synod::runtime {

namespace {

// The checks every fault mode passes before a core is built: a known mode,
// allowed by the config, that applies to the config's protocol.
Result<fault::Mode> checked_fault_mode(const ClusterConfig& config, const FaultInjection& fault) {
  auto mode = fault::parse_mode(fault.mode);
  if (!mode) return std::unexpected(mode.error());
  if (!config.allow_fault_injection) {
    return fail(ErrorCode::invalid_config, "fault mode " + fault.mode +
                                               " refused: the cluster config does not set allow_fault_injection = true");
  }
  if (!fault::applies_to(*mode, config.protocol)) {
    std::string applicable;
    for (const fault::ModeInfo& info : fault::modes()) {
      if (!fault::applies_to(info.mode, config.protocol)) continue;
      applicable += applicable.empty() ? "" : ", ";
      applicable += info.name;
    }
    return fail(ErrorCode::invalid_argument, "fault mode " + fault.mode + " does not apply to " +
                                                 to_string(config.protocol) +
                                                 " (it tolerates crashes only; its modes: " + applicable + ")");
  }
  return *mode;
}

bool crash_style(fault::Mode mode) { return mode == fault::Mode::silent || mode == fault::Mode::slow; }

fault::FaultSettings settings_of(const FaultInjection& fault, std::uint64_t seed) {
  fault::FaultSettings settings;
  settings.slow_delay_ms = fault.slow_delay_ms;
  settings.seed = seed;
  return settings;
}

}  // namespace

Result<std::unique_ptr<Replica>> make_core(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                           StateMachine& app, const DurableState& durable, std::uint64_t seed) {
  switch (config.protocol) {
    case Protocol::pbft:
      return pbft::make_replica(config, self, crypto, app, durable);
    case Protocol::paxos:
      return paxos::make_replica(config, self, crypto, app, durable, seed);
  }
  return fail(ErrorCode::invalid_config, "unknown protocol");
}

Result<std::unique_ptr<Replica>> make_core(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                           StoreStateMachine& app, StoreBackend& backend,
                                           const DurableState& durable, std::uint64_t seed) {
  switch (config.protocol) {
    case Protocol::pbft:
      return pbft::make_replica(config, self, crypto, app, backend, durable);
    case Protocol::paxos:
      return paxos::make_replica(config, self, crypto, app, backend, durable, seed);
  }
  return fail(ErrorCode::invalid_config, "unknown protocol");
}

Result<std::unique_ptr<Replica>> make_core(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                           StateMachine& app, const DurableState& durable, std::uint64_t seed,
                                           const FaultInjection& fault) {
  if (fault.mode.empty()) return make_core(config, self, crypto, app, durable, seed);
  auto mode = checked_fault_mode(config, fault);
  if (!mode) return std::unexpected(mode.error());
  if (crash_style(*mode)) {
    auto honest = make_core(config, self, crypto, app, durable, seed);
    if (!honest) return honest;
    return fault::wrap_crash_style(*mode, std::move(*honest), settings_of(fault, seed));
  }
  // Byzantine modes: pbft only (checked_fault_mode above).
  return fault::make_byzantine_pbft(*mode, config, self, crypto, app, durable, settings_of(fault, seed));
}

Result<std::unique_ptr<Replica>> make_core(const ClusterConfig& config, ReplicaId self, const Crypto& crypto,
                                           StoreStateMachine& app, StoreBackend& backend,
                                           const DurableState& durable, std::uint64_t seed,
                                           const FaultInjection& fault) {
  if (fault.mode.empty()) return make_core(config, self, crypto, app, backend, durable, seed);
  auto mode = checked_fault_mode(config, fault);
  if (!mode) return std::unexpected(mode.error());
  if (!crash_style(*mode)) {
    // fault::ByzantineReplica builds its inner cores over a StateMachine.
    return fail(ErrorCode::invalid_argument, "fault mode " + fault.mode +
                                                 ": Byzantine fault injection runs whole-state applications only "
                                                 "(a store-backed application takes silent and slow)");
  }
  auto honest = make_core(config, self, crypto, app, backend, durable, seed);
  if (!honest) return honest;
  return fault::wrap_crash_style(*mode, std::move(*honest), settings_of(fault, seed));
}

}  // namespace synod::runtime
