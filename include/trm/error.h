// The two exception types of trm. Kept apart from config.h so that code that only reports errors
// (data, io, cli) does not depend on the model's configuration.
#pragma once
#include <stdexcept>
#include <string>

namespace trm {

// Thrown for anything a user can get wrong (configs, files, shapes); the message names the
// culprit. Never used for internal invariants.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A model, batch or run that does not fit in the memory available (include/trm/model/memory.h):
// a user error like any other, told apart so that callers (the C API, a server) can report it as
// "out of memory" with the sizes the message gives.
struct OutOfMemory : Error {
  using Error::Error;
};

// Thrown when an internal invariant fails: a bug in trm, not in the user's input. A separate type
// so that the CLI reports it differently and no handler for trm::Error swallows it.
struct InternalError : std::logic_error {
  using std::logic_error::logic_error;
};

namespace detail {
[[noreturn]] inline void assert_fail(const char* cond, const std::string& msg, const char* file, int line) {
  throw InternalError(std::string(file) + ":" + std::to_string(line) + ": assertion `" + cond + "` failed: " + msg);
}
}  // namespace detail

}  // namespace trm

// Checks an internal invariant in every build type (unlike assert, which NDEBUG removes from the
// release builds that users run); throws trm::InternalError naming file:line.
#define TRM_ASSERT(cond, msg)                                            \
  do {                                                                   \
    if (!(cond)) ::trm::detail::assert_fail(#cond, (msg), __FILE__, __LINE__); \
  } while (false)
