#include "io/output_path.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "trm/error.h"

namespace trm::data {

namespace fs = std::filesystem;

void prepare_output_dir(const std::string& dir) {
  if (dir.empty()) throw Error("the output directory is an empty path");
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  if (fs::exists(st)) {
    if (!fs::is_directory(st)) throw Error(dir + ": cannot be used as an output directory (it exists and is not a directory)");
  } else {
    fs::create_directories(dir, ec);
    if (ec) throw Error(dir + ": cannot create the output directory (" + ec.message() + ")");
  }
  // Permission bits do not say everything (a read-only mount, root on a root-squashed share, an
  // ACL): creating a file is the test that counts.
  const std::string probe = (fs::path(dir) / (".trm-write-probe-" + std::to_string(::getpid()))).string();
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw Error(dir + ": cannot write in the output directory (" + std::strerror(errno) + ")");
  ::close(fd);
  ::unlink(probe.c_str());
}

void check_output_file(const std::string& path) {
  if (path.empty()) throw Error("the output file is an empty path");
  const fs::path p(path);
  std::error_code ec;
  if (fs::is_directory(p, ec)) throw Error(path + ": cannot be written (it is a directory)");
  const fs::path parent = p.has_parent_path() ? p.parent_path() : fs::path(".");
  try {
    prepare_output_dir(parent.string());
  } catch (const Error& e) {
    throw Error(path + ": cannot be written: " + e.what());
  }
}

std::vector<std::string> directory_entries(const std::string& dir, const std::vector<std::string>& ignore) {
  std::vector<std::string> names;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return names;
  fs::directory_iterator it(dir, ec);
  if (ec) throw Error(dir + ": cannot list the directory (" + ec.message() + ")");
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (std::find(ignore.begin(), ignore.end(), name) == ignore.end()) names.push_back(name);
  }
  if (ec) throw Error(dir + ": cannot list the directory (" + ec.message() + ")");
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace trm::data
