// bench/unreplicated.hpp — the baseline server of synod-bench --unreplicated:
// a synod::Replica that executes each client request as soon as it arrives,
// with no agreement, no log and nothing persisted. It runs under the same
// runtime::EventLoop (ZeroMQ transport), verifies the same client
// signatures, keeps the same at-most-once client table and signs the same
// replies as the real cores, so the client library cannot tell it from a
// Multi-Paxos leader: give it a paxos cluster.toml and run it as replica 0
// (the replica paxos clients send to first); the other replicas of that
// config are never contacted unless a request times out.
#pragma once

#include "synod/config.hpp"
#include "synod/replica.hpp"
#include "synod/state_machine.hpp"
#include "core/client_table.hpp"

namespace synod::bench {

class UnreplicatedCore final : public Replica {
 public:
  UnreplicatedCore(const ClusterConfig& config, ReplicaId self, const Crypto& crypto, StateMachine& app);

  void receive(TimeUs now, ByteView frame, Effects& out) override;
  void tick(TimeUs now, Effects& out) override;
  TimeUs next_deadline() const override;
  ReplicaStatus status() const override;

 private:
  void reject(Rejection r) { ++rejected_[static_cast<std::size_t>(r)]; }
  void reply(ClientId client, RequestNo t, bool read_only, const Bytes& result, Effects& out);

  const ClusterConfig& config_;
  ReplicaId self_;
  const Crypto& crypto_;
  StateMachine& app_;
  ClientTable clients_;
  Seq last_executed_ = 0;
  std::uint64_t rejected_[static_cast<std::size_t>(Rejection::count_)] = {};
};

}  // namespace synod::bench
