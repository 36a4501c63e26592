// synod-cluster — a local cluster's life cycle, for development and tests:
//   init DIR   writes DIR/cluster.toml and every key pair (DIR/keys)
//   up DIR     starts every replica that is not running (setsid, pid files
//              in DIR/run, logs in DIR/logs, data in DIR/data)
//   down DIR   SIGTERM, then SIGKILL after a bound
//   ps DIR     what runs, and what each replica last reported (status.json)
//   demo       a throw-away kv cluster under load that loses its primary /
//              leader to kill -9 and gets it back
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "runtime/config_file.hpp"
#include "runtime/free_ports.hpp"
#include "runtime/processes.hpp"
#include "runtime/transport.hpp"
#include "synod/client.hpp"
#include "synod/crypto/private_key.hpp"
#include "synod/examples/kv.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using synod::runtime::read_text;
using synod::runtime::self_dir;
using synod::runtime::process_alive;

// Set by SIGINT/SIGTERM during `demo`, so an interrupted demo still stops
// its replicas and removes its temp dir.
std::atomic<bool> g_interrupted{false};
void on_interrupt(int) { g_interrupted.store(true); }

// How long `down` waits for a replica to exit after SIGTERM before SIGKILL.
constexpr auto kStopTimeout = 5s;

int die(const std::string& message) {
  std::fprintf(stderr, "synod-cluster: %s\n", message.c_str());
  return 1;
}

fs::path pid_file(const fs::path& dir, synod::ReplicaId id) {
  return dir / "run" / ("replica-" + std::to_string(id) + ".pid");
}
fs::path log_file(const fs::path& dir, synod::ReplicaId id) {
  return dir / "logs" / ("replica-" + std::to_string(id) + ".log");
}
fs::path status_file(const fs::path& dir, synod::ReplicaId id) {
  return dir / "data" / ("replica-" + std::to_string(id)) / "status.json";
}

// The pid in the replica's pid file, if that process runs synod-replica.
std::optional<pid_t> running_pid(const fs::path& dir, synod::ReplicaId id) {
  const std::string text = read_text(pid_file(dir, id));
  if (text.empty()) return std::nullopt;
  const pid_t pid = static_cast<pid_t>(std::atol(text.c_str()));
  if (!process_alive(pid)) return std::nullopt;
  // A recycled pid belongs to something else: never signal it.
  const std::string cmdline = read_text("/proc/" + std::to_string(pid) + "/cmdline");
  if (cmdline.find("synod-replica") == std::string::npos) return std::nullopt;
  return pid;
}

// ------------------------------------------------------------------ init

synod::Result<void> save_key_pair(const fs::path& keys, const std::string& name, synod::SignatureScheme scheme) {
  auto key = synod::crypto::PrivateKey::generate(scheme == synod::SignatureScheme::ed25519
                                                     ? synod::crypto::Scheme::ed25519
                                                     : synod::crypto::Scheme::ecdsa_p256);
  if (!key) return synod::fail(synod::ErrorCode::crypto, key.error().message);
  // save_pem_file writes private keys with mode 0600.
  if (auto r = key->save_pem_file(keys / (name + ".key"), false); !r) {
    return synod::fail(synod::ErrorCode::io, r.error().message);
  }
  auto pub = key->public_key();
  if (!pub) return synod::fail(synod::ErrorCode::crypto, pub.error().message);
  if (auto r = pub->save_pem_file(keys / (name + ".pub"), false); !r) {
    return synod::fail(synod::ErrorCode::io, r.error().message);
  }
  return {};
}

// What `init` may change from ClusterConfig's defaults besides the shape.
struct InitOptions {
  bool curve = false;
  bool fsync = true;
  synod::Authentication authentication = synod::Authentication::signatures;
};

synod::Result<void> init_cluster(const fs::path& dir, synod::Protocol protocol, std::uint32_t f,
                                 std::uint32_t clients, const std::string& host,
                                 const std::vector<std::uint16_t>& ports, const InitOptions& options = {}) {
  const bool curve = options.curve;
  if (fs::exists(dir / "cluster.toml")) {
    return synod::fail(synod::ErrorCode::invalid_argument, (dir / "cluster.toml").string() + " already exists");
  }
  synod::ClusterConfig config;
  config.protocol = protocol;
  config.f = f;
  const std::uint32_t n = config.required_replicas();
  if (ports.size() < n) return synod::fail(synod::ErrorCode::invalid_argument, "not enough ports");
  std::error_code ec;
  fs::create_directories(dir / "keys", ec);
  if (ec) return synod::fail(synod::ErrorCode::io, "cannot create " + (dir / "keys").string() + ": " + ec.message());
  for (std::uint32_t i = 0; i < n; ++i) {
    if (auto r = save_key_pair(dir / "keys", "replica-" + std::to_string(i), config.signature_scheme); !r) return r;
    auto pem = read_text(dir / synod::runtime::replica_public_key_file(i));
    config.replicas.push_back({i, "tcp://" + host + ":" + std::to_string(ports[i]), pem});
    if (curve) {
      // CurveZMQ key pair: public half in the config, secret half 0600 in keys/.
      auto pair = synod::runtime::curve_key_pair();
      if (!pair) return std::unexpected(pair.error());
      auto saved = synod::runtime::save_curve_secret_key(dir / synod::runtime::replica_curve_secret_key_file(i),
                                                         pair->secret_key);
      if (!saved) return saved;
      config.curve_public_keys.push_back(pair->public_key);
    }
  }
  config.curve = curve;
  config.fsync = options.fsync;
  config.authentication = options.authentication;
  for (std::uint32_t c = 0; c < clients; ++c) {
    if (auto r = save_key_pair(dir / "keys", "client-" + std::to_string(c), config.signature_scheme); !r) return r;
    config.clients.push_back({c, read_text(dir / synod::runtime::client_public_key_file(c))});
  }
  if (auto v = config.validate(); !v) return v;
  return synod::runtime::write_cluster_config(dir / "cluster.toml", config);
}


// ------------------------------------------------------------------ up / down

synod::Result<pid_t> start_replica(const fs::path& dir, synod::ReplicaId id, const std::string& app,
                                   const std::string& log_level) {
  std::error_code ec;
  fs::create_directories(dir / "run", ec);
  fs::create_directories(dir / "logs", ec);
  const std::string binary = (self_dir() / "synod-replica").string();
  const std::string config = (dir / "cluster.toml").string();
  const std::string id_text = std::to_string(id);
  const std::string log = log_file(dir, id).string();
  const pid_t pid = ::fork();
  if (pid < 0) return synod::fail(synod::ErrorCode::io, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::setsid();  // its own session: survives the terminal and this tool
    const int null_fd = ::open("/dev/null", O_RDONLY);
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    if (log_fd >= 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
    }
    ::execl(binary.c_str(), binary.c_str(), "--config", config.c_str(), "--id", id_text.c_str(), "--app",
            app.c_str(), "--log-level", log_level.c_str(), static_cast<char*>(nullptr));
    std::fprintf(stderr, "synod-cluster: cannot exec %s: %s\n", binary.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  std::ofstream(pid_file(dir, id), std::ios::trunc) << pid << "\n";
  return pid;
}

bool stop_replica(const fs::path& dir, synod::ReplicaId id, int first_signal) {
  auto pid = running_pid(dir, id);
  if (!pid) return false;
  ::kill(*pid, first_signal);
  const auto until = std::chrono::steady_clock::now() + kStopTimeout;
  while (std::chrono::steady_clock::now() < until) {
    if (!process_alive(*pid)) break;  // (reaps the demo's own children)
    std::this_thread::sleep_for(20ms);
  }
  if (process_alive(*pid)) {
    ::kill(*pid, SIGKILL);
    for (int i = 0; i < 100 && process_alive(*pid); ++i) std::this_thread::sleep_for(10ms);
  }
  std::error_code ec;
  fs::remove(pid_file(dir, id), ec);
  return true;
}

std::string last_line(const fs::path& file) {
  std::istringstream in(read_text(file));
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

int cmd_up(const fs::path& dir, const std::string& app, std::optional<std::uint32_t> only, const std::string& level) {
  auto config = synod::runtime::load_cluster_config(dir / "cluster.toml");
  if (!config) return die(config.error().message);
  std::vector<std::pair<synod::ReplicaId, pid_t>> started;
  for (const auto& r : config->replicas) {
    if (only && r.id != *only) continue;
    if (auto pid = running_pid(dir, r.id)) {
      std::printf("replica %u already running (pid %d)\n", r.id, *pid);
      continue;
    }
    auto pid = start_replica(dir, r.id, app, level);
    if (!pid) return die(pid.error().message);
    started.emplace_back(r.id, *pid);
  }
  // A replica that fails at start-up (bad key, port taken) exits at once:
  // report it here rather than leave a silent gap in the cluster.
  std::this_thread::sleep_for(300ms);
  int failures = 0;
  for (auto [id, pid] : started) {
    if (process_alive(pid)) {
      std::printf("replica %u started (pid %d, %s)\n", id, pid, config->replicas[id].endpoint.c_str());
    } else {
      ++failures;
      std::fprintf(stderr, "synod-cluster: replica %u exited at start-up: %s\n", id,
                   last_line(log_file(dir, id)).c_str());
    }
  }
  return failures == 0 ? 0 : 1;
}

int cmd_down(const fs::path& dir, std::optional<std::uint32_t> only) {
  auto config = synod::runtime::load_cluster_config(dir / "cluster.toml");
  if (!config) return die(config.error().message);
  for (const auto& r : config->replicas) {
    if (only && r.id != *only) continue;
    if (stop_replica(dir, r.id, SIGTERM)) std::printf("replica %u stopped\n", r.id);
  }
  return 0;
}

// A field of the flat status.json our replicas write.
std::string json_field(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  const auto at = json.find(needle);
  if (at == std::string::npos) return "";
  auto begin = at + needle.size();
  auto end = json.find_first_of(",}", begin);
  std::string value = json.substr(begin, end - begin);
  value.erase(std::remove(value.begin(), value.end(), '"'), value.end());
  return value;
}

int cmd_ps(const fs::path& dir, bool json) {
  auto config = synod::runtime::load_cluster_config(dir / "cluster.toml");
  if (!config) return die(config.error().message);
  if (json) std::printf("[");
  for (const auto& r : config->replicas) {
    const auto pid = running_pid(dir, r.id);
    const std::string status = pid ? read_text(status_file(dir, r.id)) : "";
    auto field = [&](const char* k) {
      const std::string v = json_field(status, k);
      return v.empty() ? std::string("-") : v;
    };
    if (json) {
      std::string s = status;
      while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
      std::printf("%s{\"id\":%u,\"endpoint\":\"%s\",\"running\":%s,\"pid\":%d,\"status\":%s}", r.id ? "," : "",
                  r.id, r.endpoint.c_str(), pid ? "true" : "false", pid ? *pid : 0, s.empty() ? "null" : s.c_str());
    } else {
      if (r.id == 0) std::printf("%-3s %-8s %-26s %-6s %-7s %-7s %-13s\n", "ID", "PID", "ENDPOINT", "VIEW", "LEADER", "ROLE", "LAST_EXECUTED");
      std::printf("%-3u %-8s %-26s %-6s %-7s %-7s %-13s\n", r.id, pid ? std::to_string(*pid).c_str() : "down",
                  r.endpoint.c_str(), field("view").c_str(), field("leader").c_str(),
                  !pid ? "-" : (field("is_leader") == "true" ? "leader" : "backup"), field("last_executed").c_str());
    }
  }
  if (json) std::printf("]\n");
  return 0;
}

// ------------------------------------------------------------------ demo

struct Load {
  std::mutex mutex;
  std::vector<std::uint64_t> latencies_us;  // since the last progress line
  std::uint64_t ops = 0;
  std::uint64_t errors = 0;
  std::atomic<bool> stop{false};
  static constexpr std::size_t kMaxSamples = 1u << 20;  // bounded memory for a long demo

  void record(std::uint64_t us) {
    std::lock_guard lock(mutex);
    ++ops;
    if (latencies_us.size() < kMaxSamples) latencies_us.push_back(us);
  }
};

std::uint64_t percentile(std::vector<std::uint64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

std::uint64_t last_executed(const fs::path& dir, synod::ReplicaId id) {
  const std::string v = json_field(read_text(status_file(dir, id)), "last_executed");
  return v.empty() ? 0 : std::stoull(v);
}

std::optional<synod::ReplicaId> current_leader(const fs::path& dir, const synod::ClusterConfig& config) {
  for (const auto& r : config.replicas) {
    if (running_pid(dir, r.id) && json_field(read_text(status_file(dir, r.id)), "is_leader") == "true") return r.id;
  }
  return std::nullopt;
}

// Every replica answered and all report the same last executed sequence
// number and stable checkpoint (so their digests are comparable).
bool quiet_and_equal(const std::vector<synod::ReplicaReport>& reports) {
  if (reports.empty()) return false;
  for (const auto& r : reports) {
    if (!r.reachable || r.last_executed != reports.front().last_executed ||
        r.stable_checkpoint != reports.front().stable_checkpoint) {
      return false;
    }
  }
  return true;
}

struct SummaryCheck {
  std::uint64_t view_changes = 0;  // the most any replica has seen
  bool equal_digests = false;
};

SummaryCheck summarize(const std::vector<synod::ReplicaReport>& reports) {
  SummaryCheck check;
  for (const auto& r : reports) check.view_changes = std::max(check.view_changes, r.view_changes);
  check.equal_digests = quiet_and_equal(reports) && std::all_of(reports.begin(), reports.end(), [&](const auto& r) {
                          return r.state_digest == reports.front().state_digest;
                        });
  return check;
}

int cmd_demo(const std::string& protocol_name, std::uint32_t clients, std::uint32_t phase_s) {
  auto protocol = synod::parse_protocol(protocol_name);
  if (!protocol) return die(protocol.error().message);
  struct sigaction action = {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  char pattern[] = "/tmp/synod-demo-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return die("cannot create a temp dir");
  const fs::path dir = pattern;
  const std::uint32_t n = *protocol == synod::Protocol::pbft ? 4 : 3;
  std::printf("== synod demo: %s, %u replicas (f=1), %u clients, kv app, cluster in %s\n", protocol_name.c_str(), n,
              clients, dir.c_str());
  auto cleanup = [&](int code) {
    for (synod::ReplicaId i = 0; i < n; ++i) stop_replica(dir, i, SIGTERM);
    std::error_code ec;
    fs::remove_all(dir, ec);
    return code;
  };
  auto ports = synod::runtime::free_loopback_ports(n);
  if (!ports) return cleanup(die(ports.error().message));
  if (auto r = init_cluster(dir, *protocol, 1, clients, "127.0.0.1", *ports); !r) {
    return cleanup(die(r.error().message));
  }
  auto config = synod::runtime::load_cluster_config(dir / "cluster.toml");
  if (!config) return cleanup(die(config.error().message));
  if (cmd_up(dir, "kv", std::nullopt, "info") != 0) return cleanup(1);

  Load load;
  std::vector<std::thread> workers;
  for (std::uint32_t c = 0; c < clients; ++c) {
    workers.emplace_back([&, c] {
      auto key = synod::crypto::PrivateKey::load_pem_file(dir / "keys" / ("client-" + std::to_string(c) + ".key"));
      if (!key) return;
      synod::ClientOptions options;
      options.timeout = 10s;  // also bounds how long an interrupted demo waits for its clients
      auto client = synod::Client::connect(*config, c, std::move(*key), options);
      if (!client) return;
      for (std::uint64_t i = 0; !load.stop.load(); ++i) {
        const auto op = synod::examples::kv::encode_put("c" + std::to_string(c) + "-" + std::to_string(i % 1000),
                                                        std::to_string(i));
        if ((*client)->invoke(synod::as_view(op))) {
          load.record(static_cast<std::uint64_t>((*client)->last_latency().count()));
        } else {
          std::lock_guard lock(load.mutex);
          ++load.errors;
        }
      }
    });
  }

  struct Row {
    std::string phase;
    std::uint64_t ops = 0;
    double seconds = 0;
    std::uint64_t p50 = 0, p99 = 0;
  };
  std::vector<Row> rows;
  auto run_phase = [&](const std::string& name, std::uint32_t seconds, auto&& extra) {
    Row row{name};
    std::vector<std::uint64_t> phase_samples;
    for (std::uint32_t s = 0; s < seconds && !g_interrupted; ++s) {
      std::this_thread::sleep_for(1s);
      std::vector<std::uint64_t> window;
      std::uint64_t errors = 0;
      {
        std::lock_guard lock(load.mutex);
        window.swap(load.latencies_us);
        errors = load.errors;
      }
      row.ops += window.size();
      row.seconds += 1;
      phase_samples.insert(phase_samples.end(), window.begin(), window.end());
      std::printf("\r[%-10s] %6zu ops/s  p50 %6.2f ms  p99 %7.2f ms  errors %llu  %s          ", name.c_str(),
                  window.size(), static_cast<double>(percentile(window, 0.5)) / 1000.0,
                  static_cast<double>(percentile(window, 0.99)) / 1000.0, static_cast<unsigned long long>(errors),
                  extra().c_str());
      std::fflush(stdout);
    }
    row.p50 = percentile(phase_samples, 0.5);
    row.p99 = percentile(phase_samples, 0.99);
    std::printf("\n");
    rows.push_back(row);
  };
  auto nothing = [] { return std::string(); };

  run_phase("warm-up", phase_s, nothing);
  if (g_interrupted) phase_s = 0;  // skip straight to the clean-up
  auto leader = current_leader(dir, *config);
  const synod::ReplicaId victim = leader.value_or(0);
  if (!g_interrupted) std::printf("== kill -9 replica %u (the %s)\n", victim, *protocol == synod::Protocol::pbft ? "primary" : "leader");
  if (auto pid = running_pid(dir, victim); pid && !g_interrupted) {
    ::kill(*pid, SIGKILL);
    (void)process_alive(*pid);  // reaps it (a child of the demo)
  }
  run_phase("failover", phase_s * 2, [&] {
    auto l = current_leader(dir, *config);
    return l ? "leader now " + std::to_string(*l) : std::string("no leader yet");
  });
  if (!g_interrupted) {
    std::printf("== restart replica %u\n", victim);
    cmd_up(dir, "kv", victim, "info");
  }
  run_phase("catch-up", phase_s * 2, [&] {
    std::uint64_t best = 0;
    for (const auto& r : config->replicas) best = std::max(best, last_executed(dir, r.id));
    return "replica " + std::to_string(victim) + " executed " + std::to_string(last_executed(dir, victim)) + " / " +
           std::to_string(best);
  });
  load.stop = true;
  for (auto& w : workers) w.join();
  if (g_interrupted) {
    std::printf("\ninterrupted: stopping the cluster\n");
    return cleanup(130);
  }

  // The load has stopped: wait (bounded) until every replica reports the
  // same stable checkpoint, then compare their state digests there.
  std::vector<synod::ReplicaReport> reports;
  if (auto key = synod::crypto::PrivateKey::load_pem_file(dir / "keys" / "client-0.key")) {
    if (auto client = synod::Client::connect(*config, 0, std::move(*key))) {
      for (int attempt = 0; attempt < 20 && !g_interrupted; ++attempt) {
        auto status = (*client)->status(1s);
        if (!status) break;
        reports = std::move(*status);
        if (quiet_and_equal(reports)) break;
        std::this_thread::sleep_for(500ms);
      }
    }
  }
  const SummaryCheck check = summarize(reports);

  std::printf("\n%-10s %10s %10s %10s %10s %14s %14s\n", "phase", "ops", "ops/s", "p50 ms", "p99 ms",
              *protocol == synod::Protocol::pbft ? "view changes" : "leader changes", "equal digests");
  std::uint64_t total_ops = 0;
  double total_seconds = 0;
  for (const auto& row : rows) {
    total_ops += row.ops;
    total_seconds += row.seconds;
    std::printf("%-10s %10llu %10.0f %10.2f %10.2f\n", row.phase.c_str(), static_cast<unsigned long long>(row.ops),
                static_cast<double>(row.ops) / std::max(1.0, row.seconds), static_cast<double>(row.p50) / 1000.0,
                static_cast<double>(row.p99) / 1000.0);
  }
  std::printf("%-10s %10llu %10.0f %10s %10s %14llu %14s\n", "total", static_cast<unsigned long long>(total_ops),
              static_cast<double>(total_ops) / std::max(1.0, total_seconds), "", "",
              static_cast<unsigned long long>(check.view_changes), check.equal_digests ? "yes" : "no");
  std::printf("errors (timed-out invokes): %llu\n", static_cast<unsigned long long>(load.errors));
  for (const auto& r : reports) {
    if (!r.reachable) {
      std::printf("replica %u: unreachable\n", r.id);
      continue;
    }
    std::printf("replica %u: %s %llu, last executed %llu, stable checkpoint %llu, state digest %s\n", r.id,
                *protocol == synod::Protocol::pbft ? "view" : "ballot round", static_cast<unsigned long long>(r.view),
                static_cast<unsigned long long>(r.last_executed), static_cast<unsigned long long>(r.stable_checkpoint),
                synod::to_hex(r.state_digest).substr(0, 16).c_str());
  }
  return cleanup(check.equal_digests ? 0 : 1);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"synod-cluster: create, start, stop and inspect a local synod cluster"};
  cli.require_subcommand(1);

  std::string dir;
  std::string protocol = "pbft";
  std::uint32_t f = 1, clients = 1, base_port = 7000;
  std::string host = "127.0.0.1";
  bool curve = false;
  bool no_fsync = false;
  std::string auth = "signatures";
  auto* init = cli.add_subcommand("init", "write DIR/cluster.toml and all keys");
  init->add_option("DIR", dir)->required();
  init->add_option("--protocol", protocol, "pbft or paxos")->check(CLI::IsMember({"pbft", "paxos"}));
  init->add_option("--f", f, "faults tolerated (pbft: 3f+1 replicas, paxos: 2f+1)");
  init->add_option("--clients", clients, "number of client identities");
  init->add_option("--host", host, "replica host (all replicas on it)");
  init->add_flag("--curve", curve, "CurveZMQ on every socket (writes a CURVE key pair per replica)");
  init->add_flag("--no-fsync", no_fsync,
                 "fsync = false: state survives kill -9 but not a machine crash (benchmarks, tests)");
  init->add_option("--auth", auth,
                   "normal-path authentication: signatures, or macs (MAC authenticators on replies and pbft "
                   "commits, with per-pair keys derived from the key pairs)")
      ->check(CLI::IsMember({"signatures", "macs"}))
      ->capture_default_str();
  init->add_option("--base-port", base_port, "replica i listens on base-port + i (0: free ports picked now)");

  std::string app = "kv", log_level = "info";
  std::optional<std::uint32_t> id;
  auto* up = cli.add_subcommand("up", "start every replica of DIR that is not running");
  up->add_option("DIR", dir)->required();
  up->add_option("--app", app,
                 "kv, kv-store (kv on synod's durable store in each replica's LMDB environment), "
                 "counter or echo (synod-bench's app); every replica of a cluster must run the same one")
      ->check(CLI::IsMember({"kv", "kv-store", "counter", "echo"}));
  up->add_option("--id", id, "only this replica");
  up->add_option("--log-level", log_level, "replica log level");

  auto* down = cli.add_subcommand("down", "stop replicas (SIGTERM, SIGKILL after 5 s)");
  down->add_option("DIR", dir)->required();
  down->add_option("--id", id, "only this replica");

  bool json = false;
  auto* ps = cli.add_subcommand("ps", "list replicas, their pids and last reported status");
  ps->add_option("DIR", dir)->required();
  ps->add_flag("--json", json, "JSON output");

  std::uint32_t demo_clients = 4, phase_s = 3;
  auto* demo = cli.add_subcommand("demo", "temporary kv cluster under load; kill -9 the primary/leader; restart it");
  demo->add_option("--protocol", protocol, "pbft or paxos")->check(CLI::IsMember({"pbft", "paxos"}));
  demo->add_option("--clients", demo_clients, "concurrent clients");
  demo->add_option("--phase-seconds", phase_s, "length of the warm-up phase (others are twice it)");
  CLI11_PARSE(cli, argc, argv);

  if (init->parsed()) {
    auto p = synod::parse_protocol(protocol);
    if (!p) return die(p.error().message);
    synod::ClusterConfig probe;
    probe.protocol = *p;
    probe.f = f;
    std::vector<std::uint16_t> ports;
    if (base_port == 0) {  // tests: ports free right now
      auto free = synod::runtime::free_loopback_ports(probe.required_replicas());
      if (!free) return die(free.error().message);
      ports = *free;
    }
    for (std::uint32_t i = 0; base_port != 0 && i < probe.required_replicas(); ++i) {
      if (base_port + i > 65535) return die("--base-port too high for " + std::to_string(probe.required_replicas()) + " replicas");
      ports.push_back(static_cast<std::uint16_t>(base_port + i));
    }
    const InitOptions options{curve, !no_fsync, *synod::parse_authentication(auth)};
    if (auto r = init_cluster(dir, *p, f, clients, host, ports, options); !r) return die(r.error().message);
    std::printf("wrote %s (%s, f=%u, %u replicas, %u clients)\n", (fs::path(dir) / "cluster.toml").c_str(),
                protocol.c_str(), f, probe.required_replicas(), clients);
    return 0;
  }
  if (up->parsed()) return cmd_up(fs::absolute(dir), app, id, log_level);
  if (down->parsed()) return cmd_down(fs::absolute(dir), id);
  if (ps->parsed()) return cmd_ps(fs::absolute(dir), json);
  if (demo->parsed()) return cmd_demo(protocol, demo_clients, phase_s);
  return 0;
}
