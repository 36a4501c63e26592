// runtime/helper_pool.hpp — a fixed set of helper threads that, with the
// calling thread, test a predicate over 0..count-1 in parallel (the
// signatures of a pre-prepare's batch: OpenSslCrypto::verify_all).
//
// all_of(count, check) is true iff check(i) holds for every i. Each index is
// claimed by exactly one thread; after a failure the remaining indices are
// skipped. The caller works too, so 0 helpers (or fewer than 2 indices)
// means checking in order on the caller's thread. Otherwise every helper is
// woken for the job and the caller returns once each has had its turn, even
// one that woke after the caller claimed the last index: the job's state
// outlives every use of it, at the price of a wake-up per helper and job,
// small beside a signature check. One all_of runs at a time (later callers
// wait). check must be safe to call from several threads at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace synod::runtime {

class HelperPool {
 public:
  explicit HelperPool(unsigned helpers);
  ~HelperPool();
  HelperPool(const HelperPool&) = delete;
  HelperPool& operator=(const HelperPool&) = delete;

  bool all_of(std::size_t count, const std::function<bool(std::size_t)>& check);
  unsigned helpers() const { return static_cast<unsigned>(threads_.size()); }

 private:
  void helper_main();
  void work();  // claims indices of the current job until none is left

  std::mutex caller_mutex_;  // one all_of at a time
  std::mutex mutex_;         // guards everything below but the atomics
  std::condition_variable wake_;
  std::condition_variable done_;
  std::uint64_t generation_ = 0;  // bumped per job: a helper takes each job once
  unsigned busy_ = 0;             // helpers still on the current job
  bool stopping_ = false;
  const std::function<bool(std::size_t)>* check_ = nullptr;
  std::size_t count_ = 0;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> failed_{false};
  std::vector<std::thread> threads_;
};

}  // namespace synod::runtime
