// Shared by the libFuzzer targets: a trm::Error is the expected answer to bad input; anything
// else that escapes (another exception, a crash, a sanitizer report, a hang, an allocation past
// -rss_limit_mb) is a finding.
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "trm/error.h"

namespace trm::fuzz {

// Runs fn; a trm::Error is swallowed (the reader refused the input cleanly).
template <class F>
void refuse_ok(F&& fn) {
  try {
    fn();
  } catch (const Error&) {
  }
}

// For readers that take only a path: the input written to one file per process (in $TMPDIR, or
// /dev/shm when it exists, to keep it off the disk). Returns the path.
inline const std::string& input_file(const char* ext, const std::uint8_t* data, std::size_t size) {
  static const std::string path = [&] {
    const char* dir = std::getenv("TMPDIR");
    std::string d = dir && *dir ? dir : (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    return d + "/trm_fuzz_" + std::to_string(getpid()) + ext;
  }();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  if (std::fclose(f) != 0) std::abort();
  return path;
}

// A property that must hold for every accepted input; violating it is a finding.
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace trm::fuzz
