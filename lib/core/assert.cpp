#include "synod/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace synod::detail {

void assert_failed(const char* expr, const char* file, int line, const char* why) {
  std::fprintf(stderr, "synod: invariant violated at %s:%d: %s (%s)\n", file, line, why, expr);
  std::fflush(stderr);
  std::abort();
}

}  // namespace synod::detail
