// synod-unreplicated — the baseline server for synod-bench --unreplicated:
// one process that executes client requests with no agreement at all (see
// unreplicated.hpp), over the same ZeroMQ event loop, client protocol and
// application as synod-replica. Takes a paxos cluster.toml and serves as its
// replica --id (0 by default: where paxos clients send first).
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "runtime/config_file.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/lmdb_storage.hpp"
#include "runtime/metrics.hpp"
#include "runtime/metrics_server.hpp"
#include "runtime/openssl_crypto.hpp"
#include "synod/bench/echo.hpp"
#include "synod/crypto/private_key.hpp"
#include "synod/examples/counter.hpp"
#include "synod/examples/kv.hpp"
#include "unreplicated.hpp"

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

int die(const std::string& message) {
  std::fprintf(stderr, "synod-unreplicated: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"synod-unreplicated: execute client requests with no agreement (the synod-bench baseline)"};
  std::string config_path;
  std::uint32_t id = 0;
  std::string data_dir;
  std::string app_name = "echo";
  std::string key_path;
  std::string log_level = "warn";
  std::optional<std::uint16_t> metrics_port;
  cli.add_option("--config", config_path, "a paxos cluster.toml (synod-cluster init --protocol paxos)")->required();
  cli.add_option("--id", id, "serve as this replica of the config (paxos clients try replica 0 first)");
  cli.add_option("--data", data_dir, "LMDB dir the event loop opens (nothing is written; default DIR/data/unreplicated)");
  cli.add_option("--app", app_name, "echo, kv or counter")->check(CLI::IsMember({"echo", "kv", "counter"}));
  cli.add_option("--key", key_path, "private key (default: DIR/keys/replica-<id>.key)");
  cli.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  cli.add_option("--metrics-port", metrics_port, "serve GET /metrics on this port of the endpoint's host");
  CLI11_PARSE(cli, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));

  auto config = synod::runtime::load_cluster_config(config_path);
  if (!config) return die(config.error().message);
  if (config->protocol != synod::Protocol::paxos) {
    return die(config_path + " is a pbft config; the baseline needs a paxos one (the client then accepts one reply)");
  }
  if (id >= config->n()) return die("--id " + std::to_string(id) + " is not a replica of " + config_path);
  const std::filesystem::path dir = std::filesystem::path(config_path).parent_path();
  if (key_path.empty()) key_path = (dir / "keys" / ("replica-" + std::to_string(id) + ".key")).string();
  if (data_dir.empty()) data_dir = (dir / "data" / "unreplicated").string();
  auto key = synod::crypto::PrivateKey::load_pem_file(key_path);
  if (!key) return die("private key " + key_path + ": " + key.error().message);
  auto crypto = synod::runtime::OpenSslCrypto::from_config(*config, std::move(*key));
  if (!crypto) return die(crypto.error().message);
  auto storage = synod::runtime::LmdbStorage::open(data_dir, 16u << 20, config->fsync);
  if (!storage) return die(storage.error().message);

  std::unique_ptr<synod::StateMachine> app;
  if (app_name == "echo") app = std::make_unique<synod::bench::EchoApp>();
  else if (app_name == "kv") app = std::make_unique<synod::examples::KvStore>();
  else app = std::make_unique<synod::examples::Counter>();
  synod::bench::UnreplicatedCore core(*config, id, **crypto, *app);

  synod::runtime::EventLoopOptions options;
  std::unique_ptr<synod::runtime::Metrics> metrics;
  std::unique_ptr<synod::runtime::MetricsServer> server;
  if (metrics_port) {
    const std::string host = synod::runtime::endpoint_host(config->replicas[id].endpoint);
    if (host.empty() || host == "*") return die("--metrics-port needs a tcp endpoint with a host");
    metrics = std::make_unique<synod::runtime::Metrics>(config->protocol, id);
    auto started = synod::runtime::MetricsServer::start(*metrics, host, *metrics_port);
    if (!started) return die(started.error().message);
    server = std::move(*started);
    options.metrics = metrics.get();
  }
  auto loop = synod::runtime::EventLoop::create(*config, id, core, *storage, **crypto, std::move(options));
  if (!loop) return die(loop.error().message);
  struct sigaction action = {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  spdlog::info("unreplicated server at {} (app {})", config->replicas[id].endpoint, app_name);
  if (auto r = (*loop)->run(g_stop); !r) return die(r.error().message);
  return 0;
}
