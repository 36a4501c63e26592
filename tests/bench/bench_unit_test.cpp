// The benchmark's parts in one process: the echo app, runtime::Metrics and
// its Prometheus text, the /metrics HTTP server, and the unreplicated server
// under a real EventLoop answering synod::Client. No timing assertions.
#include <doctest/doctest.h>


#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include <httplib.h>

#include "runtime/event_loop.hpp"
#include "runtime/free_ports.hpp"
#include "runtime/lmdb_storage.hpp"
#include "runtime/metrics.hpp"
#include "runtime/metrics_server.hpp"
#include "runtime/openssl_crypto.hpp"
#include "synod/bench/echo.hpp"
#include "synod/client.hpp"
#include "synod/crypto/private_key.hpp"
#include "unreplicated.hpp"

namespace synod {
namespace {

std::optional<double> value_of(const std::string& text, const std::string& series) {
  // series: a full "name{labels}" or a bare name (first sample of it).
  std::size_t at = 0;
  while ((at = text.find(series, at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      const auto end = text.find('\n', at);
      const std::string line = text.substr(at, end - at);
      const char next = line.size() > series.size() ? line[series.size()] : '\0';
      if (next == ' ' || next == '{') return std::stod(line.substr(line.rfind(' ') + 1));
    }
    ++at;
  }
  return std::nullopt;
}

std::string scrape(std::uint16_t port) {
  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(5, 0);
  http.set_read_timeout(5, 0);
  auto response = http.Get("/metrics");
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->get_header_value("Content-Type").starts_with("text/plain"));
  return response->body;
}

TEST_CASE("echo: ops ask for replies of their size; the cap holds; snapshots round-trip") {
  CHECK(bench::make_echo_op(0, 0).empty());
  const Bytes op = bench::make_echo_op(128, 4096);
  CHECK(op.size() == 128);
  CHECK(bench::echo_reply_size(as_view(op)) == 4096);
  CHECK(bench::make_echo_op(0, 1024).size() == 4);
  CHECK(bench::echo_reply_size(as_view(bench::make_echo_op(8, 1024))) == 1024);
  const Bytes huge{0xff, 0xff, 0xff, 0xff};
  CHECK(bench::echo_reply_size(as_view(huge)) == bench::kMaxEchoReplyBytes);
  CHECK(bench::echo_reply_size(as_view(Bytes{1, 2})) == 0);

  bench::EchoApp app;
  const Operation ops[] = {{1, 1, as_view(op)}, {2, 1, {}}};
  const auto results = app.execute(ops);
  REQUIRE(results.size() == 2);
  CHECK(results[0].size() == 4096);
  CHECK(results[1].empty());
  CHECK(app.query(as_view(bench::make_echo_op(4, 7))).size() == 7);
  bench::EchoApp other;
  REQUIRE(other.restore(as_view(app.snapshot())));
  CHECK(other.executed() == 2);
  CHECK(other.snapshot() == app.snapshot());
  CHECK_FALSE(other.restore(as_view(Bytes{1, 2, 3})));
}

TEST_CASE("metrics: the loop's longest pauses are per scrape, since start in the stats; transfer bytes counted") {
  runtime::Metrics metrics(Protocol::pbft, 1);
  runtime::EventLoopStats loop;
  loop.max_iteration_us = 9000;
  loop.max_input_us = 7000;
  loop.state_transfer_bytes_in = 12345;
  loop.catch_up_bytes_in = 678;
  loop.bytes_in = 99999;
  metrics.iteration(1, 1, {}, loop, nullptr);
  metrics.pause(1500, 600, 900);
  metrics.pause(800, 700, 700);
  std::string text = metrics.render();
  CHECK(value_of(text, "synod_loop_max_iteration_us") == 1500.0);
  CHECK(value_of(text, "synod_loop_max_iteration_cpu_us") == 600.0);  // that iteration's, not the largest
  CHECK(value_of(text, "synod_loop_max_input_us") == 900.0);
  CHECK(value_of(text, "synod_loop_max_iteration_since_start_us") == 9000.0);
  CHECK(value_of(text, "synod_loop_max_input_since_start_us") == 7000.0);
  CHECK(value_of(text, "synod_state_transfer_bytes_received_total") == 12345.0);
  CHECK(value_of(text, "synod_catch_up_bytes_received_total") == 678.0);
  CHECK(value_of(text, "synod_bytes_received_total") == 99999.0);
  // A scrape starts a new window; the since-start maxima stay.
  text = metrics.render();
  CHECK(value_of(text, "synod_loop_max_iteration_us") == 0.0);
  CHECK(value_of(text, "synod_loop_max_input_us") == 0.0);
  CHECK(value_of(text, "synod_loop_max_iteration_since_start_us") == 9000.0);
  metrics.pause(40, 35, 30);
  text = metrics.render();
  CHECK(value_of(text, "synod_loop_max_iteration_us") == 40.0);
  CHECK(value_of(text, "synod_loop_max_iteration_cpu_us") == 35.0);
}

TEST_CASE("metrics: executed batches, commit latency, status and loop counters are rendered and move") {
  runtime::Metrics metrics(Protocol::pbft, 2, 4);
  runtime::EventLoopStats loop;
  std::string text = metrics.render();
  CHECK(value_of(text, "synod_requests_executed_total") == 0.0);
  CHECK(text.find("# TYPE synod_commit_latency_seconds histogram") != std::string::npos);
  CHECK(text.find("synod_view") == std::string::npos);  // no status sampled yet

  metrics.request_arrived(7, 100, 1'000);
  metrics.request_arrived(7, 100, 1'500);  // a retransmission keeps the first arrival
  metrics.request_arrived(8, 5, 1'000);
  ExecutedBatch batch;
  batch.seq = 1;
  batch.requests = {{7, 100, {}, {}}, {8, 5, {}, {}}, {9, 1, {}, {}}};  // client 9's request never arrived here
  ReplicaStatus status;
  status.protocol = Protocol::pbft;
  status.id = 2;
  status.view = 3;
  status.leader = 3;
  status.view_changes = 2;
  status.stable_checkpoint = 128;
  status.rejected[static_cast<std::size_t>(Rejection::bad_authenticator)] = 5;
  loop.frames_in = 42;
  metrics.iteration(1'301'000, 3, {batch}, loop, &status);  // 1.3 s after the arrivals
  text = metrics.render();
  CHECK(value_of(text, "synod_requests_received_total") == 3.0);
  CHECK(value_of(text, "synod_requests_executed_total") == 3.0);
  CHECK(value_of(text, "synod_batches_executed_total") == 1.0);
  CHECK(value_of(text, "synod_batch_size_requests_bucket{replica=\"2\",protocol=\"pbft\",le=\"2\"}") == 0.0);
  CHECK(value_of(text, "synod_batch_size_requests_bucket{replica=\"2\",protocol=\"pbft\",le=\"4\"}") == 1.0);
  CHECK(value_of(text, "synod_commit_latency_seconds_count") == 2.0);
  CHECK(value_of(text, "synod_commit_latency_seconds_sum") == doctest::Approx(2.6));
  CHECK(value_of(text, "synod_commit_latency_seconds_bucket{replica=\"2\",protocol=\"pbft\",le=\"1\"}") == 0.0);
  CHECK(value_of(text, "synod_commit_latency_seconds_bucket{replica=\"2\",protocol=\"pbft\",le=\"2.5\"}") == 2.0);
  CHECK(value_of(text, "synod_view") == 3.0);
  CHECK(value_of(text, "synod_view_changes_total") == 2.0);
  CHECK(value_of(text, "synod_checkpoints_total") == 1.0);
  CHECK(value_of(text, "synod_rejected_messages_total{replica=\"2\",protocol=\"pbft\",reason=\"" +
                           std::string(to_string(Rejection::bad_authenticator)) + "\"}") == 5.0);
  CHECK(value_of(text, "synod_frames_in_total") == 42.0);
  CHECK(value_of(text, "synod_loop_queue_depth_last_frames") == 3.0);

  status.view = 4;
  status.leader = 0;
  status.stable_checkpoint = 256;
  metrics.iteration(2'000'000, 0, {}, loop, &status);
  text = metrics.render();
  CHECK(value_of(text, "synod_leader_changes_total") == 1.0);
  CHECK(value_of(text, "synod_checkpoints_total") == 2.0);

  // Arrival records stay within the bound (4 here) however many never execute.
  for (RequestNo t = 1; t <= 100; ++t) metrics.request_arrived(50, t, 3'000'000);
  metrics.iteration(3'000'000, 0, {}, loop, nullptr);
  text = metrics.render();
  CHECK(value_of(text, "synod_commit_latency_tracked_requests").value() <= 4.0);
  CHECK(value_of(text, "synod_commit_latency_evicted_total").value() > 0.0);
}

TEST_CASE("metrics server: GET /metrics serves the current values; other paths are 404") {
  runtime::Metrics metrics(Protocol::paxos, 0);
  auto server = runtime::MetricsServer::start(metrics, "127.0.0.1", 0);
  REQUIRE_MESSAGE(server, server.error().message);
  const std::uint16_t port = (*server)->port();
  CHECK(port != 0);
  CHECK(value_of(scrape(port), "synod_batches_executed_total") == 0.0);
  ExecutedBatch batch;
  batch.requests = {{1, 1, {}, {}}};
  metrics.iteration(1, 1, {batch}, runtime::EventLoopStats{}, nullptr);
  CHECK(value_of(scrape(port), "synod_batches_executed_total") == 1.0);
  httplib::Client http("127.0.0.1", port);
  auto other = http.Get("/nothing");
  REQUIRE(other);
  CHECK(other->status == 404);
  // The port is taken now: a second server on it fails with a message.
  auto second = runtime::MetricsServer::start(metrics, "127.0.0.1", port);
  REQUIRE_FALSE(second);
  CHECK(second.error().message.find("127.0.0.1") != std::string::npos);
  CHECK(runtime::endpoint_host("tcp://127.0.0.1:7000") == "127.0.0.1");
  CHECK(runtime::endpoint_host("tcp://[::1]:7000") == "::1");
  CHECK(runtime::endpoint_host("ipc:///tmp/x").empty());
}

TEST_CASE("unreplicated server: synod::Client gets echo replies through the EventLoop; /metrics counts them") {
  std::string pattern = (std::filesystem::temp_directory_path() / "synod-bench-XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  const std::filesystem::path dir = pattern;
  struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};

  ClusterConfig config;
  config.protocol = Protocol::paxos;
  config.f = 1;
  std::vector<crypto::PrivateKey> keys;
  const auto ports = runtime::free_loopback_ports(3);
  REQUIRE(ports);
  for (ReplicaId i = 0; i < 3; ++i) {
    auto key = crypto::PrivateKey::generate();
    REQUIRE(key);
    config.replicas.push_back({i, "tcp://127.0.0.1:" + std::to_string((*ports)[i]), *key->public_key()->to_pem()});
    keys.push_back(std::move(*key));
  }
  auto client_key = crypto::PrivateKey::generate();
  REQUIRE(client_key);
  config.clients.push_back({0, *client_key->public_key()->to_pem()});
  REQUIRE(config.validate());

  auto storage = runtime::LmdbStorage::open(dir / "data", 16u << 20);
  REQUIRE(storage);
  auto crypto = runtime::OpenSslCrypto::from_config(config, std::move(keys[0]));
  REQUIRE(crypto);
  bench::EchoApp app;
  bench::UnreplicatedCore core(config, 0, **crypto, app);
  runtime::Metrics metrics(config.protocol, 0);
  auto server = runtime::MetricsServer::start(metrics, "127.0.0.1", 0);
  REQUIRE(server);
  runtime::EventLoopOptions options;
  options.metrics = &metrics;
  auto loop = runtime::EventLoop::create(config, 0, core, *storage, **crypto, options);
  REQUIRE_MESSAGE(loop, loop.error().message);
  std::atomic<bool> stop{false};
  std::thread thread([&] { (void)(*loop)->run(stop); });
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& thread;
    void finish() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
    ~Joiner() { finish(); }
  } joiner{stop, thread};

  ClientOptions client_options;
  client_options.timeout = std::chrono::seconds(20);
  auto client = Client::connect(config, 0, std::move(*client_key), client_options);
  REQUIRE(client);
  const Bytes op = bench::make_echo_op(128, 1000);
  auto first = (*client)->invoke(as_view(op));
  REQUIRE_MESSAGE(first, first.error().message);
  CHECK(first->size() == 1000);
  auto second = (*client)->invoke(as_view(bench::make_echo_op(0, 0)));
  REQUIRE(second);
  CHECK(second->empty());

  // The loop feeds metrics at the end of the iteration that executed the
  // request, which is before the reply left: both are counted by now.
  const std::string text = scrape((*server)->port());
  CHECK(value_of(text, "synod_requests_executed_total") == 2.0);
  CHECK(value_of(text, "synod_requests_received_total") == 2.0);
  CHECK(value_of(text, "synod_commit_latency_seconds_count") == 2.0);

  auto third = (*client)->invoke(as_view(bench::make_echo_op(4, 3)));
  REQUIRE(third);
  CHECK(third->size() == 3);

  // A forged request (right client id, wrong key) is rejected and counted.
  // Last: the forger announces client 0's routing id and takes it over.
  auto forged_key = crypto::PrivateKey::generate();
  REQUIRE(forged_key);
  ClientOptions quick;
  quick.timeout = std::chrono::milliseconds(300);
  auto forger = Client::connect(config, 0, std::move(*forged_key), quick);
  REQUIRE(forger);
  CHECK_FALSE((*forger)->invoke(as_view(op)));

  joiner.finish();  // the core and app are the loop thread's until it stops
  CHECK(app.executed() == 3);
  CHECK(core.status().last_executed == 3);
  CHECK(core.status().rejected[static_cast<std::size_t>(Rejection::bad_authenticator)] > 0);
}

}  // namespace
}  // namespace synod
