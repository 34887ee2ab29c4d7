#include "trm/error.h"
#include "trm/data/sudoku.h"

namespace trm::data {

SudokuShape SudokuShape::for_size(int n) {
  switch (n) {
    case 4: return {4, 2, 2};
    case 6: return {6, 2, 3};
    case 9: return {9, 3, 3};
    default:
      throw Error("unsupported Sudoku size " + std::to_string(n) + "x" + std::to_string(n) +
                  " (supported: 4x4, 6x6, 9x9)");
  }
}

void SudokuSet::add(const std::uint8_t* question, const std::uint8_t* answer) {
  questions.insert(questions.end(), question, question + shape.cells());
  answers.insert(answers.end(), answer, answer + shape.cells());
}

SudokuSet SudokuSet::select(const std::vector<std::int64_t>& rows) const {
  SudokuSet out;
  out.shape = shape;
  out.questions.reserve(rows.size() * static_cast<std::size_t>(shape.cells()));
  out.answers.reserve(rows.size() * static_cast<std::size_t>(shape.cells()));
  for (auto r : rows) out.add(question(r), answer(r));
  return out;
}

bool sudoku_is_solution(const SudokuShape& s, const std::uint8_t* grid) {
  const unsigned full = (1u << (s.n + 1)) - 2;
  unsigned rows[9] = {}, cols[9] = {}, boxes[9] = {};
  for (int c = 0; c < s.cells(); ++c) {
    const int d = grid[c];
    if (d < 1 || d > s.n) return false;
    rows[c / s.n] |= 1u << d;
    cols[c % s.n] |= 1u << d;
    boxes[s.box_of(c)] |= 1u << d;
  }
  for (int i = 0; i < s.n; ++i)
    if (rows[i] != full || cols[i] != full || boxes[i] != full) return false;
  return true;
}

bool sudoku_agrees(const SudokuShape& s, const std::uint8_t* question, const std::uint8_t* answer) {
  for (int c = 0; c < s.cells(); ++c)
    if (question[c] != 0 && question[c] != answer[c]) return false;
  return true;
}

}  // namespace trm::data
