// core/batching.hpp — when the leader closes a batch (both cores): batching
// that adapts to load. An idle pipeline sends a request at once; with
// batches in flight the leader waits, for a full batch, or for the batch
// timeout, or (at max_batches_in_flight) for an execution to free a place,
// so under load requests gather into large batches while the pipeline is
// busy instead of following each other in small ones.
#pragma once

#include <cstdint>

#include "synod/types.hpp"

namespace synod {

enum class BatchDecision : std::uint8_t {
  propose,             // close the batch now
  wait_until_due,      // re-decide at the batch timeout
  wait_for_execution,  // the pipeline is full: the next execution re-decides
};

// next: the sequence number (slot) the next batch takes; last_executed: the
// highest executed one, so the batches in flight are those between; due:
// the batch timeout of the oldest waiting request.
inline BatchDecision batch_decision(bool full, std::uint64_t next, std::uint64_t last_executed,
                                    std::uint32_t max_in_flight, TimeUs now, TimeUs due) {
  const std::uint64_t in_flight = next > last_executed + 1 ? next - 1 - last_executed : 0;
  if (full || in_flight == 0) return BatchDecision::propose;
  if (in_flight >= max_in_flight) return BatchDecision::wait_for_execution;
  return now < due ? BatchDecision::wait_until_due : BatchDecision::propose;
}

}  // namespace synod
