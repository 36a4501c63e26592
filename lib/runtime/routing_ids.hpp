// runtime/routing_ids.hpp — the ZeroMQ routing ids synod's sockets announce
// to a replica's ROUTER. They are hints, not identities: frames are
// authenticated by their signed envelope, never by the socket they came on.
#pragma once

#include <string>
#include <string_view>

#include "synod/types.hpp"

namespace synod::runtime {

// A replica's outbound DEALERs: frames relayed by a peer (a forwarded
// client request) are never taken as the client's own.
inline constexpr std::string_view kReplicaRoutingPrefix = "synod-replica:";
// A client's DEALERs: where a replica sends client c's replies until it has
// seen a request from c that verifies (then it uses that request's routing
// id). Without it, a pbft backup that never got c's request directly (c
// sends to the primary first) would have nowhere to send its reply, and c
// would wait a full retransmission timeout for f+1 replies.
inline constexpr std::string_view kClientRoutingPrefix = "synod-client:";

inline std::string replica_routing_id(ReplicaId id) { return std::string(kReplicaRoutingPrefix) + std::to_string(id); }
inline std::string client_routing_id(ClientId id) { return std::string(kClientRoutingPrefix) + std::to_string(id); }

}  // namespace synod::runtime
