// Whole-file writes that never leave a half-written file under the final name (internal).
#pragma once
#include <cstddef>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace trm::data {

// Calls body with a stream opened on path + ".tmp", then renames the result over path.
// Any failure (open, short write, close, rename) throws trm::Error naming path and removes the
// temporary file.
void write_file_atomically(const std::string& path, const std::function<void(std::FILE*)>& body);

// Throws trm::Error naming path when fewer than n bytes could be written.
void write_bytes(std::FILE* f, const void* data, std::size_t n, const std::string& path);

void write_text_file(const std::string& path, std::string_view text);

}  // namespace trm::data
