#include "runtime/helper_pool.hpp"

namespace synod::runtime {

HelperPool::HelperPool(unsigned helpers) {
  threads_.reserve(helpers);
  for (unsigned i = 0; i < helpers; ++i) threads_.emplace_back([this] { helper_main(); });
}

HelperPool::~HelperPool() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void HelperPool::work() {
  while (!failed_.load(std::memory_order_relaxed)) {
    const std::size_t i = next_.fetch_add(1, std::memory_order_relaxed);
    if (i >= count_) return;
    if (!(*check_)(i)) failed_.store(true, std::memory_order_relaxed);
  }
}

void HelperPool::helper_main() {
  std::uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
    }
    work();
    const std::lock_guard lock(mutex_);
    if (--busy_ == 0) done_.notify_one();
  }
}

bool HelperPool::all_of(std::size_t count, const std::function<bool(std::size_t)>& check) {
  const std::lock_guard caller(caller_mutex_);
  if (threads_.empty() || count < 2) {
    for (std::size_t i = 0; i < count; ++i)
      if (!check(i)) return false;
    return true;
  }
  {
    const std::lock_guard lock(mutex_);
    check_ = &check;
    count_ = count;
    next_.store(0, std::memory_order_relaxed);
    failed_.store(false, std::memory_order_relaxed);
    busy_ = static_cast<unsigned>(threads_.size());
    ++generation_;
  }
  wake_.notify_all();
  work();
  // Every helper takes part in every job (it may find nothing left), so
  // check_ and count_ stay valid until the last one has let go of them.
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return busy_ == 0; });
  return !failed_.load(std::memory_order_relaxed);
}

}  // namespace synod::runtime
