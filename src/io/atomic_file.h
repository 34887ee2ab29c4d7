// Whole-file writes that never leave a half-written file under the final name (internal).
#pragma once
#include <cstddef>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace trm::data {

// Calls body with a stream opened on path + ".tmp", flushes it to disk (fsync), then renames the
// result over path: a crash (kill -9, power loss) leaves either the old file or the complete new
// one under path, never a truncated one. Any failure (open, short write, flush, close, rename)
// throws trm::Error naming path and removes the temporary file. The one implementation of this
// for every file trm writes (npy, csv, JSON, safetensors checkpoints).
void write_file_atomically(const std::string& path, const std::function<void(std::FILE*)>& body);

// Throws trm::Error naming path when fewer than n bytes could be written.
void write_bytes(std::FILE* f, const void* data, std::size_t n, const std::string& path);

void write_text_file(const std::string& path, std::string_view text);

}  // namespace trm::data
