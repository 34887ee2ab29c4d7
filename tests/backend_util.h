// The backend the tests compute on: one CPU backend per test process (it keeps no state
// between calls).
#pragma once
#include <memory>

#include "trm/backend/backend.h"

namespace trm::test_util {

inline Backend& cpu_backend() {
  static const std::unique_ptr<Backend> backend = make_backend("cpu");
  return *backend;
}

}  // namespace trm::test_util
