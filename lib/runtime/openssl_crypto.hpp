// runtime/openssl_crypto.hpp — the real synod::Crypto: SHA-256 digests,
// signatures with this node's private key, and verification against the
// public keys of every replica and client in the cluster, on OpenSSL via
// synod_crypto. (The simulator injects a fast stand-in instead.)
//
// verify(signer, ...) returns false for a signer it has no key for, and for
// any signature that is not valid (garbage, wrong length, another key's);
// untrusted input never makes it throw or crash.
//
// MACs: the key shared with a peer is derived (crypto::derive_pair_key:
// ECDH + HKDF from this node's key pair and the peer's public key) and kept
// with its HMAC context: by from_config for every replica when the config
// uses MACs, and on first use for anyone else configured. Only configured
// principals have one, so untrusted senders cannot make it derive without
// bound.
//
// Thread-safety: all methods are safe to call concurrently (they are const,
// as synod::Crypto declares). Each key's OpenSSL contexts are reused and so
// guarded by their own mutex: verifications for different signers run in
// parallel, those for one signer, signing and digesting are each serialised.
// A verification pool that needs more parallelism builds one OpenSslCrypto
// per worker.
//
// verify_all: with use_verify_helpers(k), k helper threads and the caller
// check a batch's signatures in parallel (runtime/helper_pool.hpp); without,
// or for fewer than two, the caller checks them in order.
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "runtime/helper_pool.hpp"
#include "synod/config.hpp"
#include "synod/crypto/hmac.hpp"
#include "synod/crypto/private_key.hpp"
#include "synod/crypto/public_key.hpp"
#include "synod/crypto/sha256.hpp"
#include "synod/replica.hpp"
#include "synod/result.hpp"
#include "synod/types.hpp"

namespace synod::runtime {

class OpenSslCrypto final : public Crypto {
 public:
  using ReplicaKeys = std::map<ReplicaId, crypto::PublicKey>;
  using ClientKeys = std::map<ClientId, crypto::PublicKey>;

  // Every key must use own_key's scheme: a cluster signs with one scheme.
  static Result<std::unique_ptr<OpenSslCrypto>> create(crypto::PrivateKey own_key, ReplicaKeys replicas,
                                                       ClientKeys clients);

  // The public keys from config.replicas[i].public_key and
  // config.clients[i].public_key, which hold PEM text; every key (and
  // own_key) must use config.signature_scheme. The error names the entry.
  static Result<std::unique_ptr<OpenSslCrypto>> from_config(const ClusterConfig& config, crypto::PrivateKey own_key);

  // A client's: the replicas' keys only, all a client verifies or shares
  // MACs with. (from_config's every client key is one PEM decode each, about
  // 0.3 ms: an AsyncClient with k ids would decode k x clients of them.)
  static Result<std::unique_ptr<OpenSslCrypto>> for_client(const ClusterConfig& config, crypto::PrivateKey own_key);

  OpenSslCrypto(const OpenSslCrypto&) = delete;
  OpenSslCrypto& operator=(const OpenSslCrypto&) = delete;

  Digest digest(ByteView data) const override;
  // Stops the process if OpenSSL cannot sign with a key it loaded (the
  // interface has no error channel, and a replica that cannot sign cannot
  // take part safely).
  Bytes sign(ByteView data) const override;
  bool verify(Principal signer, ByteView data, ByteView signature) const override;
  bool verify_all(std::span<const SignatureCheck> checks) const override;
  // Stops the process for a peer with no configured key (a bug: cores MAC
  // only for configured principals) or if OpenSSL cannot derive the key.
  Bytes mac(Principal peer, ByteView data) const override;
  bool verify_mac(Principal peer, ByteView data, ByteView tag) const override;

  crypto::Scheme scheme() const { return scheme_; }

  // Starts `helpers` threads for verify_all (0: none, the default). Call it
  // before the object is shared with other threads.
  void use_verify_helpers(unsigned helpers);
  unsigned verify_helpers() const { return helpers_ ? helpers_->helpers() : 0; }

 private:
  // A key with the contexts it reuses, and the lock that makes that safe.
  template <class Key>
  struct Guarded {
    explicit Guarded(Key k) : key(std::move(k)) {}
    std::mutex mutex;
    Key key;
  };

  OpenSslCrypto(crypto::Scheme scheme, crypto::PrivateKey own_key, crypto::Sha256 sha256);
  static Result<std::unique_ptr<OpenSslCrypto>> load(const ClusterConfig& config, crypto::PrivateKey own_key,
                                                     bool with_client_keys);

  crypto::Scheme scheme_;
  mutable Guarded<crypto::PrivateKey> signer_;
  mutable Guarded<crypto::Sha256> sha256_;
  // unique_ptr: a mutex cannot move, and the map must be built after this.
  std::map<Principal, std::unique_ptr<Guarded<crypto::PublicKey>>> verifiers_;
  // Pair keys: with replicas derived by from_config in MAC mode, with
  // clients on first use (null: the peer has no configured key).
  Result<std::unique_ptr<Guarded<crypto::Hmac>>> derive_mac(Guarded<crypto::PublicKey>& peer_key,
                                                             Principal peer) const;
  Guarded<crypto::Hmac>* mac_for(Principal peer) const;
  mutable std::mutex macs_mutex_;
  mutable std::map<Principal, std::unique_ptr<Guarded<crypto::Hmac>>> macs_;
  std::unique_ptr<HelperPool> helpers_;  // verify_all's, when started
};

}  // namespace synod::runtime
