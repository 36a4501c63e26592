// runtime/clock.hpp — the two clocks synod reads outside its pure cores.
#pragma once

#include <chrono>

#include "synod/types.hpp"

namespace synod::runtime {

// Monotonic microseconds (std::chrono::steady_clock): the time every core
// and client session input gets.
inline TimeUs monotonic_now_us() {
  return static_cast<TimeUs>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// Microseconds since the Unix epoch: a client's first request number, so a
// restarted client continues above the numbers it used before.
inline RequestNo wall_clock_us() {
  return static_cast<RequestNo>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

}  // namespace synod::runtime
