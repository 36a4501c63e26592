// synod/assert.hpp — invariant checks that stay on in every build type.
// A failed SYNOD_ASSERT is a bug in synod: it prints where and why and aborts.
// Never use it for untrusted input; reject that with an Error instead.
#pragma once

namespace synod::detail {
[[noreturn]] void assert_failed(const char* expr, const char* file, int line, const char* why);
}

#define SYNOD_ASSERT(cond, why)                                        \
  do {                                                                 \
    if (!(cond)) [[unlikely]]                                          \
      ::synod::detail::assert_failed(#cond, __FILE__, __LINE__, (why)); \
  } while (false)
