// Whole-file reads of small text inputs (JSON, puzzle text) with clean errors (internal): a
// directory, a FIFO that never ends or a file far larger than any valid input is refused with a
// trm::Error naming it, instead of a stream exception or an unbounded allocation.
#pragma once
#include <cstddef>
#include <string>

namespace trm::io {

// Reads all of `path` (a regular file, or a pipe/character device such as /dev/stdin). Throws
// trm::Error "<path>: cannot open for reading (<reason>)[ (<hint>)]", "<path>: is a directory",
// "<path>: read error (...)" or "<path>: larger than <max_bytes> bytes".
std::string read_text_file(const std::string& path, std::size_t max_bytes, const std::string& hint = "");

// An open descriptor, closed on destruction.
class ReadFd {
 public:
  explicit ReadFd(int fd) : fd_(fd) {}
  ~ReadFd();
  ReadFd(ReadFd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  ReadFd(const ReadFd&) = delete;
  ReadFd& operator=(const ReadFd&) = delete;
  ReadFd& operator=(ReadFd&&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Opens `path` for reading, refusing a directory: trm::Error "<path>: cannot open for reading
// (<reason>)[ (<hint>)]" or "<path>: is a directory, expected <what>". `size` gets the size of a
// regular file (-1 for a pipe or device).
ReadFd open_for_reading(const std::string& path, const std::string& what, const std::string& hint, long long& size);

// Reads descriptor fd to its end; `name` (e.g. "stdin") names it in errors, as above.
std::string read_fd_text(int fd, const std::string& name, std::size_t max_bytes);

}  // namespace trm::io
