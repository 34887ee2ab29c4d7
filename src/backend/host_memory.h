// How much host memory a process can still allocate (the CPU backend's memory_available()).
#pragma once
#include <cstdint>

namespace trm {

// MemAvailable from /proc/meminfo, lowered to the room left under a cgroup v2 memory.max (a
// container's limit) when there is one; INT64_MAX when neither can be read (not Linux).
std::int64_t host_memory_available();

}  // namespace trm
