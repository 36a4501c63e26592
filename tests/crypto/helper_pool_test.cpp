// runtime::HelperPool: all_of over 0..count-1 with helper threads, and
// OpenSslCrypto::verify_all on top of it (the same verdict as checking one
// by one).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <memory>
#include <vector>

#include "runtime/helper_pool.hpp"
#include "runtime/openssl_crypto.hpp"
#include "synod/crypto/private_key.hpp"
#include "test_util.hpp"

namespace synod::runtime {
namespace {

TEST_CASE("HelperPool::all_of checks every index exactly once, on any number of helpers") {
  for (unsigned helpers : {0u, 1u, 3u}) {
    CAPTURE(helpers);
    HelperPool pool(helpers);
    CHECK(pool.helpers() == helpers);
    for (std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{200}}) {
      CAPTURE(count);
      // Many jobs in a row: a helper must take each job once and never one twice.
      for (int job = 0; job < 50; ++job) {
        std::vector<std::atomic<int>> seen(count);
        CHECK(pool.all_of(count, [&](std::size_t i) {
          seen[i].fetch_add(1);
          return true;
        }));
        for (std::size_t i = 0; i < count; ++i) REQUIRE(seen[i].load() == 1);
      }
    }
  }
}

TEST_CASE("HelperPool::all_of is false when any index fails, wherever it is") {
  for (unsigned helpers : {0u, 2u}) {
    CAPTURE(helpers);
    HelperPool pool(helpers);
    for (std::size_t bad : {std::size_t{0}, std::size_t{31}, std::size_t{63}}) {
      CAPTURE(bad);
      std::atomic<std::size_t> checked{0};
      CHECK_FALSE(pool.all_of(64, [&](std::size_t i) {
        checked.fetch_add(1);
        return i != bad;
      }));
      CHECK(checked.load() <= 64);
    }
  }
}

TEST_CASE("HelperPool: the helpers do take part") {
  HelperPool pool(1);
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> helper_seen{false};
  // The caller's check waits (up to 30 s) until a helper has checked the
  // other index: the caller cannot claim both.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  CHECK(pool.all_of(2, [&](std::size_t) {
    if (std::this_thread::get_id() != caller) {
      helper_seen = true;
    } else {
      while (!helper_seen.load() && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
    }
    return true;
  }));
  CHECK(helper_seen.load());
}

TEST_CASE("OpenSslCrypto::verify_all with helpers gives the verdict of verify() one by one") {
  constexpr int kClients = 16;
  std::vector<crypto::PrivateKey> client_keys;
  OpenSslCrypto::ClientKeys clients;
  for (int i = 0; i < kClients; ++i) {
    client_keys.push_back(crypto::test::generate(crypto::Scheme::ed25519));
    auto pub = client_keys.back().public_key();
    REQUIRE(pub.has_value());
    clients.emplace(static_cast<ClientId>(i), std::move(*pub));
  }
  auto replica = OpenSslCrypto::create(crypto::test::generate(crypto::Scheme::ed25519), {}, std::move(clients));
  REQUIRE(replica.has_value());
  (*replica)->use_verify_helpers(2);
  CHECK((*replica)->verify_helpers() == 2);

  std::vector<Bytes> messages;
  std::vector<Bytes> signatures;
  for (int i = 0; i < kClients; ++i) {
    messages.push_back(Bytes(40, static_cast<std::uint8_t>(i)));
    auto signature = client_keys[static_cast<std::size_t>(i)].sign(messages.back());
    REQUIRE(signature.has_value());
    signatures.push_back(std::move(*signature));
  }
  auto checks = [&] {
    std::vector<SignatureCheck> out;
    for (int i = 0; i < kClients; ++i)
      out.push_back({Principal::client(static_cast<ClientId>(i)), messages[static_cast<std::size_t>(i)],
                     signatures[static_cast<std::size_t>(i)]});
    return out;
  };
  CHECK((*replica)->verify_all(checks()));
  CHECK((*replica)->verify_all({}));
  auto tampered = checks();
  tampered[9].signer = Principal::client(10);  // another client's key
  CHECK_FALSE((*replica)->verify_all(tampered));
  tampered = checks();
  tampered.push_back({Principal::client(kClients), messages[0], signatures[0]});  // no such client
  CHECK_FALSE((*replica)->verify_all(tampered));
  signatures[15].back() ^= 0x01;
  CHECK_FALSE((*replica)->verify_all(checks()));
  (*replica)->use_verify_helpers(0);
  CHECK_FALSE((*replica)->verify_all(checks()));
}

}  // namespace
}  // namespace synod::runtime
