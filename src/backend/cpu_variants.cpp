// Picks the CPU backend of the best kernel level this CPU runs (include/trm/backend/cpu_info.h).
// The levels are the same source compiled with different -march flags (CMakeLists.txt,
// trm_cpu_kernel_level); each defines make_cpu_backend_variant() in its own inline namespace.
#include <cblas.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "trm/backend/backend.h"
#include "trm/backend/cpu_info.h"
#include "trm/error.h"

namespace trm {

namespace kernels::base {
std::unique_ptr<Backend> make_cpu_backend_variant();
}
#ifdef TRM_HAVE_KERNELS_X86_64_V3
namespace kernels::x86_64_v3 {
std::unique_ptr<Backend> make_cpu_backend_variant();
}
#endif
#ifdef TRM_HAVE_KERNELS_X86_64_V4
namespace kernels::x86_64_v4 {
std::unique_ptr<Backend> make_cpu_backend_variant();
}
#endif

namespace {

// __builtin_cpu_supports takes only string literals, hence a macro.
#define TRM_CPU_HAS(feature) __builtin_cpu_supports(feature)

struct Level {
  CpuKernelLevel info;
  std::unique_ptr<Backend> (*make)();
};

std::vector<Level> levels() {
  std::vector<Level> out;
  out.push_back({{"base", native_build() ? "compiled for the build machine (-march=native)" : "any x86-64 (SSE2)", true},
                 &kernels::base::make_cpu_backend_variant});
#ifdef TRM_HAVE_KERNELS_X86_64_V3
  out.push_back({{"x86_64_v3", "AVX2, FMA, BMI2 (x86-64-v3)", TRM_CPU_HAS("avx2") && TRM_CPU_HAS("fma") && TRM_CPU_HAS("bmi2")},
                 &kernels::x86_64_v3::make_cpu_backend_variant});
#endif
#ifdef TRM_HAVE_KERNELS_X86_64_V4
  out.push_back({{"x86_64_v4", "AVX-512 F/BW/CD/DQ/VL (x86-64-v4)",
                  TRM_CPU_HAS("avx2") && TRM_CPU_HAS("fma") && TRM_CPU_HAS("avx512f") && TRM_CPU_HAS("avx512bw") && TRM_CPU_HAS("avx512cd") && TRM_CPU_HAS("avx512dq") &&
                      TRM_CPU_HAS("avx512vl")},
                 &kernels::x86_64_v4::make_cpu_backend_variant});
#endif
  return out;
}

const Level& chosen() {
  static const std::vector<Level> all = levels();
  static const Level* pick = [] {
    const char* want = std::getenv("TRM_CPU_KERNELS");
    if (want && *want) {
      std::string names;
      for (const Level& l : all) {
        if (l.info.name == want) {
          if (!l.info.supported)
            throw Error(std::string("TRM_CPU_KERNELS=") + want + ": this CPU does not support it (" + l.info.description + ")");
          return &l;
        }
        names += (names.empty() ? "" : ", ") + l.info.name;
      }
      throw Error(std::string("TRM_CPU_KERNELS=") + want + ": not a kernel level of this build (" + names + ")");
    }
    const Level* best = &all.front();
    for (const Level& l : all)
      if (l.info.supported) best = &l;
    return best;
  }();
  return *pick;
}

}  // namespace

bool native_build() {
#ifdef TRM_NATIVE_BUILD
  return true;
#else
  return false;
#endif
}

std::vector<CpuKernelLevel> cpu_kernel_levels() {
  std::vector<CpuKernelLevel> out;
  for (const Level& l : levels()) out.push_back(l.info);
  return out;
}

std::string chosen_cpu_kernel_level() { return chosen().info.name; }

std::vector<std::string> cpu_features() {
  std::vector<std::string> out;
#if defined(__x86_64__) || defined(__i386__)
#define TRM_ADD_FEATURE(f) \
  if (TRM_CPU_HAS(f)) out.emplace_back(f)
  TRM_ADD_FEATURE("sse4.2");
  TRM_ADD_FEATURE("avx");
  TRM_ADD_FEATURE("avx2");
  TRM_ADD_FEATURE("fma");
  TRM_ADD_FEATURE("bmi2");
  TRM_ADD_FEATURE("avx512f");
  TRM_ADD_FEATURE("avx512bw");
  TRM_ADD_FEATURE("avx512vl");
  TRM_ADD_FEATURE("avx512vnni");
  TRM_ADD_FEATURE("avx512bf16");
#undef TRM_ADD_FEATURE
#endif
  return out;
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? "" : line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "";
}

std::unique_ptr<Backend> make_cpu_backend_at_level(const std::string& name) {
  std::string names;
  for (const Level& l : levels()) {
    if (l.info.name == name) {
      if (!l.info.supported) throw Error("CPU kernel level " + name + ": this CPU does not support it (" + l.info.description + ")");
      return l.make();
    }
    names += (names.empty() ? "" : ", ") + l.info.name;
  }
  throw Error("CPU kernel level " + name + " is not part of this build (" + names + ")");
}

std::string blas_description() {
  return std::string("OpenBLAS: ") + openblas_get_config() + "; core " + openblas_get_corename();
}

std::unique_ptr<Backend> make_cpu_backend() { return chosen().make(); }

}  // namespace trm
