#include "core/replicated_state.hpp"

#include <set>

#include "core/bytes_io.hpp"
#include "synod/assert.hpp"

namespace synod {

namespace {

// The store key of a client's entry: the namespace, then the id big-endian
// (so a scan lists the table in id order).
Bytes client_key(ClientId c) {
  return Bytes{MerkleStore::kClientNamespace, static_cast<std::uint8_t>(c >> 24), static_cast<std::uint8_t>(c >> 16),
               static_cast<std::uint8_t>(c >> 8), static_cast<std::uint8_t>(c)};
}

Bytes encode_entry(const ClientTable::Entry& e) {
  ByteWriter w;
  w.u64(e.last_t);
  w.bytes(e.last_result);
  return w.take();
}

}  // namespace

// ---------------------------------------------------------------- WholeState

std::vector<std::optional<Bytes>> WholeState::execute(std::span<const Operation> batch, bool allow_duplicates) {
  return execute_at_most_once(app_, clients_, batch, allow_duplicates);
}

Bytes WholeState::snapshot() const { return make_checkpoint_snapshot(clients_, app_); }

Result<void> WholeState::restore(ByteView snapshot) { return restore_checkpoint_snapshot(snapshot, clients_, app_); }

// ---------------------------------------------------------------- StoreState

StoreState::StoreState(StoreStateMachine& app, const Crypto& crypto, StoreBackend& backend)
    : app_(app), store_(crypto, backend) {}

std::vector<std::optional<Bytes>> StoreState::execute(std::span<const Operation> batch, bool allow_duplicates) {
  auto results = execute_at_most_once(clients_, batch, allow_duplicates, [&](std::span<const Operation> fresh) {
    return app_.execute(fresh, store_.app());
  });
  // The table's changed entries go to the store, so the root covers them.
  std::set<ClientId> changed;
  for (std::size_t i = 0; i < batch.size(); ++i)
    if (results[i]) changed.insert(batch[i].client);
  for (ClientId c : changed) {
    const ClientTable::Entry* e = clients_.find(c);
    SYNOD_ASSERT(e != nullptr, "an executed request's client has an entry");
    SYNOD_ASSERT(store_.put(client_key(c), encode_entry(*e)).has_value(),
                 "a reply fits a store value (kMaxStoreValueBytes)");
  }
  // The changed leaf digests go to the store with the batch's writes, in the
  // same commit, so a restart rebuilds the tree from leaves that match the
  // data. (The nodes above them wait for the next checkpoint's root.)
  store_.fold_leaves();
  return results;
}

Result<void> StoreState::reload_clients() {
  ClientTable table;
  std::optional<Error> error;
  const Bytes from{MerkleStore::kClientNamespace};
  const Bytes to{static_cast<std::uint8_t>(MerkleStore::kClientNamespace + 1)};
  store_.scan(from, to, [&](ByteView key, ByteView value) {
    ByteReader r(value);
    auto t = r.u64();
    auto result = r.bytes();
    if (key.size() != 5 || !t || *t == 0 || !result || !r.at_end()) {
      error = Error{ErrorCode::corrupt, "store: bad client table entry"};
      return false;
    }
    const ClientId c = (ClientId{key[1]} << 24) | (ClientId{key[2]} << 16) | (ClientId{key[3]} << 8) | key[4];
    table.entries_[c] = ClientTable::Entry{*t, Bytes(result->begin(), result->end())};
    return true;
  });
  if (error) return std::unexpected(*error);
  clients_ = std::move(table);
  return {};
}

}  // namespace synod
