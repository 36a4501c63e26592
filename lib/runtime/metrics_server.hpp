// runtime/metrics_server.hpp — serves GET /metrics (Prometheus text format)
// from a runtime::Metrics over HTTP (cpp-httplib), on its own threads: the
// event loop never waits for a scrape. Binds to one host (the replica's own,
// never all interfaces unless asked), one worker thread, small read/write
// timeouts and a tiny request-body cap, so a slow or hostile scraper costs
// one idle thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/metrics.hpp"
#include "synod/result.hpp"

namespace synod::runtime {

class MetricsServer {
 public:
  // Binds host:port (port 0: a free port, see port()) and starts serving.
  // The error names the address.
  static Result<std::unique_ptr<MetricsServer>> start(const Metrics& metrics, const std::string& host,
                                                      std::uint16_t port);
  ~MetricsServer();  // stops the server and joins its thread
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  std::uint16_t port() const;

 private:
  struct Impl;
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The host of a ZeroMQ tcp endpoint ("tcp://127.0.0.1:7000" -> "127.0.0.1",
// "tcp://[::1]:7000" -> "::1"); empty when it is not a tcp endpoint.
std::string endpoint_host(const std::string& endpoint);

}  // namespace synod::runtime
