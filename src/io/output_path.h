// Output locations checked before any work starts (internal): a command that writes its results at
// the end (training, arc eval/solve, report, data builds) must not compute for an hour and then
// find that it cannot write them.
#pragma once
#include <string>
#include <vector>

namespace trm::data {

// Creates dir (and its parents) when missing and proves that files can be created in it, by
// creating and removing a probe file. Throws trm::Error naming dir and the reason (a parent is a
// regular file, permission denied, read-only file system, ...).
void prepare_output_dir(const std::string& dir);

// For a file that will be written (atomically) at path: its directory as prepare_output_dir, and
// path itself must not be a directory. Throws trm::Error naming path.
void check_output_file(const std::string& path);

// The entries of dir other than those named in `ignore` (names, not paths); empty when dir does
// not exist. Throws trm::Error when dir cannot be listed.
std::vector<std::string> directory_entries(const std::string& dir, const std::vector<std::string>& ignore = {});

}  // namespace trm::data
