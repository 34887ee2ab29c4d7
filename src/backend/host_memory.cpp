#include "backend/host_memory.h"

#include <fstream>
#include <limits>
#include <sstream>
#include <string>

namespace trm {

namespace {

// The value of a "Key:   123 kB" line of /proc/meminfo in bytes, or -1.
std::int64_t meminfo_bytes(const std::string& key) {
  std::ifstream f("/proc/meminfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.compare(0, key.size() + 1, key + ":") != 0) continue;
    std::istringstream in(line.substr(key.size() + 1));
    std::int64_t kib = -1;
    if (in >> kib) return kib * 1024;
  }
  return -1;
}

// A cgroup v2 file holding one number ("max" means none), or -1.
std::int64_t cgroup_value(const char* path) {
  std::ifstream f(path);
  std::string v;
  if (!(f >> v) || v == "max") return -1;
  try {
    return std::stoll(v);
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

std::int64_t host_memory_available() {
  std::int64_t avail = meminfo_bytes("MemAvailable");
  if (avail < 0) avail = std::numeric_limits<std::int64_t>::max();
  const std::int64_t limit = cgroup_value("/sys/fs/cgroup/memory.max");
  const std::int64_t used = cgroup_value("/sys/fs/cgroup/memory.current");
  if (limit >= 0 && used >= 0) avail = std::min(avail, std::max<std::int64_t>(0, limit - used));
  return avail;
}

}  // namespace trm
