#include "synod/assert.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace synod {

namespace {
std::atomic<AssertHandler> g_handler{nullptr};
}

void set_assert_handler(AssertHandler handler) { g_handler.store(handler); }

namespace detail {

void assert_failed(const char* expr, const char* file, int line, const char* why) {
  if (AssertHandler handler = g_handler.load()) handler(expr, file, line, why);
  std::fprintf(stderr, "synod: invariant violated at %s:%d: %s (%s)\n", file, line, why, expr);
  std::fflush(stderr);
  std::abort();
}

}  // namespace detail
}  // namespace synod
