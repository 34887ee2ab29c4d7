// The puzzle CSV files of the Sudoku-Extreme and Maze-Hard releases: a header
// `source,question,answer,rating`, unquoted fields, LF or CRLF line ends. Fields are never
// trimmed (maze rows start and end with spaces). RFC 4180 quoting is understood on reading and
// produced on writing where a field needs it, but a quoted field may not span lines.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace trm::data {

inline const std::vector<std::string> kPuzzleCsvHeader{"source", "question", "answer", "rating"};

// Calls fn(fields, line_number) for every data row (empty lines skipped). Throws trm::Error
// "<path>:<line>: ..." when the header differs from `header` or a row has the wrong field count.
void read_csv(const std::string& path, const std::vector<std::string>& header,
              const std::function<void(const std::vector<std::string>& fields, std::int64_t line)>& fn);

// Writes header and rows (LF line ends) atomically.
void write_csv(const std::string& path, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows);

}  // namespace trm::data
