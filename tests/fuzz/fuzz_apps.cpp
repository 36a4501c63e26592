// synod-fuzz-apps: the snapshot/restore path of the example state machines
// (examples/kv, examples/counter), as state transfer drives it with bytes
// from a peer.
//
// The first input byte picks the app, the rest is a snapshot. Checked:
//  * restore(arbitrary) is total: it returns, with an error or not, and
//    never crashes or allocates without bound (-malloc_limit_mb);
//  * a failed restore leaves the state as it was (snapshot unchanged);
//  * a successful restore is canonical: snapshot() gives back exactly the
//    input, and restoring that into a fresh instance gives the same state;
//  * the restored state keeps working: a few operations execute and the
//    result of snapshot() after them restores again.
// A failed check traps.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "synod/examples/counter.hpp"
#include "synod/examples/kv.hpp"

using namespace synod;

namespace {

void require(bool ok) {
  if (!ok) __builtin_trap();
}

bool same(const Bytes& a, ByteView b) { return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin()); }

template <class App>
void check(ByteView snapshot, const std::vector<Bytes>& ops) {
  App app;
  // Some state first, so that "a failed restore changes nothing" means something.
  {
    const Bytes seed_op = ops.empty() ? Bytes{} : ops.front();
    const Operation op{1, 1, as_view(seed_op)};
    (void)app.execute(std::span<const Operation>(&op, 1));
  }
  const Bytes before = app.snapshot();
  const auto restored = app.restore(snapshot);
  if (!restored) {
    require(same(app.snapshot(), as_view(before)));
    return;
  }
  const Bytes after = app.snapshot();
  require(same(after, snapshot));
  App fresh;
  require(fresh.restore(as_view(after)).has_value());
  require(fresh.snapshot() == after);

  std::vector<Operation> batch;
  RequestNo t = 1;
  for (const auto& op : ops) batch.push_back({2, t++, as_view(op)});
  const auto results = app.execute(batch);
  require(results.size() == batch.size());
  const auto results_fresh = fresh.execute(batch);
  require(results == results_fresh);  // deterministic from equal states
  const Bytes later = app.snapshot();
  App third;
  require(third.restore(as_view(later)).has_value());
  require(third.snapshot() == later);
  require(fresh.snapshot() == later);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const ByteView input(data + 1, size - 1);
  // Operations to run on the restored state: well-formed ones of each kind
  // over a key that the snapshot may hold, plus the input's tail as a raw op.
  std::vector<Bytes> ops;
  if (data[0] & 1) {
    ops.push_back(examples::kv::encode_put("k", "v"));
    ops.push_back(examples::kv::encode_get("k"));
    ops.push_back(examples::kv::encode_cas("k", "v", "w"));
    ops.push_back(examples::kv::encode_del("a"));
    ops.push_back(Bytes(input.begin() + input.size() / 2, input.end()));
    check<examples::KvStore>(input, ops);
  } else {
    ops.push_back(examples::counter::encode_inc());
    ops.push_back(examples::counter::encode_add(0xfffffffffffffff0ull));
    ops.push_back(examples::counter::encode_get());
    ops.push_back(Bytes(input.begin() + input.size() / 2, input.end()));
    check<examples::Counter>(input, ops);
  }
  return 0;
}
