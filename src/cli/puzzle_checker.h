// The answer checker (include/trm/infer/check.h) for a puzzle read from text: Sudoku and mazes
// have rules to check; a grid task (trm data build grid) has none.
#pragma once
#include "cli/puzzle_text.h"
#include "trm/infer/check.h"

namespace trm::cli {

inline infer::Checker checker_for(const PuzzleText& p) {
  switch (p.kind) {
    case PuzzleKind::kSudoku: return infer::Checker(infer::PuzzleFamily::kSudoku, p.side);
    case PuzzleKind::kMaze: return infer::Checker(infer::PuzzleFamily::kMaze, p.side);
    case PuzzleKind::kGrid: break;
  }
  return infer::Checker();
}

}  // namespace trm::cli
