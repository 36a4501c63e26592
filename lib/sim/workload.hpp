// sim/workload.hpp — what correct simulated clients ask for: KvStore
// operations over a small key space, so that requests conflict (the
// interesting case for ordering and linearizability), with values unique per
// request (so a result names the write it came from).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/store_backend.hpp"
#include "sim/prng.hpp"
#include "synod/replica.hpp"
#include "synod/types.hpp"

namespace synod::sim {

struct WorkloadShape {
  std::uint32_t keys = 4;             // key space "k0".."k{keys-1}"
  std::uint32_t put_weight = 4;
  std::uint32_t get_weight = 4;
  std::uint32_t del_weight = 1;
  std::uint32_t cas_weight = 2;
  std::uint32_t read_only_pct = 50;   // of gets, sent as read-only requests
  TimeUs think_max_us = 20'000;       // uniform pause between a completion and the next submit
};

class Workload {
 public:
  Workload(Prng prng, WorkloadShape shape, ClientId client);

  struct Next {
    Bytes op;
    bool read_only = false;
  };
  Next next(RequestNo t);
  // Learns values from results, so that a later cas often expects the
  // current value (and sometimes succeeds).
  void observe(ByteView op, ByteView result);
  TimeUs think_us();

 private:
  Prng prng_;
  WorkloadShape shape_;
  ClientId client_;
  std::map<std::string, std::optional<std::string>> last_seen_;  // by key
};

// Readable forms for traces and violation messages, e.g. "put(k1,c2.5)",
// "ok c2.5", "cas_mismatch -". Total over any bytes.
std::string describe_kv_op(ByteView op);
std::string describe_kv_result(ByteView result);

// A store-backed run's genesis state: `keys` kv keys "g<i>" (no workload
// touches them) with values of a few hundred bytes, written into `store`
// and committed, identical for every replica.
void write_genesis(MemoryStore& store, const Crypto& crypto, std::uint32_t keys);

}  // namespace synod::sim
