// synod-flood: floods a running cluster from several sockets while a
// correct client keeps working, and watches the replicas' resident memory.
//
// Flooders (one thread and one or more DEALER sockets each, all aimed at
// every replica's endpoint):
//   garbage   random frames of 1..4096 bytes, some multipart
//   forged    well-formed envelopes of every message type claiming to come
//             from replicas and clients, with random payloads and bad
//             signatures (they pass decoding up to authentication)
//   client    a configured client (--flood-client, its real key) sending
//             valid signed requests at its pace, never reading a
//             reply, with fresh request numbers and replays of old ones
// Meanwhile client --client invokes kv puts one after another; VmRSS of
// every --pid is sampled from /proc every 100 ms.
//
// Each flooder thread sends --rate messages per second (each message to
// every replica); --rate 0 floods flat out. A fixed rate makes the load the
// same on a fast machine and on a slow or sanitized build: flat out, five
// flooder threads on the replicas' own two cores measure the scheduler more
// than the replicas. The flooders also run at --flooder-nice (default 10)
// so they do not starve the correct client in the same process.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <zmq.hpp>

#include "runtime/clock.hpp"
#include "runtime/config_file.hpp"
#include "runtime/processes.hpp"
#include "runtime/routing_ids.hpp"
#include "runtime/transport.hpp"
#include "synod/client.hpp"
#include "synod/crypto/private_key.hpp"
#include "synod/examples/kv.hpp"
#include "wire/codec.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// One DEALER per replica, for a flooder. CURVE (when on) with a fresh key
// pair, like any client.
std::vector<zmq::socket_t> open_sockets(zmq::context_t& context, const synod::ClusterConfig& config,
                                        const std::string& routing_id) {
  std::vector<zmq::socket_t> sockets;
  for (const auto& r : config.replicas) {
    auto& s = sockets.emplace_back(context, zmq::socket_type::dealer);
    auto ok = synod::runtime::connect_client_socket(s, config, r, routing_id, 1000);
    if (!ok) throw std::runtime_error(ok.error().message);
  }
  return sockets;
}

// Lowers the calling thread's priority (Linux: nice is per thread).
void renice_this_thread(int nice) {
  if (nice != 0) (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice);
}

// Paces a flooder to `rate` messages per second (0: no pacing).
class Pacer {
 public:
  explicit Pacer(std::uint32_t rate)
      : period_(rate == 0 ? Clock::duration::zero() : std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)) / rate),
        next_(Clock::now()) {}
  void wait() {
    if (period_ == Clock::duration::zero()) return;
    next_ += period_;
    const auto now = Clock::now();
    if (next_ > now) std::this_thread::sleep_until(next_);
    else if (now - next_ > std::chrono::milliseconds(100)) next_ = now;  // fell behind: no catch-up burst
  }

 private:
  Clock::duration period_;
  Clock::time_point next_;
};

std::vector<std::uint8_t> random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::vector<std::uint8_t> out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"synod-flood: flood a running cluster with garbage, forged frames and a greedy client while a "
               "correct client works; check the replicas' resident memory"};
  std::string config_path, keys_dir;
  std::vector<int> pids;
  std::uint32_t client_id = 0, flood_client = 1, seconds = 15, min_completed = 20;
  long rss_bound_mib = 256;
  int garbage_sockets = 2, forged_sockets = 2, flooder_nice = 10;
  std::uint32_t rate = 0;
  bool no_greedy = false;
  cli.add_option("--config", config_path, "cluster.toml")->required();
  cli.add_option("--keys", keys_dir, "folder with client-<id>.key (default: the config's keys/)");
  cli.add_option("--pid", pids, "replica process ids to watch")->required();
  cli.add_option("--client", client_id, "the correct client's id");
  cli.add_option("--flood-client", flood_client, "the flooding client's id");
  cli.add_option("--seconds", seconds, "flood duration")->check(CLI::Range(1, 600));
  cli.add_option("--rss-bound-mib", rss_bound_mib, "largest VmRSS allowed for any watched replica");
  cli.add_option("--min-completed", min_completed, "requests the correct client must complete");
  cli.add_option("--garbage-sockets", garbage_sockets, "garbage flooders")->check(CLI::Range(0, 16));
  cli.add_option("--forged-sockets", forged_sockets, "forged-envelope flooders")->check(CLI::Range(0, 16));
  cli.add_option("--rate", rate, "messages per second per flooder thread, each sent to every replica (default 0: flat out)");
  cli.add_option("--flooder-nice", flooder_nice, "nice value of the flooder threads (default 10)")
      ->check(CLI::Range(0, 19));
  cli.add_flag("--no-greedy", no_greedy, "no greedy client (with 0 flooders: a plain closed-loop throughput run)");
  CLI11_PARSE(cli, argc, argv);
  auto die = [](const std::string& why) {
    std::fprintf(stderr, "synod-flood: %s\n", why.c_str());
    return 1;
  };

  auto config = synod::runtime::load_cluster_config(config_path);
  if (!config) return die(config.error().message);
  if (keys_dir.empty()) keys_dir = (std::filesystem::path(config_path).parent_path() / "keys").string();
  auto key_of = [&](std::uint32_t id) {
    return synod::crypto::PrivateKey::load_pem_file(std::filesystem::path(keys_dir) /
                                                    ("client-" + std::to_string(id) + ".key"));
  };
  auto good_key = key_of(client_id);
  if (!good_key) return die(good_key.error().message);
  auto flood_key = key_of(flood_client);
  if (!flood_key) return die(flood_key.error().message);

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> garbage_sent{0}, forged_sent{0}, flood_sent{0};
  zmq::context_t context{2};
  std::vector<std::thread> threads;
  // The flood is started from a thread at --flooder-nice: the flooder
  // threads and ZeroMQ's I/O threads (started with the first socket)
  // inherit its nice value, the correct client on this thread keeps 0.
  std::string setup_error;
  std::thread([&] {
    renice_this_thread(flooder_nice);
    try {
      for (int g = 0; g < garbage_sockets; ++g) {
        threads.emplace_back([&, g, sockets = open_sockets(context, *config, "flood-garbage-" + std::to_string(g))]() mutable {
          std::mt19937_64 rng(1000 + static_cast<std::uint64_t>(g));
          for (Pacer pacer(rate); !stop.load(std::memory_order_relaxed); pacer.wait()) {
            for (auto& s : sockets) {
              auto frame = random_bytes(rng, 1 + rng() % 4096);
              const bool multipart = rng() % 16 == 0;
              if (s.send(zmq::buffer(frame), multipart ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                                                       : zmq::send_flags::dontwait)) {
                ++garbage_sent;
                if (multipart) (void)s.send(zmq::buffer(frame), zmq::send_flags::dontwait);
              }
            }
          }
        });
      }
      for (int f = 0; f < forged_sockets; ++f) {
        threads.emplace_back([&, f, sockets = open_sockets(context, *config, "flood-forged-" + std::to_string(f))]() mutable {
          std::mt19937_64 rng(2000 + static_cast<std::uint64_t>(f));
          static constexpr std::uint8_t kTypes[] = {1, 2, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                                                    30, 31, 32, 33, 34, 35, 36, 37, 40, 41};
          for (Pacer pacer(rate); !stop.load(std::memory_order_relaxed); pacer.wait()) {
            for (auto& s : sockets) {
              synod::wire::Envelope e;
              e.type = static_cast<synod::wire::MsgType>(kTypes[rng() % std::size(kTypes)]);
              e.sender = rng() % 2 ? synod::Principal::replica(static_cast<std::uint32_t>(rng() % config->n()))
                                   : synod::Principal::client(static_cast<std::uint32_t>(rng() % 4));
              e.payload = random_bytes(rng, rng() % 2048);
              e.authenticator = random_bytes(rng, 64);
              const auto frame = synod::wire::encode_envelope(e);
              if (s.send(zmq::buffer(frame), zmq::send_flags::dontwait)) ++forged_sent;
            }
          }
        });
      }
      if (!no_greedy) {
        auto sockets = open_sockets(context, *config, synod::runtime::client_routing_id(flood_client));
        auto crypto_key = std::make_shared<synod::crypto::PrivateKey>(std::move(*flood_key));
        threads.emplace_back([&, crypto_key, sockets = std::move(sockets)]() mutable {
          std::mt19937_64 rng(3000);
          synod::RequestNo t = synod::runtime::wall_clock_us();
          std::vector<synod::Bytes> old;
          for (Pacer pacer(rate); !stop.load(std::memory_order_relaxed); pacer.wait()) {
            synod::Bytes frame;
            if (!old.empty() && rng() % 4 == 0) {
              frame = old[rng() % old.size()];  // a replay
            } else {
              const synod::wire::Request req{flood_client, ++t, false,
                                             synod::examples::kv::encode_put("flood-" + std::to_string(rng() % 64),
                                                                             std::string(64, 'x'))};
              frame = synod::wire::make_frame(synod::Principal::client(flood_client), req, [&](synod::ByteView in) {
                auto sig = crypto_key->sign(in);
                return sig ? *sig : synod::Bytes{};
              });
              if (old.size() < 256) old.push_back(frame);
            }
            for (auto& s : sockets)
              if (s.send(zmq::buffer(frame), zmq::send_flags::dontwait)) ++flood_sent;
          }
        });
      }
    } catch (const std::exception& e) {
      setup_error = e.what();
    }
  }).join();
  if (!setup_error.empty()) {
    stop = true;
    for (auto& t : threads) t.join();
    return die(setup_error);
  }

  // The correct client, on this thread; RSS sampled by another.
  std::vector<long> max_rss(pids.size(), 0);
  std::atomic<bool> replica_gone{false};
  std::thread sampler([&] {
    while (!stop.load()) {
      for (std::size_t i = 0; i < pids.size(); ++i) {
        const long kib = synod::runtime::rss_kib(pids[i]);
        if (kib < 0) replica_gone = true;
        max_rss[i] = std::max(max_rss[i], kib);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  synod::ClientOptions options;
  options.timeout = std::chrono::milliseconds(5000);
  auto client = synod::Client::connect(*config, client_id, std::move(*good_key), options);
  std::uint64_t completed = 0, failed = 0;
  if (client) {
    const auto end = Clock::now() + std::chrono::seconds(seconds);
    for (std::uint64_t i = 0; Clock::now() < end; ++i) {
      const auto op = synod::examples::kv::encode_put("good-" + std::to_string(i % 16), std::to_string(i));
      if ((*client)->invoke(op)) ++completed;
      else ++failed;
    }
  }
  stop = true;
  for (auto& t : threads) t.join();
  sampler.join();
  if (!client) return die(client.error().message);

  long worst = 0;
  std::string per_replica;
  for (std::size_t i = 0; i < pids.size(); ++i) {
    worst = std::max(worst, max_rss[i]);
    per_replica += (i ? "," : "") + std::to_string(max_rss[i] / 1024);
  }
  std::printf("flood: %us garbage=%llu forged=%llu greedy_client=%llu | correct client completed=%llu failed=%llu "
              "(%.1f/s) | max VmRSS MiB per replica [%s], bound %ld\n",
              seconds, static_cast<unsigned long long>(garbage_sent.load()),
              static_cast<unsigned long long>(forged_sent.load()), static_cast<unsigned long long>(flood_sent.load()),
              static_cast<unsigned long long>(completed), static_cast<unsigned long long>(failed),
              static_cast<double>(completed) / seconds, per_replica.c_str(), rss_bound_mib);
  if (replica_gone) return die("a watched replica exited during the flood");
  if (worst > rss_bound_mib * 1024) return die("VmRSS " + std::to_string(worst / 1024) + " MiB over the bound");
  if (completed < min_completed) {
    return die("the correct client completed " + std::to_string(completed) + " requests, fewer than " +
               std::to_string(min_completed));
  }
  return 0;
}
