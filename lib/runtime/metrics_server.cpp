#include "runtime/metrics_server.hpp"

#include <sys/socket.h>

#include <thread>

#include <httplib.h>

namespace synod::runtime {

struct MetricsServer::Impl {
  httplib::Server server;
  std::thread thread;
  int port = 0;
};

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::uint16_t MetricsServer::port() const { return static_cast<std::uint16_t>(impl_->port); }

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const Metrics& metrics, const std::string& host,
                                                           std::uint16_t port) {
  auto impl = std::make_unique<Impl>();
  httplib::Server& server = impl->server;
  server.new_task_queue = [] { return new httplib::ThreadPool(1); };
  server.set_read_timeout(2, 0);
  server.set_write_timeout(2, 0);
  server.set_keep_alive_max_count(16);
  server.set_payload_max_length(4096);
  // httplib's default sets SO_REUSEPORT, which would let a second process
  // bind the same port and take half the scrapes: SO_REUSEADDR only.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server.Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& response) {
    response.set_content(metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  const std::string where = host + ":" + std::to_string(port);
  if (port == 0) {
    impl->port = server.bind_to_any_port(host);
    if (impl->port <= 0) return fail(ErrorCode::io, "metrics: cannot bind " + where);
  } else {
    if (!server.bind_to_port(host, port)) return fail(ErrorCode::io, "metrics: cannot bind " + where);
    impl->port = port;
  }
  impl->thread = std::thread([&server] { server.listen_after_bind(); });
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

std::string endpoint_host(const std::string& endpoint) {
  constexpr std::string_view prefix = "tcp://";
  if (!endpoint.starts_with(prefix)) return {};
  std::string rest = endpoint.substr(prefix.size());
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    return close == std::string::npos ? std::string{} : rest.substr(1, close - 1);
  }
  const auto colon = rest.rfind(':');
  return colon == std::string::npos ? rest : rest.substr(0, colon);
}

}  // namespace synod::runtime
