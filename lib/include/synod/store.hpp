// synod/store.hpp — the second state-machine interface: an application that
// executes against a durable, transactional key-value store that synod owns.
//
// Choose it over synod::StateMachine (state_machine.hpp) when the state is
// large or grows: synod then knows exactly which keys each batch changed, so
//  * a checkpoint costs O(keys changed since the last one), never O(state):
//    synod keeps a Merkle index over the store and updates it incrementally;
//  * a lagging replica fetches only the parts of the state that differ from
//    its own, each verified against the 2f+1-certified digest;
//  * a restarted replica reopens its store where it left off instead of
//    restoring a snapshot.
// StateMachine stays the simpler choice for small states (a counter, a few
// thousand keys): its snapshot() is called at every checkpoint and copies the
// whole state.
//
// Contract (every replica must reach the same state from the same inputs):
//  * Deterministic, exactly as for StateMachine: execute() may depend only on
//    the store's contents and the operations. No clocks, randomness, threads,
//    environment, file or network I/O.
//  * execute() returns exactly one result per operation, in order, and
//    changes the store only through `store` during the call. All writes of a
//    batch become durable atomically, together with synod's own record of
//    which batch they belong to: after a crash the store holds exactly the
//    effects of some prefix of the executed batches.
//  * query() answers a read-only operation from `store` without changing it,
//    with the same answer execute() would give for a read.
//  * Keys are at most kMaxStoreKeyBytes and values at most
//    kMaxStoreValueBytes; put() refuses larger ones with an Error (the same
//    on every replica, so an application may turn it into a result).
//  * The store starts empty. synod keeps the per-client table in its own part
//    of the store; the application sees only its own keys.
//  * Called from one thread at a time; no method is called concurrently, and
//    `store` is valid only during the call.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "synod/result.hpp"
#include "synod/state_machine.hpp"
#include "synod/types.hpp"

namespace synod {

// Bounds on one key and one value (LMDB keys are at most 511 bytes; synod
// prefixes each key with its bucket and namespace).
inline constexpr std::size_t kMaxStoreKeyBytes = 448;
inline constexpr std::size_t kMaxStoreValueBytes = std::size_t{1} << 20;

// Reads of the store as of the call (including this batch's own writes).
class StoreReader {
 public:
  virtual ~StoreReader() = default;
  virtual std::optional<Bytes> get(ByteView key) const = 0;
  // Calls visit(key, value) for every key in [from, to) in ascending byte
  // order (an empty `to`: no upper bound) until visit returns false. The
  // views are valid only during that visit call.
  virtual void scan(ByteView from, ByteView to,
                    const std::function<bool(ByteView key, ByteView value)>& visit) const = 0;
};

// Reads and writes during execute().
class StoreWriter : public StoreReader {
 public:
  // Sets key to value (an empty value is a value: erase() removes a key).
  virtual Result<void> put(ByteView key, ByteView value) = 0;
  // Removes key; removing an absent key is fine.
  virtual void erase(ByteView key) = 0;
};

class StoreStateMachine {
 public:
  virtual ~StoreStateMachine() = default;
  virtual std::vector<Bytes> execute(std::span<const Operation> batch, StoreWriter& store) = 0;
  virtual Bytes query(ByteView operation, const StoreReader& store) const = 0;
};

}  // namespace synod
