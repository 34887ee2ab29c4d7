// What the CPU backend found on this machine and which compiled kernel level it runs
// (`trm info --system`, docs/LIBRARY.md "Portable builds").
//
// A portable build (TRM_NATIVE=OFF, the default) compiles the CPU kernels once per x86 level --
// base (x86-64), x86_64_v3 (AVX2 + FMA) and x86_64_v4 (AVX-512) -- and make_cpu_backend() picks
// the best level the CPU supports; the GEMMs go to OpenBLAS and oneDNN, which choose their own
// code at run time. A native build (TRM_NATIVE=ON) compiles one level for the build machine.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace trm {

class Backend;

struct CpuKernelLevel {
  std::string name;         // "base", "x86_64_v3", "x86_64_v4"
  std::string description;  // what the level requires
  bool supported = false;   // this CPU runs it
};

// The levels this build compiled, lowest first.
std::vector<CpuKernelLevel> cpu_kernel_levels();
// The level make_cpu_backend() uses: the environment variable TRM_CPU_KERNELS when set (a
// compiled level this CPU supports; anything else is a trm::Error naming the choices), else the
// highest supported one.
std::string chosen_cpu_kernel_level();
// A CPU backend at a given compiled level (tests compare the levels); trm::Error for a level this
// build lacks or this CPU cannot run.
std::unique_ptr<Backend> make_cpu_backend_at_level(const std::string& name);
// Instruction-set features of this CPU that matter to trm ("avx2", "fma", "avx512f",
// "avx512_bf16", "avx512_vnni", ...), as the CPU reports them.
std::vector<std::string> cpu_features();
// The CPU's model name ("AMD EPYC 9R14 ..."), or "" when unknown.
std::string cpu_model_name();
// The BLAS library and the code it picked for this CPU ("OpenBLAS 0.3.21 DYNAMIC_ARCH ..., core Zen").
std::string blas_description();
// True when this binary was compiled for the build machine only (TRM_NATIVE=ON).
bool native_build();

}  // namespace trm
