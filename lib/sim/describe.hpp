// sim/describe.hpp — one-line readable summaries of wire frames for the
// simulator's --trace, e.g. "PREPARE v=0 s=3 d=ab12cd34..". Total over any
// bytes (a Byzantine node's garbage is described, not trusted).
#pragma once

#include <string>

#include "synod/types.hpp"

namespace synod::sim {

std::string describe_principal(Principal p);  // "r2", "c5"
std::string describe_time(TimeUs us);         // "12.000250s", exact to the microsecond
std::string describe_frame(ByteView frame);

}  // namespace synod::sim
