// The runtime end to end inside one process: real cores (pbft and paxos),
// EventLoops over ZeroMQ on loopback, LMDB in temp dirs, OpenSSL keys, and
// synod::Client. No timing assertions: every wait is for an outcome, bounded
// by the client's timeout.
#include "runtime/event_loop.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "runtime/core_factory.hpp"
#include "runtime/lmdb_storage.hpp"
#include "runtime/openssl_crypto.hpp"
#include "synod/client.hpp"
#include "synod/crypto/private_key.hpp"
#include "synod/examples/kv.hpp"
#include "temp_dir.hpp"
#include "wire/codec.hpp"

namespace synod::runtime {
namespace {

namespace kv = examples::kv;
using test::TempDir;

std::uint16_t free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(s >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(s);
  return ntohs(addr.sin_port);
}

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
  explicit LocalCluster(Protocol protocol) {
    config_.protocol = protocol;
    config_.f = 1;
    const std::uint32_t n = config_.required_replicas();
    for (std::uint32_t i = 0; i < n; ++i) {
      auto key = crypto::PrivateKey::generate();
      REQUIRE(key);
      auto pem = key->public_key()->to_pem();
      REQUIRE(pem);
      config_.replicas.push_back({i, "tcp://127.0.0.1:" + std::to_string(free_port()), *pem});
      replica_keys_.push_back(std::move(*key));
    }
    auto key = crypto::PrivateKey::generate();
    REQUIRE(key);
    config_.clients.push_back({0, *key->public_key()->to_pem()});
    client_key_ = std::move(*key);
    REQUIRE(config_.validate());
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
    auto loop = EventLoop::create(config_, i, *node.core, *node.storage, *node.crypto);
    REQUIRE_MESSAGE(loop, loop.error().message);
    node.loop = std::move(*loop);
    node.stop = false;
    node.thread = std::thread([&node] { node.loop_ok = node.loop->run(node.stop).has_value(); });
  }

  void stop(ReplicaId i) {
    Node& node = *nodes_[i];
    if (!node.thread.joinable()) return;
    node.stop = true;
    node.thread.join();
    CHECK(node.loop_ok);
    node.loop.reset();
    node.core.reset();
  }

  std::size_t durable_records(ReplicaId i) {
    auto state = nodes_[i]->storage->load();
    REQUIRE(state);
    return state->size();
  }

  std::unique_ptr<Client> client() {
    ClientOptions options;
    options.timeout = std::chrono::seconds(30);
    auto c = Client::connect(config_, 0, clone(client_key_), options);
    REQUIRE_MESSAGE(c, c.error().message);
    return std::move(*c);
  }

  const ClusterConfig& config() const { return config_; }

 private:
  TempDir dir_;
  ClusterConfig config_;
  std::vector<crypto::PrivateKey> replica_keys_;
  crypto::PrivateKey client_key_ = *crypto::PrivateKey::generate();
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

TEST_CASE("pbft: a replica restarted from its LMDB dir keeps its durable state and rejoins") {
  LocalCluster cluster(Protocol::pbft);
  auto client = cluster.client();
  CHECK(invoke(*client, kv::encode_put("before", "1")).status == kv::KvResult::Status::ok);
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

}  // namespace
}  // namespace synod::runtime
