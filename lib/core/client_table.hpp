// core/client_table.hpp — what both cores keep per client for at-most-once
// execution (PROTOCOL.md: last executed t and its reply), and the replica
// checkpoint: the client table plus the application snapshot, encoded
// canonically so equal states have equal bytes (and digests).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "synod/result.hpp"
#include "synod/state_machine.hpp"
#include "synod/types.hpp"

namespace synod {

class ClientTable {
 public:
  struct Entry {
    RequestNo last_t = 0;
    Bytes last_result;
  };

  const Entry* find(ClientId client) const {
    auto it = entries_.find(client);
    return it == entries_.end() ? nullptr : &it->second;
  }
  RequestNo last_t(ClientId client) const {
    const Entry* e = find(client);
    return e ? e->last_t : 0;
  }
  void record(ClientId client, RequestNo t, Bytes result);
  std::size_t size() const { return entries_.size(); }

  friend bool operator==(const ClientTable&, const ClientTable&) = default;

 private:
  friend Bytes make_checkpoint_snapshot(const ClientTable&, const StateMachine&);
  friend Result<void> restore_checkpoint_snapshot(ByteView, ClientTable&, StateMachine&);
  friend class StoreState;  // core/replicated_state.hpp: the table kept in a store
  std::map<ClientId, Entry> entries_;  // ordered: canonical encoding
};

// Executes the operations of one ordered batch exactly once each: an
// operation whose t is not above its client's last executed t is skipped
// (nullopt), the others run in order through app.execute() and are recorded.
// With allow_duplicates (a deliberately broken variant for tests) nothing is
// skipped.
std::vector<std::optional<Bytes>> execute_at_most_once(StateMachine& app, ClientTable& clients,
                                                       std::span<const Operation> batch,
                                                       bool allow_duplicates = false);
// The same, with the fresh operations run by `run` (one result each).
using RunFresh = std::function<std::vector<Bytes>(std::span<const Operation>)>;
std::vector<std::optional<Bytes>> execute_at_most_once(ClientTable& clients, std::span<const Operation> batch,
                                                       bool allow_duplicates, const RunFresh& run);

// The state a checkpoint digest covers: client table + application snapshot.
Bytes make_checkpoint_snapshot(const ClientTable& clients, const StateMachine& app);
// Replaces both from a snapshot; the error leaves them unspecified only if
// app.restore() itself fails midway (the caller treats that as fatal state).
Result<void> restore_checkpoint_snapshot(ByteView snapshot, ClientTable& clients, StateMachine& app);

}  // namespace synod
