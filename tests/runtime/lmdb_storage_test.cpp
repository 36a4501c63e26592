#include "runtime/lmdb_storage.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <vector>

#include "temp_dir.hpp"

namespace synod::runtime {
namespace {

using test::TempDir;

PersistOp put(std::string key, std::string value) { return PersistOp{std::move(key), to_bytes(value)}; }
PersistOp del(std::string key) { return PersistOp{std::move(key), std::nullopt}; }

TEST_CASE("a fresh store loads empty") {
  TempDir dir;
  auto storage = LmdbStorage::open(dir.path() / "data");
  REQUIRE_MESSAGE(storage, storage.error().message);
  auto state = storage->load();
  REQUIRE(state);
  CHECK(state->empty());
}

TEST_CASE("writes survive closing and reopening") {
  TempDir dir;
  {
    auto storage = LmdbStorage::open(dir.path());
    REQUIRE(storage);
    const std::vector<PersistOp> ops{put("view", "7"), put("log/1", "batch one"), put("log/2", "batch two")};
    REQUIRE(storage->apply(ops));
  }
  auto storage = LmdbStorage::open(dir.path());
  REQUIRE(storage);
  auto state = storage->load();
  REQUIRE(state);
  CHECK(state->size() == 3);
  CHECK(to_string(as_view(state->at("log/2"))) == "batch two");
  CHECK(to_string(as_view(state->at("view"))) == "7");
}

TEST_CASE("without fsync, what a commit stored survives the process being killed right after it") {
  TempDir dir;
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child commits and dies by SIGKILL: no close, no flush, no exit handlers.
    auto storage = LmdbStorage::open(dir.path(), kDefaultMapBytes, /*fsync=*/false);
    if (!storage) ::_exit(2);
    const std::vector<PersistOp> ops{put("view", "9"), put("log/1", "batch")};
    if (!storage->apply(ops)) ::_exit(3);
    ::raise(SIGKILL);
    ::_exit(4);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  auto storage = LmdbStorage::open(dir.path(), kDefaultMapBytes, /*fsync=*/false);
  REQUIRE_MESSAGE(storage, storage.error().message);
  auto state = storage->load();
  REQUIRE(state);
  CHECK(state->size() == 2);
  CHECK(to_string(as_view(state->at("view"))) == "9");
}

TEST_CASE("ops in one apply are applied in order: a later put or delete wins") {
  TempDir dir;
  auto storage = LmdbStorage::open(dir.path());
  REQUIRE(storage);
  const std::vector<PersistOp> ops{put("a", "1"), put("a", "2"), put("b", "x"), del("b"), del("never-there")};
  REQUIRE(storage->apply(ops));
  auto state = storage->load();
  REQUIRE(state);
  CHECK(state->size() == 1);
  CHECK(to_string(as_view(state->at("a"))) == "2");
}

TEST_CASE("a delete removes a key stored by an earlier transaction") {
  TempDir dir;
  auto storage = LmdbStorage::open(dir.path());
  REQUIRE(storage);
  const std::vector<PersistOp> first{put("k", "v"), put("keep", "v")};
  REQUIRE(storage->apply(first));
  const std::vector<PersistOp> second{del("k")};
  REQUIRE(storage->apply(second));
  auto state = storage->load();
  REQUIRE(state);
  CHECK(state->count("k") == 0);
  CHECK(state->count("keep") == 1);
}

TEST_CASE("a value larger than the map is a clear 'map full' error and stores nothing of its transaction") {
  TempDir dir;
  auto storage = LmdbStorage::open(dir.path(), 1u << 20);  // 1 MiB map
  REQUIRE(storage);
  const std::vector<PersistOp> ops{put("small", "ok"), PersistOp{"huge", Bytes(4u << 20, 0xab)}};
  auto r = storage->apply(ops);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("map full") != std::string::npos);
  auto state = storage->load();
  REQUIRE(state);
  CHECK(state->count("small") == 0);
  // The store still works after the failed transaction.
  const std::vector<PersistOp> after{put("small", "ok")};
  CHECK(storage->apply(after));
}

TEST_CASE("a data dir open in one LmdbStorage cannot be opened again until closed") {
  TempDir dir;
  {
    auto first = LmdbStorage::open(dir.path());
    REQUIRE(first);
    auto second = LmdbStorage::open(dir.path());
    REQUIRE_FALSE(second);
    CHECK(second.error().message.find("in use") != std::string::npos);
  }
  CHECK(LmdbStorage::open(dir.path()));
}

TEST_CASE("an empty key is rejected, not stored") {
  TempDir dir;
  auto storage = LmdbStorage::open(dir.path());
  REQUIRE(storage);
  const std::vector<PersistOp> ops{put("", "v")};
  CHECK_FALSE(storage->apply(ops));
}

}  // namespace
}  // namespace synod::runtime
