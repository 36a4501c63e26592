#include "state_prefill.hpp"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "core/merkle_store.hpp"
#include "runtime/lmdb_storage.hpp"
#include "runtime/lmdb_store.hpp"
#include "synod/assert.hpp"

namespace synod::bench {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

std::string state_key(std::uint64_t i) { return "s" + std::to_string(i); }

std::string state_value(std::uint64_t i, bool updated) {
  // Distinct per key (its number first), then a filler that differs for an
  // update, so an updated entry always has another digest.
  std::string value = (updated ? "u" : "g") + std::to_string(i) + ":";
  value.resize(kStateValueBytes, updated ? 'U' : static_cast<char>('a' + i % 26));
  return value;
}

Result<PrefillResult> prefill_store(const std::filesystem::path& dir, std::size_t map_bytes, const Crypto& crypto,
                                    std::uint64_t state_bytes, std::size_t batch_keys) {
  SYNOD_ASSERT(batch_keys > 0, "a batch holds at least one key");
  const auto start = Clock::now();
  auto storage = runtime::LmdbStorage::open(dir, map_bytes, /*fsync=*/false);
  if (!storage) return std::unexpected(storage.error());
  PrefillResult result;
  {
    auto backend = storage->open_store();
    if (!backend) return std::unexpected(backend.error());
    {
      MerkleStore store(crypto, **backend);
      result.keys = state_bytes / kStateValueBytes;
      Bytes key;
      for (std::uint64_t i = 0; i < result.keys; ++i) {
        const std::string k = state_key(i);
        const std::string v = state_value(i);
        key.assign(1, MerkleStore::kAppNamespace);
        key.insert(key.end(), k.begin(), k.end());
        if (auto ok = store.put(ByteView(key.data(), key.size()),
                                ByteView(reinterpret_cast<const std::uint8_t*>(v.data()), v.size()));
            !ok) {
          return std::unexpected(ok.error());
        }
        if ((i + 1) % batch_keys == 0 || i + 1 == result.keys) {
          store.root();  // folds the batch into the leaves (set_leaf: pending writes too)
          if (auto ok = storage->apply({}, backend->get()); !ok) return std::unexpected(ok.error());
        }
      }
      result.root = store.root();
      SYNOD_ASSERT(!(*backend)->has_pending() || result.keys == 0, "every batch was committed");
      if (auto ok = storage->apply({}, backend->get()); !ok) return std::unexpected(ok.error());
    }
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

Result<double> loopback_bandwidth_mb_per_s(std::size_t total_bytes, std::size_t frame_bytes) {
  SYNOD_ASSERT(frame_bytes > 0 && total_bytes >= frame_bytes, "at least one frame");
  const std::size_t frames = total_bytes / frame_bytes;
  zmq::context_t pull_context(1);
  zmq::context_t push_context(1);
  zmq::socket_t pull(pull_context, zmq::socket_type::pull);
  pull.set(zmq::sockopt::linger, 0);
  pull.set(zmq::sockopt::rcvtimeo, 5000);
  pull.bind("tcp://127.0.0.1:*");
  const std::string endpoint = pull.get(zmq::sockopt::last_endpoint);
  zmq::socket_t push(push_context, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 0);
  push.set(zmq::sockopt::sndhwm, 16);
  push.connect(endpoint);
  std::size_t received = 0;
  bool lost = false;
  Clock::time_point first{}, last{};
  std::thread receiver([&] {
    for (std::size_t i = 0; i < frames; ++i) {
      zmq::message_t message;
      if (!pull.recv(message)) {
        lost = true;
        return;
      }
      if (i == 0) first = Clock::now();
      received += message.size();
    }
    last = Clock::now();
  });
  const std::vector<std::uint8_t> frame(frame_bytes, 0x5a);
  const auto start = Clock::now();
  for (std::size_t i = 0; i < frames; ++i) push.send(zmq::buffer(frame), zmq::send_flags::none);
  receiver.join();
  if (lost) return fail(ErrorCode::io, "the loopback bandwidth probe lost frames (no frame in 5 s)");
  (void)first;
  const double seconds = std::chrono::duration<double>(last - start).count();
  return seconds > 0 ? static_cast<double>(received) / seconds / 1e6 : 0.0;
}

}  // namespace synod::bench
