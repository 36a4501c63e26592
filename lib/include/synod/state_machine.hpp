// synod/state_machine.hpp — what an application implements to be replicated.
// The same interface serves both modes (pbft and paxos).
//
// Contract (every replica must reach the same state from the same inputs):
//  * Deterministic: execute() depends only on the current state and the
//    operations. No clocks, randomness, threads, environment, file or network
//    I/O, and no iteration over containers whose order differs between
//    processes (hash maps keyed by pointers, unordered_map iteration feeding
//    results or snapshots).
//  * execute() returns exactly one result per operation, in order.
//  * query() answers a read-only operation without changing state. It must
//    give the same answer that execute() would for a read.
//  * snapshot() returns the complete application state as bytes, encoded
//    canonically: two replicas in the same state produce identical bytes
//    (the bytes are hashed and compared across replicas at checkpoints).
//    synod stores its own per-client table next to it; the application does
//    not need to remember clients.
//  * restore(snapshot) replaces the whole state with the one encoded; it must
//    accept anything snapshot() produced and reject anything else with an
//    Error, without crashing (a snapshot may come from another replica, but
//    only after synod checked it against a 2f+1 signed checkpoint digest).
//  * Called from one thread at a time; no method is called concurrently.
#pragma once

#include <span>
#include <vector>

#include "synod/result.hpp"
#include "synod/types.hpp"

namespace synod {

struct Operation {
  ClientId client = 0;
  RequestNo request = 0;
  ByteView payload;  // valid only during the call
};

class StateMachine {
 public:
  virtual ~StateMachine() = default;

  virtual std::vector<Bytes> execute(std::span<const Operation> batch) = 0;
  virtual Bytes query(ByteView operation) const = 0;
  virtual Bytes snapshot() const = 0;
  virtual Result<void> restore(ByteView snapshot) = 0;
};

}  // namespace synod
