// synod/examples/store_kv.hpp — the kv example (kv.hpp) on the second
// state-machine interface, synod::StoreStateMachine (synod/store.hpp): the
// entries live in the store synod owns, so a checkpoint costs O(keys changed)
// instead of a copy of every entry, and the store may grow past what a
// snapshot() could carry.
//
// Operations and results are kv.hpp's, byte for byte (kv::encode_* builds
// them, kv::decode_result reads the replies), so synod-client put/get/del/cas
// and the simulator's kv workload run unchanged against either class. The
// semantics are kv.hpp's too — put, get, del, cas, bad_op for any malformed
// op — with one difference: no kv::kMaxEntries or kv::kMaxStoredBytes, so a
// put or cas never answers `full` for the number of entries or their total
// size. The only limits are kv.hpp's per op: keys of at most kv::kMaxKeyBytes
// and values of at most kv::kMaxValueBytes (bad_op above them), which the
// store accepts (they are below kMaxStoreKeyBytes / kMaxStoreValueBytes). If
// the store refuses a put anyway, the op answers `full` and changes nothing;
// store.hpp guarantees every replica's store refuses it alike.
//
// Store layout: each kv key is a store key of the same bytes, its value the
// store value. Nothing else is stored, and the class holds no state of its
// own: every answer depends only on the store and the op.
//
// No scan op: kv.hpp's op set is what the clients speak, and a scan would need
// a new kind there and a result that carries several entries (KvResult has
// one value).
//
// Not thread-safe; synod never calls a state machine concurrently.
#pragma once

#include <span>
#include <vector>

#include "synod/examples/kv.hpp"
#include "synod/store.hpp"
#include "synod/types.hpp"

namespace synod::examples {

// A kv key or value stored as is must fit the store's bounds, or put() would
// refuse ordinary ops.
static_assert(kv::kMaxKeyBytes <= kMaxStoreKeyBytes, "a kv key must fit a store key");
static_assert(kv::kMaxValueBytes <= kMaxStoreValueBytes, "a kv value must fit a store value");

class StoreKv final : public StoreStateMachine {
 public:
  std::vector<Bytes> execute(std::span<const Operation> batch, StoreWriter& store) override;
  // get only; anything else is bad_op (a read must not change state).
  Bytes query(ByteView operation, const StoreReader& store) const override;

  // The result an operation gets, without encoding (execute() encodes it).
  kv::KvResult apply(ByteView operation, StoreWriter& store) const;
};

}  // namespace synod::examples
