// core/replicated_state.hpp — what a protocol core replicates: the
// per-client table (at-most-once, PROTOCOL.md) plus the application's state,
// of either kind:
//  * WholeState: a synod::StateMachine; a checkpoint is its snapshot() bytes
//    with the client table (core/client_table.hpp), transferred whole;
//  * StoreState: a synod::StoreStateMachine over a MerkleStore; a checkpoint
//    is the store's root (pinned, no copy), transferred by tree walk
//    (transfer/state_sync.hpp). The client table lives in the store too,
//    under MerkleStore::kClientNamespace, so the root covers it; the table in
//    memory is a cache of it, reloaded after a restart or a transfer.
// The cores branch on store() once, where checkpoints are taken, kept,
// transferred and restored.
//
// Not thread-safe: the core's thread uses it.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/client_table.hpp"
#include "core/merkle_store.hpp"
#include "synod/state_machine.hpp"
#include "synod/store.hpp"

namespace synod {

class ReplicatedState {
 public:
  virtual ~ReplicatedState() = default;

  const ClientTable& clients() const { return clients_; }
  // One ordered batch, each request at most once (core/client_table.hpp:
  // execute_at_most_once): nullopt for a skipped duplicate.
  virtual std::vector<std::optional<Bytes>> execute(std::span<const Operation> batch, bool allow_duplicates) = 0;
  virtual Bytes query(ByteView operation) const = 0;
  // The store of a StoreState; nullptr for a WholeState.
  virtual MerkleStore* store() { return nullptr; }

 protected:
  ClientTable clients_;
};

class WholeState final : public ReplicatedState {
 public:
  explicit WholeState(StateMachine& app) : app_(app) {}
  std::vector<std::optional<Bytes>> execute(std::span<const Operation> batch, bool allow_duplicates) override;
  Bytes query(ByteView operation) const override { return app_.query(operation); }

  // The checkpoint's bytes (make_checkpoint_snapshot) and their restore.
  Bytes snapshot() const;
  Result<void> restore(ByteView snapshot);

 private:
  StateMachine& app_;
};

class StoreState final : public ReplicatedState {
 public:
  // The table starts empty: reload_clients() reads it from the store (a restart).
  StoreState(StoreStateMachine& app, const Crypto& crypto, StoreBackend& backend);
  std::vector<std::optional<Bytes>> execute(std::span<const Operation> batch, bool allow_duplicates) override;
  Bytes query(ByteView operation) const override { return app_.query(operation, store_.app()); }
  MerkleStore* store() override { return &store_; }
  // The store changed under the table (a state transfer): read it again.
  // An entry that does not decode is an error (corrupt state).
  Result<void> reload_clients();

 private:
  StoreStateMachine& app_;
  MerkleStore store_;
};

}  // namespace synod
