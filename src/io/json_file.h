// Reading and writing JSON files with errors that name them (internal).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace trm::data {

// Throws trm::Error "<path>: cannot open ..." or "<path>: invalid JSON (...)"; `hint` is appended
// to the cannot-open message.
nlohmann::json read_json_file(const std::string& path, const std::string& hint = "");

// Writes j (indented by `indent` spaces, newline-terminated) to path atomically
// (write_file_atomically); throws trm::Error naming path on any failure.
void write_json_file_atomic(const std::string& path, const nlohmann::json& j, int indent = 2);

}  // namespace trm::data
