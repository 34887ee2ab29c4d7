// The backend registry: which backends trm knows, which this build and machine can run, and
// construction by name. A new backend adds one entry here (and its CMake target, see
// docs/ARCHITECTURE.md "Adding a backend").
#include <algorithm>
#include <utility>

#include "backend/gpu/gpu_backends.h"
#include "trm/backend/backend.h"
#include "trm/error.h"

namespace trm {

namespace {

// Every backend's name and description, without asking the machine anything.
struct Known {
  const char* name;
  const char* description;
};
constexpr Known kKnown[] = {
    {"cpu", "OpenMP loops and OpenBLAS on this machine's CPU"},
    {"cuda", "NVIDIA GPUs through CUDA and cuBLAS (docs/GPU.md)"},
    // The CUDA backend's code on the host, with device-memory rules (src/backend/gpu/sim_backend.cpp).
    {"cuda-sim", "the CUDA backend's kernels run on the host (slow; checks GPU code paths without a GPU)"},
};

// Whether it runs here. For cuda that loads the module and asks the driver: done once, and only
// when a caller needs to know (a command that names cuda, `trm info --system`, the tests).
BackendInfo probe(const Known& k) {
  BackendInfo info{k.name, k.description, true, ""};
  if (info.name == "cuda") {
    static const std::pair<bool, std::string> cuda = [] {
      std::string why;
      const bool ok = gpu::cuda_available(&why);
      return std::make_pair(ok, why);
    }();
    info.available = cuda.first;
    info.reason = cuda.second;
  }
  return info;
}

std::unique_ptr<Backend> construct(const std::string& name) {
  if (name == "cpu") return make_cpu_backend();
  if (name == "cuda") return gpu::make_cuda_backend();
  if (name == "cuda-sim") return gpu::make_cuda_sim_backend();
  TRM_ASSERT(false, "registry entry \"" + name + "\" has no constructor");
  return nullptr;
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

std::vector<std::string> backend_names() {
  std::vector<std::string> out;
  for (const Known& k : kKnown) out.emplace_back(k.name);
  return out;
}

std::vector<BackendInfo> known_backends() {
  std::vector<BackendInfo> out;
  for (const Known& k : kKnown) out.push_back(probe(k));
  return out;
}

std::vector<std::string> available_backends() {
  std::vector<std::string> out;
  for (const Known& k : kKnown)
    if (probe(k).available) out.emplace_back(k.name);
  return out;
}

std::unique_ptr<Backend> make_backend(const std::string& name) {
  for (const Known& k : kKnown) {
    if (name != k.name) continue;
    const BackendInfo info = probe(k);
    if (!info.available)
      throw Error("backend \"" + name + "\" is not available: " + info.reason + " (available: " +
                  join(available_backends()) + ")");
    std::unique_ptr<Backend> backend = construct(name);
    TRM_ASSERT(backend && backend->name() == name, "registry entry \"" + name + "\" built another backend");
    return backend;
  }
  throw Error("unknown backend \"" + name + "\" (available: " + join(available_backends()) + ")");
}

}  // namespace trm
