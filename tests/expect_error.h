// The tests' check for bad input: the call must throw trm::Error, and its message must name what
// went wrong (every needle appears in it: a file path, a key, a value).
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "trm/model/config.h"

namespace trm::test_util {

template <class F>
void expect_error(F&& fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "no trm::Error thrown; expected one mentioning " << (needles.empty() ? "" : needles.front());
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "message: " << msg << "\nmissing: " << n;
  }
}

// What calling f throws, as text: its message for a trm::Error, "not a trm::Error: ..." for any
// other exception, "no error" when it returns; for tests that compare or print the outcome.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not a trm::Error: ") + e.what();
  }
  return "no error";
}

}  // namespace trm::test_util
