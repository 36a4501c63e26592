// sim/history.hpp — what the simulator records for its checkers: the
// requests clients signed, what correct replicas executed, and what correct
// clients observed. Plain data.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>

#include "synod/types.hpp"

namespace synod::sim {

// (client, t): the identity of a request for at-most-once.
struct RequestKey {
  ClientId client = 0;
  RequestNo t = 0;
  friend auto operator<=>(const RequestKey&, const RequestKey&) = default;
};

// A point in the simulation's real time. `step` is the simulator's global
// event counter, which breaks ties between events at the same microsecond in
// the order they happened, so "A completed before B was invoked" is exact.
struct Stamp {
  TimeUs us = 0;
  std::uint64_t step = 0;
  friend auto operator<=>(const Stamp&, const Stamp&) = default;
};

// One operation of a correct client, as the client saw it.
struct ClientOp {
  ClientId client = 0;
  RequestNo t = 0;
  Bytes op;
  bool read_only = false;          // invoked as a read-only request
  Stamp invoked;
  std::optional<Stamp> completed;  // unset while outstanding
  bool accepted_read_only = false; // completed by the read-only (2f+1) quorum
  Bytes result;                    // valid when completed
};

}  // namespace synod::sim
