#include "runtime/config_file.hpp"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <unistd.h>

#include <toml++/toml.h>

namespace synod::runtime {
namespace {

// The uint32 fields of ClusterConfig, by their TOML key. One table serves
// reading and writing, so the two cannot drift apart.
struct U32Field {
  const char* key;
  std::uint32_t ClusterConfig::*member;
};
constexpr U32Field kU32Fields[] = {
    {"f", &ClusterConfig::f},
    {"batch_max_requests", &ClusterConfig::batch_max_requests},
    {"batch_max_bytes", &ClusterConfig::batch_max_bytes},
    {"batch_timeout_us", &ClusterConfig::batch_timeout_us},
    {"max_batches_in_flight", &ClusterConfig::max_batches_in_flight},
    {"checkpoint_interval", &ClusterConfig::checkpoint_interval},
    {"window", &ClusterConfig::window},
    {"view_change_timeout_ms", &ClusterConfig::view_change_timeout_ms},
    {"request_timeout_ms", &ClusterConfig::request_timeout_ms},
    {"heartbeat_interval_ms", &ClusterConfig::heartbeat_interval_ms},
    {"election_timeout_ms", &ClusterConfig::election_timeout_ms},
    {"lease_duration_ms", &ClusterConfig::lease_duration_ms},
    {"max_clock_drift_ppm", &ClusterConfig::max_clock_drift_ppm},
    {"max_frame_bytes", &ClusterConfig::max_frame_bytes},
    {"max_request_bytes", &ClusterConfig::max_request_bytes},
    {"max_pending_per_client", &ClusterConfig::max_pending_per_client},
    {"snapshot_chunk_bytes", &ClusterConfig::snapshot_chunk_bytes},
    {"max_snapshot_bytes", &ClusterConfig::max_snapshot_bytes},
};

// The boolean fields, the same way.
struct BoolField {
  const char* key;
  bool ClusterConfig::*member;
};
constexpr BoolField kBoolFields[] = {
    {"allow_fault_injection", &ClusterConfig::allow_fault_injection},
    {"curve", &ClusterConfig::curve},
    {"fsync", &ClusterConfig::fsync},
};

// A key file larger than this is not a PEM public key; refuse before reading.
constexpr std::uintmax_t kMaxKeyFileBytes = 64u << 10;
// Far more than any real cluster.toml (about 100 bytes per replica or client).
constexpr std::uintmax_t kMaxConfigFileBytes = 16u << 20;

class Reader {
 public:
  explicit Reader(std::filesystem::path path) : path_(std::move(path)), dir_(path_.parent_path()) {}

  std::unexpected<Error> error_at(const toml::source_region& where, std::string_view key, std::string_view what) const {
    return fail(ErrorCode::invalid_config, path_.string() + ":" + std::to_string(where.begin.line) + ": key '" +
                                               std::string(key) + "': " + std::string(what));
  }

  Result<std::uint32_t> u32(const toml::node& node, std::string_view key) const {
    const auto* value = node.as_integer();
    if (value == nullptr || value->get() < 0 || value->get() > std::numeric_limits<std::uint32_t>::max()) {
      return error_at(node.source(), key, "expected an integer in [0, 4294967295]");
    }
    return static_cast<std::uint32_t>(value->get());
  }

  Result<std::string> string(const toml::node& node, std::string_view key) const {
    const auto* value = node.as_string();
    if (value == nullptr) return error_at(node.source(), key, "expected a string");
    return value->get();
  }

  // Reads a PEM file named relative to the toml's folder.
  Result<std::string> key_file(const toml::node& node, std::string_view key) const {
    auto name = string(node, key);
    if (!name) return std::unexpected(name.error());
    const std::filesystem::path file = dir_ / *name;
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    if (ec) return error_at(node.source(), key, "cannot read " + file.string() + ": " + ec.message());
    if (size > kMaxKeyFileBytes) return error_at(node.source(), key, file.string() + " is too large for a key file");
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in.good() && !in.eof()) return error_at(node.source(), key, "cannot read " + file.string());
    return text.str();
  }

  Result<void> top_level(const toml::table& root, ClusterConfig& config) const {
    for (auto&& [k, node] : root) {
      const std::string_view key = k.str();
      if (key == "replica" || key == "client") continue;  // arrays of tables, below
      // The enum-valued fields: a string their parse_*() accepts.
      const auto enum_field = [&](auto parse, auto& member) -> Result<void> {
        auto text = string(node, key);
        if (!text) return std::unexpected(text.error());
        auto value = parse(*text);
        if (!value) return error_at(node.source(), key, value.error().message);
        member = *value;
        return {};
      };
      if (key == "protocol" || key == "signature_scheme" || key == "authentication") {
        Result<void> ok = key == "protocol"           ? enum_field(parse_protocol, config.protocol)
                          : key == "signature_scheme" ? enum_field(parse_signature_scheme, config.signature_scheme)
                                                      : enum_field(parse_authentication, config.authentication);
        if (!ok) return ok;
        continue;
      }
      bool known = false;
      for (const auto& field : kBoolFields) {
        if (key != field.key) continue;
        const auto* value = node.as_boolean();
        if (value == nullptr) return error_at(node.source(), key, "expected true or false");
        config.*field.member = value->get();
        known = true;
      }
      for (const auto& field : kU32Fields) {
        if (key != field.key) continue;
        auto v = u32(node, key);
        if (!v) return std::unexpected(v.error());
        config.*field.member = *v;
        known = true;
      }
      if (!known) return error_at(k.source(), key, "unknown key");
    }
    return {};
  }

  // Visits the tables of the array `name` (absent = none).
  template <class Fn>
  Result<void> each_table(const toml::table& root, std::string_view name, Fn&& fn) const {
    const toml::node* node = root.get(name);
    if (node == nullptr) return {};
    const auto* array = node->as_array();
    if (array == nullptr) return error_at(node->source(), name, "expected [[" + std::string(name) + "]] tables");
    for (const auto& element : *array) {
      const auto* table = element.as_table();
      if (table == nullptr) return error_at(element.source(), name, "expected a table");
      if (auto r = fn(*table); !r) return r;
    }
    return {};
  }

  Result<ReplicaInfo> replica(const toml::table& table, std::string& curve_key) const {
    ReplicaInfo info;
    bool has_id = false, has_endpoint = false, has_key = false;
    for (auto&& [k, node] : table) {
      const std::string_view key = k.str();
      if (key == "id") {
        auto v = u32(node, "replica.id");
        if (!v) return std::unexpected(v.error());
        info.id = *v;
        has_id = true;
      } else if (key == "endpoint") {
        auto v = string(node, "replica.endpoint");
        if (!v) return std::unexpected(v.error());
        info.endpoint = *v;
        has_endpoint = true;
      } else if (key == "curve_public_key") {
        auto v = string(node, "replica.curve_public_key");
        if (!v) return std::unexpected(v.error());
        curve_key = *v;
      } else if (key == "public_key_file") {
        auto v = key_file(node, "replica.public_key_file");
        if (!v) return std::unexpected(v.error());
        info.public_key = *v;
        has_key = true;
      } else {
        return error_at(k.source(), "replica." + std::string(key), "unknown key");
      }
    }
    if (!has_id) return error_at(table.source(), "replica.id", "missing");
    if (!has_endpoint) return error_at(table.source(), "replica.endpoint", "missing");
    if (!has_key) return error_at(table.source(), "replica.public_key_file", "missing");
    return info;
  }

  Result<ClientInfo> client(const toml::table& table) const {
    ClientInfo info;
    bool has_id = false, has_key = false;
    for (auto&& [k, node] : table) {
      const std::string_view key = k.str();
      if (key == "id") {
        auto v = u32(node, "client.id");
        if (!v) return std::unexpected(v.error());
        info.id = *v;
        has_id = true;
      } else if (key == "public_key_file") {
        auto v = key_file(node, "client.public_key_file");
        if (!v) return std::unexpected(v.error());
        info.public_key = *v;
        has_key = true;
      } else {
        return error_at(k.source(), "client." + std::string(key), "unknown key");
      }
    }
    if (!has_id) return error_at(table.source(), "client.id", "missing");
    if (!has_key) return error_at(table.source(), "client.public_key_file", "missing");
    return info;
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::filesystem::path dir_;
};

}  // namespace

Result<ClusterConfig> load_cluster_config(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return fail(ErrorCode::invalid_config, path.string() + ": no such config file");
  }
  // Read here rather than by toml::parse_file: the size is capped, and the
  // text must be ASCII (synod writes only ASCII). toml++ 3.3 reaches
  // __builtin_unreachable() (undefined behaviour) on some non-ASCII
  // characters where it expects whitespace (found by synod-fuzz-config).
  std::string text;
  {
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return fail(ErrorCode::invalid_config, path.string() + ": cannot read: " + ec.message());
    if (size > kMaxConfigFileBytes) {
      return fail(ErrorCode::invalid_config, path.string() + ": " + std::to_string(size) +
                                                 " bytes, more than a config file can be (" +
                                                 std::to_string(kMaxConfigFileBytes) + ")");
    }
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (!in.good() && !in.eof()) return fail(ErrorCode::invalid_config, path.string() + ": cannot read");
    text = buffer.str();
  }
  std::size_t line = 1;
  for (const char c : text) {
    if (c == '\n') ++line;
    if (static_cast<unsigned char>(c) >= 0x80) {
      return fail(ErrorCode::invalid_config,
                  path.string() + ":" + std::to_string(line) + ": non-ASCII character; cluster.toml must be ASCII");
    }
  }
  toml::table root;
  try {
    root = toml::parse(text, path.string());
  } catch (const toml::parse_error& e) {
    return fail(ErrorCode::invalid_config, path.string() + ":" + std::to_string(e.source().begin.line) + ": " +
                                               std::string(e.description()));
  }
  const Reader reader(path);
  ClusterConfig config;
  if (auto r = reader.top_level(root, config); !r) return std::unexpected(r.error());
  auto r = reader.each_table(root, "replica", [&](const toml::table& t) -> Result<void> {
    std::string curve_key;
    auto info = reader.replica(t, curve_key);
    if (!info) return std::unexpected(info.error());
    config.replicas.push_back(std::move(*info));
    config.curve_public_keys.push_back(std::move(curve_key));
    return {};
  });
  if (!r) return std::unexpected(r.error());
  if (std::all_of(config.curve_public_keys.begin(), config.curve_public_keys.end(),
                  [](const std::string& k) { return k.empty(); })) {
    config.curve_public_keys.clear();  // none given
  }
  r = reader.each_table(root, "client", [&](const toml::table& t) -> Result<void> {
    auto info = reader.client(t);
    if (!info) return std::unexpected(info.error());
    config.clients.push_back(std::move(*info));
    return {};
  });
  if (!r) return std::unexpected(r.error());
  if (auto v = config.validate(); !v) {
    // validate() names the field; point at its line when the file sets it.
    for (const auto& [key, node] : root) {
      if (v.error().message.starts_with(key.str())) {
        return reader.error_at(node.source(), key.str(), v.error().message);
      }
    }
    return fail(ErrorCode::invalid_config, path.string() + ": " + v.error().message);
  }
  return config;
}

std::string replica_public_key_file(ReplicaId id) { return "keys/replica-" + std::to_string(id) + ".pub"; }
std::string client_public_key_file(ClientId id) { return "keys/client-" + std::to_string(id) + ".pub"; }

namespace {

// TOML basic string: quotes, backslashes and control characters (U+0000 to
// U+001F and U+007F) escaped. Not named `quoted`: for a std::string argument
// argument-dependent lookup would pick std::quoted, which escapes neither.
std::string toml_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

Result<void> write_cluster_config(const std::filesystem::path& path, const ClusterConfig& config) {
  std::ostringstream out;
  out << "# synod cluster configuration (see lib/runtime/config_file.hpp)\n";
  out << "protocol = " << toml_string(to_string(config.protocol)) << "\n";
  out << "signature_scheme = " << toml_string(to_string(config.signature_scheme)) << "\n";
  out << "authentication = " << toml_string(to_string(config.authentication)) << "\n";
  for (const auto& field : kU32Fields) out << field.key << " = " << config.*field.member << "\n";
  for (const auto& field : kBoolFields) out << field.key << " = " << (config.*field.member ? "true" : "false") << "\n";
  for (const auto& r : config.replicas) {
    out << "\n[[replica]]\nid = " << r.id << "\nendpoint = " << toml_string(r.endpoint)
        << "\npublic_key_file = " << toml_string(replica_public_key_file(r.id)) << "\n";
    if (r.id < config.curve_public_keys.size() && !config.curve_public_keys[r.id].empty()) {
      out << "curve_public_key = " << toml_string(config.curve_public_keys[r.id]) << "\n";
    }
  }
  for (const auto& c : config.clients) {
    out << "\n[[client]]\nid = " << c.id << "\npublic_key_file = " << toml_string(client_public_key_file(c.id)) << "\n";
  }
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
    file << out.str();
    file.flush();
    if (!file) return fail(ErrorCode::io, "cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return fail(ErrorCode::io, "cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
  return {};
}

}  // namespace synod::runtime
