// The recursion step by step as pictures (`trm solve --render`, docs/VISUALS.md): one frame per
// supervision step with the answer grid, the cells that changed since the step before
// highlighted, and the halting confidence as a bar.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "trm/viz/canvas.h"

namespace trm::viz {

// What a board's tokens mean (the token maps of docs/REFERENCE.md §6.2-6.3).
enum class BoardKind {
  kSudoku,  // token 1 = blank, 1 + d = digit d
  kMaze,    // tokens 1..5 = "# SGo" (wall, open, start, goal, path)
  kSymbols  // a grid task: token t = alphabet[t - 1]
};

struct BoardSpec {
  BoardKind kind = BoardKind::kSudoku;
  int rows = 0, cols = 0;
  std::vector<std::string> alphabet;  // kSymbols only
};

// One cell as drawn.
struct CellView {
  std::string label;  // "" for none (a blank, a wall)
  Rgb fill{255, 255, 255};
  Rgb ink{0, 0, 0};
  bool given = false;    // part of the question (Sudoku givens, the maze's S/G/walls)
  bool changed = false;  // differs from the previous step (step 1: from the question)
};

struct StepView {
  int step = 0;            // 1-based supervision step
  float confidence = 0;    // halting probability after this step
  bool verified = false;   // the answer passes the puzzle's rules (false where there is no checker)
  bool checked = false;    // a checker exists for this puzzle
  bool last = false;       // the step the model halted at (or the last one run)
  int changed = 0;         // how many cells changed
  std::vector<CellView> cells;  // rows * cols, row-major
};

// A pure function of the tokens: the cells of `answer` (rows * cols tokens), marked changed where
// they differ from `previous` (pass the question for step 1), given where `question` fixes them.
// Throws InternalError when the sizes disagree with the spec.
std::vector<CellView> board_cells(const BoardSpec& spec, const std::vector<std::int32_t>& question,
                                  const std::vector<std::int32_t>& previous, const std::vector<std::int32_t>& answer);

// A solve's steps: answers[i] is the answer after step i + 1.
struct SolveSteps {
  BoardSpec spec;
  std::vector<std::int32_t> question;
  std::vector<std::vector<std::int32_t>> answers;
  std::vector<float> confidence;
  std::vector<std::uint8_t> verified;
  bool checked = false;
  bool halted = false;  // the last step halted on the model's signal (else: the step limit)
  std::string title;  // e.g. "4x4 Sudoku, runs/s4/final.safetensors"
};
std::vector<StepView> step_views(const SolveSteps& s);

// All frames side by side (a grid of at most 4 columns) for SVG/PNG; one frame per image for GIF.
struct Size {
  int width = 0, height = 0;
};
Size frames_sheet_size(const SolveSteps& s);
void draw_frames_sheet(Canvas& canvas, const SolveSteps& s);
Size frame_size(const SolveSteps& s);
// Where draw_frame puts cell (row, col) of the board, in px.
struct Box {
  double x = 0, y = 0, w = 0, h = 0;
};
Box frame_cell_box(const SolveSteps& s, int row, int col);
void draw_frame(Canvas& canvas, const SolveSteps& s, const StepView& v);

// Writes the steps to path as .svg, .png or .gif (trm::Error for another extension, before any
// drawing; the file is written atomically).
void write_steps_image(const std::string& path, const SolveSteps& s);

// The ARC palette (black, blue, red, green, yellow, grey, magenta, orange, azure, maroon).
Rgb arc_color(int digit);

}  // namespace trm::viz
