// synod-fuzz-config: cluster.toml through load_cluster_config, the way the
// tools read it (from a file, with key files next to it).
//
// The input is the toml text; the folder it is written to holds key files
// keys/replica-0.pub ... keys/replica-9.pub and keys/client-0.pub ...
// keys/client-9.pub, so inputs can reach validate(). Checked besides "no
// crash, no unbounded allocation": an error carries a message that names
// the file; a config that loads validates, and write_cluster_config of it
// loads again to the same config (compared through the written text and
// the key material).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/config_file.hpp"

using namespace synod;
namespace fs = std::filesystem;

namespace {

void require(bool ok) {
  if (!ok) __builtin_trap();
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  require(out.good());
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A scratch folder for the whole run, removed at exit.
const fs::path& scratch() {
  static const fs::path dir = [] {
    std::string tmpl = (fs::temp_directory_path() / "synod-fuzz-config-XXXXXX").string();
    require(::mkdtemp(tmpl.data()) != nullptr);
    const fs::path d(tmpl);
    fs::create_directories(d / "keys");
    for (int i = 0; i < 10; ++i) {
      write_file(d / "keys" / ("replica-" + std::to_string(i) + ".pub"), "replica key " + std::to_string(i) + "\n");
      write_file(d / "keys" / ("client-" + std::to_string(i) + ".pub"), "client key " + std::to_string(i) + "\n");
    }
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(scratch(), ec);
    });
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;  // real configs are a few kilobytes
  const fs::path& dir = scratch();
  const fs::path input = dir / "cluster.toml";
  write_file(input, std::string(reinterpret_cast<const char*>(data), size));

  auto config = runtime::load_cluster_config(input);
  if (!config) {
    require(!config.error().message.empty());
    require(config.error().message.find(input.string()) != std::string::npos);
    return 0;
  }
  require(config->validate().has_value());

  // Round trip. The key files write_cluster_config names must exist with
  // the key material that was loaded.
  const fs::path again = dir / "again" / "cluster.toml";
  fs::create_directories(again.parent_path() / "keys");
  for (const auto& r : config->replicas)
    write_file(again.parent_path() / runtime::replica_public_key_file(r.id), r.public_key);
  for (const auto& c : config->clients)
    write_file(again.parent_path() / runtime::client_public_key_file(c.id), c.public_key);
  require(runtime::write_cluster_config(again, *config).has_value());
  const std::string text = read_file(again);
  auto reloaded = runtime::load_cluster_config(again);
  require(reloaded.has_value());
  require(reloaded->replicas.size() == config->replicas.size());
  for (std::size_t i = 0; i < config->replicas.size(); ++i) {
    require(reloaded->replicas[i].id == config->replicas[i].id);
    require(reloaded->replicas[i].endpoint == config->replicas[i].endpoint);
    require(reloaded->replicas[i].public_key == config->replicas[i].public_key);
  }
  require(reloaded->clients.size() == config->clients.size());
  for (std::size_t i = 0; i < config->clients.size(); ++i) {
    require(reloaded->clients[i].id == config->clients[i].id);
    require(reloaded->clients[i].public_key == config->clients[i].public_key);
  }
  require(runtime::write_cluster_config(again, *reloaded).has_value());
  require(read_file(again) == text);
  std::error_code ec;
  fs::remove_all(again.parent_path(), ec);
  return 0;
}
