// synod-sim — runs the deterministic simulator over a range of seeds and
// reports violations with the exact command that replays each failing seed.
// Exit status: 0 all seeds passed (or, with --expect-failure, some seed
// failed), 1 a violation was found (or, with --expect-failure, none), 2 bad
// usage.
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <functional>
#include <mutex>
#include <cstdio>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "sim/prng.hpp"
#include "sim/scenario.hpp"
#include "synod/assert.hpp"
#include "sim/simulator.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitViolation = 1;
constexpr int kExitUsage = 2;
constexpr unsigned kMaxJobs = 256;

// What a crash (an assertion failing inside a core) needs to report: the
// seeds in flight. Written by workers, read by the signal handler.
std::atomic<std::uint64_t> g_running_seed[kMaxJobs];
std::atomic<bool> g_running[kMaxJobs];
unsigned g_jobs = 1;
thread_local int t_slot = -1;  // this thread's job slot
std::string g_replay_suffix;  // set once before the workers start

void write_all_fd(int fd, const char* text, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, text, size);
    if (n <= 0) return;
    text += n;
    size -= static_cast<std::size_t>(n);
  }
}

void write_all(const char* text, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(STDERR_FILENO, text, size);
    if (n <= 0) return;
    text += n;
    size -= static_cast<std::size_t>(n);
  }
}

void write_text(const char* text) { write_all(text, std::strlen(text)); }

void write_number(std::uint64_t value) {
  char digits[24];
  std::size_t at = sizeof digits;
  do {
    digits[--at] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0 && at > 0);
  write_all(digits + at, sizeof digits - at);
}

// Async-signal-safe: write(2) only, no allocation.
extern "C" void on_abort(int signal_number) {
  // The thread that aborted runs this handler: its seed is the culprit.
  for (unsigned j = 0; j < g_jobs; ++j) {
    if (!g_running[j].load() || static_cast<int>(j) != t_slot) continue;
    const std::uint64_t seed = g_running_seed[j].load();
    write_text("synod-sim: aborted while running seed ");
    write_number(seed);
    write_text("\n  replay: synod-sim --first-seed ");
    write_number(seed);
    write_text(" --seeds 1 --trace");
    write_all(g_replay_suffix.data(), g_replay_suffix.size());
    write_text("\n");
  }
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

std::string json_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

// ---- crash isolation: each seed in a child process (--isolate, default)
//
// A core's failed SYNOD_ASSERT aborts the process. Run in a forked child, a
// seed that aborts becomes a reported failure (with the assertion text) and
// the other seeds still run. The child sends its RunResult back as lines.

std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

std::string serialize(const synod::sim::RunResult& r) {
  std::string out;
  const auto num = [&](const char* key, std::uint64_t v) { out += std::string(key) + " " + std::to_string(v) + "\n"; };
  num("seed", r.seed);
  num("safety_count", r.safety_violation_count);
  num("liveness_count", r.liveness_failure_count);
  num("requests", r.requests_completed);
  num("view_changes", r.view_changes);
  num("state_transfers", r.state_transfers);
  num("catch_ups", r.catch_ups);
  num("unordered_reads", r.unordered_reads);
  num("messages", r.messages_sent);
  num("events", r.events);
  num("checkpoints", r.checkpoints);
  num("end_us", r.end_us);
  num("fingerprint", r.fingerprint);
  out += "scenario " + one_line(r.scenario) + "\n";
  for (const std::string& v : r.safety) out += "S " + one_line(v) + "\n";
  for (const std::string& v : r.liveness) out += "L " + one_line(v) + "\n";
  out += "end\n";
  return out;
}

std::optional<synod::sim::RunResult> deserialize(const std::string& text) {
  synod::sim::RunResult r;
  std::istringstream in(text);
  std::string line;
  bool complete = false;
  constexpr std::size_t kMaxLines = 1u << 16;
  for (std::size_t lines = 0; lines < kMaxLines && std::getline(in, line); ++lines) {
    const std::size_t space = line.find(' ');
    const std::string key = line.substr(0, space);
    const std::string value = space == std::string::npos ? "" : line.substr(space + 1);
    const auto number = [&] { return static_cast<std::uint64_t>(std::stoull(value)); };
    if (key == "seed") r.seed = number();
    else if (key == "safety_count") r.safety_violation_count = number();
    else if (key == "liveness_count") r.liveness_failure_count = number();
    else if (key == "requests") r.requests_completed = number();
    else if (key == "view_changes") r.view_changes = number();
    else if (key == "state_transfers") r.state_transfers = number();
    else if (key == "catch_ups") r.catch_ups = number();
    else if (key == "unordered_reads") r.unordered_reads = number();
    else if (key == "messages") r.messages_sent = number();
    else if (key == "events") r.events = number();
    else if (key == "checkpoints") r.checkpoints = number();
    else if (key == "end_us") r.end_us = number();
    else if (key == "fingerprint") r.fingerprint = number();
    else if (key == "scenario") r.scenario = value;
    else if (key == "S") r.safety.push_back(value);
    else if (key == "L") r.liveness.push_back(value);
    else if (key == "end") complete = true;
  }
  if (!complete) return std::nullopt;
  return r;
}

// A seed running in a child process: its result pipe and its stderr.
struct Child {
  pid_t pid = -1;
  std::uint64_t seed = 0;
  std::uint64_t index = 0;
  int fds[2] = {-1, -1};  // result, stderr; -1 once closed
  std::string output[2];
  bool done() const { return fds[0] < 0 && fds[1] < 0; }
};

synod::Result<Child> spawn(std::uint64_t seed, std::uint64_t index, const synod::sim::Options& options) {
  int result_pipe[2], error_pipe[2];
  if (::pipe(result_pipe) != 0) return synod::fail(synod::ErrorCode::io, std::string("pipe: ") + std::strerror(errno));
  if (::pipe(error_pipe) != 0) {
    ::close(result_pipe[0]);
    ::close(result_pipe[1]);
    return synod::fail(synod::ErrorCode::io, std::string("pipe: ") + std::strerror(errno));
  }
  std::fflush(nullptr);  // nothing buffered is written twice
  const pid_t pid = ::fork();
  if (pid < 0) return synod::fail(synod::ErrorCode::io, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(result_pipe[0]);
    ::close(error_pipe[0]);
    ::dup2(error_pipe[1], STDERR_FILENO);
    std::signal(SIGABRT, SIG_DFL);
    std::signal(SIGSEGV, SIG_DFL);
    const auto result = synod::sim::run_seed(seed, options);
    const std::string text = result ? serialize(*result) : "error " + one_line(result.error().message) + "\n";
    write_all_fd(result_pipe[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(result_pipe[1]);
  ::close(error_pipe[1]);
  Child child;
  child.pid = pid;
  child.seed = seed;
  child.index = index;
  child.fds[0] = result_pipe[0];
  child.fds[1] = error_pipe[0];
  return child;
}

// Reads what is ready on the children's pipes (poll, so a chatty stderr
// cannot block a child against a full result pipe). Blocks until something
// is ready.
void pump(std::vector<Child>& children) {
  constexpr std::size_t kMaxCapture = 1u << 20;
  std::vector<pollfd> fds;
  std::vector<std::pair<std::size_t, int>> owner;  // (child, stream)
  for (std::size_t c = 0; c < children.size(); ++c) {
    for (int k = 0; k < 2; ++k) {
      if (children[c].fds[k] < 0) continue;
      fds.push_back({children[c].fds[k], POLLIN, 0});
      owner.emplace_back(c, k);
    }
  }
  if (fds.empty()) return;
  if (::poll(fds.data(), fds.size(), -1) < 0) return;  // EINTR: the caller loops
  for (std::size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents == 0) continue;
    Child& child = children[owner[i].first];
    const int k = owner[i].second;
    char buf[4096];
    const ssize_t n = ::read(child.fds[k], buf, sizeof buf);
    if (n > 0) {
      if (child.output[k].size() < kMaxCapture) child.output[k].append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      ::close(child.fds[k]);
      child.fds[k] = -1;
    }
  }
}

// Waits for a finished child and turns what it said into a result.
synod::Result<synod::sim::RunResult> reap(Child& child, const synod::sim::Options& options) {
  SYNOD_ASSERT(child.done(), "reap a child whose pipes are closed");
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  const std::string& text = child.output[0];
  if (text.rfind("error ", 0) == 0) {
    return synod::fail(synod::ErrorCode::invalid_argument, one_line(text.substr(6)));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    if (auto r = deserialize(text)) return *r;
  }
  // The seed crashed the process: most likely a core's assertion (its text
  // is on the child's stderr). That is a finding like any violation.
  synod::sim::RunResult r;
  r.seed = child.seed;
  r.scenario = synod::sim::make_scenario(child.seed, options).describe();
  const std::string why = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                              : "exited with status " + std::to_string(WEXITSTATUS(status));
  const std::string& error = child.output[1];
  r.safety.push_back("crash: the run was " + why + (error.empty() ? "" : ": " + one_line(error)));
  r.safety_violation_count = 1;
  return r;
}

synod::Result<synod::sim::RunResult> run_isolated(std::uint64_t seed, const synod::sim::Options& options) {
  auto child = spawn(seed, 0, options);
  if (!child) return std::unexpected(child.error());
  std::vector<Child> one{std::move(*child)};
  constexpr std::uint64_t kMaxPolls = std::uint64_t{1} << 40;  // a bound, never reached
  for (std::uint64_t polls = 0; !one[0].done() && polls < kMaxPolls; ++polls) pump(one);
  return reap(one[0], options);
}

struct Cli {
  std::string protocol = "pbft";
  std::uint64_t seeds = 100;
  std::uint64_t first_seed = 1;
  std::optional<std::uint32_t> f;
  std::string faults = "all";
  std::vector<std::string> bugs;
  std::string auth = "drawn";
  std::string app = "drawn";
  unsigned jobs = 1;
  bool trace = false;
  bool json = false;
  bool expect_failure = false;
  bool no_isolate = false;
  double max_virtual_seconds = 120;
  double liveness_bound_seconds = 60;
};

std::string replay_suffix(const Cli& cli) {
  std::string text;
  if (cli.protocol != "pbft") text += " --protocol " + cli.protocol;
  if (cli.f) text += " --f " + std::to_string(*cli.f);
  if (cli.auth != "drawn") text += " --auth " + cli.auth;
  if (cli.app != "drawn") text += " --app " + cli.app;
  if (cli.faults != "all") text += " --faults " + cli.faults;
  for (const std::string& bug : cli.bugs) text += " --bug " + bug;
  if (cli.max_virtual_seconds != 120) {
    std::ostringstream s;
    s << " --max-virtual-seconds " << cli.max_virtual_seconds;
    text += s.str();
  }
  if (cli.liveness_bound_seconds != 60) {
    std::ostringstream s;
    s << " --liveness-bound-seconds " << cli.liveness_bound_seconds;
    text += s.str();
  }
  return text;
}

// Parses the command line into `cli` and `options`; an exit code when the
// program should stop (help, or bad usage).
std::optional<int> parse(int argc, char** argv, Cli& cli, synod::sim::Options& options) {
  using namespace synod;
  CLI::App app{"synod-sim: deterministic simulation of a synod cluster under faults, judged by safety and "
               "liveness checkers. One seed decides a whole run; a failing seed replays bit for bit.",
               "synod-sim"};
  app.add_option("--protocol", cli.protocol, "Protocol to simulate")
      ->check(CLI::IsMember({"pbft", "paxos"}))
      ->capture_default_str();
  app.add_option("--seeds", cli.seeds, "Number of seeds to run")->capture_default_str();
  app.add_option("--first-seed", cli.first_seed, "First seed")->capture_default_str();
  app.add_option("--f", cli.f, "Faults tolerated (n = 3f+1 for pbft, 2f+1 for paxos); default: drawn from each seed (1..3)")
      ->check(CLI::Range(1, 32));
  app.add_option("--auth", cli.auth,
                 "Authentication mode: signatures, macs, or drawn (from each seed)")
      ->check(CLI::IsMember({"signatures", "macs", "drawn"}))
      ->capture_default_str();
  app.add_option("--app", cli.app,
                 "Application: kv (whole-state snapshots), kv-store (store-backed: Merkle-root checkpoints, "
                 "transfer by tree walk), or drawn (from each seed)")
      ->check(CLI::IsMember({"kv", "kv-store", "drawn"}))
      ->capture_default_str();
  app.add_option("--faults", cli.faults,
                 "Fault classes seeds may draw from: comma list of network,crash,byzantine,clients, or all, or none")
      ->capture_default_str();
  std::string bug_help = "Run honest replicas with a deliberately broken behaviour (repeatable); pbft:";
  for (const std::string& name : sim::bug_names(Protocol::pbft)) bug_help += " " + name;
  bug_help += "; paxos:";
  for (const std::string& name : sim::bug_names(Protocol::paxos)) bug_help += " " + name;
  app.add_option("--bug", cli.bugs, bug_help);
  app.add_option("--jobs,-j", cli.jobs, "Seeds run on this many threads (results are identical to --jobs 1)")
      ->check(CLI::Range(1u, kMaxJobs))
      ->capture_default_str();
  app.add_flag("--trace", cli.trace, "Print a readable event log of every seed run (use with --seeds 1)");
  app.add_flag("--json", cli.json, "Print one JSON summary object instead of text");
  app.add_flag("--expect-failure", cli.expect_failure,
               "Succeed iff some seed fails because of the --bug variants: a failing seed counts only if it "
               "passes without them (so an unrelated bug does not make the test pass); stops at the first");
  app.add_flag("--no-isolate", cli.no_isolate,
               "Run seeds in this process (faster to debug; a core's failed assertion then stops everything). "
               "By default each seed runs in a child process, so a crash is reported as that seed's failure");
  app.add_option("--max-virtual-seconds", cli.max_virtual_seconds, "Cap on one run's virtual time")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--liveness-bound-seconds", cli.liveness_bound_seconds,
                 "After the heal, every correct client's request must complete within this many virtual seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? kExitOk : kExitUsage;
  }
  const auto usage = [](const std::string& message) {
    std::fprintf(stderr, "synod-sim: %s\n", message.c_str());
    return kExitUsage;
  };
  const auto protocol = parse_protocol(cli.protocol);
  if (!protocol) return usage(protocol.error().message);
  options.protocol = *protocol;
  options.f = cli.f;
  if (cli.auth != "drawn") options.authentication = *parse_authentication(cli.auth);
  if (cli.app != "drawn") {
    options.store_backed = cli.app == "kv-store";
  }
  const auto faults = sim::parse_faults(cli.faults);
  if (!faults) return usage("--faults: " + faults.error().message);
  options.faults = *faults;
  for (const std::string& bug : cli.bugs) {
    const auto ok = *protocol == Protocol::paxos ? sim::set_bug(bug, options.paxos_bugs)
                                                 : sim::set_bug(bug, options.bugs);
    if (!ok) return usage("--bug: " + ok.error().message);
  }
  options.max_virtual_us = static_cast<TimeUs>(cli.max_virtual_seconds * 1e6);
  options.liveness_bound_us = static_cast<TimeUs>(cli.liveness_bound_seconds * 1e6);
  if (cli.seeds == 0) return usage("--seeds must be at least 1");
  if (cli.trace) {
    cli.jobs = 1;  // a trace is one readable story: seeds run one after another
    options.trace = &std::cout;
  }
  return std::nullopt;
}

struct Outcome {
  std::vector<std::optional<synod::sim::RunResult>> results;  // by seed index
  std::vector<char> fails_without_bugs;                       // --expect-failure
  std::optional<synod::Error> error;
};

// What to do with one seed's result (shared by both ways of running).
struct Collector {
  Collector(const Cli& c, Outcome& o,
            const std::function<synod::Result<synod::sim::RunResult>(std::uint64_t, const synod::sim::Options&)>& r,
            const synod::sim::Options& b)
      : cli(c), outcome(o), run(r), baseline(b) {}

  const Cli& cli;
  Outcome& outcome;
  const std::function<synod::Result<synod::sim::RunResult>(std::uint64_t, const synod::sim::Options&)>& run;
  const synod::sim::Options& baseline;
  std::atomic<std::uint64_t> done{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;  // outcome.error

  void take(std::uint64_t index, synod::Result<synod::sim::RunResult> result) {
    if (!result) {
      std::lock_guard lock(mutex);
      outcome.error = result.error();
      stop = true;
      return;
    }
    if (cli.expect_failure && !result->ok()) {
      // Differential: count the failure only if the seed passes without the bugs.
      bool attributable = true;
      if (!cli.bugs.empty()) {
        const auto base = run(cli.first_seed + index, baseline);
        attributable = base.has_value() && base->ok();
        outcome.fails_without_bugs[index] = attributable ? 0 : 1;
      }
      if (attributable) stop = true;
    }
    outcome.results[index] = std::move(*result);
    const std::uint64_t finished = ++done;
    const bool progress = !cli.json && !cli.trace && cli.seeds >= 100 && ::isatty(STDERR_FILENO);
    if (progress && finished % std::max<std::uint64_t>(cli.seeds / 20, 1) == 0) {
      std::fprintf(stderr, "\rsynod-sim: %llu/%llu seeds%s", static_cast<unsigned long long>(finished),
                   static_cast<unsigned long long>(cli.seeds), finished == cli.seeds ? "\n" : "");
    }
  }
};

// Isolated: up to cli.jobs children at once, driven by this one thread.
// (No threads here: forking a multi-threaded process can leave the child
// waiting forever on a lock another thread held, e.g. in ASan's allocator.)
void run_pool(const Cli& cli, const synod::sim::Options& options, Collector& collector) {
  std::vector<Child> running;
  std::uint64_t next = 0;
  constexpr std::uint64_t kMaxRounds = std::uint64_t{1} << 48;  // a bound, never reached
  for (std::uint64_t round = 0; round < kMaxRounds; ++round) {
    while (running.size() < cli.jobs && next < cli.seeds && !collector.stop.load()) {
      auto child = spawn(cli.first_seed + next, next, options);
      if (!child) {
        collector.take(next, std::unexpected(child.error()));
        break;
      }
      running.push_back(std::move(*child));
      ++next;
    }
    if (running.empty()) return;
    pump(running);
    for (std::size_t c = 0; c < running.size();) {
      if (!running[c].done()) {
        ++c;
        continue;
      }
      Child finished = std::move(running[c]);
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(c));
      collector.take(finished.index, reap(finished, options));
    }
  }
}

// In this process: cli.jobs threads (runs share nothing).
void run_threads(const Cli& cli, const synod::sim::Options& options, Collector& collector) {
  std::atomic<std::uint64_t> next{0};
  const auto worker = [&](unsigned slot) {
    t_slot = static_cast<int>(slot);
    for (std::uint64_t index = next.fetch_add(1); index < cli.seeds && !collector.stop.load();
         index = next.fetch_add(1)) {
      const std::uint64_t seed = cli.first_seed + index;
      g_running_seed[slot] = seed;
      g_running[slot] = true;
      auto result = synod::sim::run_seed(seed, options);
      g_running[slot] = false;
      collector.take(index, std::move(result));
    }
  };
  std::vector<std::thread> threads;
  for (unsigned j = 1; j < cli.jobs; ++j) threads.emplace_back(worker, j);
  worker(0);
  for (std::thread& t : threads) t.join();
}

// Results land by seed index, so what is reported does not depend on how
// many jobs ran them.
Outcome run_seeds(const Cli& cli, const synod::sim::Options& options) {
  using namespace synod;
  Outcome outcome;
  outcome.results.resize(cli.seeds);
  outcome.fails_without_bugs.assign(cli.seeds, 0);
  const bool isolate = !cli.no_isolate && !cli.trace;  // a trace streams from this process
  sim::Options baseline = options;
  baseline.bugs = pbft::Bugs{};
  baseline.paxos_bugs = paxos::Bugs{};
  const std::function<Result<sim::RunResult>(std::uint64_t, const sim::Options&)> run =
      [isolate](std::uint64_t seed, const sim::Options& o) {
        return isolate ? run_isolated(seed, o) : sim::run_seed(seed, o);
      };
  Collector collector(cli, outcome, run, baseline);
  if (isolate) {
    run_pool(cli, options, collector);
  } else {
    run_threads(cli, options, collector);
  }
  return outcome;
}

struct Totals {
  std::uint64_t ran = 0, safety = 0, liveness = 0, requests = 0, view_changes = 0, transfers = 0, catch_ups = 0;
  std::uint64_t unordered_reads = 0;
  std::uint64_t messages = 0, events = 0, checkpoints = 0, fingerprint = 0;
  std::vector<const synod::sim::RunResult*> failures;
};

Totals total(const Outcome& outcome) {
  Totals t;
  for (const auto& r : outcome.results) {
    if (!r) continue;
    ++t.ran;
    t.safety += r->safety_violation_count > 0 ? 1 : 0;
    t.liveness += r->liveness_failure_count > 0 ? 1 : 0;
    t.requests += r->requests_completed;
    t.view_changes += r->view_changes;
    t.transfers += r->state_transfers;
    t.catch_ups += r->catch_ups;
    t.unordered_reads += r->unordered_reads;
    t.messages += r->messages_sent;
    t.events += r->events;
    t.checkpoints += r->checkpoints;
    t.fingerprint = synod::sim::mix64(t.fingerprint ^ r->fingerprint);
    if (!r->ok()) t.failures.push_back(&*r);
  }
  return t;
}

std::string replay_command(std::uint64_t seed) {
  return "synod-sim --first-seed " + std::to_string(seed) + " --seeds 1 --trace" + g_replay_suffix;
}

using ull = unsigned long long;

std::string bugs_text(const synod::sim::Options& options) {
  return options.protocol == synod::Protocol::paxos ? synod::sim::describe_bugs(options.paxos_bugs)
                                                    : synod::sim::describe_bugs(options.bugs);
}

void print_json(const Cli& cli, const synod::sim::Options& options, const Totals& t, double wall_seconds) {
  using synod::sim::describe_faults;
  std::printf("{\"protocol\":\"%s\",\"first_seed\":%llu,\"seeds\":%llu,\"f\":%s,\"faults\":\"%s\",\"bugs\":\"%s\","
              "\"safety_violations\":%llu,\"liveness_failures\":%llu,\"requests_completed\":%llu,"
              "\"view_changes\":%llu,\"state_transfers\":%llu,\"catch_ups\":%llu,\"unordered_reads\":%llu,"
              "\"checkpoints\":%llu,\"messages\":%llu,"
              "\"events\":%llu,\"fingerprint\":\"%016llx\",\"seconds\":%.3f,",
              cli.protocol.c_str(), static_cast<ull>(cli.first_seed), static_cast<ull>(t.ran),
              cli.f ? std::to_string(*cli.f).c_str() : "null", describe_faults(options.faults).c_str(),
              bugs_text(options).c_str(), static_cast<ull>(t.safety), static_cast<ull>(t.liveness),
              static_cast<ull>(t.requests), static_cast<ull>(t.view_changes), static_cast<ull>(t.transfers),
              static_cast<ull>(t.catch_ups), static_cast<ull>(t.unordered_reads), static_cast<ull>(t.checkpoints),
              static_cast<ull>(t.messages), static_cast<ull>(t.events), static_cast<ull>(t.fingerprint), wall_seconds);
  if (options.protocol == synod::Protocol::paxos) {
    // The same counts under paxos names: a view is a ballot, a state transfer a snapshot by catch-up.
    std::printf("\"leader_changes\":%llu,\"snapshot_transfers\":%llu,", static_cast<ull>(t.view_changes),
                static_cast<ull>(t.transfers));
  }
  std::printf("\"failures\":[");
  for (std::size_t i = 0; i < t.failures.size(); ++i) {
    const synod::sim::RunResult& r = *t.failures[i];
    std::printf("%s{\"seed\":%llu,\"scenario\":\"%s\",\"violations\":[", i ? "," : "", static_cast<ull>(r.seed),
                json_escape(r.scenario).c_str());
    bool first = true;
    for (const auto* list : {&r.safety, &r.liveness}) {
      for (const std::string& v : *list) {
        std::printf("%s\"%s\"", first ? "" : ",", json_escape(v).c_str());
        first = false;
      }
    }
    std::printf("],\"replay\":\"%s\"}", json_escape(replay_command(r.seed)).c_str());
  }
  std::printf("]}\n");
}

void print_text(const Cli& cli, const synod::sim::Options& options, const Totals& t, double wall_seconds) {
  for (const synod::sim::RunResult* r : t.failures) {
    std::printf("seed %llu FAILED (%s)\n", static_cast<ull>(r->seed), r->scenario.c_str());
    for (const auto* list : {&r->safety, &r->liveness}) {
      for (const std::string& v : *list) std::printf("  %s\n", v.c_str());
    }
    std::printf("  replay: %s\n", replay_command(r->seed).c_str());
  }
  const bool paxos = options.protocol == synod::Protocol::paxos;
  std::printf("synod-sim: %llu seeds from %llu (%s, faults=%s%s%s): %llu with safety violations, %llu with "
              "liveness failures; %llu requests (%llu unordered reads), %llu %s, %llu %s, %llu catch-ups, %llu checkpoints; "
              "%.1f s\n",
              static_cast<ull>(t.ran), static_cast<ull>(cli.first_seed), cli.protocol.c_str(),
              synod::sim::describe_faults(options.faults).c_str(), cli.bugs.empty() ? "" : ", bugs=",
              bugs_text(options).c_str(), static_cast<ull>(t.safety), static_cast<ull>(t.liveness),
              static_cast<ull>(t.requests), static_cast<ull>(t.unordered_reads), static_cast<ull>(t.view_changes),
              paxos ? "leader changes" : "view changes", static_cast<ull>(t.transfers),
              paxos ? "snapshot transfers" : "state transfers", static_cast<ull>(t.catch_ups),
              static_cast<ull>(t.checkpoints), wall_seconds);
}

// --expect-failure: success iff some failure is attributable to the bugs.
int expect_failure_verdict(const Cli& cli, const Outcome& outcome, const Totals& t) {
  std::uint64_t attributable = 0;
  for (const synod::sim::RunResult* r : t.failures) {
    if (outcome.fails_without_bugs[r->seed - cli.first_seed] != 0) {
      std::printf("synod-sim: seed %llu also fails without the bugs: not counted\n", static_cast<ull>(r->seed));
      continue;
    }
    ++attributable;
    if (!cli.bugs.empty()) {
      std::printf("synod-sim: seed %llu fails with the bugs and passes without them: found\n",
                  static_cast<ull>(r->seed));
    }
  }
  if (attributable > 0) return kExitOk;
  std::printf("synod-sim: expected a violation caused by the bugs, but none of %llu seeds showed one\n",
              static_cast<ull>(t.ran));
  return kExitViolation;
}

}  // namespace

int main(int argc, char** argv) {
  Cli cli;
  synod::sim::Options options;
  if (const auto exit_code = parse(argc, argv, cli, options)) return *exit_code;
  g_jobs = cli.jobs;
  g_replay_suffix = replay_suffix(cli);
  for (unsigned j = 0; j < kMaxJobs; ++j) g_running[j] = false;
  std::signal(SIGABRT, on_abort);
  std::signal(SIGSEGV, on_abort);

  const auto started = std::chrono::steady_clock::now();
  const Outcome outcome = run_seeds(cli, options);
  if (outcome.error) {
    std::fprintf(stderr, "synod-sim: %s\n", outcome.error->message.c_str());
    return kExitUsage;
  }
  const double wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const Totals totals = total(outcome);
  if (cli.json) {
    print_json(cli, options, totals, wall_seconds);
  } else {
    print_text(cli, options, totals, wall_seconds);
  }
  if (cli.expect_failure) return expect_failure_verdict(cli, outcome, totals);
  return totals.failures.empty() ? kExitOk : kExitViolation;
}
