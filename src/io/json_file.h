// Reading and writing JSON files with errors that name them (internal).
//
// Every JSON trm reads from a file (dataset.json, identifiers.json, ARC tasks, safetensors
// headers, configs) goes through parse_json_text, which bounds two things nlohmann::json does not:
//   - nesting depth: parsing is iterative, but dump(), copies and comparisons recurse once per
//     level, so a 200 KB file of 100k '[' overflowed the stack when an error message or `trm info`
//     printed it. kMaxJsonDepth levels are refused at parse time.
//   - duplicate keys: nlohmann keeps the last silently, so {"vocab_size": 11, "vocab_size": 256}
//     or a safetensors header naming one tensor twice would be read as something nobody wrote.
#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace trm::data {

// The deepest nesting (objects and arrays inside one another) any JSON read by trm may have. The
// deepest legitimate one is an ARC combined challenges file: {task: {"train": [{"input": [[row]]}]}}
// = 6 levels; checkpoint configs and dataset.json have 2-3. 64 leaves room for any hand-written
// file while keeping every recursive walk of a parsed value far from the stack's limit.
inline constexpr int kMaxJsonDepth = 64;

// The largest JSON file read_json_file accepts: the biggest trm reads (ARC challenge files,
// test_puzzles.json) are around 10 MB; a gigabyte is a wrong path, not a task list.
inline constexpr std::size_t kMaxJsonFileBytes = std::size_t{1} << 30;

// Parses text; throws trm::Error "<context>: invalid JSON (...)", "<context>: JSON nested deeper
// than 64 levels" or "<context>: key \"k\" appears twice in one object".
nlohmann::json parse_json_text(std::string_view text, const std::string& context);

// Throws trm::Error "<path>: cannot open ..." (with `hint` appended), "<path>: is a directory",
// one for a file above kMaxJsonFileBytes, or what parse_json_text throws with the path as context.
nlohmann::json read_json_file(const std::string& path, const std::string& hint = "");

// j.dump() cut to at most max_chars (with "..." when cut): for error messages that quote a value
// from a file, which may be arbitrarily large.
std::string json_excerpt(const nlohmann::json& j, std::size_t max_chars = 80);

// Writes j (indented by `indent` spaces, newline-terminated) to path atomically
// (write_file_atomically); throws trm::Error naming path on any failure.
void write_json_file_atomic(const std::string& path, const nlohmann::json& j, int indent = 2);

}  // namespace trm::data
