// The runtime end to end inside one process: real cores (pbft and paxos),
// EventLoops over ZeroMQ on loopback, LMDB in temp dirs, OpenSSL keys, and
// synod::Client. No timing assertions: every wait is for an outcome, bounded
// by the client's timeout.
#include "runtime/event_loop.hpp"

#include <doctest/doctest.h>


#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <set>
#include <memory>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "runtime/core_factory.hpp"
#include "runtime/free_ports.hpp"
#include "runtime/lmdb_storage.hpp"
#include "runtime/openssl_crypto.hpp"
#include "synod/async_client.hpp"
#include "synod/client.hpp"
#include "synod/crypto/private_key.hpp"
#include "synod/examples/kv.hpp"
#include "temp_dir.hpp"
#include "wire/codec.hpp"

namespace synod::runtime {
namespace {

namespace kv = examples::kv;
using test::TempDir;

crypto::PrivateKey clone(const crypto::PrivateKey& key) {
  auto copy = key.clone();
  REQUIRE(copy);
  return std::move(*copy);
}

// One replica: its storage, app, crypto, core and loop, run on a thread.
struct Node {
  std::unique_ptr<LmdbStorage> storage;
  std::unique_ptr<examples::KvStore> app;
  std::unique_ptr<OpenSslCrypto> crypto;
  std::unique_ptr<Replica> core;
  std::unique_ptr<EventLoop> loop;
  std::atomic<bool> stop{false};
  std::thread thread;
  bool loop_ok = true;
};

class LocalCluster {
 public:
  // checkpoint_interval 0 keeps the default.
  explicit LocalCluster(Protocol protocol, std::uint32_t clients = 1, std::uint32_t checkpoint_interval = 0,
                        EventLoopOptions loop_options = {})
      : loop_options_(std::move(loop_options)) {
    config_.protocol = protocol;
    config_.f = 1;
    if (checkpoint_interval != 0) {
      config_.checkpoint_interval = checkpoint_interval;
      config_.window = 2 * checkpoint_interval;
    }
    const std::uint32_t n = config_.required_replicas();
    const auto ports = free_loopback_ports(n);
    REQUIRE(ports);
    for (std::uint32_t i = 0; i < n; ++i) {
      auto key = crypto::PrivateKey::generate();
      REQUIRE(key);
      auto pem = key->public_key()->to_pem();
      REQUIRE(pem);
      config_.replicas.push_back({i, "tcp://127.0.0.1:" + std::to_string((*ports)[i]), *pem});
      replica_keys_.push_back(std::move(*key));
    }
    for (ClientId c = 0; c < clients; ++c) {
      auto key = crypto::PrivateKey::generate();
      REQUIRE(key);
      config_.clients.push_back({c, *key->public_key()->to_pem()});
      client_keys_.push_back(std::move(*key));
    }
    const auto valid = config_.validate();
    REQUIRE_MESSAGE(valid, valid.error().message);
    for (std::uint32_t i = 0; i < n; ++i) nodes_.push_back(std::make_unique<Node>());
    for (std::uint32_t i = 0; i < n; ++i) start(i);
  }
  ~LocalCluster() {
    for (std::uint32_t i = 0; i < nodes_.size(); ++i) stop(i);
  }

  void start(ReplicaId i) {
    Node& node = *nodes_[i];
    node.storage.reset();  // a restart: the old handle holds the data dir's lock
    auto storage = LmdbStorage::open(dir_.path() / std::to_string(i));
    REQUIRE(storage);
    node.storage = std::make_unique<LmdbStorage>(std::move(*storage));
    auto durable = node.storage->load();
    REQUIRE(durable);
    node.app = std::make_unique<examples::KvStore>();
    auto crypto = OpenSslCrypto::from_config(config_, clone(replica_keys_[i]));
    REQUIRE(crypto);
    node.crypto = std::move(*crypto);
    auto core = make_core(config_, i, *node.crypto, *node.app, *durable, 42);
    REQUIRE_MESSAGE(core, core.error().message);
    node.core = std::move(*core);
    auto loop = EventLoop::create(config_, i, *node.core, *node.storage, *node.crypto, loop_options_);
    REQUIRE_MESSAGE(loop, loop.error().message);
    node.loop = std::move(*loop);
    node.stop = false;
    node.thread = std::thread([&node] { node.loop_ok = node.loop->run(node.stop).has_value(); });
  }

  // Stops replica i; returns its loop's counters.
  EventLoopStats stop(ReplicaId i) {
    Node& node = *nodes_[i];
    if (!node.thread.joinable()) return {};
    node.stop = true;
    node.thread.join();
    CHECK(node.loop_ok);
    const EventLoopStats stats = node.loop->stats();
    node.loop.reset();
    node.core.reset();
    return stats;
  }

  std::size_t durable_records(ReplicaId i) {
    auto state = nodes_[i]->storage->load();
    REQUIRE(state);
    return state->size();
  }

  std::unique_ptr<Client> client() {
    ClientOptions options;
    options.timeout = std::chrono::seconds(30);
    auto c = Client::connect(config_, 0, clone(client_keys_[0]), options);
    REQUIRE_MESSAGE(c, c.error().message);
    return std::move(*c);
  }

  // Every configured client id, with its key, for an AsyncClient.
  std::vector<ClientIdentity> identities() const {
    std::vector<ClientIdentity> out;
    for (ClientId c = 0; c < client_keys_.size(); ++c) out.push_back({c, clone(client_keys_[c])});
    return out;
  }

  const ClusterConfig& config() const { return config_; }

 private:
  EventLoopOptions loop_options_;
  TempDir dir_;
  ClusterConfig config_;
  std::vector<crypto::PrivateKey> replica_keys_;
  std::vector<crypto::PrivateKey> client_keys_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

kv::KvResult invoke(Client& client, const Bytes& op, bool read_only = false) {
  auto reply = client.invoke(as_view(op), read_only);
  REQUIRE_MESSAGE(reply, reply.error().message);
  auto result = kv::decode_result(as_view(*reply));
  REQUIRE(result);
  return *result;
}


TEST_CASE("pbft: a put is acknowledged and a get reads it back") {
  LocalCluster cluster(Protocol::pbft);
  auto client = cluster.client();
  CHECK(invoke(*client, kv::encode_put("k", "v")).status == kv::KvResult::Status::ok);
  const auto got = invoke(*client, kv::encode_get("k"), true);
  CHECK(got.status == kv::KvResult::Status::ok);
  CHECK(got.value == std::optional<std::string>("v"));
}

TEST_CASE("paxos: a put is acknowledged and a get reads it back") {
  LocalCluster cluster(Protocol::paxos);
  auto client = cluster.client();
  CHECK(invoke(*client, kv::encode_put("k", "v")).status == kv::KvResult::Status::ok);
  CHECK(invoke(*client, kv::encode_get("k")).value == std::optional<std::string>("v"));
}

TEST_CASE("pbft: garbage, empty and multipart frames do not stop a replica from serving") {
  LocalCluster cluster(Protocol::pbft);
  zmq::context_t context;
  zmq::socket_t attacker(context, zmq::socket_type::dealer);
  attacker.set(zmq::sockopt::linger, 0);
  attacker.connect(cluster.config().replicas[0].endpoint);
  const std::string junk = "\x01\x00garbage that is no envelope";
  attacker.send(zmq::buffer(junk), zmq::send_flags::none);
  attacker.send(zmq::message_t(), zmq::send_flags::none);
  attacker.send(zmq::buffer(junk), zmq::send_flags::sndmore);
  attacker.send(zmq::buffer(junk), zmq::send_flags::sndmore);
  attacker.send(zmq::buffer(junk), zmq::send_flags::none);
  auto client = cluster.client();
  for (int i = 0; i < 3; ++i) {
    CHECK(invoke(*client, kv::encode_put("k" + std::to_string(i), "v")).status == kv::KvResult::Status::ok);
  }
}

// A request envelope that names client 0 as its sender, with a bogus
// signature: what an attacker without client 0's key can send.
Bytes forged_request_from_client0() {
  wire::Envelope e;
  e.type = wire::MsgType::request;
  e.sender = Principal::client(0);
  e.payload = wire::encode(wire::Request{0, 1, false, kv::encode_put("stolen", "x")});
  e.authenticator = Bytes(64, 0x5a);
  return wire::encode_envelope(e);
}

TEST_CASE("pbft: forged requests naming client 0 do not divert client 0's replies") {
  LocalCluster cluster(Protocol::pbft);
  std::atomic<bool> stop{false};
  std::atomic<int> frames_to_attacker{0};
  // Floods every replica with forged frames while the real client works: if
  // a replica learnt reply routes from unauthenticated frames, client 0's
  // replies would reach the attacker (the client itself would recover by
  // retransmitting, so the attacker's inbox is what the test checks).
  std::thread attacker([&] {
    zmq::context_t context;
    std::vector<zmq::socket_t> sockets;
    for (const auto& r : cluster.config().replicas) {
      sockets.emplace_back(context, zmq::socket_type::dealer);
      sockets.back().set(zmq::sockopt::linger, 0);
      sockets.back().connect(r.endpoint);
    }
    const Bytes frame = forged_request_from_client0();
    for (int round = 0; round < 20000 && !stop; ++round) {
      for (auto& s : sockets) {
        (void)s.send(zmq::buffer(frame), zmq::send_flags::dontwait);
        zmq::message_t stolen;
        while (s.recv(stolen, zmq::recv_flags::dontwait)) ++frames_to_attacker;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  auto client = cluster.client();
  for (int i = 0; i < 5; ++i) {
    CHECK(invoke(*client, kv::encode_put("k" + std::to_string(i), "v")).status == kv::KvResult::Status::ok);
  }
  stop = true;
  attacker.join();
  CHECK(frames_to_attacker == 0);
  CHECK(invoke(*client, kv::encode_get("stolen")).status == kv::KvResult::Status::not_found);
}

// Polls status until every replica answers with the same last_executed and
// state digest (a backup may execute a moment after the f+1 replies that
// completed the client's request), or gives up after ~10 s.
std::vector<ReplicaReport> settled_status(Client& client) {
  std::vector<ReplicaReport> reports;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto r = client.status(std::chrono::milliseconds(2000));
    REQUIRE_MESSAGE(r, r.error().message);
    reports = std::move(*r);
    const bool settled = std::all_of(reports.begin(), reports.end(), [&](const ReplicaReport& x) {
      return x.reachable && x.last_executed == reports[0].last_executed &&
             x.stable_checkpoint == reports[0].stable_checkpoint && x.state_digest == reports[0].state_digest;
    });
    if (settled) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return reports;
}

TEST_CASE("pbft: a replica restarted from its LMDB dir keeps its durable state and rejoins") {
  LocalCluster cluster(Protocol::pbft);
  auto client = cluster.client();
  CHECK(invoke(*client, kv::encode_put("before", "1")).status == kv::KvResult::Status::ok);
  // The client is done after f+1 replies; replica 3 may still be behind.
  const auto reports = settled_status(*client);
  REQUIRE(reports.size() == 4);
  REQUIRE(reports[3].last_executed == reports[0].last_executed);
  cluster.stop(3);
  CHECK(cluster.durable_records(3) > 0);
  CHECK(invoke(*client, kv::encode_put("during", "2")).status == kv::KvResult::Status::ok);
  cluster.start(3);
  // With replica 1 down too, every ordered request needs replica 3.
  cluster.stop(1);
  CHECK(invoke(*client, kv::encode_put("after", "3")).status == kv::KvResult::Status::ok);
  CHECK(invoke(*client, kv::encode_get("during")).value == std::optional<std::string>("2"));
  CHECK(invoke(*client, kv::encode_get("before")).value == std::optional<std::string>("1"));
}


void check_status_after_writes(Protocol protocol) {
  // Checkpoints every 4 sequence numbers, so ten writes make one stable and
  // the compared state digests are real ones, not the initial zeros.
  LocalCluster cluster(protocol, 1, 4);
  auto client = cluster.client();
  for (int i = 0; i < 10; ++i) {
    CHECK(invoke(*client, kv::encode_put("k" + std::to_string(i), "v")).status == kv::KvResult::Status::ok);
  }
  const auto reports = settled_status(*client);
  REQUIRE(reports.size() == cluster.config().n());
  std::size_t leaders = 0;
  for (const ReplicaReport& r : reports) {
    CAPTURE(r.id);
    CHECK(r.reachable);
    CHECK(r.protocol == protocol);
    CHECK(r.last_executed >= 1);  // ten writes, in one batch or more
    CHECK(r.last_executed == reports[0].last_executed);
    CHECK(r.state_digest == reports[0].state_digest);
    CHECK(r.leader == reports[0].leader);
    CHECK(r.rejected.size() == static_cast<std::size_t>(Rejection::count_));
    leaders += r.is_leader ? 1 : 0;
  }
  CHECK(leaders == 1);
  CHECK(reports[reports[0].leader].is_leader);
  if (protocol == Protocol::pbft) {  // one client, one request at a time: one batch per write
    CHECK(reports[0].last_executed >= 10);
    CHECK(reports[0].stable_checkpoint >= 4);
    CHECK(reports[0].state_digest != Digest{});
  }
  // Status questions are answered, never ordered: the kv state is unchanged.
  CHECK(invoke(*client, kv::encode_get("k9")).value == std::optional<std::string>("v"));
}

TEST_CASE("pbft: status reports every replica reachable and in step after writes") {
  check_status_after_writes(Protocol::pbft);
}

TEST_CASE("paxos: status reports every replica reachable and in step after writes") {
  check_status_after_writes(Protocol::paxos);
}

TEST_CASE("pbft: status reports unreachable replicas and ignores unsigned status requests") {
  LocalCluster cluster(Protocol::pbft);
  cluster.stop(2);
  auto client = cluster.client();
  auto reports = client->status(std::chrono::milliseconds(1500));
  REQUIRE(reports);
  REQUIRE(reports->size() == 4);
  CHECK_FALSE((*reports)[2].reachable);
  CHECK((*reports)[0].reachable);
  CHECK((*reports)[1].reachable);
  CHECK((*reports)[3].reachable);

  // A status request with a bogus signature gets no answer.
  zmq::context_t context;
  zmq::socket_t attacker(context, zmq::socket_type::dealer);
  attacker.set(zmq::sockopt::linger, 0);
  attacker.set(zmq::sockopt::rcvtimeo, 1000);
  attacker.connect(cluster.config().replicas[0].endpoint);
  wire::Envelope e;
  e.type = wire::MsgType::status_request;
  e.sender = Principal::client(0);
  e.payload = wire::encode(wire::StatusRequest{7});
  e.authenticator = Bytes(64, 0x5a);
  const Bytes forged = wire::encode_envelope(e);
  attacker.send(zmq::buffer(forged), zmq::send_flags::none);
  zmq::message_t answer;
  CHECK_FALSE(attacker.recv(answer, zmq::recv_flags::none).has_value());
}

// An AsyncClient with one lane per client id of the cluster.
std::unique_ptr<AsyncClient> connect_async(const LocalCluster& cluster) {
  AsyncClientOptions options;
  options.timeout = std::chrono::seconds(30);
  auto async = AsyncClient::connect(cluster.config(), cluster.identities(), options);
  REQUIRE_MESSAGE(async, async.error().message);
  return std::move(*async);
}

TEST_CASE("pbft: an AsyncClient keeps several requests in flight and completes them all") {
  constexpr std::uint32_t kIds = 4;
  constexpr int kRequests = 24;
  LocalCluster cluster(Protocol::pbft, kIds);
  auto async = connect_async(cluster);
  CHECK(async->max_in_flight() == kIds);
  // All submitted before any is awaited: up to kIds are in flight at once.
  std::vector<std::future<Result<Bytes>>> futures;
  for (int i = 0; i < kRequests; ++i) {
    futures.push_back(async->submit(kv::encode_put("a" + std::to_string(i), "v" + std::to_string(i))));
  }
  for (auto& f : futures) {
    auto reply = f.get();
    REQUIRE_MESSAGE(reply, reply.error().message);
    auto result = kv::decode_result(as_view(*reply));
    REQUIRE(result);
    CHECK(result->status == kv::KvResult::Status::ok);
  }
  // Every write landed with its own value, read back through the same pool.
  for (int i = 0; i < kRequests; ++i) {
    auto reply = async->submit(kv::encode_get("a" + std::to_string(i)), true).get();
    REQUIRE_MESSAGE(reply, reply.error().message);
    auto result = kv::decode_result(as_view(*reply));
    REQUIRE(result);
    CHECK(result->value == std::optional<std::string>("v" + std::to_string(i)));
  }
  CHECK(async->peak_in_flight() >= 2);  // overlapped, not one after another
  CHECK(async->peak_in_flight() <= kIds);
  CHECK(async->stats().completed == 2 * kRequests);
  CHECK(async->stats().timeouts == 0);
}

TEST_CASE("pbft: with max_iteration_busy_us = 0 each iteration takes one frame, and the cluster still serves") {
  constexpr std::uint32_t kIds = 4;
  constexpr int kRequests = 24;
  EventLoopOptions options;
  options.max_iteration_busy_us = 0;
  LocalCluster cluster(Protocol::pbft, kIds, 0, options);
  {
    auto async = connect_async(cluster);
    std::vector<std::future<Result<Bytes>>> futures;
    for (int i = 0; i < kRequests; ++i) futures.push_back(async->submit(kv::encode_put("k" + std::to_string(i), "v")));
    for (auto& f : futures) {
      auto reply = f.get();
      REQUIRE_MESSAGE(reply, reply.error().message);
    }
  }
  for (ReplicaId i = 0; i < cluster.config().replicas.size(); ++i) {
    const EventLoopStats stats = cluster.stop(i);
    CHECK(stats.frames_in > 0);
    CHECK(stats.frames_in <= stats.busy_iterations);
  }
}

TEST_CASE("an AsyncClient's completions run on its I/O thread and can submit the next request") {
  constexpr std::uint32_t kIds = 3;
  constexpr int kPerLoop = 10;
  LocalCluster cluster(Protocol::pbft, kIds);
  auto async = connect_async(cluster);
  AsyncClient& client = *async;

  // kIds closed loops, each writing 0..kPerLoop-1 to its own key, every
  // request submitted from the previous one's completion.
  struct Loop {
    int done = 0;
    int failed = 0;
    std::set<std::thread::id> threads;
    std::function<void()> next;
  };
  std::vector<Loop> loops(kIds);
  std::promise<void> all_done;
  std::atomic<std::uint32_t> running = kIds;
  for (std::uint32_t l = 0; l < kIds; ++l) {
    Loop& loop = loops[l];
    loop.next = [&, l] {
      Loop& me = loops[l];
      client.submit(kv::encode_put("loop" + std::to_string(l), std::to_string(me.done)),
                    [&, l](Result<Bytes> reply) {
                      Loop& self = loops[l];
                      self.threads.insert(std::this_thread::get_id());
                      if (!reply) ++self.failed;
                      if (++self.done < kPerLoop) return self.next();
                      if (--running == 0) all_done.set_value();
                    });
    };
  }
  for (Loop& loop : loops) loop.next();
  REQUIRE(all_done.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready);
  for (std::uint32_t l = 0; l < kIds; ++l) {
    CAPTURE(l);
    CHECK(loops[l].failed == 0);
    REQUIRE(loops[l].threads.size() == 1);
    CHECK(*loops[l].threads.begin() != std::this_thread::get_id());
    // The loop's writes executed in order: the last one is what remains.
    auto reply = client.submit(kv::encode_get("loop" + std::to_string(l)), true).get();
    REQUIRE_MESSAGE(reply, reply.error().message);
    auto result = kv::decode_result(as_view(*reply));
    REQUIRE(result);
    CHECK(result->value == std::optional<std::string>(std::to_string(kPerLoop - 1)));
  }
  CHECK(client.stats().completed == kIds * kPerLoop + kIds);
}

TEST_CASE("an AsyncClient refuses a submission at once through its completion, which may submit again") {
  LocalCluster cluster(Protocol::pbft, 1);
  AsyncClientOptions options;
  options.max_queued = 0;  // every submission is refused
  auto async = AsyncClient::connect(cluster.config(), cluster.identities(), options);
  REQUIRE(async);
  std::vector<std::string> errors;
  std::vector<std::thread::id> threads;
  (*async)->submit(kv::encode_put("k", "v"), [&](Result<Bytes> first) {
    REQUIRE_FALSE(first);
    errors.push_back(first.error().message);
    threads.push_back(std::this_thread::get_id());
    // No lock is held: submitting again from here does not deadlock.
    (*async)->submit(kv::encode_put("k", "w"), [&](Result<Bytes> second) {
      REQUIRE_FALSE(second);
      errors.push_back(second.error().message);
      threads.push_back(std::this_thread::get_id());
    });
  });
  // Both completed before submit() returned, on this thread.
  REQUIRE(errors.size() == 2);
  for (const std::string& e : errors) CHECK(e.find("too many queued requests") != std::string::npos);
  for (std::thread::id t : threads) CHECK(t == std::this_thread::get_id());
}

TEST_CASE("an AsyncClient fails futures with a clear error: unknown id, queue full, closed") {
  LocalCluster cluster(Protocol::pbft, 1);
  {
    std::vector<ClientIdentity> ids;
    ids.push_back({9, *crypto::PrivateKey::generate()});
    auto bad = AsyncClient::connect(cluster.config(), std::move(ids));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("client 9") != std::string::npos);
  }
  AsyncClientOptions options;
  options.max_queued = 1;
  options.timeout = std::chrono::seconds(30);
  auto async = AsyncClient::connect(cluster.config(), cluster.identities(), options);
  REQUIRE(async);
  // Enough submissions at once that some must find the one-slot queue full.
  std::vector<std::future<Result<Bytes>>> futures;
  for (int i = 0; i < 50; ++i) futures.push_back((*async)->submit(kv::encode_put("q", std::to_string(i))));
  int full = 0;
  int ok = 0;
  for (auto& f : futures) {
    auto r = f.get();
    if (r) {
      ++ok;
    } else {
      CHECK(r.error().message.find("too many queued requests") != std::string::npos);
      ++full;
    }
  }
  CHECK(ok >= 1);
  CHECK(full >= 1);
  // Closing with requests queued fails them instead of leaving them hanging.
  auto pending = (*async)->submit(kv::encode_put("late", "x"));
  async->reset();
  auto late = pending.get();
  if (!late) CHECK(late.error().message == "client closed");
}

}  // namespace
}  // namespace synod::runtime
