// The backend registry: which backends trm knows, which this build and machine can run, and
// construction by name. A new backend adds one entry here (and its CMake target, see
// docs/ARCHITECTURE.md "Adding a backend").
#include <algorithm>

#include "trm/backend/backend.h"
#include "trm/error.h"

namespace trm {

namespace {

struct Entry {
  BackendInfo info;
  std::unique_ptr<Backend> (*make)();  // null when this build has no such backend
};

std::vector<Entry> entries() {
  std::vector<Entry> e;
  e.push_back({{"cpu", "OpenMP loops and OpenBLAS on this machine's CPU", true, ""}, &make_cpu_backend});
  // The CUDA backend is not part of this build (configure with TRM_CUDA once its sources exist).
  e.push_back({{"cuda", "NVIDIA GPUs through CUDA and cuBLAS", false, "this build has no CUDA backend"}, nullptr});
  return e;
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

std::vector<BackendInfo> known_backends() {
  std::vector<BackendInfo> out;
  for (auto& e : entries()) out.push_back(e.info);
  return out;
}

std::vector<std::string> available_backends() {
  std::vector<std::string> out;
  for (auto& e : entries())
    if (e.info.available) out.push_back(e.info.name);
  return out;
}

std::unique_ptr<Backend> make_backend(const std::string& name) {
  for (auto& e : entries()) {
    if (e.info.name != name) continue;
    if (!e.info.available || !e.make)
      throw Error("backend \"" + name + "\" is not available: " + e.info.reason + " (available: " +
                  join(available_backends()) + ")");
    std::unique_ptr<Backend> backend = e.make();
    TRM_ASSERT(backend && backend->name() == name, "registry entry \"" + name + "\" built another backend");
    return backend;
  }
  throw Error("unknown backend \"" + name + "\" (available: " + join(available_backends()) + ")");
}

}  // namespace trm
