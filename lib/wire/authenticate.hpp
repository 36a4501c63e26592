// wire/authenticate.hpp — authenticators that depend on the cluster's
// authentication mode (ClusterConfig::authentication, PROTOCOL.md
// "Authentication"), shared by both cores, the unreplicated server and the
// client library.
//
// Replies: a signature (signatures) or one MAC under the key the replica
// shares with the client (macs).
//
// Requests: a signature (signatures), or signature || MAC_0 || ... ||
// MAC_{n-1} (macs). A replica accepts a request when its own MAC verifies,
// and otherwise when the signature does: a MAC for replica i convinces
// only i (the primary cannot forge it for a backup), and a faulty client
// whose MACs hold at some replicas and not at others cannot stall a batch,
// because its signature holds everywhere or nowhere.
//
// A replica message multicast to every replica in MAC mode that must still
// be provable to a third party later (a pbft COMMIT: commit proofs in
// catch-up) carries both: authenticator = signature || MAC_0 || ... ||
// MAC_{n-1}, one kMacBytes tag per replica id. A receiver checks its own
// MAC and keeps the signature, unchecked, for proofs; whoever receives a
// proof checks the signatures in it, as in signature mode.
//
// Paxos replica messages: a signature, or one MAC per replica in MAC mode
// (paxos_replica_authenticator below).
//
// Tree-walk requests and answers (point_to_point below) between pbft
// replicas in MAC mode: the one MAC of their receiver.
#pragma once

#include <optional>
#include <span>
#include <type_traits>

#include "synod/config.hpp"
#include "synod/replica.hpp"
#include "synod/types.hpp"
#include "wire/codec.hpp"
#include "wire/messages.hpp"

namespace synod::wire {

Bytes reply_frame(const ClusterConfig& config, const Crypto& crypto, ReplicaId self, const Reply& reply);

// True iff envelope (a REPLY) carries a valid authenticator from its sender
// in the config's mode; crypto is the receiving client's.
bool reply_authentic(const ClusterConfig& config, const Crypto& crypto, const Envelope& envelope);

// The authenticator of a client's request over input (its signing input).
Bytes request_authenticator(const ClusterConfig& config, const Crypto& crypto, ByteView input);

// True iff authenticator authenticates input as from `client` at replica
// `self`, in the config's mode.
bool request_authentic(const ClusterConfig& config, const Crypto& crypto, ReplicaId self, Principal client,
                       ByteView input, ByteView authenticator);

// request_authentic for many requests at once (a pre-prepare's batch): true
// iff every one authenticates. MACs are checked here, one by one; the
// signatures left to check go to crypto.verify_all together, which may check
// them in parallel.
struct RequestAuthenticator {
  Principal client;
  ByteView input;
  ByteView authenticator;
};
bool all_requests_authentic(const ClusterConfig& config, const Crypto& crypto, ReplicaId self,
                            std::span<const RequestAuthenticator> requests);

// Paxos replica messages in MAC mode carry one MAC per replica,
// MAC_0 || ... || MAC_{n-1} (the sender's own slot all zeros), and a
// signature otherwise. Paxos tolerates crash faults only and never shows a
// replica's message to a third party, so a MAC for each receiver is all the
// authentication it needs; pbft's replica messages stay signed (proofs).
Bytes paxos_replica_authenticator(const ClusterConfig& config, const Crypto& crypto, ReplicaId self, ByteView input);

// The state transfer's tree walk (FETCH-TREE, TREE-NODES, FETCH-LEAVES,
// LEAF-ENTRIES, FETCH-VALUES, VALUES) goes from one replica to one other,
// is never relayed and proves nothing to a third party: the receiver checks
// every answer against digests that 2f+1 signed checkpoints certify. So in
// MAC mode pbft authenticates these with a single MAC for the receiver
// (point_to_point_authenticator), not a signature, which on answers of a
// megabyte costs several times more (docs/PROTOCOL.md, "State transfer by
// tree walk").
bool point_to_point(MsgType type);
template <class M>
inline constexpr bool point_to_point_v =
    std::is_same_v<M, FetchTree> || std::is_same_v<M, TreeNodes> || std::is_same_v<M, FetchLeaves> ||
    std::is_same_v<M, LeafEntries> || std::is_same_v<M, FetchValues> || std::is_same_v<M, Values>;
Bytes point_to_point_authenticator(const Crypto& crypto, ReplicaId to, ByteView input);
bool point_to_point_authentic(const Crypto& crypto, Principal sender, ByteView input, ByteView authenticator);

// An envelope's authenticator at replica `self`: a client's as a request
// (request_authentic); a paxos replica's by its MAC for self in MAC mode;
// anyone else's as a signature.
bool sender_authentic(const ClusterConfig& config, const Crypto& crypto, ReplicaId self, Principal sender,
                      ByteView input, ByteView authenticator);

// signature || one MAC per replica 0..n-1 over input.
Bytes signature_and_macs(const Crypto& crypto, std::uint32_t n, ByteView input, Bytes signature);

// Checks the MAC for replica `self` in a signature_and_macs authenticator
// from `sender`; returns the signature part, or nothing if the MAC does not
// verify or the authenticator is too short to hold n MACs.
std::optional<Bytes> check_own_mac(const Crypto& crypto, std::uint32_t n, ReplicaId self, Principal sender,
                                   ByteView input, ByteView authenticator);

}  // namespace synod::wire
