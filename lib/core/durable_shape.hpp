// core/durable_shape.hpp — the cluster parameters a replica's durable state
// was written under, stored beside it (both cores): the protocol, the number
// of replicas, f, the checkpoint interval K and the log window L. Restarting
// on the same data with other values would read it under rules it was not
// written by (a log beyond the window, snapshots off the multiples of K,
// other quorums), so a core refuses that at start with an error naming what
// changed. Limits that only bound what a leader proposes (batch and request
// sizes) are not part of it: they may change across a restart.
#pragma once

#include <string_view>

#include "synod/config.hpp"
#include "synod/replica.hpp"
#include "synod/result.hpp"

namespace synod {

inline constexpr std::string_view kDurableShapeKey = "shape";

// The record to persist (written by a core with its first effects, so every
// durable state holds it from then on).
PersistOp durable_shape_record(const ClusterConfig& config);

// Ok when `durable` holds no shape record (empty, or written before there
// was one) or one equal to `config`'s; otherwise invalid_config naming each
// value that differs, or corrupt for an unreadable record.
Result<void> check_durable_shape(const ClusterConfig& config, const DurableState& durable);

}  // namespace synod
