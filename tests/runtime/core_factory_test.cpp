// runtime/core_factory.hpp for a store-backed application (synod/store.hpp):
// both protocols build a core over the store, the crash-style fault modes
// wrap it, and the Byzantine modes are refused with an error that says why.
#include "runtime/core_factory.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/store_backend.hpp"
#include "fault/faulty_core.hpp"
#include "runtime/openssl_crypto.hpp"
#include "synod/crypto/private_key.hpp"
#include "synod/examples/store_kv.hpp"

namespace synod::runtime {
namespace {

// A valid f = 1 config for `protocol` and replica 1's crypto.
struct Keys {
  ClusterConfig config;
  std::unique_ptr<OpenSslCrypto> crypto;

  Keys(Protocol protocol, bool allow_faults) {
    config.protocol = protocol;
    config.f = 1;
    config.allow_fault_injection = allow_faults;
    std::vector<crypto::PrivateKey> keys;
    for (std::uint32_t i = 0; i < config.required_replicas(); ++i) {
      auto key = crypto::PrivateKey::generate();
      REQUIRE(key);
      config.replicas.push_back({i, "tcp://127.0.0.1:" + std::to_string(7000 + i), *key->public_key()->to_pem()});
      keys.push_back(std::move(*key));
    }
    auto client = crypto::PrivateKey::generate();
    REQUIRE(client);
    config.clients.push_back({0, *client->public_key()->to_pem()});
    const auto valid = config.validate();
    REQUIRE_MESSAGE(valid, valid.error().message);
    auto made = OpenSslCrypto::from_config(config, std::move(keys[1]));
    REQUIRE_MESSAGE(made, made.error().message);
    crypto = std::move(*made);
  }
};

TEST_CASE("a store-backed application gets an honest core over its store from pbft and paxos") {
  for (const Protocol protocol : {Protocol::pbft, Protocol::paxos}) {
    CAPTURE(to_string(protocol));
    const Keys keys(protocol, /*allow_faults=*/false);
    examples::StoreKv app;
    MemoryStore store;
    auto core = make_core(keys.config, 1, *keys.crypto, app, store, {}, 1, FaultInjection{});
    REQUIRE_MESSAGE(core, core.error().message);
    CHECK((*core)->status().protocol == protocol);
  }
}

TEST_CASE("a store-backed application takes silent and slow and refuses the Byzantine modes") {
  const Keys keys(Protocol::pbft, /*allow_faults=*/true);
  for (const fault::ModeInfo& info : fault::modes()) {
    CAPTURE(info.name);
    examples::StoreKv app;
    MemoryStore store;
    auto core = make_core(keys.config, 1, *keys.crypto, app, store, {}, 1, FaultInjection{info.name, 200});
    if (info.crash_style) {
      CHECK_MESSAGE(core, core.error().message);
    } else {
      REQUIRE_FALSE(core);
      CHECK(core.error().message.find("fault injection runs whole-state applications only") != std::string::npos);
      CHECK(core.error().message.find(info.name) != std::string::npos);
    }
  }
}

TEST_CASE("a store-backed application's fault modes need allow_fault_injection, like a whole-state one's") {
  const Keys keys(Protocol::pbft, /*allow_faults=*/false);
  examples::StoreKv app;
  MemoryStore store;
  auto core = make_core(keys.config, 1, *keys.crypto, app, store, {}, 1, FaultInjection{"silent", 200});
  REQUIRE_FALSE(core);
  CHECK(core.error().message.find("allow_fault_injection") != std::string::npos);
}

}  // namespace
}  // namespace synod::runtime
