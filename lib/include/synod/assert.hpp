// synod/assert.hpp — invariant checks that stay on in every build type.
// A failed SYNOD_ASSERT is a bug in synod: by default it prints where and why
// and aborts. The simulator installs a handler that throws instead, so that a
// broken invariant becomes a reported, replayable failure of one seed.
// Never use it for untrusted input; reject that with an Error instead.
#pragma once

namespace synod {

// Called on a failed assertion; must not return (abort or throw).
using AssertHandler = void (*)(const char* expr, const char* file, int line, const char* why);
// Installs a handler for the whole process; nullptr restores the default.
void set_assert_handler(AssertHandler handler);

namespace detail {
[[noreturn]] void assert_failed(const char* expr, const char* file, int line, const char* why);
}

}  // namespace synod

#define SYNOD_ASSERT(cond, why)                                         \
  do {                                                                  \
    if (!(cond)) [[unlikely]]                                           \
      ::synod::detail::assert_failed(#cond, __FILE__, __LINE__, (why)); \
  } while (false)
