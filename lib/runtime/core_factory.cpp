#include "runtime/core_factory.hpp"

#include "fault/faulty_core.hpp"
#include "paxos/paxos.hpp"
#include "pbft/pbft.hpp"

namespace synod::runtime {

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
                                           StateMachine& app, const DurableState& durable, std::uint64_t seed,
                                           const FaultInjection& fault) {
  if (fault.mode.empty()) return make_core(config, self, crypto, app, durable, seed);
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
  fault::FaultSettings settings;
  settings.slow_delay_ms = fault.slow_delay_ms;
  settings.seed = seed;
  if (*mode == fault::Mode::silent || *mode == fault::Mode::slow) {
    auto honest = make_core(config, self, crypto, app, durable, seed);
    if (!honest) return honest;
    return fault::wrap_crash_style(*mode, std::move(*honest), settings);
  }
  // Byzantine modes: pbft only (applies_to above).
  return fault::make_byzantine_pbft(*mode, config, self, crypto, app, durable, settings);
}

}  // namespace synod::runtime
