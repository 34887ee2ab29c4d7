#include "cli/puzzle_text.h"

#include <cmath>
#include <cstring>

#include "trm/error.h"
#include "trm/data/maze.h"
#include "trm/data/sudoku.h"

namespace trm::cli {

PuzzleText parse_puzzle(const std::string& text) {
  PuzzleText p;
  if (text.find('#') != std::string::npos || text.find('S') != std::string::npos) {
    p.kind = PuzzleKind::kMaze;
    std::string cells;
    for (char ch : text)
      if (ch != '\n' && ch != '\r') cells += ch;
    const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(cells.size()))));
    if (side * side != static_cast<int>(cells.size()))
      throw Error("maze text has " + std::to_string(cells.size()) + " cells, which is not a square");
    p.side = side;
    for (char ch : cells) {
      const char* at = std::strchr(data::kMazeCharset, ch);
      if (!at || ch == '\0' || ch == 'o') throw Error(std::string("maze text has an invalid character '") + ch + "' (use '#', ' ', 'S', 'G')");
      p.tokens.push_back(static_cast<std::int32_t>(at - data::kMazeCharset) + 1);
    }
    return p;
  }
  p.kind = PuzzleKind::kSudoku;
  std::vector<int> digits;
  for (char ch : text) {
    if (ch == '.' || ch == '_') digits.push_back(0);
    else if (ch >= '0' && ch <= '9') digits.push_back(ch - '0');
  }
  const int n = static_cast<int>(std::lround(std::sqrt(static_cast<double>(digits.size()))));
  if (n * n != static_cast<int>(digits.size()) || (n != 4 && n != 6 && n != 9))
    throw Error("Sudoku text has " + std::to_string(digits.size()) + " cells; expected 16, 36 or 81 (digits, '.' or '0' for blanks)");
  p.side = n;
  for (int d : digits) {
    if (d > n) throw Error("Sudoku digit " + std::to_string(d) + " is larger than " + std::to_string(n));
    p.tokens.push_back(data::sudoku_token(static_cast<std::uint8_t>(d)));
  }
  return p;
}

std::string format_tokens(PuzzleKind kind, int side, const std::vector<std::int32_t>& tokens, std::size_t offset) {
  std::string out;
  for (int r = 0; r < side; ++r) {
    for (int c = 0; c < side; ++c) {
      const std::int32_t t = tokens[offset + static_cast<std::size_t>(r * side + c)];
      if (kind == PuzzleKind::kMaze)
        out += (t >= 1 && t <= 5) ? data::kMazeCharset[t - 1] : '?';
      else
        out += t == 1 ? '.' : (t >= 2 && t <= side + 1) ? static_cast<char>('0' + t - 1) : '?';
      if (kind == PuzzleKind::kSudoku && c + 1 < side) out += ' ';
    }
    out += '\n';
  }
  return out;
}

std::string check_answer(const PuzzleText& q, const std::vector<std::int32_t>& answer, std::size_t offset) {
  const int cells = q.side * q.side;
  std::vector<std::uint8_t> qq(static_cast<std::size_t>(cells)), aa(qq.size());
  for (int i = 0; i < cells; ++i) {
    const std::int32_t t = answer[offset + static_cast<std::size_t>(i)];
    if (q.kind == PuzzleKind::kSudoku) {
      qq[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(q.tokens[static_cast<std::size_t>(i)] - 1);
      if (t < 2 || t > q.side + 1) return "cell " + std::to_string(i) + " is not a digit";
      aa[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(t - 1);
    } else {
      qq[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(q.tokens[static_cast<std::size_t>(i)]);
      aa[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(t);
    }
  }
  if (q.kind == PuzzleKind::kSudoku) {
    const auto shape = data::SudokuShape::for_size(q.side);
    if (!data::sudoku_agrees(shape, qq.data(), aa.data())) return "changes a given digit";
    if (!data::sudoku_is_solution(shape, aa.data())) return "breaks a row, column or box constraint";
    return "";
  }
  return data::maze_answer_problem(qq.data(), aa.data(), q.side);
}

}  // namespace trm::cli
