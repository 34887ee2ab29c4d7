// The puzzle CSV files of the Sudoku-Extreme and Maze-Hard releases: a header
// `source,question,answer,rating`, unquoted fields, LF or CRLF line ends. Fields are never
// trimmed (maze rows start and end with spaces). RFC 4180 quoting is understood on reading and
// produced on writing where a field needs it, but a quoted field may not span lines.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace trm::data {

inline const std::vector<std::string> kPuzzleCsvHeader{"source", "question", "answer", "rating"};
// The longest line read_csv accepts: the longest real rows are 255x255 mazes (question and answer,
// ~130 KB); Sudoku-Extreme rows are ~180 bytes.
inline constexpr std::size_t kMaxCsvLineBytes = std::size_t{1} << 20;

// Calls fn(fields, line_number) for every data row (empty lines skipped). Throws trm::Error
// "<path>:<line>: ..." when the header differs from `header`, a row has the wrong field count or a
// line is longer than kMaxCsvLineBytes, and "<path>: ..." for a directory or an unreadable file.
void read_csv(const std::string& path, const std::vector<std::string>& header,
              const std::function<void(const std::vector<std::string>& fields, std::int64_t line)>& fn);

// Writes header and rows (LF line ends) atomically.
void write_csv(const std::string& path, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows);

}  // namespace trm::data
