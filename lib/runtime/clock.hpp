// runtime/clock.hpp — the two clocks synod reads outside its pure cores.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>

#include "synod/types.hpp"

namespace synod::runtime {

// Monotonic microseconds (std::chrono::steady_clock): the time every core
// and client session input gets.
inline TimeUs monotonic_now_us() {
  return static_cast<TimeUs>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// CPU time the calling thread has used, in microseconds (CLOCK_THREAD_CPUTIME_ID):
// how much of a pause was work, and how much was waiting for a core.
inline std::uint64_t thread_cpu_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1'000;
}

// Microseconds since the Unix epoch: a client's first request number, so a
// restarted client continues above the numbers it used before.
inline RequestNo wall_clock_us() {
  return static_cast<RequestNo>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

}  // namespace synod::runtime
