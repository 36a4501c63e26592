#include "runtime/openssl_crypto.hpp"

#include <cstdio>
#include <string>
#include <type_traits>
#include <utility>

#include "synod/assert.hpp"
#include "synod/crypto/key_agreement.hpp"

namespace synod::runtime {

namespace {

crypto::Scheme to_crypto(SignatureScheme scheme) {
  return scheme == SignatureScheme::ed25519 ? crypto::Scheme::ed25519 : crypto::Scheme::ecdsa_p256;
}

std::string describe(Principal who) {
  return std::string(who.is_replica() ? "replica " : "client ") + std::to_string(who.id);
}

Result<void> same_scheme(crypto::Scheme want, crypto::Scheme got, const std::string& what) {
  if (want == got) return {};
  return fail(ErrorCode::crypto,
              what + " is an " + crypto::to_string(got) + " key, but the cluster uses " + crypto::to_string(want));
}

Result<crypto::PublicKey> parse_key(const std::string& pem, Principal who) {
  auto key = crypto::PublicKey::from_pem(pem);
  if (!key) return fail(ErrorCode::invalid_config, describe(who) + ": public_key: " + key.error().message);
  return std::move(*key);
}

}  // namespace

OpenSslCrypto::OpenSslCrypto(crypto::Scheme scheme, crypto::PrivateKey own_key, crypto::Sha256 sha256)
    : scheme_(scheme), signer_(std::move(own_key)), sha256_(std::move(sha256)) {}

Result<std::unique_ptr<OpenSslCrypto>> OpenSslCrypto::create(crypto::PrivateKey own_key, ReplicaKeys replicas,
                                                             ClientKeys clients) {
  const crypto::Scheme scheme = own_key.scheme();
  auto sha256 = crypto::Sha256::create();
  if (!sha256) return fail(ErrorCode::crypto, sha256.error().message);
  // Not make_unique: the constructor is private.
  std::unique_ptr<OpenSslCrypto> self(new OpenSslCrypto(scheme, std::move(own_key), std::move(*sha256)));
  auto add = [&](Principal who, crypto::PublicKey key) -> Result<void> {
    if (auto ok = same_scheme(scheme, key.scheme(), describe(who) + "'s public key"); !ok) return ok;
    self->verifiers_.emplace(who, std::make_unique<Guarded<crypto::PublicKey>>(std::move(key)));
    return {};
  };
  for (auto& [id, key] : replicas)
    if (auto ok = add(Principal::replica(id), std::move(key)); !ok) return std::unexpected(std::move(ok.error()));
  for (auto& [id, key] : clients)
    if (auto ok = add(Principal::client(id), std::move(key)); !ok) return std::unexpected(std::move(ok.error()));
  return self;
}

Result<std::unique_ptr<OpenSslCrypto>> OpenSslCrypto::from_config(const ClusterConfig& config,
                                                                  crypto::PrivateKey own_key) {
  return load(config, std::move(own_key), /*with_client_keys=*/true);
}

Result<std::unique_ptr<OpenSslCrypto>> OpenSslCrypto::for_client(const ClusterConfig& config,
                                                                 crypto::PrivateKey own_key) {
  return load(config, std::move(own_key), /*with_client_keys=*/false);
}

Result<std::unique_ptr<OpenSslCrypto>> OpenSslCrypto::load(const ClusterConfig& config, crypto::PrivateKey own_key,
                                                           bool with_client_keys) {
  const crypto::Scheme scheme = to_crypto(config.signature_scheme);
  if (auto ok = same_scheme(scheme, own_key.scheme(), "this node's private key"); !ok)
    return std::unexpected(std::move(ok.error()));
  ReplicaKeys replicas;
  for (const ReplicaInfo& replica : config.replicas) {
    auto key = parse_key(replica.public_key, Principal::replica(replica.id));
    if (!key) return std::unexpected(std::move(key.error()));
    if (!replicas.emplace(replica.id, std::move(*key)).second)
      return fail(ErrorCode::invalid_config, "replica " + std::to_string(replica.id) + " is listed twice");
  }
  ClientKeys clients;
  if (with_client_keys) {
    for (const ClientInfo& client : config.clients) {
      auto key = parse_key(client.public_key, Principal::client(client.id));
      if (!key) return std::unexpected(std::move(key.error()));
      if (!clients.emplace(client.id, std::move(*key)).second)
        return fail(ErrorCode::invalid_config, "client " + std::to_string(client.id) + " is listed twice");
    }
  }
  auto crypto = create(std::move(own_key), std::move(replicas), std::move(clients));
  if (!crypto || config.authentication != Authentication::macs) return crypto;
  // Every node shares MACs with every replica: those keys are derived now,
  // so a key that cannot agree is a startup error and the first requests do
  // not wait for derivations. Keys with clients come on first use.
  for (const ReplicaInfo& replica : config.replicas) {
    const Principal peer = Principal::replica(replica.id);
    auto derived = (*crypto)->derive_mac(*(*crypto)->verifiers_.at(peer), peer);
    if (!derived) return std::unexpected(std::move(derived.error()));
    (*crypto)->macs_[peer] = std::move(*derived);
  }
  return crypto;
}

static_assert(crypto::kHmacSha256Bytes == kMacBytes);

// digest() hands crypto's SHA-256 straight back as synod's Digest.
static_assert(std::is_same_v<crypto::Sha256Digest, Digest>);

Digest OpenSslCrypto::digest(ByteView data) const {
  const std::lock_guard lock(sha256_.mutex);
  return sha256_.key.digest(data);
}

Bytes OpenSslCrypto::sign(ByteView data) const {
  const std::lock_guard lock(signer_.mutex);
  auto signature = signer_.key.sign(data);
  if (!signature) std::fprintf(stderr, "synod: %s\n", signature.error().message.c_str());
  SYNOD_ASSERT(signature.has_value(), "OpenSSL failed to sign with this node's loaded private key");
  return std::move(*signature);
}

bool OpenSslCrypto::verify(Principal signer, ByteView data, ByteView signature) const {
  const auto it = verifiers_.find(signer);
  if (it == verifiers_.end()) return false;  // unknown signers are never trusted
  Guarded<crypto::PublicKey>& verifier = *it->second;
  const std::lock_guard lock(verifier.mutex);
  return verifier.key.verify(data, signature);
}

bool OpenSslCrypto::verify_all(std::span<const SignatureCheck> checks) const {
  if (!helpers_) return Crypto::verify_all(checks);
  return helpers_->all_of(checks.size(), [&](std::size_t i) {
    return verify(checks[i].signer, checks[i].data, checks[i].signature);
  });
}

void OpenSslCrypto::use_verify_helpers(unsigned helpers) {
  helpers_ = helpers == 0 ? nullptr : std::make_unique<HelperPool>(helpers);
}

Result<std::unique_ptr<OpenSslCrypto::Guarded<crypto::Hmac>>> OpenSslCrypto::derive_mac(
    Guarded<crypto::PublicKey>& peer_key, Principal peer) const {
  static constexpr std::uint8_t kContext[] = {'s', 'y', 'n', 'o', 'd', ' ', 'm', 'a', 'c'};
  crypto::Result<crypto::PairKey> key = [&] {
    const std::lock_guard signer_lock(signer_.mutex);
    const std::lock_guard peer_lock(peer_key.mutex);
    return crypto::derive_pair_key(signer_.key, peer_key.key, kContext);
  }();
  if (!key) return fail(ErrorCode::crypto, "MAC key with " + describe(peer) + ": " + key.error().message);
  auto hmac = crypto::Hmac::create(*key);
  if (!hmac) return fail(ErrorCode::crypto, hmac.error().message);
  return std::make_unique<Guarded<crypto::Hmac>>(std::move(*hmac));
}

OpenSslCrypto::Guarded<crypto::Hmac>* OpenSslCrypto::mac_for(Principal peer) const {
  const auto key_it = verifiers_.find(peer);
  if (key_it == verifiers_.end()) return nullptr;
  const std::lock_guard lock(macs_mutex_);
  auto& slot = macs_[peer];
  if (!slot) {
    auto derived = derive_mac(*key_it->second, peer);
    if (!derived) std::fprintf(stderr, "synod: %s\n", derived.error().message.c_str());
    SYNOD_ASSERT(derived.has_value(), "cannot derive the MAC key with a configured peer");
    slot = std::move(*derived);
  }
  return slot.get();
}

Bytes OpenSslCrypto::mac(Principal peer, ByteView data) const {
  Guarded<crypto::Hmac>* hmac = mac_for(peer);
  SYNOD_ASSERT(hmac != nullptr, "a MAC for a principal with no configured key");
  const std::lock_guard lock(hmac->mutex);
  const crypto::HmacTag tag = hmac->key.mac(data);
  return Bytes(tag.begin(), tag.end());
}

bool OpenSslCrypto::verify_mac(Principal peer, ByteView data, ByteView tag) const {
  Guarded<crypto::Hmac>* hmac = mac_for(peer);
  if (hmac == nullptr) return false;  // unknown peers are never trusted
  const std::lock_guard lock(hmac->mutex);
  return hmac->key.verify(data, tag);
}

}  // namespace synod::runtime
