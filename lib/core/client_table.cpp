#include "core/client_table.hpp"

#include "core/bytes_io.hpp"
#include "synod/assert.hpp"

namespace synod {

namespace {
constexpr std::uint32_t kSnapshotMagic = 0x53594e31;  // "SYN1"
constexpr std::uint64_t kMaxClients = 1u << 20;
}  // namespace

void ClientTable::record(ClientId client, RequestNo t, Bytes result) {
  Entry& e = entries_[client];
  SYNOD_ASSERT(t > e.last_t, "request numbers execute in increasing order per client");
  e.last_t = t;
  e.last_result = std::move(result);
}

std::vector<std::optional<Bytes>> execute_at_most_once(StateMachine& app, ClientTable& clients,
                                                       std::span<const Operation> batch,
                                                       bool allow_duplicates) {
  return execute_at_most_once(clients, batch, allow_duplicates,
                              [&](std::span<const Operation> fresh) { return app.execute(fresh); });
}

std::vector<std::optional<Bytes>> execute_at_most_once(ClientTable& clients, std::span<const Operation> batch,
                                                       bool allow_duplicates, const RunFresh& run) {
  std::vector<std::optional<Bytes>> results(batch.size());
  std::vector<Operation> fresh;
  std::vector<std::size_t> where;
  fresh.reserve(batch.size());
  // Requests of one client inside one batch must also execute once, in t order.
  std::map<ClientId, RequestNo> newest;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const Operation& op = batch[i];
    RequestNo last = clients.last_t(op.client);
    if (auto it = newest.find(op.client); it != newest.end()) last = std::max(last, it->second);
    if (op.request <= last && !allow_duplicates) continue;
    newest[op.client] = std::max(last, op.request);
    fresh.push_back(op);
    where.push_back(i);
  }
  if (fresh.empty()) return results;
  std::vector<Bytes> out = run(fresh);
  SYNOD_ASSERT(out.size() == fresh.size(), "execute returns one result per operation");
  for (std::size_t k = 0; k < fresh.size(); ++k) {
    const Operation& op = fresh[k];
    if (op.request > clients.last_t(op.client)) clients.record(op.client, op.request, out[k]);
    results[where[k]] = std::move(out[k]);
  }
  return results;
}

Bytes make_checkpoint_snapshot(const ClientTable& clients, const StateMachine& app) {
  ByteWriter w;
  w.u32(kSnapshotMagic);
  w.u64(clients.entries_.size());
  for (const auto& [id, e] : clients.entries_) {
    w.u32(id);
    w.u64(e.last_t);
    w.bytes(e.last_result);
  }
  Bytes app_state = app.snapshot();
  w.bytes(app_state);
  return w.take();
}

Result<void> restore_checkpoint_snapshot(ByteView snapshot, ClientTable& clients, StateMachine& app) {
  ByteReader r(snapshot);
  auto magic = r.u32();
  if (!magic || *magic != kSnapshotMagic) return fail(ErrorCode::corrupt, "snapshot: bad magic");
  auto count = r.u64();
  // Each client entry takes at least 4 + 8 + 8 bytes.
  if (!count || *count > kMaxClients || *count > r.remaining() / 20) {
    return fail(ErrorCode::corrupt, "snapshot: bad client count");
  }
  ClientTable table;
  ClientId previous = 0;
  for (std::uint64_t i = 0; i < *count; ++i) {
    auto id = r.u32();
    auto t = r.u64();
    auto result = r.bytes();
    if (!id || !t || !result) return fail(ErrorCode::corrupt, "snapshot: truncated client table");
    if (i > 0 && *id <= previous) return fail(ErrorCode::corrupt, "snapshot: client table not in order");
    previous = *id;
    table.entries_[*id] = ClientTable::Entry{*t, Bytes(result->begin(), result->end())};
  }
  auto app_state = r.bytes();
  if (!app_state || !r.at_end()) return fail(ErrorCode::corrupt, "snapshot: bad application state");
  if (auto ok = app.restore(*app_state); !ok) return ok;
  clients = std::move(table);
  return {};
}

}  // namespace synod
