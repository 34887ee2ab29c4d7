// Text forms of the puzzles `trm solve` reads and prints: Sudoku as n*n cells (digits 1..n, '.',
// '0' or '_' for blanks; spaces, tabs, '|' and ',' between cells, and rule lines made of '-', '=',
// '+' and '|' are ignored), mazes as side*side characters of "# SG" (rows may be given on separate
// lines). Any other character is refused with its position: a stray "-1" is not read as "1".
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "trm/data/grid.h"

namespace trm::cli {

// kGrid: a task built by `trm data build grid` (trm/data/grid.h), read and printed with the
// alphabet and width its checkpoint carries.
enum class PuzzleKind { kSudoku, kMaze, kGrid };

struct PuzzleText {
  PuzzleKind kind = PuzzleKind::kSudoku;
  int side = 0;                      // n for Sudoku, side for mazes, the width (0: none) for a grid task
  std::vector<std::int32_t> tokens;  // model input, side*side (grid task: seq_len)
  std::shared_ptr<const data::GridFormat> grid;  // kGrid only
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

// Model output tokens back to text, one grid row per line. Mazes are drawn inside a +--+ / |  |
// border (so open cells at a row's ends show), which parse_puzzle skips when reading them back.
std::string format_tokens(PuzzleKind kind, int side, const std::vector<std::int32_t>& tokens, std::size_t offset = 0);
// Any kind, the grid task's with its alphabet and width.
std::string format_tokens(const PuzzleText& like, const std::vector<std::int32_t>& tokens, std::size_t offset = 0);
// "" when `answer` correctly solves `question` (tokens), else what is wrong. A grid task has no
// checker: always "" (has_checker says so).
std::string check_answer(const PuzzleText& question, const std::vector<std::int32_t>& answer, std::size_t offset = 0);
bool has_checker(const PuzzleText& question);

// An ARC grid as text: one digit per cell (0-9), rows on lines; with `ansi`, each cell is two
// spaces on the ARC palette's colour (256-colour escape codes), for a terminal.
std::string format_arc_grid(int rows, int cols, const std::vector<std::uint8_t>& cells, bool ansi);

// ---- grid tasks ----
// The grid task a checkpoint's config was trained on ("grid", copied from dataset.json at
// training time), if any; `context` names the checkpoint in errors.
std::optional<data::GridFormat> grid_format_of(const nlohmann::json& checkpoint_config, const std::string& context);
// Text of a grid task: with one-character symbols, every non-space character is a symbol
// (newlines and spaces are ignored); otherwise symbols are separated by spaces, commas or
// newlines. Throws trm::Error naming the source, the position and the alphabet for an unknown
// symbol, and the count when the text does not hold seq_len symbols.
PuzzleText parse_grid_puzzle(const std::string& text, const std::string& source, const data::GridFormat& g);
// Rows of `width` symbols (one line without a width); single-character symbols are written
// without spaces.
std::string format_grid_tokens(const data::GridFormat& g, const std::vector<std::int32_t>& tokens, std::size_t offset = 0);
// parse_grid_puzzle when the checkpoint config names a grid task, else parse_puzzle_for_model.
PuzzleText parse_puzzle_for_checkpoint(const std::string& text, const std::string& source, const nlohmann::json& config,
                                       int vocab_size, int seq_len, const std::string& model);

}  // namespace trm::cli
