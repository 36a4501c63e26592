#include "core/durable_shape.hpp"

#include <string>

#include "core/bytes_io.hpp"

namespace synod {

namespace {

constexpr std::uint8_t kShapeVersion = 1;

struct Shape {
  std::uint8_t protocol = 0;
  std::uint32_t replicas = 0;
  std::uint32_t f = 0;
  std::uint32_t checkpoint_interval = 0;
  std::uint32_t window = 0;
};

Shape shape_of(const ClusterConfig& config) {
  return Shape{static_cast<std::uint8_t>(config.protocol), config.n(), config.f, config.checkpoint_interval,
               config.window};
}

std::string protocol_name(std::uint8_t p) {
  return p == static_cast<std::uint8_t>(Protocol::pbft)    ? "pbft"
         : p == static_cast<std::uint8_t>(Protocol::paxos) ? "paxos"
                                                            : "protocol " + std::to_string(p);
}

}  // namespace

PersistOp durable_shape_record(const ClusterConfig& config) {
  const Shape s = shape_of(config);
  ByteWriter w;
  w.u8(kShapeVersion);
  w.u8(s.protocol);
  w.u32(s.replicas);
  w.u32(s.f);
  w.u32(s.checkpoint_interval);
  w.u32(s.window);
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
  if (!version || *version != kShapeVersion || !protocol || !replicas || !f || !k || !window || !r.at_end()) {
    return fail(ErrorCode::corrupt, "durable state: bad shape record");
  }
  const Shape want = shape_of(config);
  std::string was;
  std::string now;
  auto differs = [&](const char* name, const std::string& stored, const std::string& configured) {
    if (stored == configured) return;
    was += (was.empty() ? "" : ", ") + std::string(name) + " = " + stored;
    now += (now.empty() ? "" : ", ") + std::string(name) + " = " + configured;
  };
  differs("protocol", protocol_name(*protocol), protocol_name(want.protocol));
  differs("replicas", std::to_string(*replicas), std::to_string(want.replicas));
  differs("f", std::to_string(*f), std::to_string(want.f));
  differs("checkpoint_interval", std::to_string(*k), std::to_string(want.checkpoint_interval));
  differs("window", std::to_string(*window), std::to_string(want.window));
  if (was.empty()) return {};
  return fail(ErrorCode::invalid_config,
              "the durable state was written with " + was + "; the config has " + now +
                  ". The protocol, the replicas, f, checkpoint_interval and window are fixed while a cluster's "
                  "data exists: put the old values back, or start every replica from an empty data directory");
}

}  // namespace synod
