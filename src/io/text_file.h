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

// Reads descriptor fd to its end; `name` (e.g. "stdin") names it in errors, as above.
std::string read_fd_text(int fd, const std::string& name, std::size_t max_bytes);

}  // namespace trm::io
