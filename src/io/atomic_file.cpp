#include "io/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "trm/error.h"

namespace trm::data {

void write_bytes(std::FILE* f, const void* data, std::size_t n, const std::string& path) {
  if (n > 0 && std::fwrite(data, 1, n, f) != n)
    throw Error(path + ": write failed (" + std::strerror(errno) + ")");
}

std::string atomic_temp_path(const std::string& path) { return path + ".tmp"; }

bool remove_stale_temp(const std::string& path) {
  const std::string tmp = atomic_temp_path(path);
  std::error_code ec;
  const auto st = std::filesystem::symlink_status(tmp, ec);
  if (!std::filesystem::is_regular_file(st)) return false;  // absent (or not ours to remove)
  if (!std::filesystem::remove(tmp, ec) || ec)
    throw Error(tmp + ": cannot remove this temporary file of an interrupted save (" + ec.message() + ")");
  return true;
}

void write_file_atomically(const std::string& path, const std::function<void(std::FILE*)>& body) {
  const std::string tmp = atomic_temp_path(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) throw Error(path + ": cannot open " + tmp + " for writing (" + std::strerror(errno) + ")");
  try {
    body(f);
    // Without the fsync the rename can reach the disk before the data does, and a crash then
    // leaves an empty or partial file under the final name (checkpoints must survive kill -9).
    if (std::fflush(f) != 0 || ::fsync(fileno(f)) != 0)
      throw Error(path + ": write failed on flush (" + std::strerror(errno) + ")");
  } catch (...) {
    std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
  if (std::fclose(f) != 0) {
    std::remove(tmp.c_str());
    throw Error(path + ": write failed on close (" + std::strerror(errno) + ")");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot rename " + tmp + " into place (" + ec.message() + ")");
  }
}

void write_text_file(const std::string& path, std::string_view text) {
  write_file_atomically(path, [&](std::FILE* f) { write_bytes(f, text.data(), text.size(), path); });
}

}  // namespace trm::data
