// The backend the tests compute on: one CPU backend per test process (it keeps no state
// between calls).
#pragma once
#include <cstdlib>
#include <memory>
#include <string>

#include "trm/backend/backend.h"

namespace trm::test_util {

// The backend the parity fixtures run on: TRM_TEST_BACKEND (e.g. cuda-sim, cuda), else cpu.
// ctest runs the parity suites once more on cuda-sim (tests/CMakeLists.txt); scripts/gpu-check.sh
// runs them on cuda.
inline std::string test_backend_name() {
  const char* e = std::getenv("TRM_TEST_BACKEND");
  return e && *e ? e : "cpu";
}

// The learning tests' backend (learning_util.h): TRM_TEST_BACKEND, else cpu.
inline Backend& test_backend() {
  static const std::unique_ptr<Backend> backend = make_backend(test_backend_name());
  return *backend;
}

inline Backend& cpu_backend() {
  static const std::unique_ptr<Backend> backend = make_backend("cpu");
  return *backend;
}

}  // namespace trm::test_util
