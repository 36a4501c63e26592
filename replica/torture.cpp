// synod-torture — fault injection on real replica processes (issue 6).
//
// Each case: `synod-cluster init` a throw-away kv cluster on free loopback
// ports, start its replicas, drive concurrent clients (one synod::Client per
// worker thread) that record every operation in a JSON-lines history
// (check/README.md), inject one scenario, heal, and check:
//   * the history is linearizable (lib/check, the code behind synod-check);
//   * every acknowledged write to a write-once key is readable afterwards;
//   * every correct replica is reachable, has executed as far as the others
//     and reports the same state digest at the same stable checkpoint
//     (`synod-client status`), and no correct replica died;
//   * garbage: every replica's resident memory grew by less than
//     kRssGrowthLimitMiB.
// It prints throughput before the fault, during it, and as a % of before.
//
// Replicas are started with the command line `synod-cluster up` uses, from
// this process, with PR_SET_PDEATHSIG so that a runner killed by a timeout
// never leaves replicas behind; pid files go where synod-cluster expects
// them, so `synod-cluster ps/down DIR` work on a kept cluster.
//
// Usage: see --help and tests/torture/README.md.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <zmq.hpp>

#include "check/history.hpp"
#include "check/linearizability.hpp"
#include "runtime/config_file.hpp"
#include "runtime/processes.hpp"
#include "runtime/routing_ids.hpp"
#include "synod/client.hpp"
#include "synod/crypto/private_key.hpp"
#include "synod/examples/kv.hpp"
#include "wire/codec.hpp"
#include "wire/messages.hpp"

namespace fs = std::filesystem;
namespace ck = synod::check;
namespace kv = synod::examples::kv;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

using synod::runtime::read_text;
using synod::runtime::self_dir;
using synod::runtime::process_alive;
using synod::runtime::rss_kib;

std::atomic<bool> g_interrupted{false};
void on_interrupt(int) { g_interrupted.store(true); }

// A replica's resident memory may grow by at most this much while it is fed
// garbage (scenario garbage): the frame cap, the transport's high-water
// marks and the bounded decoders must keep it there.
constexpr long kRssGrowthLimitMiB = 64;
// Sleeps that stop early on an interrupt.
void nap(std::chrono::milliseconds d) {
  const auto until = Clock::now() + d;
  while (!g_interrupted && Clock::now() < until) std::this_thread::sleep_for(std::min<Clock::duration>(50ms, until - Clock::now()));
}

// Runs a tool to completion (bounded), output appended to `log`.
int run_tool(const std::vector<std::string>& args, const fs::path& log, std::chrono::seconds bound = 60s) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::string log_path = log.string();
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  const auto until = Clock::now() + bound;
  int status = 0;
  while (true) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (Clock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(20ms);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ------------------------------------------------------------------ cluster

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
};

std::optional<Endpoint> parse_endpoint(const std::string& e) {
  constexpr std::string_view prefix = "tcp://";
  if (e.rfind(prefix, 0) != 0) return std::nullopt;
  const auto colon = e.rfind(':');
  if (colon == std::string::npos || colon < prefix.size()) return std::nullopt;
  const int port = std::atoi(e.c_str() + colon + 1);
  if (port <= 0 || port > 65535) return std::nullopt;
  return Endpoint{e.substr(prefix.size(), colon - prefix.size()), static_cast<std::uint16_t>(port)};
}

class Cluster {
 public:
  fs::path dir;
  fs::path bin;
  synod::ClusterConfig config;
  std::string log_level = "warn";
  std::vector<std::string> netns;  // scenario partition: replica i runs in netns[i]

  fs::path pid_file(synod::ReplicaId id) const { return dir / "run" / ("replica-" + std::to_string(id) + ".pid"); }
  fs::path log_file(synod::ReplicaId id) const { return dir / "logs" / ("replica-" + std::to_string(id) + ".log"); }

  pid_t pid(synod::ReplicaId id) const {
    const std::string text = read_text(pid_file(id));
    return text.empty() ? 0 : static_cast<pid_t>(std::atol(text.c_str()));
  }
  bool running(synod::ReplicaId id) const { return process_alive(pid(id)); }

  // The command line of `synod-cluster up`, plus --fault MODE when given.
  bool start(synod::ReplicaId id, const std::string& fault = "") {
    std::error_code ec;
    fs::create_directories(dir / "run", ec);
    fs::create_directories(dir / "logs", ec);
    std::vector<std::string> args;
    if (id < netns.size()) args = {"/usr/sbin/ip", "netns", "exec", netns[id]};  // exec()s the replica: same pid
    for (std::string a : {(bin / "synod-replica").string(), std::string("--config"), (dir / "cluster.toml").string(),
                          std::string("--id"), std::to_string(id), std::string("--app"), std::string("kv"),
                          std::string("--log-level"), log_level}) {
      args.push_back(std::move(a));
    }
    if (!fault.empty()) {
      args.push_back("--fault");
      args.push_back(fault);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log = log_file(id).string();
    const pid_t parent = ::getpid();
    const pid_t child = ::fork();
    if (child < 0) return false;
    if (child == 0) {
      ::setsid();
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      const int null_fd = ::open("/dev/null", O_RDONLY);
      const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (null_fd >= 0) ::dup2(null_fd, 0);
      if (log_fd >= 0) {
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    std::ofstream(pid_file(id), std::ios::trunc) << child << "\n";
    return true;
  }

  void signal(synod::ReplicaId id, int sig) const {
    const pid_t p = pid(id);
    if (process_alive(p)) ::kill(p, sig);
  }

  void kill9(synod::ReplicaId id) {
    const pid_t p = pid(id);
    if (p <= 0) return;
    ::kill(p, SIGCONT);
    ::kill(p, SIGKILL);
    // Until it is gone (its LMDB lock released): a loaded machine can take seconds.
    for (int i = 0; i < 1500 && process_alive(p); ++i) std::this_thread::sleep_for(10ms);
  }

  void stop_all() {
    for (const auto& r : config.replicas) signal(r.id, SIGCONT);  // a stopped process ignores SIGTERM
    (void)run_tool({(bin / "synod-cluster").string(), "down", dir.string()}, dir / "tool.log", 30s);
    for (const auto& r : config.replicas) kill9(r.id);
  }
};

// ------------------------------------------------------------------ partitions

// A tool's path: $PATH, then the sbin directories (empty when missing).
std::string find_tool(const std::string& name) {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::istringstream in(path);
    for (std::string d; std::getline(in, d, ':');) {
      if (!d.empty()) dirs.push_back(d);
    }
  }
  for (const char* d : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) dirs.emplace_back(d);
  for (const auto& d : dirs) {
    const fs::path p = fs::path(d) / name;
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  }
  return "";
}

// The lossy / slow network phase of scenario partition: every link (replica
// to replica, replica to clients, both directions) gets delay and loss from
// tc netem when the kernel has it (probed once per process). Otherwise random
// loss from nftables in every replica's namespace (each packet crosses one
// such rule: at the receiving replica, or leaving a replica for the clients)
// and a tbf rate limit on every link, whose queue adds delay under load (tbf
// adds no fixed delay).
constexpr int kLossPercent = 10;
constexpr const char* kNetemArgs = "netem delay 20ms 10ms loss 10%";
constexpr const char* kNetemText = "tc netem: delay 20 ms +-10 ms and 10% loss on every link";
// 1.5 Mbit/s per link is about what a pbft primary sends each replica at full
// load on 2 cores (~1.6 Mbit/s at ~450 ops/s): under load, queues of up to
// 100 ms build (more is dropped).
constexpr const char* kTbfArgs = "tbf rate 1500kbit burst 32kbit latency 100ms";
constexpr const char* kNftTable = "synod_torture";

enum class LossyMechanism { netem, nft_tbf, nft, none };

struct LossyPlan {
  LossyMechanism mechanism = LossyMechanism::none;
  std::string text;        // what is used, and why not netem
  std::string short_text;  // for the table's note
};

// Scenario partition: every replica in its own network namespace, its
// endpoint address (10.A.0.i+1) on its loopback; one veth pair per pair of
// replicas (routes to the other's address through it) and one to the root
// namespace, where the clients run. Cutting a pair link partitions those two
// replicas; the clients still reach everyone. Root only (ip netns).
class Partitions {
 public:
  ~Partitions() { teardown(); }

  // Skips (returns a reason) when the machine cannot do it.
  std::optional<std::string> setup(std::uint32_t n, const fs::path& log) {
    if (::geteuid() != 0) return "needs root (network namespaces)";
    if (!fs::exists("/usr/sbin/ip")) return "needs /usr/sbin/ip (iproute2)";
    log_ = log;
    sweep_stale();
    n_ = n;
    a_ = 100 + static_cast<int>(::getpid() % 100);
    prefix_ = "syt" + std::to_string(::getpid()) + "-";
    std::string script;
    for (std::uint32_t i = 0; i < n; ++i) {
      names_.push_back(prefix_ + std::to_string(i));
      const std::string ns = names_.back();
      const std::string host_if = host_link(i);
      script += "ip netns add " + ns + "\n";
      script += "ip -n " + ns + " link set lo up\n";
      script += "ip -n " + ns + " addr add " + address(i) + "/32 dev lo\n";
      script += "ip link add " + host_if + " type veth peer name c netns " + ns + "\n";
      script += "ip addr add " + net(10 + i) + ".1/24 dev " + host_if + "\n";
      script += "ip link set " + host_if + " up\n";
      script += "ip -n " + ns + " addr add " + net(10 + i) + ".2/24 dev c\n";
      script += "ip -n " + ns + " link set c up\n";
      script += "ip route replace " + address(i) + "/32 via " + net(10 + i) + ".2\n";
    }
    for (std::uint32_t i = 0; i < n; ++i) {
      for (std::uint32_t j = i + 1; j < n; ++j) {
        script += "ip link add q" + std::to_string(j) + " netns " + names_[i] + " type veth peer name q" +
                  std::to_string(i) + " netns " + names_[j] + "\n";
        script += "ip -n " + names_[i] + " addr add " + net(100 + pair(i, j)) + ".1/24 dev q" + std::to_string(j) + "\n";
        script += "ip -n " + names_[j] + " addr add " + net(100 + pair(i, j)) + ".2/24 dev q" + std::to_string(i) + "\n";
        script += link_up(i, j);
      }
    }
    if (!sh(script)) {
      teardown();
      return "cannot create network namespaces and veth links here (see " + log.string() + ")";
    }
    return std::nullopt;
  }

  std::string address(std::uint32_t i) const { return "10." + std::to_string(a_) + ".0." + std::to_string(i + 1); }
  const std::vector<std::string>& names() const { return names_; }

  bool cut(std::uint32_t i, std::uint32_t j) {
    return sh("ip -n " + names_[i] + " link set q" + std::to_string(j) + " down\nip -n " + names_[j] + " link set q" +
              std::to_string(i) + " down\n");
  }
  bool heal(std::uint32_t i, std::uint32_t j) { return sh(link_up(std::min(i, j), std::max(i, j))); }

  // Deleting a namespace deletes its veth ends, their peers (the clients'
  // ends in the root namespace), their qdiscs and its nftables rules.
  void teardown() {
    if (names_.empty()) return;
    std::string script;
    for (const auto& ns : names_) script += "ip netns del " + ns + " || true\n";
    (void)sh(script);
    names_.clear();
  }

  // How the lossy phase degrades the links here. The netem probe runs once
  // per process (in the first namespace's loopback).
  LossyPlan lossy_plan() {
    static std::optional<LossyPlan> cached;
    if (cached) return *cached;
    LossyPlan plan;
    const std::string tc = find_tool("tc"), nft = find_tool("nft");
    const fs::path probe_log = log_.parent_path() / "lossy-probe.log";
    auto last_line = [&] {
      std::string text = read_text(probe_log);
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
      const auto nl = text.rfind('\n');
      return nl == std::string::npos ? text : text.substr(nl + 1);
    };
    auto probe_qdisc = [&](const std::string& args) {
      std::error_code ec;
      fs::remove(probe_log, ec);
      const std::string q = "ip netns exec " + names_[0] + " " + tc + " qdisc";
      return run_tool({"/bin/sh", "-ec", q + " add dev lo root " + args + "\n" + q + " del dev lo root\n"}, probe_log, 30s) == 0;
    };
    std::string no_netem;
    if (tc.empty()) {
      no_netem = "tc (iproute2) is not installed";
    } else if (probe_qdisc(kNetemArgs)) {
      plan.mechanism = LossyMechanism::netem;
      plan.text = kNetemText;
      plan.short_text = "lossy: netem";
      cached = plan;
      return plan;
    } else {
      no_netem = "tc netem is missing from this kernel (sch_netem: \"" + last_line() + "\")";
    }
    bool nft_ok = false;
    std::string no_nft;
    if (nft.empty()) {
      no_nft = "nft (nftables) is not installed; scripts/install-deps.sh installs it";
    } else {
      std::error_code ec;
      fs::remove(probe_log, ec);
      const std::string x = "ip netns exec " + names_[0] + " " + nft + " ";
      nft_ok = run_tool({"/bin/sh", "-ec", x + "add table inet " + kNftTable + "_probe\n" + x + "delete table inet " +
                                               kNftTable + "_probe\n"},
                        probe_log, 30s) == 0;
      if (!nft_ok) no_nft = "nftables does not work here (\"" + last_line() + "\")";
    }
    if (!nft_ok) {
      plan.text = "lossy phase skipped: " + no_netem + ", and " + no_nft;
      plan.short_text = "lossy phase skipped (no netem, no nft)";
    } else {
      const std::string loss = "nftables random loss " + std::to_string(kLossPercent) + "% on every link";
      if (!tc.empty() && probe_qdisc(kTbfArgs)) {
        plan.mechanism = LossyMechanism::nft_tbf;
        plan.text = loss + " + " + kTbfArgs + " on every link (queueing delay under load); " + no_netem;
        plan.short_text = "lossy: nft loss + tbf (no netem)";
      } else {
        plan.mechanism = LossyMechanism::nft;
        plan.text = loss + ", no added delay (tbf unavailable: \"" + last_line() + "\"); " + no_netem;
        plan.short_text = "lossy: nft loss only (no netem, no tbf)";
      }
    }
    cached = plan;
    return plan;
  }

  // Applies the plan to every link; false (links restored) when that fails.
  bool degrade(const LossyPlan& plan) {
    if (plan.mechanism == LossyMechanism::none) return false;
    const std::string tc = find_tool("tc"), nft = find_tool("nft");
    std::string script;
    auto qdisc_everywhere = [&](const std::string& args) {
      for (std::uint32_t i = 0; i < n_; ++i) {
        for (const auto& dev : links_of(i)) {
          script += "ip netns exec " + names_[i] + " " + tc + " qdisc replace dev " + dev + " root " + args + "\n";
        }
        script += tc + " qdisc replace dev " + host_link(i) + " root " + args + "\n";
      }
    };
    if (plan.mechanism == LossyMechanism::netem) {
      qdisc_everywhere(kNetemArgs);
    } else {
      const fs::path rules = log_.parent_path() / "lossy.nft";
      const std::string drop = "numgen random mod 100 < " + std::to_string(kLossPercent) + " drop";
      std::ofstream(rules, std::ios::trunc)
          << "table inet " << kNftTable << " {\n"
          << "  chain in { type filter hook input priority 0; policy accept; iifname != \"lo\" " << drop << "; }\n"
          << "  chain out { type filter hook output priority 0; policy accept; oifname \"c\" " << drop << "; }\n"
          << "}\n";
      for (const auto& ns : names_) script += "ip netns exec " + ns + " " + nft + " -f " + rules.string() + "\n";
      if (plan.mechanism == LossyMechanism::nft_tbf) qdisc_everywhere(kTbfArgs);
    }
    degraded_ = true;
    if (sh(script)) return true;
    restore();
    return false;
  }

  // Removes every qdisc and rule degrade() added (never fails; teardown
  // removes them in any case).
  void restore() {
    if (!degraded_ || names_.empty()) return;
    const std::string tc = find_tool("tc"), nft = find_tool("nft");
    std::string script;
    for (std::uint32_t i = 0; i < n_; ++i) {
      if (!tc.empty()) {
        for (const auto& dev : links_of(i)) {
          script += "ip netns exec " + names_[i] + " " + tc + " qdisc del dev " + dev + " root 2>/dev/null || true\n";
        }
        script += tc + " qdisc del dev " + host_link(i) + " root 2>/dev/null || true\n";
      }
      if (!nft.empty()) {
        script += "ip netns exec " + names_[i] + " " + nft + " delete table inet " + kNftTable + " 2>/dev/null || true\n";
      }
    }
    (void)sh(script);
    degraded_ = false;
  }

 private:
  // The clients' end of replica i's link (root namespace; name <= 15 bytes).
  std::string host_link(std::uint32_t i) const { return "syt" + std::to_string(::getpid() % 100000) + "c" + std::to_string(i); }
  // Replica i's links in its namespace: one per other replica, one to the clients.
  std::vector<std::string> links_of(std::uint32_t i) const {
    std::vector<std::string> devs;
    for (std::uint32_t j = 0; j < n_; ++j) {
      if (j != i) devs.push_back("q" + std::to_string(j));
    }
    devs.emplace_back("c");
    return devs;
  }
  // Namespaces left by a runner that was killed (SIGKILL, e.g. a ctest
  // timeout) before its teardown: syt<pid>-<i> whose pid is no synod-torture.
  void sweep_stale() {
    const fs::path list = log_.parent_path() / "netns-list.txt";
    (void)run_tool({"/usr/sbin/ip", "netns", "list"}, list, 30s);
    std::istringstream in(read_text(list));
    std::string script;
    for (std::string line; std::getline(in, line);) {
      const std::string name = line.substr(0, line.find(' '));
      if (name.rfind("syt", 0) != 0) continue;
      const auto dash = name.find('-');
      if (dash == std::string::npos || dash == 3) continue;
      const std::string digits = name.substr(3, dash - 3);
      if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
      const long pid = std::atol(digits.c_str());
      std::string comm = read_text("/proc/" + std::to_string(pid) + "/comm");
      if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0 && comm.rfind("synod-torture", 0) == 0) continue;
      script += "ip netns del " + name + " || true\n";
    }
    if (!script.empty()) (void)sh(script);
  }
  std::string net(std::uint32_t third) const { return "10." + std::to_string(a_) + "." + std::to_string(third); }
  std::uint32_t pair(std::uint32_t i, std::uint32_t j) const { return i * n_ + j; }
  std::string link_up(std::uint32_t i, std::uint32_t j) const {
    const std::string qi = "q" + std::to_string(i), qj = "q" + std::to_string(j);
    return "ip -n " + names_[i] + " link set " + qj + " up\n" + "ip -n " + names_[j] + " link set " + qi + " up\n" +
           "ip -n " + names_[i] + " route replace " + address(j) + "/32 via " + net(100 + pair(i, j)) + ".2\n" +
           "ip -n " + names_[j] + " route replace " + address(i) + "/32 via " + net(100 + pair(i, j)) + ".1\n";
  }
  bool sh(const std::string& script) { return run_tool({"/bin/sh", "-ec", script}, log_, 60s) == 0; }

  fs::path log_;
  std::uint32_t n_ = 0;
  int a_ = 100;
  std::string prefix_;
  std::vector<std::string> names_;
  bool degraded_ = false;
};

// ------------------------------------------------------------------ history

class Recorder {
 public:
  explicit Recorder(Clock::time_point origin) : origin_(origin) {}
  std::int64_t now_us() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - origin_).count();
  }
  void add(ck::Event e) {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(e));
  }
  std::vector<ck::Event> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  Clock::time_point origin_;
  mutable std::mutex mutex_;
  std::vector<ck::Event> events_;
};

struct Planned {
  ck::OpKind kind = ck::OpKind::get;
  std::string key;
  std::string value;
  std::optional<std::string> expected;
  bool read_only = false;
};

enum class Outcome { ok, failed, unknown };

struct OpResult {
  Outcome outcome = Outcome::unknown;
  kv::KvResult result;
};

// Invokes one op and records it (invoke, then ok / fail / info).
OpResult invoke_recorded(synod::Client& client, Recorder& rec, std::uint64_t process, const Planned& p) {
  ck::Event inv;
  inv.type = ck::EventType::invoke;
  inv.process = process;
  inv.op = p.kind;
  inv.key = p.key;
  synod::Bytes op;
  switch (p.kind) {
    case ck::OpKind::put:
      op = kv::encode_put(p.key, p.value);
      inv.value = ck::OptionalValue::of(p.value);
      break;
    case ck::OpKind::get: op = kv::encode_get(p.key); break;
    case ck::OpKind::del: op = kv::encode_del(p.key); break;
    case ck::OpKind::cas:
      op = kv::encode_cas(p.key, p.expected, p.value);
      inv.expected = ck::OptionalValue::of(p.expected);
      inv.value = ck::OptionalValue::of(p.value);
      break;
  }
  inv.time_us = rec.now_us();
  rec.add(inv);
  auto reply = client.invoke(synod::as_view(op), p.read_only);
  ck::Event done;
  done.process = process;
  done.op = p.kind;
  done.key = p.key;
  OpResult out;
  std::optional<kv::KvResult> decoded;
  if (reply) {
    auto r = kv::decode_result(synod::as_view(*reply));
    if (r) decoded = *r;
  }
  done.time_us = rec.now_us();
  if (!decoded) {
    done.type = ck::EventType::info;  // timed out (or undecodable): may still take effect
    done.op.reset();
    done.key.reset();
    rec.add(done);
    return out;
  }
  out.result = *decoded;
  using S = kv::KvResult::Status;
  if (decoded->status == S::bad_op || decoded->status == S::full) {
    done.type = ck::EventType::fail;
    done.op.reset();
    done.key.reset();
    out.outcome = Outcome::failed;
    rec.add(done);
    return out;
  }
  done.type = ck::EventType::ok;
  out.outcome = Outcome::ok;
  switch (p.kind) {
    case ck::OpKind::put: break;
    case ck::OpKind::get: done.value = ck::OptionalValue::of(decoded->status == S::ok ? decoded->value : std::nullopt); break;
    case ck::OpKind::del: done.value = ck::OptionalValue::of(decoded->value); break;
    case ck::OpKind::cas:
      done.success = decoded->status == S::ok;
      if (!*done.success) done.value = ck::OptionalValue::of(decoded->value);
      break;
  }
  rec.add(done);
  return out;
}

// ------------------------------------------------------------------ workload

struct Shared {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> unknown{0};
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> acked_unique;  // write-once keys acknowledged
};

constexpr int kSharedKeys = 6;

void worker(const synod::ClusterConfig& config, const fs::path& dir, synod::ClientId id, std::uint64_t seed,
            Recorder& rec, Shared& shared) {
  auto key = synod::crypto::PrivateKey::load_pem_file(dir / "keys" / ("client-" + std::to_string(id) + ".key"));
  if (!key) return;
  synod::ClientOptions options;
  options.timeout = 5s;
  auto client = synod::Client::connect(config, id, std::move(*key), options);
  if (!client) return;
  std::mt19937_64 rng(seed);
  std::map<std::string, std::optional<std::string>> seen;
  for (std::uint64_t i = 0; !shared.stop && !g_interrupted; ++i) {
    Planned p;
    const int dice = static_cast<int>(rng() % 100);
    p.key = "s" + std::to_string(rng() % kSharedKeys);
    const std::string tag = std::to_string(id) + "-" + std::to_string(i);
    if (dice < 30) {
      p.kind = ck::OpKind::put;
      p.value = "w" + tag;
    } else if (dice < 55) {
      p.kind = ck::OpKind::get;
      p.read_only = dice < 43;
    } else if (dice < 67) {
      p.kind = ck::OpKind::cas;
      p.expected = seen.count(p.key) ? seen[p.key] : std::nullopt;
      p.value = "c" + tag;
    } else if (dice < 72) {
      p.kind = ck::OpKind::del;
    } else {
      p.kind = ck::OpKind::put;
      p.key = "u" + tag;
      p.value = "v" + tag;
    }
    const OpResult r = invoke_recorded(**client, rec, id, p);
    if (r.outcome == Outcome::unknown) {
      ++shared.unknown;
      continue;
    }
    ++shared.completed;
    if (r.outcome != Outcome::ok) continue;
    if (p.key[0] == 'u') {
      std::lock_guard lock(shared.mutex);
      shared.acked_unique.emplace_back(p.key, p.value);
    } else if (p.kind == ck::OpKind::put) {
      seen[p.key] = p.value;
    } else if (p.kind == ck::OpKind::get || p.kind == ck::OpKind::del) {
      seen[p.key] = p.kind == ck::OpKind::get ? r.result.value : std::nullopt;
    } else if (p.kind == ck::OpKind::cas) {
      seen[p.key] = r.result.status == kv::KvResult::Status::ok ? std::optional(p.value) : r.result.value;
    }
  }
}

// ------------------------------------------------------------------ attacks

std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

int tcp_connect(const Endpoint& ep) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(ep.port);
  if (::inet_pton(AF_INET, ep.host.c_str(), &addr.sin_addr) != 1 ||
      ::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(s);
    return -1;
  }
  return s;
}

void send_all(int s, const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t w = ::send(s, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (w <= 0) return;
    off += static_cast<std::size_t>(w);
  }
}

// A ZMTP 3.0 greeting (NULL mechanism) as a peer would send it.
std::string zmtp_greeting() {
  std::string g(64, '\0');
  g[0] = static_cast<char>(0xFF);
  g[9] = 0x7F;
  g[10] = 3;
  g[11] = 0;
  std::memcpy(&g[12], "NULL", 4);
  return g;
}

synod::Bytes to_bytes(const std::string& s) { return synod::Bytes(s.begin(), s.end()); }

// A well-formed envelope whose authenticator is random: a "valid-looking
// frame with a bad signature". Claims to come from `sender`.
synod::Bytes forged_envelope(std::mt19937_64& rng, synod::Principal sender) {
  synod::wire::Envelope env;
  env.sender = sender;
  if (sender.is_client()) {
    synod::wire::Request req;
    req.client = sender.id;
    req.t = rng();
    req.op = kv::encode_put("forged", random_bytes(rng, 16));
    env.type = synod::wire::MsgType::request;
    env.payload = synod::wire::encode(req);
  } else {
    synod::wire::Prepare prep;
    prep.view = rng() % 4;
    prep.seq = 1 + rng() % 1000;
    for (auto& b : prep.digest) b = static_cast<std::uint8_t>(rng());
    env.type = synod::wire::MsgType::prepare;
    env.payload = synod::wire::encode(prep);
  }
  env.authenticator = to_bytes(random_bytes(rng, 64));
  return synod::wire::encode_envelope(env);
}

struct AttackStats {
  std::atomic<std::uint64_t> frames{0};
  std::atomic<std::uint64_t> connections{0};
};

// Scenario garbage: one thread per replica cycles through raw TCP garbage,
// a ZMTP greeting followed by a frame header announcing 2^62 bytes, a
// truncated greeting, and over ZeroMQ: random frames, forged envelopes
// (bad signatures, from clients and replicas), truncated and bit-flipped
// envelopes.
void garbage_attack(const synod::ClusterConfig& config, synod::ReplicaId target, std::uint64_t seed, Shared& shared,
                    AttackStats& stats) {
  const auto ep = parse_endpoint(config.replicas[target].endpoint);
  if (!ep) return;
  std::mt19937_64 rng(seed);
  zmq::context_t ctx{1};
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.set(zmq::sockopt::sndhwm, 1000);
  dealer.connect(config.replicas[target].endpoint);
  for (std::uint64_t i = 0; !shared.stop && !g_interrupted; ++i) {
    switch (i % 7) {
      case 0: {
        const int s = tcp_connect(*ep);
        if (s >= 0) {
          send_all(s, random_bytes(rng, 1 + rng() % 4096));
          ::close(s);
          ++stats.connections;
        }
        break;
      }
      case 1: {
        const int s = tcp_connect(*ep);
        if (s >= 0) {
          std::string huge = zmtp_greeting();
          huge.push_back(0x02);  // long frame, 8-byte big-endian size
          const std::uint64_t size = 1ull << 62;
          for (int b = 7; b >= 0; --b) huge.push_back(static_cast<char>((size >> (8 * b)) & 0xFF));
          huge += random_bytes(rng, 512);
          send_all(s, huge);
          ::close(s);
          ++stats.connections;
        }
        break;
      }
      case 2: {
        const int s = tcp_connect(*ep);
        if (s >= 0) {
          send_all(s, zmtp_greeting().substr(0, 1 + rng() % 40));
          ::close(s);
          ++stats.connections;
        }
        break;
      }
      default: {
        synod::Bytes frame;
        const auto kind = i % 7;
        if (kind == 3) {
          frame = to_bytes(random_bytes(rng, 1 + rng() % 2048));
        } else {
          const bool from_client = rng() % 2 == 0;
          const auto sender = from_client ? synod::Principal::client(static_cast<synod::ClientId>(rng() % config.clients.size()))
                                          : synod::Principal::replica(static_cast<synod::ReplicaId>(rng() % config.replicas.size()));
          frame = forged_envelope(rng, sender);
          if (kind == 5) frame.resize(rng() % frame.size());  // truncated
          if (kind == 6 && !frame.empty()) {
            for (int flips = 0; flips < 4; ++flips) frame[rng() % frame.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
          }
        }
        if (dealer.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait)) ++stats.frames;
        break;
      }
    }
    if (i % 16 == 15) std::this_thread::sleep_for(1ms);  // leave the shared cores to the replicas now and then
  }
}

// Scenario bad-client: requests with bad authenticators at full rate to every
// replica, half claiming the attacker's own client id, half the ids of
// correct clients (a replica must not hold their bad requests against them).
void bad_client_attack(const synod::ClusterConfig& config, synod::ClientId attacker, synod::ClientId correct_ids,
                       std::uint64_t seed, Shared& shared, AttackStats& stats) {
  std::mt19937_64 rng(seed);
  zmq::context_t ctx{1};
  std::vector<zmq::socket_t> sockets;
  for (const auto& r : config.replicas) {
    auto& s = sockets.emplace_back(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::sndhwm, 1000);
    s.set(zmq::sockopt::routing_id, synod::runtime::client_routing_id(attacker));
    s.connect(r.endpoint);
  }
  while (!shared.stop && !g_interrupted) {
    const auto claimed = rng() % 2 == 0 ? attacker : static_cast<synod::ClientId>(rng() % std::max<synod::ClientId>(1, correct_ids));
    const auto frame = forged_envelope(rng, synod::Principal::client(claimed));
    for (auto& s : sockets) {
      if (s.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait)) ++stats.frames;
    }
  }
}

// ------------------------------------------------------------------ checks

struct Convergence {
  bool reached = false;
  int divergent = 0;  // correct replicas whose digest differs from the majority's at the same checkpoint
  int lagging = 0;    // correct replicas unreachable or behind the others' last executed
  std::string detail;
};

Convergence check_convergence(synod::Client& auditor, const std::set<synod::ReplicaId>& excluded,
                              std::chrono::milliseconds bound) {
  Convergence c;
  const auto until = Clock::now() + bound;
  std::vector<synod::ReplicaReport> last;
  while (!g_interrupted) {
    auto reports = auditor.status(2s);
    if (reports) last = *reports;
    bool same = !last.empty();
    std::optional<synod::ReplicaReport> ref;
    for (const auto& r : last) {
      if (excluded.count(r.id)) continue;
      if (!r.reachable) {
        same = false;
        break;
      }
      if (!ref) ref = r;
      if (r.last_executed != ref->last_executed || r.stable_checkpoint != ref->stable_checkpoint ||
          r.state_digest != ref->state_digest || r.stable_checkpoint == 0) {
        same = false;
      }
    }
    if (same) {
      c.reached = true;
      c.detail = "last executed " + std::to_string(ref->last_executed) + ", stable checkpoint " +
                 std::to_string(ref->stable_checkpoint) + ", digest " + synod::to_hex(ref->state_digest).substr(0, 16);
      return c;
    }
    if (Clock::now() > until) break;
    nap(400ms);
  }
  // Not converged: count divergence (same checkpoint, different digest) and lag.
  std::map<synod::Seq, std::map<std::string, int>> digests;
  synod::Seq max_executed = 0;
  for (const auto& r : last) {
    if (excluded.count(r.id) || !r.reachable) continue;
    digests[r.stable_checkpoint][synod::to_hex(r.state_digest)]++;
    max_executed = std::max(max_executed, r.last_executed);
  }
  for (const auto& [seq, by_digest] : digests) {
    int total = 0, best = 0;
    for (const auto& [d, count] : by_digest) {
      total += count;
      best = std::max(best, count);
    }
    if (seq != 0) c.divergent += total - best;
  }
  for (const auto& r : last) {
    if (excluded.count(r.id)) continue;
    if (!r.reachable || r.last_executed < max_executed) ++c.lagging;
    c.detail += "r" + std::to_string(r.id) + (r.reachable ? ":" + std::to_string(r.last_executed) + "/" +
                                                                std::to_string(r.stable_checkpoint) + "/" +
                                                                synod::to_hex(r.state_digest).substr(0, 8)
                                                          : std::string(":down")) + " ";
  }
  return c;
}

// ------------------------------------------------------------------ one case

struct CaseSpec {
  std::string scenario;  // kill-restart, restart-all, pause-primary, byzantine, garbage, bad-client
  synod::Protocol protocol = synod::Protocol::pbft;
  std::uint32_t f = 1;
  std::string mode;  // byzantine: the --fault mode
  int rounds = 1;
  std::uint32_t workers = 4;
  std::chrono::seconds phase{4};
  std::uint64_t seed = 1;
  bool keep = false;
  bool quick = false;
  std::string log_level = "warn";  // the replicas' --log-level
  fs::path history_dir;
};

struct CaseResult {
  std::string name;
  bool skipped = false;
  bool passed = false;
  int rounds = 0;
  std::uint64_t operations = 0;
  std::uint64_t unknown = 0;
  int lost_acks = -1;
  int unreadable = 0;  // read-backs that timed out (unavailability, not loss)
  std::size_t acked_checked = 0;
  int divergent = -1;
  int lagging = -1;
  double before_ops_s = 0, during_ops_s = 0, after_ops_s = 0;
  std::string linearizable = "-";
  std::vector<std::string> problems;
  std::string note;
};

std::string case_name(const CaseSpec& s) {
  std::string n = s.scenario;
  if (!s.mode.empty()) n += ":" + s.mode;
  return n + " " + synod::to_string(s.protocol) + " f=" + std::to_string(s.f);
}

std::string replica_help(const fs::path& bin) {
  char pattern[] = "/tmp/synod-torture-help-XXXXXX";
  const int fd = ::mkstemp(pattern);
  if (fd < 0) return "";
  ::close(fd);
  (void)run_tool({(bin / "synod-replica").string(), "--help"}, pattern, 10s);
  std::string text = read_text(pattern);
  ::unlink(pattern);
  return text;
}

CaseResult run_case(const CaseSpec& spec, const fs::path& bin) {
  CaseResult res;
  res.name = case_name(spec);
  res.rounds = spec.rounds;
  std::printf("== %s: %d round(s), %u clients\n", res.name.c_str(), spec.rounds, spec.workers);
  std::fflush(stdout);
  auto problem = [&](std::string p) {
    std::printf("   PROBLEM: %s\n", p.c_str());
    res.problems.push_back(std::move(p));
  };

  if (spec.scenario == "byzantine") {
    const std::string help = replica_help(bin);
    if (help.find("--fault") == std::string::npos) {
      res.skipped = true;
      res.note = "skipped: synod-replica has no --fault flag";
      std::printf("   %s\n", res.note.c_str());
      return res;
    }
    if (help.find(spec.mode) == std::string::npos) {
      res.skipped = true;
      res.note = "skipped: synod-replica --help does not list mode " + spec.mode;
      std::printf("   %s\n", res.note.c_str());
      return res;
    }
  }

  char pattern[] = "/tmp/synod-torture-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    problem("cannot create a temp dir");
    return res;
  }
  Partitions partitions;  // declared before the teardown: replicas stop first, then the namespaces go
  Cluster cluster;
  cluster.dir = pattern;
  cluster.bin = bin;
  cluster.log_level = spec.log_level;
  const synod::ClientId auditor_id = spec.workers;
  const synod::ClientId attacker_id = spec.workers + 1;
  const fs::path tool_log = cluster.dir / "tool.log";
  struct Teardown {
    Cluster& c;
    bool keep;
    ~Teardown() {
      c.stop_all();
      std::error_code ec;
      if (!keep) fs::remove_all(c.dir, ec);
    }
  } teardown{cluster, spec.keep};
  if (spec.keep) std::printf("   cluster in %s (kept)\n", cluster.dir.c_str());

  if (run_tool({(bin / "synod-cluster").string(), "init", cluster.dir.string(), "--protocol",
                synod::to_string(spec.protocol), "--f", std::to_string(spec.f), "--clients",
                std::to_string(spec.workers + 2), "--base-port", "0"},
               tool_log) != 0) {
    problem("synod-cluster init failed: " + read_text(tool_log));
    return res;
  }
  if (spec.scenario == "byzantine") {
    // Flip allow_fault_injection in the written config (every field is written).
    const fs::path toml = cluster.dir / "cluster.toml";
    std::string text = read_text(toml);
    const auto at = text.find("allow_fault_injection = false");
    if (at == std::string::npos) {
      problem("cluster.toml has no allow_fault_injection key");
      return res;
    }
    text.replace(at, std::strlen("allow_fault_injection = false"), "allow_fault_injection = true");
    std::ofstream(toml, std::ios::trunc) << text;
  }
  auto config = synod::runtime::load_cluster_config(cluster.dir / "cluster.toml");
  if (!config) {
    problem(config.error().message);
    return res;
  }
  if (spec.scenario == "partition") {
    if (auto why = partitions.setup(config->n(), cluster.dir / "netns.log")) {
      res.skipped = true;
      res.note = "skipped: " + *why;
      std::printf("   %s\n", res.note.c_str());
      return res;
    }
    // Each replica's endpoint moves to its namespace's address (same port).
    const fs::path toml = cluster.dir / "cluster.toml";
    std::string text = read_text(toml);
    for (const auto& r : config->replicas) {
      const auto ep = parse_endpoint(r.endpoint);
      const auto at = text.find("\"" + r.endpoint + "\"");
      if (!ep || at == std::string::npos) {
        problem("cannot rewrite endpoint " + r.endpoint);
        return res;
      }
      text.replace(at + 1, r.endpoint.size(), "tcp://" + partitions.address(r.id) + ":" + std::to_string(ep->port));
    }
    std::ofstream(toml, std::ios::trunc) << text;
    config = synod::runtime::load_cluster_config(toml);
    if (!config) {
      problem(config.error().message);
      return res;
    }
    cluster.netns = partitions.names();
  }
  cluster.config = *config;
  const std::uint32_t n = config->n();
  for (synod::ReplicaId i = 0; i < n; ++i) cluster.start(i);
  nap(500ms);
  for (synod::ReplicaId i = 0; i < n; ++i) {
    if (!cluster.running(i)) {
      problem("replica " + std::to_string(i) + " exited at start-up: " + read_text(cluster.log_file(i)).substr(0, 300));
      return res;
    }
  }

  auto auditor_key = synod::crypto::PrivateKey::load_pem_file(cluster.dir / "keys" / ("client-" + std::to_string(auditor_id) + ".key"));
  if (!auditor_key) {
    problem("auditor key: " + auditor_key.error().message);
    return res;
  }
  synod::ClientOptions auditor_options;
  auditor_options.timeout = 8s;
  auto auditor = synod::Client::connect(*config, auditor_id, std::move(*auditor_key), auditor_options);
  if (!auditor) {
    problem(auditor.error().message);
    return res;
  }

  const auto origin = Clock::now();
  Recorder rec(origin);
  Shared shared;
  std::vector<std::thread> workers;
  for (synod::ClientId c = 0; c < spec.workers; ++c) {
    workers.emplace_back(worker, std::cref(*config), cluster.dir, c, spec.seed * 1000 + c, std::ref(rec), std::ref(shared));
  }
  auto stop_workers = [&] {
    shared.stop = true;
    for (auto& w : workers) {
      if (w.joinable()) w.join();
    }
  };
  struct JoinGuard {
    std::function<void()> f;
    ~JoinGuard() { f(); }
  } join_guard{stop_workers};

  std::mt19937_64 rng(spec.seed);
  std::set<synod::ReplicaId> faulty;  // excluded from the convergence check
  // Phase 1: warm-up, fault-free.
  nap(spec.phase);
  const auto t_before = Clock::now();
  const std::uint64_t c_before = shared.completed.load();
  res.before_ops_s = static_cast<double>(c_before) / std::chrono::duration<double>(t_before - origin).count();

  auto leader_of = [&]() -> std::optional<synod::ReplicaId> {
    auto reports = (*auditor)->status(2s);
    if (!reports) return std::nullopt;
    std::map<synod::ReplicaId, int> votes;
    for (const auto& r : *reports) {
      if (r.reachable && !r.changing_view) votes[r.leader]++;
    }
    std::optional<synod::ReplicaId> best;
    int most = 0;
    for (auto [id, v] : votes) {
      if (v > most) {
        most = v;
        best = id;
      }
    }
    return best;
  };
  std::map<synod::ReplicaId, long> rss_before;
  AttackStats attack;
  std::vector<std::thread> attackers;
  Shared attack_control;

  // Phase 2: the fault.
  if (spec.scenario == "kill-restart") {
    for (int round = 0; round < spec.rounds && !g_interrupted; ++round) {
      std::vector<synod::ReplicaId> ids(n);
      for (synod::ReplicaId i = 0; i < n; ++i) ids[i] = i;
      std::shuffle(ids.begin(), ids.end(), rng);
      const std::uint32_t down = 1 + static_cast<std::uint32_t>(rng() % spec.f);  // never more than f
      ids.resize(down);
      std::string names;
      for (auto id : ids) {
        cluster.kill9(id);
        names += " " + std::to_string(id);
      }
      std::printf("   round %d: kill -9 replica(s)%s\n", round + 1, names.c_str());
      nap(std::chrono::milliseconds(500 + rng() % 1500));
      for (auto id : ids) cluster.start(id);
      nap(std::chrono::milliseconds(1000 + rng() % 1000));
    }
  } else if (spec.scenario == "restart-all") {
    // Every replica at once: no quorum is left, and what was acknowledged
    // must come back from each replica's LMDB. (kill -9 keeps the page
    // cache: fsync itself is not tested here.)
    for (int round = 0; round < spec.rounds && !g_interrupted; ++round) {
      for (synod::ReplicaId i = 0; i < n; ++i) cluster.kill9(i);
      std::printf("   round %d: kill -9 every replica\n", round + 1);
      nap(std::chrono::milliseconds(500 + rng() % 1500));
      for (synod::ReplicaId i = 0; i < n; ++i) cluster.start(i);
      nap(std::chrono::milliseconds(2000 + rng() % 1000));
    }
  } else if (spec.scenario == "pause-primary") {
    const auto hold = std::chrono::milliseconds(std::max<std::uint32_t>(3 * config->view_change_timeout_ms, 3000));
    for (int round = 0; round < spec.rounds && !g_interrupted; ++round) {
      const auto leader = leader_of();
      if (!leader) {
        problem("round " + std::to_string(round + 1) + ": no leader agreed on");
        nap(1s);
        continue;
      }
      std::printf("   round %d: SIGSTOP replica %u (the %s) for %lld ms\n", round + 1, *leader,
                  spec.protocol == synod::Protocol::pbft ? "primary" : "leader", static_cast<long long>(hold.count()));
      cluster.signal(*leader, SIGSTOP);
      nap(hold);
      const auto now_leader = leader_of();
      if (!now_leader || *now_leader == *leader) {
        problem("round " + std::to_string(round + 1) + ": the cluster did not move away from stopped replica " +
                std::to_string(*leader));
      } else {
        std::printf("   round %d: leader now %u; SIGCONT replica %u\n", round + 1, *now_leader, *leader);
      }
      cluster.signal(*leader, SIGCONT);
      nap(2s);
    }
  } else if (spec.scenario == "byzantine") {
    for (synod::ReplicaId i = 0; i < spec.f; ++i) faulty.insert(i);  // the primary of view 0 and the next ones
    std::string names;
    for (auto id : faulty) {
      cluster.kill9(id);
      cluster.start(id, spec.mode);
      names += " " + std::to_string(id);
    }
    std::printf("   replica(s)%s restarted with --fault %s\n", names.c_str(), spec.mode.c_str());
    nap(300ms);
    for (auto id : faulty) {
      if (!cluster.running(id)) {
        problem("faulty replica " + std::to_string(id) + " exited: " + read_text(cluster.log_file(id)).substr(0, 300));
      }
    }
    nap(spec.phase * 2);
  } else if (spec.scenario == "partition") {
    const auto hold = std::chrono::milliseconds(std::max<std::uint32_t>(3 * config->view_change_timeout_ms, 3000));
    const std::chrono::milliseconds pause = spec.quick ? 1s : 2s;  // after a heal: the quick case stays short
    auto cut_between = [&](const std::vector<synod::ReplicaId>& a, const std::vector<synod::ReplicaId>& b, bool heal) {
      for (auto i : a) {
        for (auto j : b) {
          if (i != j && !(heal ? partitions.heal(i, j) : partitions.cut(i, j))) {
            problem(std::string(heal ? "heal" : "cut") + " of link " + std::to_string(i) + "-" + std::to_string(j) + " failed");
          }
        }
      }
    };
    std::vector<synod::ReplicaId> all(n);
    for (synod::ReplicaId i = 0; i < n; ++i) all[i] = i;
    for (int round = 0; round < spec.rounds && !g_interrupted; ++round) {
      if (const auto leader = leader_of()) {
        std::printf("   round %d: isolate replica %u (the %s) from the other replicas for %lld ms\n", round + 1, *leader,
                    spec.protocol == synod::Protocol::pbft ? "primary" : "leader", static_cast<long long>(hold.count()));
        cut_between({*leader}, all, false);
        nap(hold);
        const auto now_leader = leader_of();
        if (!now_leader || *now_leader == *leader) {
          problem("round " + std::to_string(round + 1) + ": the majority did not move away from isolated replica " +
                  std::to_string(*leader));
        }
        cut_between({*leader}, all, true);
        nap(pause);
      } else {
        problem("round " + std::to_string(round + 1) + ": no leader agreed on");
      }
      std::vector<synod::ReplicaId> left(all.begin(), all.begin() + n / 2), right(all.begin() + n / 2, all.end());
      std::printf("   round %d: split %zu / %zu for %lld ms, then heal\n", round + 1, left.size(), right.size(),
                  static_cast<long long>(hold.count()));
      cut_between(left, right, false);
      nap(hold);
      cut_between(left, right, true);
      nap(pause);
      // A lossy, slow network on every link for as long (see LossyPlan); the
      // recovery phase follows the last round's heal directly.
      const LossyPlan plan = partitions.lossy_plan();
      if (plan.mechanism == LossyMechanism::none) {
        std::printf("   round %d: %s\n", round + 1, plan.text.c_str());
      } else {
        std::printf("   round %d: lossy network for %lld ms: %s\n", round + 1, static_cast<long long>(hold.count()),
                    plan.text.c_str());
        if (!partitions.degrade(plan)) {
          problem("round " + std::to_string(round + 1) + ": cannot degrade the links (see " +
                  (cluster.dir / "netns.log").string() + ")");
        } else {
          const std::uint64_t c0 = shared.completed.load();
          const auto t0 = Clock::now();
          nap(hold);
          const std::uint64_t done = shared.completed.load() - c0;
          const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
          partitions.restore();
          std::printf("   round %d: %llu ops completed under loss (%.0f ops/s), links restored\n", round + 1,
                      static_cast<unsigned long long>(done), secs > 0 ? static_cast<double>(done) / secs : 0.0);
        }
        if (round + 1 < spec.rounds) nap(pause);
      }
      res.note = plan.short_text;
    }
  } else if (spec.scenario == "garbage") {
    for (synod::ReplicaId i = 0; i < n; ++i) rss_before[i] = rss_kib(cluster.pid(i));
    for (synod::ReplicaId i = 0; i < n; ++i) {
      attackers.emplace_back(garbage_attack, std::cref(*config), i, spec.seed * 77 + i, std::ref(attack_control), std::ref(attack));
    }
    nap(spec.phase * 2);
  } else if (spec.scenario == "bad-client") {
    attackers.emplace_back(bad_client_attack, std::cref(*config), attacker_id, spec.workers, spec.seed * 91,
                           std::ref(attack_control), std::ref(attack));
    nap(spec.phase * 2);
  }
  const auto t_during = Clock::now();
  const std::uint64_t c_during = shared.completed.load();
  res.during_ops_s = static_cast<double>(c_during - c_before) / std::chrono::duration<double>(t_during - t_before).count();
  attack_control.stop = true;
  for (auto& a : attackers) a.join();
  if (spec.scenario == "garbage" || spec.scenario == "bad-client") {
    std::printf("   attack sent %llu frames, %llu raw connections\n", static_cast<unsigned long long>(attack.frames.load()),
                static_cast<unsigned long long>(attack.connections.load()));
  }
  if (spec.scenario == "garbage") {
    long worst = 0;
    for (synod::ReplicaId i = 0; i < n; ++i) {
      const long after = rss_kib(cluster.pid(i));
      if (after < 0) {
        problem("replica " + std::to_string(i) + " died under garbage");
        continue;
      }
      const long growth = after - rss_before[i];
      worst = std::max(worst, growth);
      if (growth > kRssGrowthLimitMiB * 1024) {
        problem("replica " + std::to_string(i) + " RSS grew by " + std::to_string(growth / 1024) + " MiB (limit " +
                std::to_string(kRssGrowthLimitMiB) + ")");
      }
    }
    res.note = "max RSS growth " + std::to_string(worst / 1024) + " MiB";
  }

  // Heal.
  for (auto id : faulty) {
    cluster.kill9(id);
    cluster.start(id);
  }
  for (synod::ReplicaId i = 0; i < n; ++i) cluster.signal(i, SIGCONT);
  // Phase 3: recovery, fault-free again.
  nap(spec.phase);
  const auto t_after = Clock::now();
  res.after_ops_s = static_cast<double>(shared.completed.load() - c_during) / std::chrono::duration<double>(t_after - t_during).count();
  stop_workers();
  for (synod::ReplicaId i = 0; i < n; ++i) {
    if (!faulty.count(i) && !cluster.running(i)) problem("replica " + std::to_string(i) + " is not running at the end");
  }

  // Settle: sequential writes until every correct replica shows the same
  // stable checkpoint and digest (a restarted replica reaches the next
  // checkpoint with the others).
  const std::uint64_t settle_process = auditor_id;
  Convergence conv;
  const auto settle_until = Clock::now() + 60s;
  int settle_writes = 0;
  while (!g_interrupted) {
    conv = check_convergence(**auditor, {}, 1500ms);
    if (conv.reached || Clock::now() > settle_until) break;
    for (int k = 0; k < 16 && !g_interrupted && Clock::now() < settle_until; ++k) {
      Planned p;
      p.kind = ck::OpKind::put;
      p.key = "settle";
      p.value = "x" + std::to_string(settle_writes++);
      if (invoke_recorded(**auditor, rec, settle_process, p).outcome == Outcome::unknown) break;
    }
  }
  res.divergent = conv.divergent;
  res.lagging = conv.reached ? 0 : conv.lagging;
  if (conv.reached) {
    std::printf("   converged: %s (%d settle writes)\n", conv.detail.c_str(), settle_writes);
  } else {
    problem("replicas did not converge: " + std::to_string(conv.divergent) + " divergent, " +
            std::to_string(conv.lagging) + " lagging: " + conv.detail);
  }

  // Every acknowledged write-once key must be readable (recorded as well).
  std::vector<std::pair<std::string, std::string>> acked;
  {
    std::lock_guard lock(shared.mutex);
    acked = shared.acked_unique;
  }
  res.lost_acks = 0;
  std::atomic<int> lost{0}, unreadable{0};
  const auto readback_until = Clock::now() + 90s;
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> readers;
  for (synod::ClientId c = 0; c < spec.workers; ++c) {
    readers.emplace_back([&, c] {
      auto key = synod::crypto::PrivateKey::load_pem_file(cluster.dir / "keys" / ("client-" + std::to_string(c) + ".key"));
      if (!key) return;
      synod::ClientOptions options;
      options.timeout = 8s;
      auto client = synod::Client::connect(*config, c, std::move(*key), options);
      if (!client) return;
      while (!g_interrupted) {
        const std::size_t i = next++;
        if (i >= acked.size()) break;
        if (Clock::now() > readback_until) {  // a cluster that stopped serving: count, do not wait
          ++unreadable;
          continue;
        }
        Planned p;
        p.kind = ck::OpKind::get;
        p.key = acked[i].first;
        p.read_only = true;
        const OpResult r = invoke_recorded(**client, rec, c, p);
        if (r.outcome != Outcome::ok) {
          ++unreadable;  // no answer: the cluster is unavailable, which is not a lost write
        } else if (r.result.value != acked[i].second) {
          ++lost;
        }
      }
    });
  }
  for (auto& r : readers) r.join();
  // Last, one ordered read of every shared key.
  for (int k = 0; k < kSharedKeys && unreadable.load() == 0; ++k) {
    Planned p;
    p.kind = ck::OpKind::get;
    p.key = "s" + std::to_string(k);
    (void)invoke_recorded(**auditor, rec, settle_process, p);
  }
  res.lost_acks = lost.load();
  res.acked_checked = acked.size();
  res.unreadable = unreadable.load();
  if (res.lost_acks != 0) {
    problem(std::to_string(res.lost_acks) + " of " + std::to_string(acked.size()) +
            " acknowledged writes read back absent or with another value");
  }
  if (res.unreadable != 0) {
    problem("liveness: " + std::to_string(res.unreadable) + " of " + std::to_string(acked.size()) +
            " read-backs got no answer (the healed cluster does not serve)");
  }

  // The history: written out, read back through the parser, checked.
  const auto events = rec.events();
  const fs::path history = (spec.history_dir.empty() ? cluster.dir : spec.history_dir) /
                           ("history-" + spec.scenario + (spec.mode.empty() ? "" : "-" + spec.mode) + "-" +
                            synod::to_string(spec.protocol) + "-f" + std::to_string(spec.f) + ".jsonl");
  {
    std::ofstream out(history, std::ios::trunc);
    for (const auto& e : events) out << ck::to_json_line(e) << "\n";
  }
  std::ifstream in(history);
  auto parsed = ck::parse_history(in);
  if (auto* err = std::get_if<ck::ParseError>(&parsed)) {
    problem("history " + history.string() + ":" + std::to_string(err->line) + ": " + err->reason);
  } else {
    auto ops = ck::pair_operations(std::get<std::vector<ck::Event>>(parsed));
    if (auto* err = std::get_if<ck::ParseError>(&ops)) {
      problem("history " + history.string() + ":" + std::to_string(err->line) + ": " + err->reason);
    } else {
      const auto& list = std::get<std::vector<ck::Operation>>(ops);
      res.operations = list.size();
      for (const auto& op : list) res.unknown += op.pending ? 1 : 0;
      ck::Budget budget;
      budget.deadline = Clock::now() + 120s;
      const auto verdict = ck::check_kv(list, budget);
      res.linearizable = ck::to_string(verdict.verdict);
      if (verdict.verdict != ck::Verdict::linearizable) {
        std::string keys;
        for (const auto& f : verdict.findings) keys += " " + f.key;
        problem("history is " + res.linearizable + " (keys" + keys + "); run: synod-check " + history.string());
      }
    }
  }
  if (!spec.history_dir.empty()) std::printf("   history: %s\n", history.c_str());
  res.passed = res.problems.empty() && !g_interrupted;
  if (!res.passed && !spec.keep) {
    // Keep the evidence of a failure: the logs and the history.
    std::printf("   logs of the failed case:\n");
    for (synod::ReplicaId i = 0; i < n; ++i) {
      const std::string log = read_text(cluster.log_file(i));
      std::printf("   --- replica %u (last lines)\n%s\n", i, log.substr(log.size() > 600 ? log.size() - 600 : 0).c_str());
    }
  }
  std::printf("   %s: %llu ops (%llu unknown outcome), %zu acked write-once keys read back, lost %d (%d unanswered), divergent %d, "
              "throughput %.0f -> %.0f ops/s during the fault (%.0f%%), %.0f after; history %s\n",
              res.passed ? "PASS" : "FAIL", static_cast<unsigned long long>(res.operations),
              static_cast<unsigned long long>(res.unknown), res.acked_checked, res.lost_acks, res.unreadable, res.divergent,
              res.before_ops_s, res.during_ops_s, res.before_ops_s > 0 ? 100.0 * res.during_ops_s / res.before_ops_s : 0.0,
              res.after_ops_s, res.linearizable.c_str());
  std::fflush(stdout);
  return res;
}

const std::vector<std::string> kByzantineModes = {"silent",          "equivocate", "corrupt-signatures",
                                                   "conflicting-votes", "stale-replay", "lying-view-change",
                                                   "bad-checkpoint",  "flood",      "slow"};
const std::vector<std::string> kScenarios = {"kill-restart", "restart-all", "pause-primary", "byzantine", "partition", "garbage",
                                             "bad-client"};

void print_table(const std::vector<CaseResult>& results) {
  std::printf("\n%-40s %6s %7s %7s %9s %12s %11s %8s  %s\n", "scenario", "rounds", "ops", "lost", "divergent",
              "linearizable", "under fault", "result", "note");
  for (const auto& r : results) {
    if (r.skipped) {
      std::printf("%-40s %6s %7s %7s %9s %12s %11s %8s  %s\n", r.name.c_str(), "-", "-", "-", "-", "-", "-", "skipped",
                  r.note.c_str());
      continue;
    }
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.0f%%", r.before_ops_s > 0 ? 100.0 * r.during_ops_s / r.before_ops_s : 0.0);
    std::string note = r.note;
    if (r.unreadable) note += (note.empty() ? "" : "; ") + std::to_string(r.unreadable) + " read-backs unanswered";
    if (r.lagging > 0) note += (note.empty() ? "" : "; ") + std::to_string(r.lagging) + " replicas not converged";
    std::printf("%-40s %6d %7llu %7d %9d %12s %11s %8s  %s\n", r.name.c_str(), r.rounds,
                static_cast<unsigned long long>(r.operations), r.lost_acks, r.divergent, r.linearizable.c_str(), pct,
                r.passed ? "PASS" : "FAIL", note.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"synod-torture: fault injection on a real local kv cluster; checks linearizability (synod-check), "
               "acknowledged writes and replica convergence after every scenario"};
  std::string scenario = "all";
  std::string protocol = "both";
  std::string mode = "all";
  std::vector<std::uint32_t> fs_list;
  int rounds = 0;
  std::uint32_t workers = 4;
  std::uint32_t phase_s = 0;
  bool quick = false, full = false, keep = false;
  std::uint64_t seed = 0;
  std::string history_dir;
  std::string log_level = "warn";
  cli.add_option("--scenario", scenario, "kill-restart, restart-all, pause-primary, byzantine, partition (root), garbage, bad-client or all")
      ->check(CLI::IsMember({"all", "kill-restart", "restart-all", "pause-primary", "byzantine", "partition", "garbage", "bad-client"}));
  cli.add_option("--protocol", protocol, "pbft, paxos or both (paxos runs the crash-style scenarios only)")
      ->check(CLI::IsMember({"pbft", "paxos", "both"}));
  cli.add_option("--mode", mode, "byzantine: one --fault mode, or all");
  cli.add_option("--f", fs_list, "faults tolerated (byzantine: that many faulty replicas); default 1 (full: 1 and 2 for byzantine, kill-restart and restart-all)");
  cli.add_option("--rounds", rounds, "kill-restart / restart-all / pause-primary rounds (default quick 3/1/1, full 10/3/3)");
  cli.add_option("--clients", workers, "concurrent correct clients")->check(CLI::Range(1, 64));
  cli.add_option("--phase-seconds", phase_s, "warm-up and recovery phase length (faults: twice it); default quick 3, full 5");
  cli.add_flag("--quick", quick, "short runs (the ctest subset)");
  cli.add_flag("--full", full, "the full suite: every scenario, both protocols, byzantine modes with f = 1 and 2");
  cli.add_flag("--keep", keep, "keep each cluster directory (logs, data, history)");
  cli.add_option("--seed", seed, "randomness (victims, workload); default: from the clock");
  cli.add_option("--history-dir", history_dir, "write each case's history (JSON lines) here");
  cli.add_option("--log-level", log_level, "the replicas' --log-level (logs/replica-N.log; with --keep)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  CLI11_PARSE(cli, argc, argv);
  if (quick && full) {
    std::fprintf(stderr, "synod-torture: --quick and --full exclude each other\n");
    return 2;
  }
  if (!history_dir.empty()) {
    std::error_code ec;
    fs::create_directories(history_dir, ec);
    if (ec) {
      std::fprintf(stderr, "synod-torture: cannot create %s: %s\n", history_dir.c_str(), ec.message().c_str());
      return 2;
    }
    history_dir = fs::absolute(history_dir).string();
  }
  const fs::path bin = self_dir();
  for (const char* tool : {"synod-replica", "synod-cluster"}) {
    if (!fs::exists(bin / tool)) {
      std::fprintf(stderr, "synod-torture: %s not found next to synod-torture (%s)\n", tool, bin.c_str());
      return 2;
    }
  }
  if (seed == 0) seed = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  struct sigaction action = {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines show up at once in a log
  std::printf("synod-torture: seed %llu\n", static_cast<unsigned long long>(seed));

  std::vector<CaseSpec> cases;
  const auto phase = std::chrono::seconds(phase_s ? phase_s : (full ? 5 : 3));
  std::vector<synod::Protocol> protocols;
  if (protocol != "paxos") protocols.push_back(synod::Protocol::pbft);
  if (protocol != "pbft") protocols.push_back(synod::Protocol::paxos);
  for (const auto& sc : kScenarios) {
    if (scenario != "all" && scenario != sc) continue;
    for (auto p : protocols) {
      const bool paxos = p == synod::Protocol::paxos;
      // Paxos tolerates crashes only: Byzantine modes, forged replica frames and
      // forged client requests are pbft scenarios (paxos does run garbage: its
      // decoders face the same bytes).
      if (paxos && (sc == "bad-client")) continue;
      std::vector<std::string> modes = {""};
      if (sc == "byzantine") {
        modes.clear();
        for (const auto& m : kByzantineModes) {
          if (paxos && m != "silent" && m != "slow") continue;
          if (mode == "all" || mode == m) modes.push_back(m);
        }
        if (mode == "all" && !full && !modes.empty()) modes = {paxos ? "silent" : "equivocate"};
      }
      std::vector<std::uint32_t> f_values = fs_list;
      // The full suite also runs with f = 2: two Byzantine replicas at once,
      // and up to two replicas killed at once.
      if (f_values.empty()) {
        const bool two = full && ((sc == "byzantine" && !paxos) || sc == "kill-restart" || sc == "restart-all");
        f_values = two ? std::vector<std::uint32_t>{1, 2} : std::vector<std::uint32_t>{1};
      }
      for (const auto& m : modes) {
        for (auto f : f_values) {
          CaseSpec s;
          s.scenario = sc;
          s.protocol = p;
          s.f = f;
          s.mode = m;
          s.rounds = rounds ? rounds : sc == "kill-restart" ? (full ? 10 : 3) : (sc == "restart-all" || sc == "pause-primary" || sc == "partition") ? (full ? 3 : 1) : 1;
          s.workers = workers;
          s.phase = phase;
          s.seed = seed + cases.size() * 7919;
          s.keep = keep;
          s.quick = quick;
          s.log_level = log_level;
          s.history_dir = history_dir;
          cases.push_back(s);
        }
      }
    }
  }
  if (cases.empty()) {
    std::fprintf(stderr, "synod-torture: no case matches (mode %s?)\n", mode.c_str());
    return 2;
  }
  std::vector<CaseResult> results;
  for (const auto& c : cases) {
    if (g_interrupted) break;
    results.push_back(run_case(c, bin));
  }
  print_table(results);
  int failed = 0;
  for (const auto& r : results) failed += (!r.skipped && !r.passed) ? 1 : 0;
  if (g_interrupted) {
    std::fprintf(stderr, "synod-torture: interrupted\n");
    return 130;
  }
  std::printf("%d case(s), %d failed\n", static_cast<int>(results.size()), failed);
  return failed == 0 ? 0 : 1;
}
