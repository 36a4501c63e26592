// sim/faulty_client.hpp — clients that misbehave: requests with bad
// signatures or impersonating another client, one t reused for a different
// op, and replays of old requests. They ignore replies and their operations
// are never checked for linearizability; what they validly signed is
// recorded, because a replica may legitimately execute it (once).
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "sim/prng.hpp"
#include "synod/config.hpp"
#include "synod/replica.hpp"
#include "wire/messages.hpp"

namespace synod::sim {

namespace faulty {
enum Behaviour : std::uint32_t {
  bad_signature = 1u << 0,  // flipped authenticator bytes
  impersonate = 1u << 1,    // claims another client's id, signed with its own key
  reuse_t = 1u << 2,        // two different validly signed ops with one t
  replay = 1u << 3,         // resends old (validly signed) request frames
  count_ = 4,
};
}  // namespace faulty

std::string describe_behaviours(std::uint32_t behaviours);

class FaultyClient {
 public:
  // `victims` are client ids it may impersonate.
  FaultyClient(const ClusterConfig& config, ClientId self, const Crypto& crypto, std::uint32_t behaviours,
               std::vector<ClientId> victims, Prng prng);

  // One misbehaviour. `signed_requests` receives every request it signed
  // validly (for the validity checker's registry).
  void act(std::vector<OutboundFrame>& out, std::vector<wire::Request>& signed_requests);
  std::uint32_t behaviours() const { return behaviours_; }

  static constexpr std::size_t kMaxRemembered = 16;

 private:
  Destination pick_destination();
  Bytes op_for(RequestNo t);

  const ClusterConfig* config_;
  ClientId self_;
  const Crypto* crypto_;
  std::uint32_t behaviours_;
  std::vector<ClientId> victims_;
  Prng prng_;
  RequestNo next_t_ = 1;
  std::deque<Bytes> sent_;
};

}  // namespace synod::sim
