// synod/replica.hpp — the one interface both protocol cores (PBFT and
// Multi-Paxos) present to their drivers (the runtime and the simulator).
//
// A core is a deterministic state machine that does no I/O: the driver feeds
// it one input at a time (a frame that arrived, or a clock tick) with the
// current time, and carries out the Effects it returns. Not thread-safe: one
// driver thread calls it.
//
// The driver's loop, in order, for every input:
//   1. effects.clear(); core.receive(now, frame, effects) or core.tick(now, effects)
//   2. make every effects.persist op durable, atomically and in order
//      (one transaction / fsync may cover several inputs: group commit);
//   3. only then send effects.send (durable before visible: PROTOCOL.md);
//   4. effects.executed is informational (metrics, simulator checkers).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "synod/config.hpp"
#include "synod/result.hpp"
#include "synod/state_machine.hpp"
#include "synod/types.hpp"

namespace synod {

// Where an outbound frame goes.
struct Destination {
  enum class Kind : std::uint8_t { replica, all_replicas, client };
  Kind kind = Kind::replica;
  std::uint32_t id = 0;  // replica or client id; unused for all_replicas

  static constexpr Destination replica(ReplicaId i) { return {Kind::replica, i}; }
  static constexpr Destination all_replicas() { return {Kind::all_replicas, 0}; }
  static constexpr Destination client(ClientId c) { return {Kind::client, c}; }
};

struct OutboundFrame {
  Destination to;
  Bytes frame;  // a complete encoded and authenticated wire envelope
};

// One durable write: value set, or the key deleted when value is empty.
struct PersistOp {
  std::string key;
  std::optional<Bytes> value;
};

// What a replica holds durably, as the core persisted it; handed back to a
// new core after a restart.
using DurableState = std::map<std::string, Bytes>;

// A batch the core executed: for metrics and the simulator's checkers.
struct ExecutedRequest {
  ClientId client = 0;
  RequestNo request = 0;
  Digest operation_digest{};
  Digest result_digest{};
};
struct ExecutedBatch {
  Seq seq = 0;
  Digest batch_digest{};
  std::vector<ExecutedRequest> requests;
};

struct Effects {
  std::vector<PersistOp> persist;  // durable before any frame of `send` leaves
  std::vector<OutboundFrame> send;
  std::vector<ExecutedBatch> executed;

  void clear() {
    persist.clear();
    send.clear();
    executed.clear();
  }
  bool empty() const { return persist.empty() && send.empty() && executed.empty(); }
};

// Counted rejections of untrusted input, by reason.
enum class Rejection : std::uint8_t {
  malformed,          // frame failed to decode
  bad_authenticator,  // signature / MAC did not verify
  unknown_sender,
  wrong_view,
  out_of_window,
  conflicting,        // e.g. second pre-prepare with another digest
  invalid,            // well-formed but breaks a protocol rule
  limit,              // a configured bound was hit
  count_,
};
const char* to_string(Rejection r);

struct ReplicaStatus {
  Protocol protocol = Protocol::pbft;
  ReplicaId id = 0;
  View view = 0;           // view, or ballot round
  ReplicaId leader = 0;    // primary / leader the replica believes in
  bool is_leader = false;
  bool changing_view = false;
  Seq last_executed = 0;
  Seq stable_checkpoint = 0;
  Digest state_digest{};   // digest at the stable checkpoint
  std::uint64_t view_changes = 0;
  std::uint64_t state_transfers = 0;
  std::uint64_t rejected[static_cast<std::size_t>(Rejection::count_)] = {};
};

// Length of one MAC tag (HMAC-SHA256) in an authenticator.
inline constexpr std::size_t kMacBytes = 32;

// One signature for Crypto::verify_all.
struct SignatureCheck {
  Principal signer;
  ByteView data;
  ByteView signature;
};

// The crypto a core needs, injected so the simulator can use a fast stand-in.
class Crypto {
 public:
  virtual ~Crypto() = default;
  virtual Digest digest(ByteView data) const = 0;
  virtual Bytes sign(ByteView data) const = 0;  // with this node's own private key
  virtual bool verify(Principal signer, ByteView data, ByteView signature) const = 0;
  // True iff verify() holds for every check (a batch's requests). An
  // implementation may check them in parallel (runtime::OpenSslCrypto with
  // verify helpers); this one checks them in order and stops at the first
  // that fails. Either way the answer is the same, so a core stays
  // deterministic.
  virtual bool verify_all(std::span<const SignatureCheck> checks) const {
    for (const SignatureCheck& c : checks)
      if (!verify(c.signer, c.data, c.signature)) return false;
    return true;
  }
  // MAC authenticators (ClusterConfig::authentication = macs): a kMacBytes
  // tag under the key this node shares with `peer` alone, and its check.
  // verify_mac is false for a peer with no key and for any tag that is not
  // exactly the right one.
  virtual Bytes mac(Principal peer, ByteView data) const = 0;
  virtual bool verify_mac(Principal peer, ByteView data, ByteView tag) const = 0;
};

class Replica {
 public:
  virtual ~Replica() = default;
  virtual void receive(TimeUs now, ByteView frame, Effects& out) = 0;
  virtual void tick(TimeUs now, Effects& out) = 0;
  // The earliest time at which tick() has work to do (a timer expires);
  // the driver must call tick() at or soon after it. Inputs may move it.
  virtual TimeUs next_deadline() const = 0;
  virtual ReplicaStatus status() const = 0;
};

}  // namespace synod
