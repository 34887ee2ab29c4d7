// Text forms of the puzzles `trm solve` reads and prints: Sudoku as n*n cells (digits 1..n, '.',
// '0' or '_' for blanks; spaces, tabs, '|' and ',' between cells, and rule lines made of '-', '=',
// '+' and '|' are ignored), mazes as side*side characters of "# SG" (rows may be given on separate
// lines). Any other character is refused with its position: a stray "-1" is not read as "1".
#pragma once
#include <cstddef>
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

// The largest puzzle text accepted (argument, file or stdin): a 255x255 maze, the largest
// `trm data generate maze` makes, is ~65 KB; 1 MiB refuses a wrong file before reading it whole.
inline constexpr std::size_t kMaxPuzzleTextBytes = std::size_t{1} << 20;

// What a model can solve, from its vocab_size and seq_len and the token maps of the builders
// (docs/REFERENCE.md §6.2-6.3): n x n Sudoku has vocab n + 2 and seq_len n*n (n = 4, 6, 9), a
// side x side maze vocab 6 and seq_len side*side. vocab 6 and seq_len 16 fit both a 4x4 Sudoku and
// a 4x4 maze; like `trm data show`, trm takes that model for Sudoku, so mazes need side > 4 and a
// model is at most one kind (sudoku and maze are never both true).
struct ModelPuzzles {
  bool sudoku = false, maze = false;
  int side = 0;
  std::string describe() const;  // e.g. "9x9 Sudoku (81 cells)"
};
ModelPuzzles puzzles_for_model(int vocab_size, int seq_len);

// Parses text, telling Sudoku from maze by the presence of '#' or 'S'. Throws trm::Error
// "<source>: ..." naming what is wrong (and where, for a character that does not belong).
PuzzleText parse_puzzle(const std::string& text, const std::string& source = "puzzle");
// Parses text and checks it fits a model with this vocab_size and seq_len: the right kind and side.
// Throws trm::Error "<source>: ..." saying what `model` (a name for it, e.g. its checkpoint) takes
// and what the text holds.
PuzzleText parse_puzzle_for_model(const std::string& text, const std::string& source, int vocab_size, int seq_len,
                                  const std::string& model = "this model");

// Model output tokens back to text, one grid row per line.
std::string format_tokens(PuzzleKind kind, int side, const std::vector<std::int32_t>& tokens, std::size_t offset = 0);
// "" when `answer` correctly solves `question` (tokens), else what is wrong.
std::string check_answer(const PuzzleText& question, const std::vector<std::int32_t>& answer, std::size_t offset = 0);

}  // namespace trm::cli
