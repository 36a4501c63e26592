// A replicated ledger in one process: 4 PBFT replicas (f = 1) on ZeroMQ ipc sockets, LMDB in a temp dir.
#include <atomic>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>
#include <cstdlib>
#include "runtime/core_factory.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/openssl_crypto.hpp"
#include "synod/client.hpp"
using namespace synod;
template <class R> auto must(R r) {  // errors are values: print one line and stop
  if (!r) std::fprintf(stderr, "embed: %s\n", r.error().message.c_str()), std::exit(1);
  return std::move(*r); }
bool parse(ByteView text, long& out) {  // never throws: any client can send any bytes
  const auto* p = reinterpret_cast<const char*>(text.data());
  const auto r = std::from_chars(p, p + text.size(), out); return r.ec == std::errc{} && r.ptr == p + text.size(); }
struct Ledger final : StateMachine {  // op: a decimal amount; result: the new balance or "rejected"
  long balance = 0;
  std::vector<Bytes> execute(std::span<const Operation> batch) override {
    std::vector<Bytes> out;
    for (long a = 0, b = 0; const Operation& op : batch)  // overflow is rejected too, the same way everywhere
      out.push_back(to_bytes(parse(op.payload, a) && !__builtin_add_overflow(balance, a, &b) ? std::to_string(balance = b) : "rejected"));
    return out;
  }
  Bytes query(ByteView) const override { return snapshot(); }
  Bytes snapshot() const override { return to_bytes(std::to_string(balance)); }
  Result<void> restore(ByteView s) override { return parse(s, balance) ? Result<void>{} : fail(ErrorCode::corrupt, "bad snapshot"); }
};
struct Node { Ledger app; std::unique_ptr<runtime::LmdbStorage> storage; std::unique_ptr<runtime::OpenSslCrypto> crypto;
              std::unique_ptr<Replica> core; std::unique_ptr<runtime::EventLoop> loop; std::thread thread; };
int main() {
  const auto dir = std::filesystem::temp_directory_path() / ("synod-embed-" + std::to_string(std::random_device{}()));
  ClusterConfig config;  // defaults: pbft, f = 1, so four replicas
  std::vector<crypto::PrivateKey> keys;
  for (ReplicaId i = 0; i < 5; ++i) {  // four replica keys, then client 0's
    const std::string pem = must(must(keys.emplace_back(must(crypto::PrivateKey::generate())).public_key()).to_pem());
    i < 4 ? config.replicas.push_back({i, "ipc://" + dir.string() + "-" + std::to_string(i), pem}) : config.clients.push_back({0, pem});
  }
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Node>> nodes;
  for (ReplicaId i = 0; i < 4; ++i) {
    Node& n = *nodes.emplace_back(std::make_unique<Node>());
    n.storage = std::make_unique<runtime::LmdbStorage>(must(runtime::LmdbStorage::open(dir / std::to_string(i))));
    n.crypto = must(runtime::OpenSslCrypto::from_config(config, std::move(keys[i])));
    n.core = must(runtime::make_core(config, i, *n.crypto, n.app, must(n.storage->load()), i));
    n.loop = must(runtime::EventLoop::create(config, i, *n.core, *n.storage, *n.crypto));
    n.thread = std::thread([&n, &stop] { (void)n.loop->run(stop); });
  }
  auto client = must(Client::connect(config, 0, std::move(keys[4])));
  std::string balance;  // the last deposit's result
  for (const char* amount : {"100", "-30", "5"}) balance = to_string(as_view(must(client->invoke(as_view(to_bytes(amount))))));
  stop = true;  // every loop notices within its poll cap (100 ms)
  for (auto& n : nodes) n->thread.join();
  std::filesystem::remove_all(dir), std::printf("balance after 100, -30, 5: %s\n", balance.c_str());
  return balance == "75" ? 0 : 1;
}
