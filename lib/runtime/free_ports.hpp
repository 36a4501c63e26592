// runtime/free_ports.hpp — loopback TCP ports the kernel hands out now, for
// tools and tests that start local clusters. They stay free until somebody
// else binds them, so use them at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "synod/result.hpp"

namespace synod::runtime {

// `count` distinct ports on 127.0.0.1 (all held open until all are chosen).
Result<std::vector<std::uint16_t>> free_loopback_ports(std::size_t count);

}  // namespace synod::runtime
