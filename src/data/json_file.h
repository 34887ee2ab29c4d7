// Reading a JSON file with errors that name it (internal).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace trm::data {

// Throws trm::Error "<path>: cannot open ..." or "<path>: invalid JSON (...)"; `hint` is appended
// to the cannot-open message.
nlohmann::json read_json_file(const std::string& path, const std::string& hint = "");

}  // namespace trm::data
