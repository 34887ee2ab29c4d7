#include "io/text_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "trm/error.h"

namespace trm::io {

std::string read_fd_text(int fd, const std::string& name, std::size_t max_bytes) {
  std::string out;
  char buf[1 << 16];
  while (true) {
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      const int err = errno;
      throw Error(name + ": read error (" + std::strerror(err) + (err == EISDIR ? "; it is a directory" : "") + ")");
    }
    if (r == 0) break;
    if (out.size() + static_cast<std::size_t>(r) > max_bytes)
      throw Error(name + ": larger than " + std::to_string(max_bytes) + " bytes, more than any valid input of this kind");
    out.append(buf, static_cast<std::size_t>(r));
  }
  return out;
}

ReadFd::~ReadFd() {
  if (fd_ >= 0) ::close(fd_);
}

ReadFd open_for_reading(const std::string& path, const std::string& what, const std::string& hint, long long& size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw Error(path + ": cannot open for reading (" + std::strerror(err) + ")" + (hint.empty() ? "" : " (" + hint + ")"));
  }
  ReadFd file(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(path + ": cannot stat (" + std::strerror(errno) + ")");
  if (S_ISDIR(st.st_mode)) throw Error(path + ": is a directory, expected " + what);
  size = S_ISREG(st.st_mode) ? static_cast<long long>(st.st_size) : -1;
  return file;
}

std::string read_text_file(const std::string& path, std::size_t max_bytes, const std::string& hint) {
  long long size = -1;
  const ReadFd file = open_for_reading(path, "a file", hint, size);
  if (size >= 0 && static_cast<std::uint64_t>(size) > max_bytes)
    throw Error(path + ": " + std::to_string(size) + " bytes, larger than " + std::to_string(max_bytes) +
                ", more than any valid input of this kind");
  return read_fd_text(file.get(), path, max_bytes);
}

}  // namespace trm::io
