#include "core/durable_shape.hpp"

#include <string>

#include "core/bytes_io.hpp"

namespace synod {

namespace {
constexpr std::uint8_t kShapeVersion = 1;
}  // namespace

PersistOp durable_shape_record(const ClusterConfig& config) {
  ByteWriter w;
  w.u8(kShapeVersion);
  w.u8(static_cast<std::uint8_t>(config.protocol));
  w.u32(config.n());
  w.u32(config.f);
  w.u32(config.checkpoint_interval);
  w.u32(config.window);
  return PersistOp{std::string(kDurableShapeKey), w.take()};
}

Result<void> check_durable_shape(const ClusterConfig& config, const DurableState& durable) {
  auto it = durable.find(std::string(kDurableShapeKey));
  if (it == durable.end()) return {};
  ByteReader r(it->second);
  auto version = r.u8();
  auto protocol = r.u8();
  auto replicas = r.u32();
  auto f = r.u32();
  auto k = r.u32();
  auto window = r.u32();
  const bool known_protocol = protocol && (*protocol == static_cast<std::uint8_t>(Protocol::pbft) ||
                                           *protocol == static_cast<std::uint8_t>(Protocol::paxos));
  if (!version || *version != kShapeVersion || !known_protocol || !replicas || !f || !k || !window || !r.at_end()) {
    return fail(ErrorCode::corrupt, "durable state: bad shape record");
  }
  std::string was;
  std::string now;
  auto differs = [&](const char* name, const std::string& stored, const std::string& configured) {
    if (stored == configured) return;
    was += (was.empty() ? "" : ", ") + std::string(name) + " = " + stored;
    now += (now.empty() ? "" : ", ") + std::string(name) + " = " + configured;
  };
  differs("protocol", to_string(static_cast<Protocol>(*protocol)), to_string(config.protocol));
  differs("replicas", std::to_string(*replicas), std::to_string(config.n()));
  differs("f", std::to_string(*f), std::to_string(config.f));
  differs("checkpoint_interval", std::to_string(*k), std::to_string(config.checkpoint_interval));
  differs("window", std::to_string(*window), std::to_string(config.window));
  if (was.empty()) return {};
  return fail(ErrorCode::invalid_config,
              "the durable state was written with " + was + "; the config has " + now +
                  ". The protocol, the replicas, f, checkpoint_interval and window are fixed while a cluster's "
                  "data exists: put the old values back, or start every replica from an empty data directory");
}

}  // namespace synod
