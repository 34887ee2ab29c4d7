// Construction of the GPU backends for the registry (src/backend/registry.cpp).
#pragma once
#include <memory>
#include <string>

#include "trm/backend/backend.h"

namespace trm::gpu {

// The simulated backend: always built (src/backend/gpu/sim_backend.cpp).
std::unique_ptr<Backend> make_cuda_sim_backend();

// The CUDA backend (src/backend/gpu/cuda_backend.cu), built as the module libtrm_cuda.so in builds
// with TRM_HAVE_CUDA and loaded on first use (cuda_module.cpp). Whether this machine can run it:
// the module loads and a device of compute capability >= 8.0 answers; *why says what is missing.
bool cuda_available(std::string* why);
std::unique_ptr<Backend> make_cuda_backend();  // trm::Error with the reason when it cannot

// The module's entry points (extern "C", cuda_backend.cu):
//   int trm_cuda_module_abi();                              kCudaModuleAbi of the build that made it
//   int trm_cuda_module_available(char* why, int cap);      1, or 0 and the reason
//   trm::Backend* trm_cuda_module_create(char* err, int cap);  null and the error on failure
// Bump kCudaModuleAbi whenever Backend's virtual functions change.
inline constexpr int kCudaModuleAbi = 2;  // 2: Backend::make_device_communicator

}  // namespace trm::gpu
