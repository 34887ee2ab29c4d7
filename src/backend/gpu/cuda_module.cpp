// Loading the CUDA backend module (libtrm_cuda.so) on first use. The CUDA runtime and cuBLAS are
// linked into that module only, so a trm built with CUDA starts as fast as one without (linking
// cuBLAS into the binary costs every invocation about 0.2 s to map its libraries) and runs on a
// machine without the CUDA libraries at all: `--backend cuda` then says the module cannot load.
#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "backend/gpu/gpu_backends.h"
#include "trm/error.h"

namespace trm::gpu {

#ifdef TRM_HAVE_CUDA
namespace {

using AvailableFn = int (*)(char*, int);
using CreateFn = Backend* (*)(char*, int);
using AbiFn = int (*)();

struct Module {
  void* handle = nullptr;
  AvailableFn available = nullptr;
  CreateFn create = nullptr;
  std::string error;  // why it could not be loaded
};

// Where this code itself lives (the trm binary, libtrm.so or the Python module).
std::filesystem::path own_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&own_dir), &info) && info.dli_fname)
    return std::filesystem::path(info.dli_fname).parent_path();
  return {};
}

std::vector<std::filesystem::path> candidates() {
  std::vector<std::filesystem::path> c;
  if (const char* env = std::getenv("TRM_CUDA_MODULE"); env && *env) c.emplace_back(env);
  const auto dir = own_dir();
  if (!dir.empty()) {
    c.push_back(dir / TRM_CUDA_MODULE_FILE);                               // build tree, installed lib/
    c.push_back(dir / TRM_CUDA_MODULE_BIN_TO_LIB / TRM_CUDA_MODULE_FILE);  // installed bin/trm
    c.push_back(dir.parent_path() / TRM_CUDA_MODULE_FILE);                 // build/python/trm*.so
  }
  c.emplace_back(TRM_CUDA_MODULE_INSTALLED);
  return c;
}

const Module& module() {
  static Module m;
  static std::once_flag once;
  std::call_once(once, [] {
    std::string tried;
    for (const auto& path : candidates()) {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) {
        tried += (tried.empty() ? "" : ", ") + path.string();
        continue;
      }
      void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h) {
        const char* e = dlerror();
        m.error = "cannot load " + path.string() + ": " + (e ? e : "unknown error") +
                  " (are the CUDA runtime and cuBLAS libraries installed?)";
        return;
      }
      auto abi = reinterpret_cast<AbiFn>(dlsym(h, "trm_cuda_module_abi"));
      if (!abi || abi() != kCudaModuleAbi) {
        m.error = path.string() + " is from another build of trm (interface mismatch)";
        dlclose(h);
        return;
      }
      m.available = reinterpret_cast<AvailableFn>(dlsym(h, "trm_cuda_module_available"));
      m.create = reinterpret_cast<CreateFn>(dlsym(h, "trm_cuda_module_create"));
      if (!m.available || !m.create) {
        m.error = path.string() + " lacks the trm_cuda_module_* entry points";
        dlclose(h);
        return;
      }
      m.handle = h;  // kept for the life of the process
      return;
    }
    m.error = "the CUDA backend module " + std::string(TRM_CUDA_MODULE_FILE) + " was not found (looked at " + tried +
              "; TRM_CUDA_MODULE names another place)";
  });
  return m;
}

}  // namespace

bool cuda_available(std::string* why) {
  const Module& m = module();
  if (!m.handle) {
    if (why) *why = m.error;
    return false;
  }
  char buf[512] = {0};
  const bool ok = m.available(buf, sizeof buf) != 0;
  if (!ok && why) *why = buf;
  return ok;
}

std::unique_ptr<Backend> make_cuda_backend() {
  const Module& m = module();
  if (!m.handle) throw Error("backend \"cuda\" is not available: " + m.error);
  char buf[512] = {0};
  Backend* b = m.create(buf, sizeof buf);
  if (!b) throw Error(std::string("backend \"cuda\": ") + buf);
  return std::unique_ptr<Backend>(b);
}

#else

bool cuda_available(std::string* why) {
  if (why) *why = "this build has no CUDA backend (nvcc was not found when it was configured; docs/GPU.md)";
  return false;
}
std::unique_ptr<Backend> make_cuda_backend() {
  std::string why;
  cuda_available(&why);
  throw Error("backend \"cuda\" is not available: " + why);
}

#endif

}  // namespace trm::gpu
