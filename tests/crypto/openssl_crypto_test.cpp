// runtime::OpenSslCrypto, the synod::Crypto the runtime injects: a signature
// verifies as its signer only; unknown signers never verify.
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "runtime/openssl_crypto.hpp"
#include "synod/crypto/private_key.hpp"

namespace synod::runtime {
namespace {

crypto::PrivateKey generate(crypto::Scheme scheme = crypto::Scheme::ed25519) {
  auto key = crypto::PrivateKey::generate(scheme);
  REQUIRE(key.has_value());
  return std::move(*key);
}

crypto::PublicKey public_of(const crypto::PrivateKey& key) {
  auto pub = key.public_key();
  REQUIRE(pub.has_value());
  return std::move(*pub);
}

std::string pem_of(const crypto::PrivateKey& key) {
  auto pem = public_of(key).to_pem();
  REQUIRE(pem.has_value());
  return *pem;
}

crypto::PrivateKey copy_of(const crypto::PrivateKey& key) {
  auto copy = key.clone();
  REQUIRE(copy.has_value());
  return std::move(*copy);
}

// Replicas 0..2 and client 0, each with its own key; `self` signs as replica 0.
struct Cluster {
  std::vector<crypto::PrivateKey> replica_keys;
  crypto::PrivateKey client_key = generate();

  Cluster() {
    for (int i = 0; i < 3; ++i) replica_keys.push_back(generate());
  }

  std::unique_ptr<OpenSslCrypto> crypto_for_replica(ReplicaId self) {
    OpenSslCrypto::ReplicaKeys replicas;
    for (ReplicaId i = 0; i < replica_keys.size(); ++i) replicas.emplace(i, public_of(replica_keys[i]));
    OpenSslCrypto::ClientKeys clients;
    clients.emplace(0, public_of(client_key));
    auto crypto = OpenSslCrypto::create(copy_of(replica_keys[self]), std::move(replicas), std::move(clients));
    REQUIRE(crypto.has_value());
    return std::move(*crypto);
  }
};

Bytes bytes_of(std::string_view text) { return Bytes(text.begin(), text.end()); }

TEST_CASE("a signature verifies as its signer and fails as any other principal") {
  Cluster cluster;
  auto replica0 = cluster.crypto_for_replica(0);
  const Bytes data = bytes_of("prepare v=0 n=1");
  const Bytes signature = replica0->sign(data);
  CHECK(replica0->verify(Principal::replica(0), data, signature));
  CHECK_FALSE(replica0->verify(Principal::replica(1), data, signature));
  CHECK_FALSE(replica0->verify(Principal::replica(2), data, signature));
  // Client 0 is a different principal from replica 0 (separate id spaces).
  CHECK_FALSE(replica0->verify(Principal::client(0), data, signature));

  // Another node, holding the same public keys, agrees.
  auto replica1 = cluster.crypto_for_replica(1);
  CHECK(replica1->verify(Principal::replica(0), data, signature));
  CHECK_FALSE(replica1->verify(Principal::replica(1), data, signature));
}

TEST_CASE("an unknown signer never verifies") {
  Cluster cluster;
  auto replica0 = cluster.crypto_for_replica(0);
  const Bytes data = bytes_of("commit v=0 n=1");
  const Bytes signature = replica0->sign(data);
  CHECK_FALSE(replica0->verify(Principal::replica(3), data, signature));
  CHECK_FALSE(replica0->verify(Principal::client(1), data, signature));
  CHECK_FALSE(replica0->verify(Principal::replica(0xffffffffu), data, signature));
}

TEST_CASE("tampered data or signature fails; garbage signatures fail") {
  Cluster cluster;
  auto replica0 = cluster.crypto_for_replica(0);
  const Bytes data = bytes_of("reply t=5");
  Bytes signature = replica0->sign(data);
  Bytes tampered_data = data;
  tampered_data[0] ^= 1;
  CHECK_FALSE(replica0->verify(Principal::replica(0), tampered_data, signature));
  Bytes tampered_signature = signature;
  tampered_signature[10] ^= 1;
  CHECK_FALSE(replica0->verify(Principal::replica(0), data, tampered_signature));
  CHECK_FALSE(replica0->verify(Principal::replica(0), data, {}));
  CHECK_FALSE(replica0->verify(Principal::replica(0), data, Bytes(1000, 0x41)));
  CHECK(replica0->verify(Principal::replica(0), data, signature));
}

TEST_CASE("a MAC verifies only between its two ends, and never for an unknown peer") {
  Cluster cluster;
  auto r0 = cluster.crypto_for_replica(0);
  auto r1 = cluster.crypto_for_replica(1);
  auto r2 = cluster.crypto_for_replica(2);
  const Bytes data = bytes_of("commit");
  const Bytes tag = r0->mac(Principal::replica(1), data);
  CHECK(tag.size() == kMacBytes);
  CHECK(r1->verify_mac(Principal::replica(0), data, tag));
  CHECK_FALSE(r2->verify_mac(Principal::replica(0), data, tag));  // another pair's key
  CHECK_FALSE(r1->verify_mac(Principal::replica(2), data, tag));  // another claimed sender
  CHECK_FALSE(r1->verify_mac(Principal::replica(0), bytes_of("commiT"), tag));
  Bytes truncated(tag.begin(), tag.end() - 1);
  CHECK_FALSE(r1->verify_mac(Principal::replica(0), data, truncated));
  CHECK_FALSE(r1->verify_mac(Principal::client(7), data, tag));  // nobody configured
  // Both directions of a pair share the key; the client has one with each replica.
  CHECK(r0->verify_mac(Principal::replica(1), data, r1->mac(Principal::replica(0), data)));
  CHECK(r2->mac(Principal::client(0), data) != r0->mac(Principal::client(0), data));
}

TEST_CASE("digest is SHA-256") {
  Cluster cluster;
  auto replica0 = cluster.crypto_for_replica(0);
  CHECK(to_hex(replica0->digest(bytes_of("abc"))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("concurrent sign, verify and digest calls on one instance all give correct answers") {
  // The Crypto interface is const and may be shared by a verification pool;
  // each key's reused OpenSSL contexts must be guarded.
  Cluster cluster;
  auto replica0 = cluster.crypto_for_replica(0);
  const Bytes data = bytes_of("batch");
  const Bytes signature = replica0->sign(data);
  const Digest expected_digest = replica0->digest(data);
  constexpr int kThreads = 4;
  constexpr int kRounds = 100;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        if (!replica0->verify(Principal::replica(0), data, signature)) ++wrong;
        if (replica0->verify(Principal::replica(1 + t % 2), data, signature)) ++wrong;
        if (replica0->digest(data) != expected_digest) ++wrong;
        if (!replica0->verify(Principal::replica(0), data, replica0->sign(data))) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(wrong.load() == 0);
}

ClusterConfig config_with(const std::vector<std::string>& replica_pems, const std::vector<std::string>& client_pems,
                          SignatureScheme scheme = SignatureScheme::ed25519) {
  ClusterConfig config;
  config.signature_scheme = scheme;
  for (std::size_t i = 0; i < replica_pems.size(); ++i)
    config.replicas.push_back(
        {static_cast<ReplicaId>(i), "tcp://127.0.0.1:" + std::to_string(7000 + i), replica_pems[i]});
  for (std::size_t i = 0; i < client_pems.size(); ++i)
    config.clients.push_back({static_cast<ClientId>(i), client_pems[i]});
  return config;
}

TEST_CASE("from_config reads PEM public keys from the cluster config") {
  for (auto [scheme, config_scheme] : {std::pair{crypto::Scheme::ed25519, SignatureScheme::ed25519},
                                       std::pair{crypto::Scheme::ecdsa_p256, SignatureScheme::ecdsa_p256}}) {
    CAPTURE(crypto::to_string(scheme));
    std::vector<crypto::PrivateKey> replicas;
    for (int i = 0; i < 4; ++i) replicas.push_back(generate(scheme));
    crypto::PrivateKey client = generate(scheme);
    std::vector<std::string> replica_pems;
    for (const auto& key : replicas) replica_pems.push_back(pem_of(key));
    const ClusterConfig config = config_with(replica_pems, {pem_of(client)}, config_scheme);

    auto as_client = OpenSslCrypto::from_config(config, copy_of(client));
    REQUIRE(as_client.has_value());
    CHECK((*as_client)->scheme() == scheme);
    auto as_replica2 = OpenSslCrypto::from_config(config, copy_of(replicas[2]));
    REQUIRE(as_replica2.has_value());

    const Bytes request = bytes_of("request op=get");
    const Bytes signature = (*as_client)->sign(request);
    CHECK((*as_replica2)->verify(Principal::client(0), request, signature));
    CHECK_FALSE((*as_replica2)->verify(Principal::replica(0), request, signature));
    CHECK_FALSE((*as_replica2)->verify(Principal::client(1), request, signature));
  }
}

TEST_CASE("for_client holds the replicas' keys and no client's") {
  std::vector<crypto::PrivateKey> replicas;
  for (int i = 0; i < 4; ++i) replicas.push_back(generate());
  crypto::PrivateKey client0 = generate();
  crypto::PrivateKey client1 = generate();
  std::vector<std::string> replica_pems;
  for (const auto& key : replicas) replica_pems.push_back(pem_of(key));
  // Client 1's entry is not even valid PEM: a client never reads it.
  const ClusterConfig config = config_with(replica_pems, {pem_of(client0), "not a key"});

  auto as_client = OpenSslCrypto::for_client(config, copy_of(client0));
  REQUIRE(as_client.has_value());
  auto as_replica = OpenSslCrypto::from_config(config_with(replica_pems, {pem_of(client0), pem_of(client1)}),
                                               copy_of(replicas[3]));
  REQUIRE(as_replica.has_value());
  const Bytes reply = bytes_of("reply result=ok");
  CHECK((*as_client)->verify(Principal::replica(3), reply, (*as_replica)->sign(reply)));
  // Another client's signature: that key was never loaded.
  auto other = OpenSslCrypto::for_client(config, copy_of(client1));
  REQUIRE(other.has_value());
  CHECK_FALSE((*as_client)->verify(Principal::client(1), reply, (*other)->sign(reply)));
  // A replica's key is still checked.
  const ClusterConfig broken = config_with({replica_pems[0], "not a key"}, {pem_of(client0)});
  auto refused = OpenSslCrypto::for_client(broken, copy_of(client0));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message.find("replica 1") != std::string::npos);
}

TEST_CASE("from_config names the entry whose public key is not valid PEM") {
  crypto::PrivateKey key = generate();
  const ClusterConfig config = config_with({pem_of(key), "not a key", pem_of(generate())}, {});
  auto crypto = OpenSslCrypto::from_config(config, copy_of(key));
  REQUIRE_FALSE(crypto.has_value());
  CHECK(crypto.error().code == ErrorCode::invalid_config);
  CHECK(crypto.error().message.find("replica 1") != std::string::npos);
}

TEST_CASE("from_config refuses keys of another scheme than the config's") {
  crypto::PrivateKey key = generate(crypto::Scheme::ed25519);
  crypto::PrivateKey ecdsa = generate(crypto::Scheme::ecdsa_p256);
  // A replica's key does not match.
  auto mixed = OpenSslCrypto::from_config(config_with({pem_of(key), pem_of(ecdsa)}, {}), copy_of(key));
  REQUIRE_FALSE(mixed.has_value());
  CHECK(mixed.error().message.find("replica 1") != std::string::npos);
  // This node's own key does not match.
  auto own = OpenSslCrypto::from_config(config_with({pem_of(ecdsa)}, {}, SignatureScheme::ecdsa_p256), copy_of(key));
  REQUIRE_FALSE(own.has_value());
  CHECK(own.error().message.find("this node's private key") != std::string::npos);
}

}  // namespace
}  // namespace synod::runtime
