// synod-bench — closed-loop throughput/latency benchmark.
//
// For every configuration (mode x f x payload) it starts a throw-away local
// cluster on free loopback ports (synod-cluster init, then one synod-replica
// per id with --app echo and --metrics-port; or one synod-unreplicated for
// --unreplicated), or connects to a running one (--config), and for every
// point of the --outstanding sweep keeps exactly that many requests in
// flight through synod::AsyncClient (one client id per outstanding request).
// Per point: ops/s, latency percentiles (submit to accepted result), the
// batch size (from the first replica's /metrics), and CPU per operation of
// the server processes (utime + stime from /proc/PID/stat) and of this
// process (the clients). Output: a table, --json, and --plot FILE.png
// (gnuplot): p50 latency against throughput, one line per configuration.
// Every process it starts is stopped by pid (SIGTERM, then SIGKILL) on every
// exit path, including SIGINT/SIGTERM.
// --app kv-store runs the store-backed kv (ops: kv puts to keys "b<i>");
// --state-bytes LIST (with it) gives every replica's store the same genesis
// state before it starts (bench/state_prefill.hpp), runs the sweep on it, then
// reports RSS, the loop's longest pauses (synod_loop_max_iteration_us), the
// catch-up of a follower killed -9 while ~1% of the keys change, a whole
// transfer to a wiped follower against the loopback bandwidth, and the
// restart time (BENCHMARKS.md, "State of any size").
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <httplib.h>
#include <zmq.hpp>

#include "runtime/config_file.hpp"
#include "runtime/free_ports.hpp"
#include "runtime/processes.hpp"
#include "synod/async_client.hpp"
#include "synod/bench/echo.hpp"
#include "synod/client.hpp"
#include "synod/crypto/private_key.hpp"
#include "synod/examples/kv.hpp"
#include "runtime/lmdb_storage.hpp"
#include "runtime/openssl_crypto.hpp"
#include "state_prefill.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

using synod::runtime::read_text;
using synod::runtime::self_dir;

std::atomic<bool> g_interrupted{false};
void on_interrupt(int) { g_interrupted.store(true); }

struct Failure {
  std::string message;
};
[[noreturn]] void fail(const std::string& message) { throw Failure{message}; }

// CPU seconds (user + system) a process has used so far; nullopt if gone.
std::optional<double> cpu_seconds(pid_t pid) {
  const std::string stat = read_text(pid == 0 ? "/proc/self/stat" : "/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// ---------------------------------------------------------------- processes

// Processes this run started; stopped by pid on every exit path.
struct Processes {
  std::vector<pid_t> pids;

  pid_t spawn(const std::vector<std::string>& argv, const fs::path& log) {
    const pid_t pid = fork_exec(argv, log);
    pids.push_back(pid);
    return pid;
  }

  // Starts argv again in slot `index` (its earlier process is gone).
  pid_t respawn(std::size_t index, const std::vector<std::string>& argv, const fs::path& log) {
    const pid_t pid = fork_exec(argv, log);
    pids.at(index) = pid;
    return pid;
  }

  // kill -9 the process in slot `index` and reap it.
  void kill_hard(std::size_t index) {
    const pid_t pid = pids.at(index);
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pids[index] = -1;
  }

  static pid_t fork_exec(const std::vector<std::string>& argv, const fs::path& log) {
    const pid_t pid = ::fork();
    if (pid < 0) fail(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      const int null_fd = ::open("/dev/null", O_RDONLY);
      const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (null_fd >= 0) ::dup2(null_fd, 0);
      if (log_fd >= 0) {
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
      }
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      std::fprintf(stderr, "synod-bench: cannot exec %s: %s\n", args[0], std::strerror(errno));
      ::_exit(127);
    }
    return pid;
  }

  // Fails with the log's last line if a child already exited.
  void check_alive(const std::vector<fs::path>& logs) {
    for (std::size_t i = 0; i < pids.size(); ++i) {
      int status = 0;
      if (::waitpid(pids[i], &status, WNOHANG) == pids[i]) {
        pids[i] = -1;
        std::string text = i < logs.size() ? read_text(logs[i]) : "";
        while (!text.empty() && text.back() == '\n') text.pop_back();
        const auto nl = text.rfind('\n');
        const std::string how = WIFSIGNALED(status) ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                                    : "exited with status " + std::to_string(WEXITSTATUS(status));
        fail("server " + std::to_string(i) + " " + how + "; its log ends: " +
             (nl == std::string::npos ? text : text.substr(nl + 1)));
      }
    }
  }

  void stop_all() {
    for (pid_t pid : pids) {
      if (pid > 0) ::kill(pid, SIGTERM);
    }
    const auto deadline = Clock::now() + 5s;
    for (pid_t& pid : pids) {
      if (pid <= 0) continue;
      int status = 0;
      while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (Clock::now() > deadline) {
          ::kill(pid, SIGKILL);
          ::waitpid(pid, &status, 0);
          break;
        }
        std::this_thread::sleep_for(10ms);
      }
      pid = -1;
    }
    pids.clear();
  }
  ~Processes() { stop_all(); }
};

// ---------------------------------------------------------------- options

struct Payload {
  std::size_t request = 0;
  std::size_t reply = 0;
  std::string label;
};

// A byte count with an optional binary suffix (K, M, G); what it is and
// `examples` go into the error.
std::uint64_t parse_suffixed(const std::string& text, const std::string& what, const std::string& examples) {
  const std::string bad = "bad " + what + " '" + text + "' (e.g. " + examples + ")";
  std::size_t pos = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(text, &pos);
  } catch (...) {
    fail(bad);
  }
  const std::string suffix = text.substr(pos);
  unsigned shift = 0;
  if (suffix == "K" || suffix == "k") shift = 10;
  else if (suffix == "M" || suffix == "m") shift = 20;
  else if (suffix == "G" || suffix == "g") shift = 30;
  else if (!suffix.empty()) fail(bad);
  if (value > (~std::uint64_t{0} >> shift)) fail(bad);
  return std::uint64_t{value} << shift;
}

// A REQUEST/REPLY size: 0, 128, 1K, 4K, at most 1 MiB.
std::size_t parse_size(const std::string& text) {
  const std::uint64_t value = parse_suffixed(text, "size", "0, 128, 1K, 4K");
  if (value > synod::bench::kMaxEchoReplyBytes) fail("size " + text + " is over the 1 MiB cap");
  return static_cast<std::size_t>(value);
}

// A state size: 0, 64M, 1G, at most 64G.
std::uint64_t parse_bytes(const std::string& text) {
  const std::uint64_t value = parse_suffixed(text, "byte count", "0, 64M, 1G");
  if (value > (std::uint64_t{64} << 30)) fail("--state-bytes " + text + " is over 64G");
  return value;
}

std::string bytes_label(std::uint64_t v) {
  if (v >= (1u << 30) && v % (1u << 30) == 0) return std::to_string(v >> 30) + "G";
  if (v >= (1u << 20) && v % (1u << 20) == 0) return std::to_string(v >> 20) + "M";
  if (v >= (1u << 10) && v % (1u << 10) == 0) return std::to_string(v >> 10) + "K";
  return std::to_string(v);
}

Payload parse_payload(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) fail("bad payload '" + text + "' (REQUEST/REPLY, e.g. 128/128 or 1K/1K)");
  return {parse_size(text.substr(0, slash)), parse_size(text.substr(slash + 1)), text};
}

struct Configuration {
  std::string mode;  // pbft, paxos, unreplicated, or the --config cluster's protocol
  std::uint32_t f = 0;
  std::uint32_t n = 0;
  Payload payload;
  std::string auth = "signatures";  // or macs (ClusterConfig::authentication)
  std::string app = "echo";         // or kv-store: kv puts of payload.request bytes to keys "b<i>"
  std::optional<std::uint64_t> state_bytes;  // --state-bytes: the genesis state's size
  std::string label() const {
    const std::string head = mode == "unreplicated" ? mode : mode + " f=" + std::to_string(f);
    std::string tail;
    if (app != "echo") tail += " " + app;
    if (state_bytes) tail += " s=" + bytes_label(*state_bytes);
    return head + (auth == "macs" ? " mac " : " ") + payload.label + tail;
  }
};

struct Point {
  Configuration config;
  std::size_t outstanding = 0;
  std::uint64_t ops = 0;
  std::uint64_t errors = 0;
  double seconds = 0;
  double ops_per_sec = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, mean_us = 0;
  std::optional<double> batch_size;
  std::optional<double> server_cpu_us_per_op;
  double client_cpu_us_per_op = 0;
  // The longest event-loop iteration and core input of any replica during
  // the measured seconds (synod_loop_max_iteration_us, _input_us).
  std::optional<double> max_iteration_us;
  std::optional<double> max_iteration_cpu_us;  // that iteration's CPU time (synod_loop_max_iteration_cpu_us)
  std::optional<double> max_input_us;
};

// ---------------------------------------------------------------- metrics

// The value of an unlabelled-by-us sample "name{...} value" in /metrics text.
std::optional<double> metric_value(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(name + "{") || line.starts_with(name + " ")) {
      const auto space = line.rfind(' ');
      try {
        return std::stod(line.substr(space + 1));
      } catch (...) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> scrape(const std::string& host, std::uint16_t port) {
  httplib::Client http(host, port);
  http.set_connection_timeout(2, 0);
  http.set_read_timeout(2, 0);
  auto response = http.Get("/metrics");
  if (!response || response->status != 200) return std::nullopt;
  return response->body;
}

// ---------------------------------------------------------------- cluster

struct Cluster {
  fs::path dir;
  synod::ClusterConfig config;
  std::vector<pid_t> server_pids;              // empty for --config clusters
  std::optional<std::uint16_t> metrics_port;   // of the first server
  std::vector<std::uint16_t> metrics_ports;    // of every server it started
  std::vector<std::vector<std::string>> argv;  // of every server it started (restarts)
  Processes processes;
  std::vector<fs::path> logs;
};

void run_tool(const std::vector<std::string>& argv, const fs::path& log) {
  Processes once;
  const pid_t pid = once.spawn(argv, log);
  int status = 0;
  ::waitpid(pid, &status, 0);
  once.pids.clear();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string text = read_text(log);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    fail(argv[0] + " failed: " + text.substr(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1));
  }
}

synod::ClusterConfig load_config(const fs::path& path) {
  auto config = synod::runtime::load_cluster_config(path);
  if (!config) fail(config.error().message);
  return *config;
}

// The LMDB map size (synod-replica --map-mib) for a genesis state of
// state_bytes: three times the state (its LMDB pages, the Merkle index, and
// room for copy-on-write), at least the default.
std::size_t map_mib_for(std::uint64_t state_bytes) {
  return std::max<std::size_t>(synod::runtime::kDefaultMapBytes >> 20, static_cast<std::size_t>(3 * (state_bytes >> 20) + 256));
}

// --state-bytes: the genesis state written into replica 0's data dir, its
// data.mdb then copied into every other replica's (the same bytes
// everywhere), before any replica starts.
synod::bench::PrefillResult prefill(const Cluster& cluster, std::uint64_t state_bytes) {
  const fs::path key_path = cluster.dir / "keys" / "replica-0.key";
  auto key = synod::crypto::PrivateKey::load_pem_file(key_path);
  if (!key) fail("replica key " + key_path.string() + ": " + key.error().message);
  // The replicas' own Crypto: its digest (SHA-256) is the Merkle tree's.
  auto crypto = synod::runtime::OpenSslCrypto::from_config(cluster.config, std::move(*key));
  if (!crypto) fail(crypto.error().message);
  const fs::path first = cluster.dir / "data" / "replica-0";
  auto result = synod::bench::prefill_store(first, map_mib_for(state_bytes) << 20, **crypto, state_bytes);
  if (!result) fail("prefill " + first.string() + ": " + result.error().message);
  for (std::uint32_t i = 1; i < cluster.config.n(); ++i) {
    const fs::path dir = cluster.dir / "data" / ("replica-" + std::to_string(i));
    fs::create_directories(dir);
    fs::copy_file(first / "data.mdb", dir / "data.mdb", fs::copy_options::overwrite_existing);
  }
  // The copies are gigabytes of dirty page cache at 1 GiB: written back
  // now, not by the kernel while the sweep is measured.
  ::sync();
  return *result;
}

// A fresh cluster in dir: init + start the servers (after the genesis
// state, with c.state_bytes).
void start_cluster(Cluster& cluster, const Configuration& c, std::size_t clients, const std::string& log_level,
                   bool fsync, std::optional<synod::bench::PrefillResult>* prefilled = nullptr) {
  const fs::path bin = self_dir();
  fs::create_directories(cluster.dir / "logs");
  const std::string protocol = c.mode == "unreplicated" ? "paxos" : c.mode;
  const std::uint32_t f = c.mode == "unreplicated" ? 1 : c.f;
  std::vector<std::string> init{(bin / "synod-cluster").string(), "init", cluster.dir.string(), "--protocol", protocol,
                                "--f", std::to_string(f), "--clients", std::to_string(clients), "--base-port", "0"};
  if (!fsync) init.push_back("--no-fsync");
  init.insert(init.end(), {"--auth", c.auth});
  run_tool(init, cluster.dir / "logs" / "init.log");
  const fs::path config_path = cluster.dir / "cluster.toml";
  cluster.config = load_config(config_path);
  if (c.state_bytes && *c.state_bytes > 0 && prefilled != nullptr) *prefilled = prefill(cluster, *c.state_bytes);
  const std::uint32_t servers = c.mode == "unreplicated" ? 1 : cluster.config.n();
  const auto free = synod::runtime::free_loopback_ports(servers);
  if (!free) fail(free.error().message);
  const std::vector<std::uint16_t>& ports = *free;
  cluster.metrics_port = ports[0];
  for (std::uint32_t i = 0; i < servers; ++i) {
    const fs::path log = cluster.dir / "logs" / ("server-" + std::to_string(i) + ".log");
    std::vector<std::string> argv;
    if (c.mode == "unreplicated") {
      argv = {(bin / "synod-unreplicated").string(), "--config", config_path.string(), "--id", "0"};
    } else {
      argv = {(bin / "synod-replica").string(), "--config", config_path.string(), "--id", std::to_string(i)};
    }
    for (const std::string& a : {std::string("--app"), c.app, std::string("--log-level"), log_level,
                                 std::string("--metrics-port"), std::to_string(ports[i])}) {
      argv.push_back(a);
    }
    if (c.mode != "unreplicated" && c.app == "kv-store") {
      argv.push_back("--map-mib");
      argv.push_back(std::to_string(map_mib_for(c.state_bytes.value_or(0))));
    }
    cluster.server_pids.push_back(cluster.processes.spawn(argv, log));
    cluster.logs.push_back(log);
    cluster.metrics_ports.push_back(ports[i]);
    cluster.argv.push_back(argv);
  }
}

std::vector<synod::ClientIdentity> load_identities(const Cluster& cluster, std::size_t count) {
  if (count > cluster.config.clients.size()) {
    fail("--outstanding " + std::to_string(count) + " needs that many client ids; the config has " +
         std::to_string(cluster.config.clients.size()));
  }
  std::vector<synod::ClientIdentity> ids;
  for (std::size_t i = 0; i < count; ++i) {
    const synod::ClientId id = cluster.config.clients[i].id;
    const fs::path path = cluster.dir / "keys" / ("client-" + std::to_string(id) + ".key");
    auto key = synod::crypto::PrivateKey::load_pem_file(path);
    if (!key) fail("client key " + path.string() + ": " + key.error().message);
    ids.push_back({id, std::move(*key)});
  }
  return ids;
}

// A synchronous client with the config's client number `index` (0-based).
std::unique_ptr<synod::Client> connect_client(const Cluster& cluster, std::size_t index,
                                              std::chrono::milliseconds timeout) {
  if (index >= cluster.config.clients.size()) fail("the config has too few clients");
  const synod::ClientId id = cluster.config.clients[index].id;
  const fs::path path = cluster.dir / "keys" / ("client-" + std::to_string(id) + ".key");
  auto key = synod::crypto::PrivateKey::load_pem_file(path);
  if (!key) fail("client key " + path.string() + ": " + key.error().message);
  synod::ClientOptions options;
  options.timeout = timeout;
  auto client = synod::Client::connect(cluster.config, id, std::move(*key), options);
  if (!client) fail(client.error().message);
  return std::move(*client);
}

// The op a closed loop sends: the echo app's, or for kv-store a kv put of
// payload.request bytes to key "b<loop>".
synod::Bytes make_op(const Configuration& c, std::size_t loop) {
  if (c.app == "kv-store") return synod::examples::kv::encode_put("b" + std::to_string(loop), std::string(c.payload.request, 'v'));
  return synod::bench::make_echo_op(c.payload.request, c.payload.reply);
}

// Whether a result is the one that op gets: the echo app's reply size, or a
// kv ok.
[[gnu::noinline]] bool reply_ok(const Configuration& c, const synod::Result<synod::Bytes>& result) {
  if (!result.has_value()) return false;
  if (c.app != "kv-store") return result.value().size() == c.payload.reply;
  auto decoded = synod::examples::kv::decode_result(synod::ByteView(result.value().data(), result.value().size()));
  return decoded && decoded->status == synod::examples::kv::KvResult::Status::ok;
}

// Waits until the cluster executes a request (leader elected, sockets up).
void wait_ready(Cluster& cluster, std::chrono::seconds bound, const std::string& app = "echo") {
  auto client = connect_client(cluster, 0, 2s);
  const auto deadline = Clock::now() + bound;
  const synod::Bytes op =
      app == "kv-store" ? synod::examples::kv::encode_get("b0") : synod::bench::make_echo_op(0, 0);
  while (true) {
    if (g_interrupted) fail("interrupted");
    cluster.processes.check_alive(cluster.logs);
    if (client->invoke(synod::ByteView(op.data(), op.size()))) return;
    if (Clock::now() > deadline) fail("the cluster did not answer within " + std::to_string(bound.count()) + " s");
  }
}

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size()))) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

Point measure(Cluster& cluster, const Configuration& c, std::size_t outstanding, double warmup_s, double duration_s) {
  auto ids = load_identities(cluster, outstanding);
  synod::AsyncClientOptions options;
  options.timeout = 10s;
  auto client = synod::AsyncClient::connect(cluster.config, std::move(ids), options);
  if (!client) fail(client.error().message);
  std::vector<synod::Bytes> ops;  // one per loop
  for (std::size_t i = 0; i < outstanding; ++i) ops.push_back(make_op(c, i));

  // `outstanding` closed loops, each a chain of completions on the client's
  // I/O thread: a request completes and the next one is submitted at once,
  // with no thread of the benchmark's own between them. A loop whose request
  // fails (counted in `errors`, warm-up included) ends there: a refused
  // submission completes at once, and resubmitting from it would never return.
  std::atomic<bool> measuring{false};
  std::atomic<bool> stop{false};
  std::vector<double> all;        // latencies; I/O thread only until every loop has ended
  std::uint64_t errors = 0;       // likewise
  std::mutex ended_mutex;
  std::condition_variable ended_cv;
  std::size_t running = outstanding;  // guarded by ended_mutex
  std::vector<std::function<void()>> loops(outstanding);  // each submits its next request
  for (std::size_t i = 0; i < loops.size(); ++i) {
    loops[i] = [&, i] {
      const auto start = Clock::now();
      (*client)->submit(synod::Bytes(ops[i]), [&, i, start](synod::Result<synod::Bytes> result) {
        const bool ok = reply_ok(c, result);
        if (!ok) ++errors;
        if (ok && measuring.load(std::memory_order_relaxed))
          all.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
        if (ok && !stop.load(std::memory_order_relaxed)) {
          loops[i]();
          return;
        }
        const std::lock_guard lock(ended_mutex);
        if (--running == 0) ended_cv.notify_all();
      });
    };
  }
  for (auto& next : loops) next();
  auto sleep_for = [](double seconds) {
    const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    while (Clock::now() < until && !g_interrupted) std::this_thread::sleep_for(20ms);
  };
  sleep_for(warmup_s);

  std::optional<std::string> metrics_before;
  if (cluster.metrics_port) metrics_before = scrape("127.0.0.1", *cluster.metrics_port);
  // Every other server too: a scrape starts a new window of the loop's
  // per-scrape maxima (synod_loop_max_iteration_us), read after the point.
  for (std::size_t i = 1; i < cluster.metrics_ports.size(); ++i) scrape("127.0.0.1", cluster.metrics_ports[i]);
  std::vector<std::optional<double>> cpu_before;
  for (pid_t pid : cluster.server_pids) cpu_before.push_back(cpu_seconds(pid));
  const auto client_cpu_before = cpu_seconds(0);
  const auto t0 = Clock::now();
  measuring = true;
  sleep_for(duration_s);
  measuring = false;
  const auto t1 = Clock::now();
  const auto client_cpu_after = cpu_seconds(0);
  std::vector<std::optional<double>> cpu_after;
  for (pid_t pid : cluster.server_pids) cpu_after.push_back(cpu_seconds(pid));
  std::optional<std::string> metrics_after;
  if (cluster.metrics_port) metrics_after = scrape("127.0.0.1", *cluster.metrics_port);
  std::optional<double> max_iteration_us, max_iteration_cpu_us, max_input_us;
  for (std::size_t i = 0; i < cluster.metrics_ports.size(); ++i) {
    const auto text = i == 0 ? metrics_after : scrape("127.0.0.1", cluster.metrics_ports[i]);
    if (!text) continue;
    if (auto v = metric_value(*text, "synod_loop_max_iteration_us"); v && *v >= max_iteration_us.value_or(0)) {
      max_iteration_us = *v;
      max_iteration_cpu_us = metric_value(*text, "synod_loop_max_iteration_cpu_us");
    }
    if (auto v = metric_value(*text, "synod_loop_max_input_us")) max_input_us = std::max(max_input_us.value_or(0), *v);
  }
  stop = true;
  {
    // Each loop ends with its request (bounded by the client timeout).
    std::unique_lock lock(ended_mutex);
    ended_cv.wait(lock, [&] { return running == 0; });
  }
  if (g_interrupted) fail("interrupted");

  Point p;
  p.config = c;
  p.outstanding = outstanding;
  p.errors = errors;
  p.max_iteration_us = max_iteration_us;
  p.max_iteration_cpu_us = max_iteration_cpu_us;
  p.max_input_us = max_input_us;
  std::sort(all.begin(), all.end());
  p.ops = all.size();
  p.seconds = std::chrono::duration<double>(t1 - t0).count();
  p.ops_per_sec = p.seconds > 0 ? static_cast<double>(p.ops) / p.seconds : 0;
  p.p50_us = percentile(all, 0.50);
  p.p90_us = percentile(all, 0.90);
  p.p99_us = percentile(all, 0.99);
  p.p999_us = percentile(all, 0.999);
  double sum = 0;
  for (double v : all) sum += v;
  p.mean_us = all.empty() ? 0 : sum / static_cast<double>(all.size());
  if (metrics_before && metrics_after) {
    const auto r0 = metric_value(*metrics_before, "synod_requests_executed_total");
    const auto r1 = metric_value(*metrics_after, "synod_requests_executed_total");
    const auto b0 = metric_value(*metrics_before, "synod_batches_executed_total");
    const auto b1 = metric_value(*metrics_after, "synod_batches_executed_total");
    if (r0 && r1 && b0 && b1 && *b1 > *b0) p.batch_size = (*r1 - *r0) / (*b1 - *b0);
  }
  if (!cluster.server_pids.empty() && p.ops > 0) {
    double cpu = 0;
    bool complete = true;
    for (std::size_t i = 0; i < cpu_before.size(); ++i) {
      if (!cpu_before[i] || !cpu_after[i]) complete = false;
      else cpu += *cpu_after[i] - *cpu_before[i];
    }
    if (complete) p.server_cpu_us_per_op = cpu * 1e6 / static_cast<double>(p.ops);
  }
  if (client_cpu_before && client_cpu_after && p.ops > 0) {
    p.client_cpu_us_per_op = (*client_cpu_after - *client_cpu_before) * 1e6 / static_cast<double>(p.ops);
  }
  return p;
}

// ---------------------------------------------------------------- state of any size

// What --state-bytes measures besides the sweep, per configuration.
struct StateReport {
  Configuration config;  // payload: the sweep's first
  std::uint64_t state_bytes = 0;
  std::uint64_t keys = 0;
  double prefill_s = 0;
  std::string root;  // the genesis state's Merkle root (hex)
  double best_ops_per_sec = 0;
  std::optional<double> max_iteration_us, max_input_us;  // over the sweep's points, all replicas
  std::optional<double> max_iteration_cpu_us;            // the CPU time of that longest iteration
  std::uint64_t rss_max_bytes = 0;                       // VmRSS, the largest replica, after the sweep
  std::uint64_t rss_anon_max_bytes = 0;                  // RssAnon of the same
  std::uint64_t data_file_bytes = 0;                     // replica 0's data.mdb
  // Catch-up: a follower killed, ~1% of the keys updated, restarted.
  std::uint32_t catch_up_replica = 0;
  std::uint64_t catch_up_updates = 0;
  std::optional<double> catch_up_s;
  std::uint64_t catch_up_transfer_bytes = 0;  // TREE-NODES, LEAF-ENTRIES, VALUES received
  std::uint64_t catch_up_other_bytes = 0;     // STATE-SNAPSHOT, COMMITTED-BATCHES, CATCH-UP received
  std::uint64_t catch_up_all_bytes = 0;       // every frame received since the restart (retransmissions too)
  // Whole transfer: the same follower's data dir wiped, restarted.
  std::optional<double> full_s;
  std::uint64_t full_transfer_bytes = 0;
  std::uint64_t full_other_bytes = 0;
  // The other replicas' longest iteration meanwhile, its CPU time, and their longest input.
  std::optional<double> full_serving_max_iteration_us, full_serving_max_iteration_cpu_us, full_serving_max_input_us;
  // Restart: the full follower killed -9, time until it answers with its last_executed.
  std::optional<double> restart_s;
};

// Bytes of a "Name:   N kB" line of /proc/PID/status.
std::uint64_t proc_status_bytes(pid_t pid, const std::string& name) {
  std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(name + ":")) continue;
    std::istringstream fields(line.substr(name.size() + 1));
    std::uint64_t kb = 0;
    fields >> kb;
    return kb * 1024;
  }
  return 0;
}

std::vector<synod::ReplicaReport> status_of(synod::Client& client, std::chrono::milliseconds timeout) {
  auto reports = client.status(timeout);
  return reports ? *reports : std::vector<synod::ReplicaReport>{};
}

const synod::ReplicaReport* report_of(const std::vector<synod::ReplicaReport>& reports, std::uint32_t id) {
  for (const auto& r : reports) {
    if (r.id == id && r.reachable) return &r;
  }
  return nullptr;
}

// Kv puts to one key, a few hundred a second, from a thread of its own while
// alive: the checkpoints a restarted replica catches up to keep coming.
class Trickle {
 public:
  Trickle(const Cluster& cluster, std::size_t client_index) : client_(connect_client(cluster, client_index, 2s)) {
    thread_ = std::thread([this] {
      const synod::Bytes op = synod::examples::kv::encode_put("b-trickle", "t");
      while (!stop_.load() && !g_interrupted) {
        (void)client_->invoke(synod::ByteView(op.data(), op.size()));
        std::this_thread::sleep_for(2ms);
      }
    });
  }
  ~Trickle() {
    stop_ = true;
    thread_.join();
  }
  Trickle(const Trickle&) = delete;
  Trickle& operator=(const Trickle&) = delete;

 private:
  std::unique_ptr<synod::Client> client_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Seconds from `since` until replica `id` has executed at least
// `min_executed` and reports the stable checkpoint and state digest another
// replica reports; nullopt after `bound`.
std::optional<double> wait_caught_up(Cluster& cluster, synod::Client& status_client, std::uint32_t id,
                                     synod::Seq min_executed, Clock::time_point since, std::chrono::seconds bound) {
  while (Clock::now() - since < bound) {
    if (g_interrupted) fail("interrupted");
    cluster.processes.check_alive(cluster.logs);
    const auto reports = status_of(status_client, 300ms);
    const auto now = Clock::now();
    const synod::ReplicaReport* me = report_of(reports, id);
    if (me != nullptr && me->last_executed >= min_executed && me->stable_checkpoint > 0) {
      for (const auto& r : reports) {
        if (r.reachable && r.id != id && r.stable_checkpoint == me->stable_checkpoint &&
            r.state_digest == me->state_digest) {
          return std::chrono::duration<double>(now - since).count();
        }
      }
    }
    std::this_thread::sleep_for(20ms);
  }
  return std::nullopt;
}

// The highest last_executed any replica but `id` reports.
synod::Seq others_executed(synod::Client& status_client, std::uint32_t id) {
  synod::Seq most = 0;
  for (const auto& r : status_of(status_client, 1s)) {
    if (r.reachable && r.id != id) most = std::max(most, r.last_executed);
  }
  return most;
}

// ~1% of the genesis keys (every 100th; with no genesis state, 100 puts to
// keys "b<i>") updated through `loops` closed loops; returns the updates made.
std::uint64_t update_keys(Cluster& cluster, std::uint64_t genesis_keys, std::size_t loops_n) {
  auto ids = load_identities(cluster, loops_n);
  synod::AsyncClientOptions options;
  options.timeout = 10s;
  auto client = synod::AsyncClient::connect(cluster.config, std::move(ids), options);
  if (!client) fail(client.error().message);
  const std::uint64_t count = genesis_keys >= 100 ? genesis_keys / 100 : 100;
  std::atomic<std::uint64_t> next{0};
  std::atomic<std::uint64_t> errors{0};
  std::mutex ended_mutex;
  std::condition_variable ended_cv;
  std::size_t running = loops_n;
  std::vector<std::function<void()>> loops(loops_n);
  for (auto& loop : loops) {
    loop = [&] {
      const std::uint64_t j = next.fetch_add(1);
      if (j >= count || g_interrupted) {
        const std::lock_guard lock(ended_mutex);
        if (--running == 0) ended_cv.notify_all();
        return;
      }
      const std::uint64_t key = genesis_keys >= 100 ? j * 100 : j;
      synod::Bytes op = genesis_keys >= 100
                            ? synod::examples::kv::encode_put(synod::bench::state_key(key), synod::bench::state_value(key, true))
                            : synod::examples::kv::encode_put("b" + std::to_string(key), "update");
      (*client)->submit(std::move(op), [&](synod::Result<synod::Bytes> result) {
        if (!result) ++errors;
        loop();
      });
    };
  }
  for (auto& loop : loops) loop();
  {
    std::unique_lock lock(ended_mutex);
    ended_cv.wait(lock, [&] { return running == 0; });
  }
  if (errors > 0) std::fprintf(stderr, "synod-bench: %llu of %llu updates failed\n",
                               static_cast<unsigned long long>(errors.load()), static_cast<unsigned long long>(count));
  return count;
}

std::uint64_t scraped(const Cluster& cluster, std::uint32_t id, const std::string& name) {
  const auto text = scrape("127.0.0.1", cluster.metrics_ports.at(id));
  if (!text) return 0;
  return static_cast<std::uint64_t>(metric_value(*text, name).value_or(0));
}

void restart_server(Cluster& cluster, std::uint32_t id) {
  cluster.server_pids.at(id) = cluster.processes.respawn(id, cluster.argv.at(id), cluster.logs.at(id));
}

void measure_state(Cluster& cluster, StateReport& report, std::size_t first_free_client) {
  const std::uint32_t n = cluster.config.n();
  for (pid_t pid : cluster.server_pids) {
    report.rss_max_bytes = std::max(report.rss_max_bytes, proc_status_bytes(pid, "VmRSS"));
    report.rss_anon_max_bytes = std::max(report.rss_anon_max_bytes, proc_status_bytes(pid, "RssAnon"));
  }
  std::error_code ec;
  report.data_file_bytes = fs::file_size(cluster.dir / "data" / "replica-0" / "data.mdb", ec);
  auto status_client = connect_client(cluster, first_free_client, 1s);
  // The victim: the highest id that is not the primary/leader.
  const auto reports = status_of(*status_client, 1s);
  std::optional<std::uint32_t> leader;
  for (const auto& r : reports) {
    if (r.reachable && r.is_leader) leader = r.id;
  }
  std::uint32_t victim = n - 1;
  if (leader && *leader == victim) victim = n - 2;
  report.catch_up_replica = victim;

  // 1. Catch-up after missing ~1% of the keys' updates.
  cluster.processes.kill_hard(victim);
  report.catch_up_updates = update_keys(cluster, report.keys, 16);
  {
    const synod::Seq target = others_executed(*status_client, victim);
    Trickle trickle(cluster, first_free_client + 1);
    const auto since = Clock::now();
    restart_server(cluster, victim);
    report.catch_up_s = wait_caught_up(cluster, *status_client, victim, target, since, 180s);
  }
  report.catch_up_transfer_bytes = scraped(cluster, victim, "synod_state_transfer_bytes_received_total");
  report.catch_up_other_bytes = scraped(cluster, victim, "synod_catch_up_bytes_received_total");
  report.catch_up_all_bytes = scraped(cluster, victim, "synod_bytes_received_total");

  // 2. A whole transfer into a wiped data dir.
  cluster.processes.kill_hard(victim);
  fs::remove_all(cluster.dir / "data" / ("replica-" + std::to_string(victim)));
  {
    for (std::uint32_t i = 0; i < n; ++i) {
      if (i != victim) scrape("127.0.0.1", cluster.metrics_ports[i]);  // a new window of pauses
    }
    Trickle trickle(cluster, first_free_client + 1);
    const synod::Seq target = others_executed(*status_client, victim);
    const auto since = Clock::now();
    restart_server(cluster, victim);
    report.full_s = wait_caught_up(cluster, *status_client, victim, target, since, 600s);
    for (std::uint32_t i = 0; i < n; ++i) {
      if (i == victim) continue;
      if (const auto text = scrape("127.0.0.1", cluster.metrics_ports[i])) {
        if (auto v = metric_value(*text, "synod_loop_max_iteration_us");
            v && *v >= report.full_serving_max_iteration_us.value_or(0)) {
          report.full_serving_max_iteration_us = *v;
          report.full_serving_max_iteration_cpu_us = metric_value(*text, "synod_loop_max_iteration_cpu_us");
        }
        if (auto v = metric_value(*text, "synod_loop_max_input_us")) {
          report.full_serving_max_input_us = std::max(report.full_serving_max_input_us.value_or(0), *v);
        }
      }
    }
  }
  report.full_transfer_bytes = scraped(cluster, victim, "synod_state_transfer_bytes_received_total");
  report.full_other_bytes = scraped(cluster, victim, "synod_catch_up_bytes_received_total");

  // 3. Restart with the whole state: until it answers status with its last_executed.
  std::this_thread::sleep_for(300ms);
  synod::Seq executed = 0;
  const auto before = status_of(*status_client, 1s);
  if (const auto* me = report_of(before, victim)) executed = me->last_executed;
  cluster.processes.kill_hard(victim);
  const auto since = Clock::now();
  restart_server(cluster, victim);
  while (Clock::now() - since < 60s && !g_interrupted) {
    cluster.processes.check_alive(cluster.logs);
    const auto now = status_of(*status_client, 100ms);
    const auto* me = report_of(now, victim);
    if (me != nullptr && me->last_executed >= executed) {
      report.restart_s = std::chrono::duration<double>(Clock::now() - since).count();
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
}

// ---------------------------------------------------------------- output

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) {
      out += ' ';
      continue;
    }
    out += ch;
  }
  return out;
}

std::string optional_json(const std::optional<double>& v, int decimals) { return v ? fixed(*v, decimals) : "null"; }

void print_table_header() {
  std::printf("%-26s %5s %10s %9s %9s %9s %9s %7s %10s %10s %6s\n", "configuration", "outst", "ops/s", "p50 us",
              "p90 us", "p99 us", "p99.9 us", "batch", "srv cpu/op", "cli cpu/op", "errors");
}

void print_row(const Point& p) {
  std::printf("%-26s %5zu %10.0f %9.0f %9.0f %9.0f %9.0f %7s %10s %10.1f %6llu\n", p.config.label().c_str(),
              p.outstanding, p.ops_per_sec, p.p50_us, p.p90_us, p.p99_us, p.p999_us,
              p.batch_size ? fixed(*p.batch_size, 1).c_str() : "-",
              p.server_cpu_us_per_op ? (fixed(*p.server_cpu_us_per_op, 1) + " us").c_str() : "-",
              p.client_cpu_us_per_op, static_cast<unsigned long long>(p.errors));
  std::fflush(stdout);
}

// ---------------------------------------------------------------- ceiling

// This machine's signature speed: CPU time of one sign and one verify
// (synod_crypto, the cluster's default scheme, a 100-byte message); and its
// transport's: the p50 round trip of a 100-byte ZeroMQ message between two
// contexts (so through both I/O threads, as between processes) over loopback
// TCP, with no synod code on the way.
struct MachineSpeed {
  double sign_us = 0;
  double verify_us = 0;
  double round_trip_us = 0;
};

double thread_cpu_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

double measure_round_trip_us() {
  constexpr int kWarmup = 200;
  constexpr int kRounds = 2000;
  zmq::context_t server_context(1);
  zmq::context_t client_context(1);
  zmq::socket_t router(server_context, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::rcvtimeo, 5000);
  router.bind("tcp://127.0.0.1:*");
  const std::string endpoint = router.get(zmq::sockopt::last_endpoint);
  std::thread echo([&] {
    for (int i = 0; i < kWarmup + kRounds; ++i) {
      zmq::message_t id, body;
      if (!router.recv(id) || !router.recv(body)) return;
      router.send(id, zmq::send_flags::sndmore);
      router.send(body, zmq::send_flags::none);
    }
  });
  zmq::socket_t dealer(client_context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.set(zmq::sockopt::rcvtimeo, 5000);
  dealer.connect(endpoint);
  std::vector<double> samples;
  const std::vector<std::uint8_t> message(100, 0x5a);
  bool lost = false;
  for (int i = 0; i < kWarmup + kRounds && !lost; ++i) {
    const auto start = Clock::now();
    dealer.send(zmq::buffer(message), zmq::send_flags::none);
    zmq::message_t reply;
    lost = !dealer.recv(reply);
    if (i >= kWarmup) samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  echo.join();
  if (lost) fail("the loopback ZeroMQ round trip got no answer in 5 s");
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

MachineSpeed measure_machine_speed() {
  auto key = synod::crypto::PrivateKey::generate();
  if (!key) fail("cannot generate a key: " + key.error().message);
  auto pub = key->public_key();
  if (!pub) fail("cannot derive a public key: " + pub.error().message);
  const std::vector<std::uint8_t> message(100, 0x5a);
  // The best of three rounds: a busy machine only ever makes them slower.
  constexpr int kRounds = 300;
  std::vector<std::uint8_t> signature;
  MachineSpeed speed{1e9, 1e9};
  for (int round = 0; round < 3; ++round) {
    double start = thread_cpu_us();
    for (int i = 0; i < kRounds; ++i) signature = *key->sign(message);
    speed.sign_us = std::min(speed.sign_us, (thread_cpu_us() - start) / kRounds);
    start = thread_cpu_us();
    for (int i = 0; i < kRounds; ++i)
      if (!pub->verify(message, signature)) fail("a signature of ours does not verify");
    speed.verify_us = std::min(speed.verify_us, (thread_cpu_us() - start) / kRounds);
  }
  speed.round_trip_us = measure_round_trip_us();
  return speed;
}

// The better of two measurements: a busy or throttled moment only ever makes
// one slower. synod-bench measures before the first server starts and after
// the last one stops.
MachineSpeed best_of(MachineSpeed a, MachineSpeed b) {
  return {std::min(a.sign_us, b.sign_us), std::min(a.verify_us, b.verify_us),
          std::min(a.round_trip_us, b.round_trip_us)};
}

// The signature work a request costs however large its batch, and the
// throughput at which it alone would fill every core: the verify-rate
// ceiling. The client signs its request. With signatures every server that
// answers verifies that signature and signs its reply, and the client
// verifies the f+1 (pbft) or 1 (paxos, unreplicated) replies it needs. With MACs the
// servers check the request's MACs and MAC their replies (HMAC-SHA256, under
// a microsecond each, not counted): only the client's signature remains.
double crypto_us_per_request(const Configuration& c, MachineSpeed speed) {
  if (c.auth == "macs") return speed.sign_us;
  // pbft: every replica verifies the request and replies; paxos: the leader
  // alone (followers take its batches, crash faults only).
  const bool pbft = c.mode == "pbft";
  const double servers = pbft ? c.n : 1;
  const double replies_checked = pbft ? c.f + 1 : 1;
  return speed.sign_us + servers * (speed.verify_us + speed.sign_us) + replies_checked * speed.verify_us;
}

double ceiling_ops_per_sec(const Configuration& c, MachineSpeed speed) {
  return std::thread::hardware_concurrency() * 1e6 / crypto_us_per_request(c, speed);
}

void print_ceilings(const std::vector<Point>& points, MachineSpeed speed) {
  std::printf("\nverify-rate ceiling: sign %.1f us, verify %.1f us (CPU, best of start and end), %u cores\n", speed.sign_us,
              speed.verify_us, std::thread::hardware_concurrency());
  std::printf("%-26s %12s %14s %14s %7s\n", "configuration", "best ops/s", "crypto/request", "ceiling ops/s", "share");
  std::vector<std::string> order;
  std::map<std::string, const Point*> best;
  for (const Point& p : points) {
    const std::string label = p.config.label();
    if (!best.contains(label)) order.push_back(label);
    if (!best.contains(label) || p.ops_per_sec > best[label]->ops_per_sec) best[label] = &p;
  }
  for (const std::string& label : order) {
    const Point& p = *best[label];
    const double ceiling = ceiling_ops_per_sec(p.config, speed);
    std::printf("%-26s %12.0f %11.0f us %14.0f %6.0f%%\n", label.c_str(), p.ops_per_sec,
                crypto_us_per_request(p.config, speed), ceiling, 100.0 * p.ops_per_sec / ceiling);
  }
}

// The one-way message hops between submit() and the accepted result on the
// normal path: unreplicated request and reply; paxos request, accept,
// accepted, reply; pbft request, pre-prepare, prepare, commit, reply. Each
// costs at least half a ZeroMQ round trip, so hops x round trip / 2 is a
// floor under the unloaded latency before any CPU work (signatures, the
// protocol, the app) is counted.
std::uint32_t normal_path_hops(const Configuration& c) {
  if (c.mode == "unreplicated") return 2;
  return c.mode == "pbft" ? 5 : 4;
}

double latency_floor_us(const Configuration& c, MachineSpeed speed) {
  return normal_path_hops(c) * speed.round_trip_us / 2;
}

void print_latency_floors(const std::vector<Point>& points, MachineSpeed speed) {
  std::printf("\nlatency floor: ZeroMQ round trip p50 %.1f us on loopback (best of start and end)\n",
              speed.round_trip_us);
  std::printf("%-26s %12s %6s %10s %12s\n", "configuration", "outstanding", "hops", "floor us", "p50 us");
  std::vector<std::string> order;
  std::map<std::string, const Point*> least;  // the point with the fewest requests outstanding
  for (const Point& p : points) {
    const std::string label = p.config.label();
    if (!least.contains(label)) order.push_back(label);
    if (!least.contains(label) || p.outstanding < least[label]->outstanding) least[label] = &p;
  }
  for (const std::string& label : order) {
    const Point& p = *least[label];
    std::printf("%-26s %12zu %6u %10.0f %12.0f\n", label.c_str(), p.outstanding, normal_path_hops(p.config),
                latency_floor_us(p.config, speed), p.p50_us);
  }
}

std::string to_json(const std::vector<Point>& points, const std::string& command, MachineSpeed speed,
                    const std::vector<StateReport>& states, std::optional<double> loopback_mb_per_s) {
  std::ostringstream out;
  out << "{\"command\":\"" << json_escape(command) << "\",\"cpus\":" << std::thread::hardware_concurrency()
      << ",\"sign_us\":" << fixed(speed.sign_us, 2) << ",\"verify_us\":" << fixed(speed.verify_us, 2)
      << ",\"round_trip_us\":" << fixed(speed.round_trip_us, 2)
      << ",\"results\":[";
  for (std::size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    out << (i ? "," : "") << "\n{\"configuration\":\"" << json_escape(p.config.label()) << "\",\"mode\":\""
        << p.config.mode << "\",\"authentication\":\"" << p.config.auth << "\",\"f\":" << p.config.f << ",\"servers\":" << p.config.n
        << ",\"request_bytes\":" << p.config.payload.request << ",\"reply_bytes\":" << p.config.payload.reply
        << ",\"outstanding\":" << p.outstanding << ",\"ops\":" << p.ops << ",\"errors\":" << p.errors
        << ",\"seconds\":" << fixed(p.seconds, 3) << ",\"ops_per_sec\":" << fixed(p.ops_per_sec, 1)
        << ",\"latency_us\":{\"p50\":" << fixed(p.p50_us, 1) << ",\"p90\":" << fixed(p.p90_us, 1)
        << ",\"p99\":" << fixed(p.p99_us, 1) << ",\"p99.9\":" << fixed(p.p999_us, 1)
        << ",\"mean\":" << fixed(p.mean_us, 1) << "},\"batch_size\":" << optional_json(p.batch_size, 2)
        << ",\"server_cpu_us_per_op\":" << optional_json(p.server_cpu_us_per_op, 2)
        << ",\"client_cpu_us_per_op\":" << fixed(p.client_cpu_us_per_op, 2)
        << ",\"verify_rate_ceiling_ops_per_sec\":" << fixed(ceiling_ops_per_sec(p.config, speed), 1)
        << ",\"latency_floor_us\":" << fixed(latency_floor_us(p.config, speed), 1) << ",\"app\":\"" << p.config.app
        << "\",\"state_bytes\":" << (p.config.state_bytes ? std::to_string(*p.config.state_bytes) : "null")
        << ",\"max_iteration_us\":" << optional_json(p.max_iteration_us, 0)
        << ",\"max_iteration_cpu_us\":" << optional_json(p.max_iteration_cpu_us, 0)
        << ",\"max_input_us\":" << optional_json(p.max_input_us, 0) << "}";
  }
  out << "\n]";
  if (loopback_mb_per_s) out << ",\"loopback_mb_per_s\":" << fixed(*loopback_mb_per_s, 1);
  if (!states.empty()) {
    out << ",\"state\":[";
    for (std::size_t i = 0; i < states.size(); ++i) {
      const StateReport& r = states[i];
      auto mbps = [](std::uint64_t bytes, const std::optional<double>& s) -> std::optional<double> {
        if (!s || *s <= 0) return std::nullopt;
        return static_cast<double>(bytes) / *s / 1e6;
      };
      out << (i ? "," : "") << "\n{\"configuration\":\"" << json_escape(r.config.label()) << "\",\"mode\":\""
          << r.config.mode << "\",\"authentication\":\"" << r.config.auth << "\",\"f\":" << r.config.f
          << ",\"state_bytes\":" << r.state_bytes << ",\"keys\":" << r.keys << ",\"prefill_s\":" << fixed(r.prefill_s, 2)
          << ",\"genesis_root\":\"" << r.root << "\",\"data_file_bytes\":" << r.data_file_bytes
          << ",\"best_ops_per_sec\":" << fixed(r.best_ops_per_sec, 1)
          << ",\"max_iteration_us\":" << optional_json(r.max_iteration_us, 0)
          << ",\"max_iteration_cpu_us\":" << optional_json(r.max_iteration_cpu_us, 0)
          << ",\"max_input_us\":" << optional_json(r.max_input_us, 0) << ",\"rss_max_bytes\":" << r.rss_max_bytes
          << ",\"rss_anon_max_bytes\":" << r.rss_anon_max_bytes << ",\"catch_up\":{\"replica\":" << r.catch_up_replica
          << ",\"updated_keys\":" << r.catch_up_updates << ",\"seconds\":" << optional_json(r.catch_up_s, 3)
          << ",\"transfer_bytes\":" << r.catch_up_transfer_bytes << ",\"other_bytes\":" << r.catch_up_other_bytes
          << ",\"all_bytes_received\":" << r.catch_up_all_bytes
          << "},\"full_transfer\":{\"seconds\":" << optional_json(r.full_s, 3)
          << ",\"transfer_bytes\":" << r.full_transfer_bytes << ",\"other_bytes\":" << r.full_other_bytes
          << ",\"mb_per_s\":" << optional_json(mbps(r.full_transfer_bytes + r.full_other_bytes, r.full_s), 1)
          << ",\"serving_max_iteration_us\":" << optional_json(r.full_serving_max_iteration_us, 0)
          << ",\"serving_max_iteration_cpu_us\":" << optional_json(r.full_serving_max_iteration_cpu_us, 0)
          << ",\"serving_max_input_us\":" << optional_json(r.full_serving_max_input_us, 0)
          << "},\"restart_s\":" << optional_json(r.restart_s, 3) << "}";
    }
    out << "\n]";
  }
  out << "}\n";
  return out.str();
}

void print_states(const std::vector<StateReport>& states, std::optional<double> loopback_mb_per_s) {
  std::printf("\nstate of any size (pauses: longest over the sweep's points and replicas; catch-up: a follower "
              "killed -9 while ~1%% of the keys are updated, then restarted; full: its data dir wiped)\n");
  std::printf("(*: every byte the restarted follower received until it matched, its share of the load included)\n");
  if (loopback_mb_per_s) std::printf("loopback bandwidth (ZeroMQ PUSH/PULL, 1 MiB frames): %.0f MB/s\n", *loopback_mb_per_s);
  std::printf("%-30s %6s %10s %9s %9s %9s %8s %8s %9s %12s %8s %10s %8s %9s %11s %9s\n", "configuration", "state",
              "ops/s", "max it us", "(cpu us)", "max in us", "RSS MiB", "anon MiB", "updates", "catchup KiB*", "catchup",
              "full MiB", "full s", "full MB/s", "serve it us", "restart");
  for (const StateReport& r : states) {
    auto opt = [](const std::optional<double>& v, int decimals) { return v ? fixed(*v, decimals) : std::string("-"); };
    const std::optional<double> full_mbps =
        r.full_s && *r.full_s > 0
            ? std::optional<double>(static_cast<double>(r.full_transfer_bytes + r.full_other_bytes) / *r.full_s / 1e6)
            : std::nullopt;
    std::printf("%-30s %6s %10.0f %9s %9s %9s %8.0f %8.0f %9llu %12.0f %7ss %10.1f %7ss %9s %11s %8ss\n",
                r.config.label().c_str(), bytes_label(r.state_bytes).c_str(), r.best_ops_per_sec,
                opt(r.max_iteration_us, 0).c_str(), opt(r.max_iteration_cpu_us, 0).c_str(), opt(r.max_input_us, 0).c_str(), static_cast<double>(r.rss_max_bytes) / (1 << 20),
                static_cast<double>(r.rss_anon_max_bytes) / (1 << 20), static_cast<unsigned long long>(r.catch_up_updates),
                static_cast<double>(r.catch_up_all_bytes) / 1024,
                opt(r.catch_up_s, 2).c_str(),
                static_cast<double>(r.full_transfer_bytes + r.full_other_bytes) / (1 << 20), opt(r.full_s, 2).c_str(),
                opt(full_mbps, 0).c_str(), opt(r.full_serving_max_iteration_us, 0).c_str(), opt(r.restart_s, 2).c_str());
  }
  // What a whole transfer can reach at most: the receiver writes every key
  // through the same path as the genesis fill.
  for (const StateReport& r : states) {
    if (r.prefill_s <= 0) continue;
    std::printf("%s: store write ceiling (the genesis fill: MerkleStore over LMDB, commits of 10,000 keys): "
                "%.0f MB/s\n",
                r.config.label().c_str(), static_cast<double>(r.state_bytes) / r.prefill_s / 1e6);
  }
}

std::optional<std::string> find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  std::string d;
  while (std::getline(dirs, d, ':')) {
    const fs::path candidate = fs::path(d) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return std::nullopt;
}

void plot(const std::vector<Point>& points, const fs::path& png, const fs::path& work) {
  const auto gnuplot = find_in_path("gnuplot");
  if (!gnuplot) fail("--plot needs gnuplot (Debian package gnuplot-nox)");
  std::map<std::string, std::vector<const Point*>> series;
  std::vector<std::string> order;
  for (const Point& p : points) {
    if (!series.contains(p.config.label())) order.push_back(p.config.label());
    series[p.config.label()].push_back(&p);
  }
  const fs::path data = work / "plot.dat";
  const fs::path script = work / "plot.gp";
  {
    std::ofstream out(data);
    for (const std::string& label : order) {
      out << "# " << label << "\n";
      for (const Point* p : series[label]) {
        out << fixed(p->ops_per_sec / 1000.0, 4) << " " << fixed(p->p50_us / 1000.0, 4) << " " << p->outstanding
            << "\n";
      }
      out << "\n\n";
    }
  }
  {
    std::ofstream out(script);
    out << "set terminal pngcairo size 1000,650 enhanced font ',10'\n"
        << "set output '" << png.string() << "'\n"
        << "set title 'synod-bench: p50 latency vs throughput (closed loop, loopback)'\n"
        << "set xlabel 'throughput (kops/s)'\nset ylabel 'p50 latency (ms)'\nset grid\n"
        << "set key outside right top\nset logscale y\n"
        << "plot ";
    for (std::size_t i = 0; i < order.size(); ++i) {
      out << (i ? ", " : "") << "'" << data.string() << "' index " << i << " using 1:2 with linespoints title '"
          << order[i] << "'";
    }
    out << "\n";
  }
  run_tool({*gnuplot, script.string()}, work / "gnuplot.log");
  std::error_code ec;
  if (!fs::exists(png, ec) || fs::file_size(png, ec) == 0) fail("gnuplot wrote no " + png.string());
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{
      "synod-bench: closed-loop throughput/latency of a synod cluster (started on free loopback ports, or --config)"};
  std::string protocols;
  bool unreplicated = false;
  std::string fs_text = "1";
  std::string payloads = "0/0";
  std::string outstanding_text = "1,4,16,64";
  double duration_s = 3;
  double warmup_s = 1;
  std::string config_path;
  bool json = false;
  std::string json_path;
  std::string plot_path;
  bool keep = false;
  bool no_fsync = false;
  std::string log_level = "warn";
  std::string auths = "signatures";
  std::string app = "echo";
  std::string state_text;
  cli.add_option("--protocol", protocols, "pbft, paxos or pbft,paxos (default pbft unless only --unreplicated)");
  cli.add_flag("--unreplicated", unreplicated, "also run the baseline: one server executing with no agreement");
  cli.add_option("--f", fs_text, "faults tolerated, a list (e.g. 1,2,3)");
  cli.add_option("--auth", auths,
                 "authentication of the clusters it starts, a list: signatures, macs (e.g. signatures,macs)");
  cli.add_option("--payload", payloads, "REQUEST/REPLY bytes, a list (e.g. 0/0,128/128,1K/1K,4K/4K)");
  cli.add_option("--outstanding", outstanding_text, "requests kept in flight, a list: the sweep (e.g. 1,4,16,64)");
  cli.add_option("--duration", duration_s, "measured seconds per point")->check(CLI::Range(0.1, 3600.0));
  cli.add_option("--warmup", warmup_s, "unmeasured seconds before each point")->check(CLI::Range(0.0, 600.0));
  cli.add_option("--config", config_path,
                 "measure this running cluster instead (its DIR/keys/client-<id>.key are used; echo app needed)");
  cli.add_option("--app", app,
                 "the replicas' app: echo (requests of REQUEST bytes answered with REPLY bytes) or kv-store "
                 "(kv puts of REQUEST bytes to keys b<i> on the store-backed kv; REPLY is ignored)")
      ->check(CLI::IsMember({"echo", "kv-store"}));
  cli.add_option("--state-bytes", state_text,
                 "with --app kv-store, a list of genesis state sizes (e.g. 0,64M,1G): each replica's store starts "
                 "with that many bytes (keys s<i>, 1 KiB values); after the sweep: RSS, catch-up of a restarted "
                 "follower after ~1% of the keys changed, a whole transfer to a wiped one, restart time");
  cli.add_flag("--json", json, "print JSON instead of the table");
  cli.add_option("--json-file", json_path, "also write the JSON to this file");
  cli.add_option("--plot", plot_path, "draw p50 latency vs throughput per configuration into this PNG (gnuplot)");
  cli.add_flag("--no-fsync", no_fsync,
               "clusters it starts commit without fsync (survive kill -9, not a machine crash): the protocol's "
               "cost without the disk's");
  cli.add_flag("--keep", keep, "keep the temporary cluster directories (logs, configs)");
  cli.add_option("--log-level", log_level, "servers' log level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  CLI11_PARSE(cli, argc, argv);

  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(i ? argv[i] : "synod-bench");

  struct sigaction action = {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::vector<Point> points;
  std::vector<fs::path> temp_dirs;
  int rc = 0;
  try {
    std::vector<std::size_t> sweep;
    for (const std::string& s : split(outstanding_text)) {
      const std::size_t v = parse_size(s);
      if (v == 0 || v > 1024) fail("--outstanding values must be 1..1024, not " + s);
      sweep.push_back(v);
    }
    if (sweep.empty()) fail("--outstanding is empty");
    std::vector<Payload> payload_list;
    for (const std::string& s : split(payloads)) payload_list.push_back(parse_payload(s));
    if (payload_list.empty()) fail("--payload is empty");
    std::vector<std::uint32_t> f_list;
    for (const std::string& s : split(fs_text)) {
      const std::size_t v = parse_size(s);
      if (v < 1 || v > 3) fail("--f values must be 1..3, not " + s);
      f_list.push_back(static_cast<std::uint32_t>(v));
    }
    std::vector<std::string> modes;
    if (!config_path.empty()) {
      if (unreplicated || !protocols.empty()) fail("--config measures the given cluster; drop --protocol/--unreplicated");
    } else {
      if (unreplicated) modes.push_back("unreplicated");
      if (protocols.empty() && !unreplicated) protocols = "pbft";
      for (const std::string& p : split(protocols)) {
        if (p != "pbft" && p != "paxos") fail("--protocol must be pbft or paxos, not " + p);
        modes.push_back(p);
      }
    }
    std::vector<std::string> auth_list;
    for (const std::string& a : split(auths)) {
      if (a != "signatures" && a != "macs") fail("--auth must be signatures or macs, not " + a);
      auth_list.push_back(a);
    }
    if (auth_list.empty()) fail("--auth is empty");
    std::vector<std::optional<std::uint64_t>> state_list;
    for (const std::string& t : split(state_text)) state_list.emplace_back(parse_bytes(t));
    if (!state_list.empty() && app != "kv-store") fail("--state-bytes needs --app kv-store");
    if (!state_list.empty() && (unreplicated || !config_path.empty())) {
      fail("--state-bytes starts its own clusters: drop --unreplicated/--config");
    }
    if (state_list.empty()) state_list.emplace_back(std::nullopt);
    const std::size_t max_outstanding = *std::max_element(sweep.begin(), sweep.end());
    // Client ids: 0..max(outstanding, 16)-1 for the loops and the updates,
    // then one for status and one for the trickle of puts (--state-bytes).
    const std::size_t loop_clients = std::max<std::size_t>(max_outstanding, 16);
    MachineSpeed speed = measure_machine_speed();  // first, before any server runs
    std::optional<double> loopback_mb_per_s;
    if (state_list.front()) {
      auto bw = synod::bench::loopback_bandwidth_mb_per_s(std::size_t{256} << 20, std::size_t{1} << 20);
      if (!bw) fail(bw.error().message);
      loopback_mb_per_s = *bw;
    }
    if (!json) print_table_header();

    auto run_configuration = [&](Cluster& cluster, const Configuration& c) {
      for (std::size_t k : sweep) {
        if (!cluster.server_pids.empty()) cluster.processes.check_alive(cluster.logs);
        Point p = measure(cluster, c, k, warmup_s, duration_s);
        if (!json) print_row(p);
        points.push_back(p);
      }
    };
    std::vector<StateReport> states;

    if (!config_path.empty()) {
      Cluster cluster;
      cluster.dir = fs::path(config_path).parent_path();
      cluster.config = load_config(config_path);
      for (const Payload& payload : payload_list) {
        Configuration c{synod::to_string(cluster.config.protocol), cluster.config.f, cluster.config.n(), payload,
                        synod::to_string(cluster.config.authentication), app, std::nullopt};
        wait_ready(cluster, 30s, app);
        run_configuration(cluster, c);
      }
    } else {
      for (const std::string& mode : modes) {
        const std::vector<std::uint32_t> fs_for_mode = mode == "unreplicated" ? std::vector<std::uint32_t>{0} : f_list;
        for (std::uint32_t f : fs_for_mode) {
          for (const std::string& auth : auth_list) {
          if (state_list.front()) {
            // One cluster per state size: the genesis state is written
            // once, every payload runs on it, then the state measurements.
            for (const auto& state_bytes : state_list) {
              if (g_interrupted) fail("interrupted");
              char templ[] = "/tmp/synod-bench-XXXXXX";
              if (::mkdtemp(templ) == nullptr) fail(std::string("mkdtemp: ") + std::strerror(errno));
              temp_dirs.emplace_back(templ);
              Cluster cluster;
              cluster.dir = temp_dirs.back();
              Configuration c{mode, f, mode == "pbft" ? 3 * f + 1 : 2 * f + 1, payload_list.front(), auth, app,
                              state_bytes};
              std::optional<synod::bench::PrefillResult> prefilled;
              start_cluster(cluster, c, loop_clients + 2, log_level, !no_fsync, &prefilled);
              StateReport report;
              report.config = c;
              report.state_bytes = *state_bytes;
              if (prefilled) {
                report.keys = prefilled->keys;
                report.prefill_s = prefilled->seconds;
                report.root = synod::to_hex(prefilled->root);
              }
              wait_ready(cluster, 120s, app);
              const std::size_t first_point = points.size();
              for (const Payload& payload : payload_list) {
                c.payload = payload;
                run_configuration(cluster, c);
              }
              for (std::size_t i = first_point; i < points.size(); ++i) {
                const Point& p = points[i];
                report.best_ops_per_sec = std::max(report.best_ops_per_sec, p.ops_per_sec);
                if (p.max_iteration_us && *p.max_iteration_us >= report.max_iteration_us.value_or(0)) {
                  report.max_iteration_us = p.max_iteration_us;
                  report.max_iteration_cpu_us = p.max_iteration_cpu_us;
                }
                if (p.max_input_us) report.max_input_us = std::max(report.max_input_us.value_or(0), *p.max_input_us);
              }
              measure_state(cluster, report, loop_clients);
              states.push_back(report);
              cluster.processes.stop_all();
              std::error_code ec;
              if (!keep) fs::remove_all(cluster.dir, ec);
            }
            continue;
          }
          for (const Payload& payload : payload_list) {
            if (g_interrupted) fail("interrupted");
            char templ[] = "/tmp/synod-bench-XXXXXX";
            if (::mkdtemp(templ) == nullptr) fail(std::string("mkdtemp: ") + std::strerror(errno));
            temp_dirs.emplace_back(templ);
            Cluster cluster;
            cluster.dir = temp_dirs.back();
            Configuration c{mode, f, mode == "unreplicated" ? 1u : (mode == "pbft" ? 3 * f + 1 : 2 * f + 1), payload,
                            auth, mode == "unreplicated" ? "echo" : app, std::nullopt};
            start_cluster(cluster, c, max_outstanding + 1, log_level, !no_fsync);
            wait_ready(cluster, 30s, c.app);
            run_configuration(cluster, c);
            cluster.processes.stop_all();
          }
          }
        }
      }
    }
    speed = best_of(speed, measure_machine_speed());  // and again once every server has stopped
    if (!json) {
      print_ceilings(points, speed);
      print_latency_floors(points, speed);
      if (!states.empty()) print_states(states, loopback_mb_per_s);
    }
    const std::string text = to_json(points, command, speed, states, loopback_mb_per_s);
    if (json) std::fputs(text.c_str(), stdout);
    if (!json_path.empty()) {
      std::ofstream out(json_path, std::ios::trunc);
      out << text;
      if (!out) fail("cannot write " + json_path);
    }
    if (!plot_path.empty()) {
      char templ[] = "/tmp/synod-bench-plot-XXXXXX";
      if (::mkdtemp(templ) == nullptr) fail(std::string("mkdtemp: ") + std::strerror(errno));
      temp_dirs.emplace_back(templ);
      plot(points, fs::absolute(plot_path), temp_dirs.back());
      if (!json) std::printf("plot: %s\n", plot_path.c_str());
    }
  } catch (const Failure& f) {
    std::fprintf(stderr, "synod-bench: %s\n", f.message.c_str());
    rc = 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "synod-bench: %s\n", e.what());
    rc = 1;
  }
  for (const fs::path& d : temp_dirs) {
    std::error_code ec;
    if (keep) std::fprintf(stderr, "synod-bench: kept %s\n", d.c_str());
    else fs::remove_all(d, ec);
  }
  return rc;
}
