// synod-replica — runs one replica of a cluster described by cluster.toml:
// loads the config and this replica's private key, opens its LMDB data dir,
// builds the protocol core the config names (pbft or paxos) around a bundled
// application (kv, kv-store, counter or echo), and runs the ZeroMQ event loop
// until SIGTERM or SIGINT. Every error is one line on stderr and a non-zero exit.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <algorithm>
#include <optional>
#include <thread>
#include <random>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "runtime/config_file.hpp"
#include "fault/faulty_core.hpp"
#include "runtime/core_factory.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/transport.hpp"
#include "runtime/lmdb_storage.hpp"
#include "runtime/lmdb_store.hpp"
#include "runtime/metrics.hpp"
#include "runtime/metrics_server.hpp"
#include "runtime/openssl_crypto.hpp"
#include "synod/crypto/private_key.hpp"
#include "synod/examples/counter.hpp"
#include "synod/examples/kv.hpp"
#include "synod/examples/store_kv.hpp"
#include "synod/bench/echo.hpp"

namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");

void on_signal(int) { g_stop.store(true); }

void install_signal_handlers() {
  struct sigaction action = {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: zmq_poll returns EINTR and the loop sees the flag at once
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

int die(const std::string& message) {
  std::fprintf(stderr, "synod-replica: %s\n", message.c_str());
  return 1;
}

// status.json in the data dir, rewritten atomically once a second, so
// `synod-cluster ps` can show what each replica believes without a wire
// status message.
void write_status(const std::filesystem::path& path, const synod::ReplicaStatus& s) {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "{\"protocol\":\"" << synod::to_string(s.protocol) << "\",\"id\":" << s.id << ",\"view\":" << s.view
        << ",\"leader\":" << s.leader << ",\"is_leader\":" << (s.is_leader ? "true" : "false")
        << ",\"changing_view\":" << (s.changing_view ? "true" : "false") << ",\"last_executed\":" << s.last_executed
        << ",\"stable_checkpoint\":" << s.stable_checkpoint << ",\"view_changes\":" << s.view_changes
        << ",\"state_transfers\":" << s.state_transfers << "}\n";
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
}

// DIR/app names the bundled application whose state a data dir holds. A
// whole-state app keeps its state as checkpoint snapshots in the core's
// table, kv-store in the store's own tables: started on another app's data
// dir, a replica would resume at a last-executed number with a state it
// never executed, and answer from it (a silent divergence). Not fsync'ed: a
// data dir without the file (lost, or written before it existed) is taken as
// the current app's, as before.
std::string recorded_app(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string name;
  in >> name;
  return name;  // empty: none recorded
}

bool record_app(const std::filesystem::path& path, const std::string& name) {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << name << "\n";
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"synod-replica: run one replica of a synod cluster"};
  std::string config_path;
  std::uint32_t id = 0;
  std::string data_dir;
  std::string app_name = "kv";
  std::string log_level = "info";
  std::string key_path;
  std::size_t map_mib = synod::runtime::kDefaultMapBytes >> 20;
  cli.add_option("--config", config_path, "cluster.toml")->required();
  cli.add_option("--id", id, "this replica's id (0..n-1)")->required();
  cli.add_option("--data", data_dir, "LMDB data dir (default: DIR/data/replica-<id>, DIR = the config's folder)");
  cli.add_option("--app", app_name,
                 "bundled application: kv; kv-store (kv's ops on synod's durable store in this replica's LMDB "
                 "environment: no entry or size caps, checkpoints cost O(keys changed), a restart resumes from "
                 "the store); counter; or echo (synod-bench's)")
      ->check(CLI::IsMember({"kv", "kv-store", "counter", "echo"}));
  cli.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  cli.add_option("--key", key_path, "private key (default: DIR/keys/replica-<id>.key)");
  cli.add_option("--map-mib", map_mib, "LMDB map size in MiB (the data file's maximum size)");
  std::optional<std::uint16_t> metrics_port;
  cli.add_option("--metrics-port", metrics_port,
                 "serve GET /metrics (Prometheus text) on this port of the replica's host (0: any free port)");
  synod::runtime::FaultInjection fault;
  cli.add_option("--fault", fault.mode,
                 "run as a deliberately faulty replica, for fault-injection tests (needs allow_fault_injection = "
                 "true in the cluster config; paxos takes silent and slow only). Modes: " +
                     synod::fault::mode_names());
  cli.add_option("--fault-delay-ms", fault.slow_delay_ms, "with --fault slow: how long every outgoing frame waits")
      ->capture_default_str();
  std::optional<unsigned> verify_helpers;
  cli.add_option("--verify-helpers", verify_helpers,
                 "threads that help verify the client signatures of a pre-prepare's batch (pbft, signatures), "
                 "in parallel with the event loop (default: this machine's cores - 1, at most 7; 0: none)")
      ->check(CLI::Range(0u, 64u));
  CLI11_PARSE(cli, argc, argv);

  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e [replica " + std::to_string(id) + "] %l: %v");

  auto config = synod::runtime::load_cluster_config(config_path);
  if (!config) return die(config.error().message);
  if (id >= config->n()) {
    return die("--id " + std::to_string(id) + " is not a replica of " + config_path + " (ids 0.." +
               std::to_string(config->n() - 1) + ")");
  }
  const std::filesystem::path dir = std::filesystem::path(config_path).parent_path();
  if (key_path.empty()) key_path = (dir / "keys" / ("replica-" + std::to_string(id) + ".key")).string();
  if (data_dir.empty()) data_dir = (dir / "data" / ("replica-" + std::to_string(id))).string();

  auto key = synod::crypto::PrivateKey::load_pem_file(key_path);
  if (!key) return die("private key " + key_path + ": " + key.error().message);
  auto crypto = synod::runtime::OpenSslCrypto::from_config(*config, std::move(*key));
  if (!crypto) return die(crypto.error().message);
  (*crypto)->use_verify_helpers(
      verify_helpers.value_or(std::clamp(std::thread::hardware_concurrency(), 1u, 8u) - 1));

  auto storage = synod::runtime::LmdbStorage::open(data_dir, map_mib << 20, config->fsync);
  if (!storage) return die(storage.error().message);
  auto durable = storage->load();
  if (!durable) return die(durable.error().message);
  const auto app_path = std::filesystem::path(data_dir) / "app";
  const std::string recorded = recorded_app(app_path);
  if (!recorded.empty() && recorded != app_name) {
    return die("data dir " + data_dir + " holds the state of --app " + recorded + ", not --app " + app_name +
               " (run it with --app " + recorded + ", or start from an empty data dir)");
  }

  // A whole-state application (`app`), or kv-store's StoreKv (`store_app`)
  // over `store`, the store's tables in this replica's LMDB environment.
  // Declaration order is destruction order reversed: the loop and the core
  // go before `store`, and `store` before `storage` (runtime/lmdb_store.hpp).
  std::unique_ptr<synod::StateMachine> app;
  std::unique_ptr<synod::StoreStateMachine> store_app;
  std::unique_ptr<synod::runtime::LmdbStore> store;
  if (app_name == "kv") {
    app = std::make_unique<synod::examples::KvStore>();
  } else if (app_name == "kv-store") {
    auto opened = storage->open_store();
    if (!opened) return die(opened.error().message);
    store = std::move(*opened);
    store_app = std::make_unique<synod::examples::StoreKv>();
  } else if (app_name == "echo") {
    app = std::make_unique<synod::bench::EchoApp>();
  } else {
    app = std::make_unique<synod::examples::Counter>();
  }
  const std::uint64_t seed = std::random_device{}();
  auto core = store_app ? synod::runtime::make_core(*config, id, **crypto, *store_app, *store, *durable, seed, fault)
                        : synod::runtime::make_core(*config, id, **crypto, *app, *durable, seed, fault);
  if (!core && !fault.mode.empty()) return die("--fault " + fault.mode + ": " + core.error().message);
  if (!core) return die("cannot start the " + std::string(synod::to_string(config->protocol)) +
                        " core from " + data_dir + ": " + core.error().message);
  if (recorded.empty() && !record_app(app_path, app_name)) return die("cannot write " + app_path.string());

  synod::runtime::EventLoopOptions options;
  options.store = store.get();  // null unless kv-store: its writes commit with the persist ops
  if (config->curve) {
    // DIR/keys/replica-<id>.curve, next to the signing key (mode 0600).
    const auto curve_path = std::filesystem::path(key_path).parent_path() /
                            std::filesystem::path(synod::runtime::replica_curve_secret_key_file(id)).filename();
    auto curve_key = synod::runtime::load_curve_secret_key(curve_path);
    if (!curve_key) return die(curve_key.error().message);
    options.curve_secret_key = std::move(*curve_key);
  }
  const auto status_path = std::filesystem::path(data_dir) / "status.json";
  std::optional<synod::ReplicaStatus> last;
  options.on_status = [&](const synod::ReplicaStatus& s) {
    write_status(status_path, s);
    // The once-a-second status doubles as the operator's view-change log.
    if (!last || last->view != s.view || last->leader != s.leader) {
      spdlog::info("view {}: leader is replica {}{}", s.view, s.leader, s.is_leader ? " (this replica)" : "");
    }
    if (last && s.state_transfers > last->state_transfers) {
      spdlog::info("state transfer: now at checkpoint {}", s.stable_checkpoint);
    }
    last = s;
  };
  std::unique_ptr<synod::runtime::Metrics> metrics;
  std::unique_ptr<synod::runtime::MetricsServer> metrics_server;
  if (metrics_port) {
    const std::string host = synod::runtime::endpoint_host(config->replicas[id].endpoint);
    if (host.empty() || host == "*") {
      return die("--metrics-port needs a tcp endpoint with a host, not " + config->replicas[id].endpoint);
    }
    metrics = std::make_unique<synod::runtime::Metrics>(config->protocol, id);
    auto server = synod::runtime::MetricsServer::start(*metrics, host, *metrics_port);
    if (!server) return die(server.error().message);
    metrics_server = std::move(*server);
    options.metrics = metrics.get();
    spdlog::info("metrics at http://{}:{}/metrics", host, metrics_server->port());
  }
  auto loop = synod::runtime::EventLoop::create(*config, id, **core, *storage, **crypto, std::move(options));
  if (!loop) return die(loop.error().message);

  install_signal_handlers();
  spdlog::info("{} replica {} of {} at {} (app {}, data {}, {} durable records)", synod::to_string(config->protocol),
               id, config->n(), config->replicas[id].endpoint, app_name, data_dir, durable->size());
  if (!fault.mode.empty()) spdlog::warn("fault injection: this replica runs --fault {}", fault.mode);
  auto result = (*loop)->run(g_stop);
  const auto& stats = (*loop)->stats();
  const auto status = (*core)->status();
  spdlog::info("stopping: view {}, last executed {}, frames in {} out {} dropped {}, {} fsyncs for {} persist ops",
               status.view, status.last_executed, stats.frames_in, stats.frames_out, stats.frames_dropped,
               stats.persist_transactions, stats.persist_ops);
  if (!result) return die(result.error().message);
  return 0;
}
