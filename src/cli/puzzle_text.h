// Text forms of the puzzles `trm solve` reads and prints: Sudoku as n*n characters ('.' or '0'
// for blanks, separators ignored), mazes as side*side characters of "# SGo" (rows may be given
// on separate lines).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace trm::cli {

enum class PuzzleKind { kSudoku, kMaze };

struct PuzzleText {
  PuzzleKind kind = PuzzleKind::kSudoku;
  int side = 0;                      // n for Sudoku, side for mazes
  std::vector<std::int32_t> tokens;  // model input, side*side
};

// Throws trm::Error describing what is wrong with the text.
PuzzleText parse_puzzle(const std::string& text);
// Model output tokens back to text, one grid row per line.
std::string format_tokens(PuzzleKind kind, int side, const std::vector<std::int32_t>& tokens, std::size_t offset = 0);
// "" when `answer` correctly solves `question` (tokens), else what is wrong.
std::string check_answer(const PuzzleText& question, const std::vector<std::int32_t>& answer, std::size_t offset = 0);

}  // namespace trm::cli
