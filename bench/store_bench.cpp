// synod-store-bench — what a batch's store writes cost a replica at a given
// state size, without a cluster: the MerkleStore over LMDB (the runtime's
// StoreBackend) in one process, one thread.
//
// It fills a fresh data dir with the same genesis state as
// `synod-bench --state-bytes` (bench/state_prefill.hpp), reopens it (timing
// what a restart spends rebuilding the tree from the stored leaves), then
// commits batches as a store-backed replica does: K puts, fold_leaves, one
// LmdbStorage::apply; and every --checkpoint-interval batches a checkpoint:
// pin (which folds the tree to its root), releasing the pin before the
// previous one. Two key patterns:
//  * hot:    the same K keys every batch (what synod-bench's closed loops
//            write: a few keys, over and over);
//  * random: K genesis keys drawn at random each batch (updates spread over
//            the whole state: the most pages per put).
// It prints the mean wall time per batch and per put, split into
// execute (puts + fold_leaves, and the checkpoints' pins) and commit
// (apply), the longest batch, and the data file's size.
// Numbers, not assertions: BENCHMARKS.md says how to compare.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <type_traits>

#include <CLI/CLI.hpp>

#include "core/merkle_store.hpp"
#include "runtime/lmdb_storage.hpp"
#include "runtime/lmdb_store.hpp"
#include "runtime/openssl_crypto.hpp"
#include "state_prefill.hpp"
#include "synod/crypto/private_key.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "synod-store-bench: %s\n", message.c_str());
  std::exit(1);
}

// The value of a synod::Result or synod::crypto::Result, or a message and exit.
template <class R>
auto check(R r, const char* what) {
  if (!r) fail(std::string(what) + ": " + r.error().message);
  if constexpr (!std::is_void_v<typename R::value_type>) return std::move(*r);
}

std::uint64_t parse_state_bytes(const std::string& text) {
  std::size_t used = 0;
  std::uint64_t value = 0;
  try {
    value = std::stoull(text, &used);
  } catch (const std::exception&) {
    fail("bad --state-bytes '" + text + "' (e.g. 0, 64M, 1G)");
  }
  const std::string suffix = text.substr(used);
  if (suffix == "K") value <<= 10;
  else if (suffix == "M") value <<= 20;
  else if (suffix == "G") value <<= 30;
  else if (!suffix.empty()) fail("bad --state-bytes '" + text + "' (e.g. 0, 64M, 1G)");
  if (value > (std::uint64_t{64} << 30)) fail("--state-bytes is over 64G");
  return value;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

synod::ByteView view(const std::string& s) {
  return synod::ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"synod-store-bench: the cost of a batch's store writes (MerkleStore over LMDB) at a state size"};
  std::string state_text = "0";
  std::string dir_text;
  std::string pattern = "hot";
  std::size_t keys_per_batch = 32;
  std::size_t batches = 2000;
  std::size_t value_bytes = 16;
  std::size_t checkpoint_interval = 128;
  bool keep = false;
  cli.add_option("--state-bytes", state_text, "the genesis state's size (1 KiB values), e.g. 0, 64M, 1G")
      ->capture_default_str();
  cli.add_option("--dir", dir_text, "the data dir to create (must not exist; default: a fresh one under /tmp)");
  cli.add_option("--pattern", pattern, "hot: the same keys every batch; random: genesis keys drawn at random")
      ->check(CLI::IsMember({"hot", "random"}))
      ->capture_default_str();
  cli.add_option("--keys-per-batch", keys_per_batch, "puts per batch")->check(CLI::Range(1, 100000))->capture_default_str();
  cli.add_option("--batches", batches, "batches measured (after 10% as many to warm up)")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  cli.add_option("--value-bytes", value_bytes, "bytes per value written (hot pattern; random writes 1 KiB)")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  cli.add_option("--checkpoint-interval", checkpoint_interval, "batches between checkpoints (pins), as a replica's")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cli.add_flag("--keep", keep, "keep the data dir");
  CLI11_PARSE(cli, argc, argv);

  const std::uint64_t state_bytes = parse_state_bytes(state_text);
  const fs::path dir = dir_text.empty() ? fs::temp_directory_path() / ("synod-store-bench-" + std::to_string(::getpid()))
                                        : fs::path(dir_text);
  if (fs::exists(dir)) fail(dir.string() + " exists");
  const std::size_t map_bytes = std::max<std::size_t>(synod::runtime::kDefaultMapBytes, 3 * state_bytes + (256u << 20));

  auto key = check(synod::crypto::PrivateKey::generate(), "key");
  auto crypto = check(synod::runtime::OpenSslCrypto::create(std::move(key), {}, {}), "crypto");

  const auto fill = check(synod::bench::prefill_store(dir, map_bytes, *crypto, state_bytes), "genesis fill");
  std::printf("genesis: %llu keys in %.1f s (%.1f MB/s)\n", static_cast<unsigned long long>(fill.keys), fill.seconds,
              fill.seconds > 0 ? static_cast<double>(state_bytes) / 1e6 / fill.seconds : 0.0);

  {
    auto storage = check(synod::runtime::LmdbStorage::open(dir, map_bytes, /*fsync=*/false), "open");
    auto backend = check(storage.open_store(), "open_store");
    const auto reopen = Clock::now();
    synod::MerkleStore store(*crypto, *backend);
    const double rebuild = seconds_since(reopen);
    if (store.root() != fill.root) fail("the reopened store has another root");
    std::printf("reopen: tree rebuilt from the stored leaves in %.3f s\n", rebuild);

    std::mt19937_64 random(42);
    std::uniform_int_distribution<std::uint64_t> pick(0, fill.keys > 0 ? fill.keys - 1 : 0);
    if (pattern == "random" && fill.keys == 0) fail("--pattern random needs --state-bytes > 0");
    const std::string hot_value(value_bytes, 'v');
    synod::Bytes k;
    double execute = 0;
    double commit = 0;
    double longest = 0;  // one batch's execute + commit
    const std::size_t warmup = std::max<std::size_t>(1, batches / 10);
    for (std::size_t i = 0; i < warmup + batches; ++i) {
      const auto t0 = Clock::now();
      for (std::size_t j = 0; j < keys_per_batch; ++j) {
        std::string name;
        std::string value;
        if (pattern == "hot") {
          name = "b" + std::to_string(j);
          value = hot_value;
          value.append(std::to_string(i));
        } else {
          const std::uint64_t n = pick(random);
          name = synod::bench::state_key(n);
          value = synod::bench::state_value(n, i % 2 == 0);
        }
        k.assign(1, synod::MerkleStore::kAppNamespace);
        k.insert(k.end(), name.begin(), name.end());
        check(store.put(synod::ByteView(k.data(), k.size()), view(value)), "put");
      }
      store.fold_leaves();
      if ((i + 1) % checkpoint_interval == 0) {
        const synod::Seq seq = i + 1;
        store.pin(seq);
        if (seq > checkpoint_interval) store.release_below(seq - checkpoint_interval);
      }
      const auto t1 = Clock::now();
      check(storage.apply({}, backend.get()), "apply");
      const auto t2 = Clock::now();
      if (i >= warmup) {
        execute += std::chrono::duration<double>(t1 - t0).count();
        commit += std::chrono::duration<double>(t2 - t1).count();
        longest = std::max(longest, std::chrono::duration<double>(t2 - t0).count());
      }
    }
    const double per_batch = 1e6 / static_cast<double>(batches);
    std::printf("%s, %zu puts per batch, %zu batches: execute %.1f us + commit %.1f us = %.1f us per batch (%.2f us "
                "per put)\n",
                pattern.c_str(), keys_per_batch, batches, execute * per_batch, commit * per_batch,
                (execute + commit) * per_batch, (execute + commit) * per_batch / static_cast<double>(keys_per_batch));
    std::printf("longest batch (with a checkpoint's pin): %.1f us\n", longest * 1e6);
  }
  std::error_code ec;
  std::printf("data file: %.1f MiB\n", static_cast<double>(fs::file_size(dir / "data.mdb", ec)) / (1 << 20));
  if (!keep) fs::remove_all(dir, ec);
  return 0;
}
