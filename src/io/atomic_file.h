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

// The temporary file write_file_atomically(path) writes before renaming it over path.
std::string atomic_temp_path(const std::string& path);

// Removes the temporary file of path left by an interrupted write_file_atomically (the process
// was killed between opening it and renaming it); returns whether there was one. Only for a path
// no other process can be writing at the time (the trainer holds its run directory's lock).
// Throws trm::Error when it exists and cannot be removed.
bool remove_stale_temp(const std::string& path);

// Throws trm::Error naming path when fewer than n bytes could be written.
void write_bytes(std::FILE* f, const void* data, std::size_t n, const std::string& path);

void write_text_file(const std::string& path, std::string_view text);

}  // namespace trm::data
