// trm solve --render: the answer after each supervision step, as a sheet of frames (SVG/PNG) or an
// animation (GIF).
#include "trm/viz/render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "io/atomic_file.h"
#include "io/output_path.h"
#include "trm/error.h"

namespace trm::viz {

Rgb arc_color(int d) {
  static const Rgb kArc[10] = {{0, 0, 0},     {0, 116, 217},   {255, 65, 54},  {46, 204, 64},  {255, 220, 0},
                               {170, 170, 170}, {240, 18, 190}, {255, 133, 27}, {127, 219, 255}, {135, 12, 37}};
  return d >= 0 && d <= 9 ? kArc[d] : Rgb{255, 255, 255};
}

namespace {

const Rgb kInk{33, 33, 33}, kMuted{110, 110, 110}, kChangedFill{255, 236, 153}, kHighlight{255, 127, 14},
    kGivenFill{236, 236, 236}, kFilledInk{21, 101, 192}, kGood{46, 160, 67}, kBarBack{230, 230, 230},
    kBarFill{66, 133, 244};

// A readable ink on this fill (black on light, white on dark).
Rgb ink_on(Rgb fill) {
  const double lum = 0.299 * fill.r + 0.587 * fill.g + 0.114 * fill.b;
  return lum > 140 ? Rgb{0, 0, 0} : Rgb{255, 255, 255};
}

// Grid-task symbols: the ARC palette when every symbol is a digit (ARC-like tasks), else a
// categorical palette by token.
Rgb symbol_fill(const BoardSpec& s, std::int32_t t) {
  if (t < 1 || static_cast<std::size_t>(t) > s.alphabet.size()) return {255, 255, 255};
  const bool digits = std::all_of(s.alphabet.begin(), s.alphabet.end(), [](const std::string& a) {
    return a.size() == 1 && a[0] >= '0' && a[0] <= '9';
  });
  if (digits) return arc_color(s.alphabet[static_cast<std::size_t>(t) - 1][0] - '0');
  static const Rgb kPastel[12] = {{141, 211, 199}, {255, 255, 179}, {190, 186, 218}, {251, 128, 114},
                                  {128, 177, 211}, {253, 180, 98},  {179, 222, 105}, {252, 205, 229},
                                  {217, 217, 217}, {188, 128, 189}, {204, 235, 197}, {255, 237, 111}};
  return kPastel[static_cast<std::size_t>(t - 1) % 12];
}

}  // namespace

std::vector<CellView> board_cells(const BoardSpec& spec, const std::vector<std::int32_t>& question,
                                  const std::vector<std::int32_t>& previous, const std::vector<std::int32_t>& answer) {
  const std::size_t n = static_cast<std::size_t>(spec.rows) * static_cast<std::size_t>(spec.cols);
  TRM_ASSERT(question.size() == n && previous.size() == n && answer.size() == n, "board_cells: token counts differ from rows*cols");
  std::vector<CellView> cells(n);
  for (std::size_t i = 0; i < n; ++i) {
    CellView& c = cells[i];
    const std::int32_t t = answer[i], q = question[i];
    c.changed = t != previous[i];
    switch (spec.kind) {
      case BoardKind::kSudoku:
        c.given = q != 1;
        c.label = t >= 2 && t <= 36 ? std::to_string(t - 1) : t == 1 ? "" : "?";
        c.fill = c.given ? kGivenFill : c.changed ? kChangedFill : Rgb{255, 255, 255};
        c.ink = c.given ? kInk : kFilledInk;
        break;
      case BoardKind::kMaze:
        c.given = q == 1 || q == 3 || q == 4;  // walls, start and goal are the question's
        switch (t) {
          case 1: c.fill = {52, 52, 64}; break;                        // wall
          case 2: c.fill = {255, 255, 255}; break;                     // open
          case 3: c.fill = {46, 160, 67}; c.label.assign(1, 'S'); break;        // start
          case 4: c.fill = {214, 39, 40}; c.label.assign(1, 'G'); break;        // goal
          case 5: c.fill = {66, 133, 244}; break;                      // path
          default: c.fill = {255, 0, 255}; c.label.assign(1, '?'); break;       // not a maze token
        }
        c.ink = ink_on(c.fill);
        break;
      case BoardKind::kSymbols:
        c.given = false;
        c.label = t >= 1 && static_cast<std::size_t>(t) <= spec.alphabet.size() ? spec.alphabet[static_cast<std::size_t>(t) - 1] : "?";
        c.fill = symbol_fill(spec, t);
        c.ink = ink_on(c.fill);
        break;
    }
  }
  return cells;
}

std::vector<StepView> step_views(const SolveSteps& s) {
  TRM_ASSERT(s.confidence.size() == s.answers.size() && s.verified.size() == s.answers.size(), "step_views: lengths differ");
  std::vector<StepView> out;
  for (std::size_t i = 0; i < s.answers.size(); ++i) {
    StepView v;
    v.step = static_cast<int>(i) + 1;
    v.confidence = s.confidence[i];
    v.verified = s.verified[i] != 0;
    v.checked = s.checked;
    v.last = i + 1 == s.answers.size();
    v.cells = board_cells(s.spec, s.question, i == 0 ? s.question : s.answers[i - 1], s.answers[i]);
    v.changed = static_cast<int>(std::count_if(v.cells.begin(), v.cells.end(), [](const CellView& c) { return c.changed; }));
    out.push_back(std::move(v));
  }
  return out;
}

namespace {

// The pixel size of a cell: boards about 216 px wide (a 9x9 Sudoku at 24 px), never below 2 px
// (a 255x255 maze is 510 px) nor above 48.
double cell_px(const BoardSpec& s) {
  const int side = std::max({s.rows, s.cols, 1});
  return std::clamp(std::floor(216.0 / side), 2.0, 48.0);
}

constexpr double kPad = 14, kHeader = 24, kFooter = 46;

Size one_frame(const SolveSteps& s) {
  const double c = cell_px(s.spec);
  const double bw = c * s.spec.cols, bh = c * s.spec.rows;
  return {static_cast<int>(std::max(bw, 180.0) + 2 * kPad), static_cast<int>(bh + kHeader + kFooter + kPad)};
}

void draw_board(Canvas& cv, const SolveSteps& s, const StepView& v, double x0, double y0) {
  const double c = cell_px(s.spec);
  const int R = s.spec.rows, C = s.spec.cols;
  cv.begin_group("board");
  for (int r = 0; r < R; ++r)
    for (int k = 0; k < C; ++k) {
      const CellView& cell = v.cells[static_cast<std::size_t>(r * C + k)];
      cv.rect(x0 + k * c, y0 + r * c, c, c, cell.fill);
    }
  // Thin cell lines where cells are big enough to need them; Sudoku boxes in bold.
  if (c >= 8 && s.spec.kind != BoardKind::kMaze) {
    for (int k = 0; k <= C; ++k) cv.line({x0 + k * c, y0}, {x0 + k * c, y0 + R * c}, {200, 200, 200}, 1);
    for (int r = 0; r <= R; ++r) cv.line({x0, y0 + r * c}, {x0 + C * c, y0 + r * c}, {200, 200, 200}, 1);
  }
  if (s.spec.kind == BoardKind::kSudoku) {
    // Box shape of an n x n Sudoku: 4 -> 2x2, 6 -> 2x3, 9 -> 3x3 (rows x cols of a box).
    const int n = C;
    const int bh = n == 6 ? 2 : static_cast<int>(std::lround(std::sqrt(n)));
    const int bw = n / std::max(bh, 1);
    for (int k = 0; k <= C; k += std::max(bw, 1)) cv.line({x0 + k * c, y0}, {x0 + k * c, y0 + R * c}, kInk, 2);
    for (int r = 0; r <= R; r += std::max(bh, 1)) cv.line({x0, y0 + r * c}, {x0 + C * c, y0 + r * c}, kInk, 2);
  }
  cv.rect_outline(x0, y0, C * c, R * c, kInk, 1.5);
  // Labels (when legible) and the changed cells' outline on top.
  for (int r = 0; r < R; ++r)
    for (int k = 0; k < C; ++k) {
      const CellView& cell = v.cells[static_cast<std::size_t>(r * C + k)];
      if (c >= 12 && !cell.label.empty() && approx_text_width(cell.label, c * 0.6) <= c * 1.1)
        cv.text({x0 + (k + 0.5) * c, y0 + (r + 0.5) * c + c * 0.21}, cell.label,
                {c * 0.6, cell.ink, Align::kCenter, cell.given});
    }
  cv.begin_group("changed");
  const double w = std::clamp(c / 8, 1.0, 3.0);
  for (int r = 0; r < R; ++r)
    for (int k = 0; k < C; ++k)
      if (v.cells[static_cast<std::size_t>(r * C + k)].changed && s.spec.kind != BoardKind::kSudoku)
        cv.rect_outline(x0 + k * c + w / 2, y0 + r * c + w / 2, c - w, c - w, kHighlight, w);
  cv.end_group();
  cv.end_group();
}

void draw_one(Canvas& cv, const SolveSteps& s, const StepView& v, double x0, double y0) {
  const Size sz = one_frame(s);
  const double c = cell_px(s.spec);
  const double bw = c * s.spec.cols;
  cv.begin_group("frame");
  char head[96];
  std::snprintf(head, sizeof head, "step %d%s", v.step, v.last ? (s.halted ? "  (halted)" : "  (last step)") : "");
  cv.text({x0 + kPad, y0 + 17}, head, {13, kInk, Align::kLeft, true});
  char changed[32];
  std::snprintf(changed, sizeof changed, "%d changed", v.changed);
  cv.text({x0 + sz.width - kPad, y0 + 17}, changed, {11, v.changed ? kHighlight : kMuted, Align::kRight});
  const double bx = x0 + (sz.width - bw) / 2, by = y0 + kHeader;
  draw_board(cv, s, v, bx, by);
  // The halting confidence as a bar, its value, and the checker's verdict.
  const double ty = by + c * s.spec.rows + 12, bar_w = sz.width - 2 * kPad;
  cv.begin_group("confidence");
  cv.rect(x0 + kPad, ty, bar_w, 9, kBarBack);
  cv.rect(x0 + kPad, ty, bar_w * std::clamp(static_cast<double>(v.confidence), 0.0, 1.0), 9, kBarFill);
  cv.end_group();
  char conf[48];
  std::snprintf(conf, sizeof conf, "halt confidence %.3f", v.confidence);
  cv.text({x0 + kPad, ty + 25}, conf, {11, kInk});
  if (v.checked)
    cv.text({x0 + sz.width - kPad, ty + 25}, v.verified ? "valid" : "not valid", {11, v.verified ? kGood : kMuted, Align::kRight, v.verified});
  cv.end_group();
}

constexpr int kSheetColumns = 4;
constexpr double kTitleH = 30;

}  // namespace

Size frame_size(const SolveSteps& s) {
  const Size f = one_frame(s);
  return {f.width, f.height + static_cast<int>(kTitleH)};
}

Box frame_cell_box(const SolveSteps& s, int row, int col) {
  const double c = cell_px(s.spec);
  const double bx = (one_frame(s).width - c * s.spec.cols) / 2, by = kTitleH + kHeader;
  return {bx + col * c, by + row * c, c, c};
}

void draw_frame(Canvas& cv, const SolveSteps& s, const StepView& v) {
  cv.text({kPad, 20}, s.title, {12, kMuted});
  draw_one(cv, s, v, 0, kTitleH);
}

Size frames_sheet_size(const SolveSteps& s) {
  const Size f = one_frame(s);
  const int n = std::max<int>(1, static_cast<int>(s.answers.size()));
  const int cols = std::min(n, kSheetColumns), rows = (n + cols - 1) / cols;
  return {std::max(cols * f.width, 360), rows * f.height + static_cast<int>(kTitleH)};
}

void draw_frames_sheet(Canvas& cv, const SolveSteps& s) {
  const Size f = one_frame(s);
  cv.text({kPad, 20}, s.title, {13, kInk, Align::kLeft, true});
  const std::vector<StepView> views = step_views(s);
  for (std::size_t i = 0; i < views.size(); ++i)
    draw_one(cv, s, views[i], static_cast<double>(i % kSheetColumns) * f.width,
             kTitleH + static_cast<double>(i / kSheetColumns) * f.height);
}

void write_steps_image(const std::string& path, const SolveSteps& s) {
  const ImageFormat fmt = image_format_for(path, {ImageFormat::kSvg, ImageFormat::kPng, ImageFormat::kGif});
  if (s.answers.empty()) throw InternalError("write_steps_image: no steps");
  std::string bytes;
  if (fmt == ImageFormat::kGif) {
    const Size f = frame_size(s);
    std::vector<Drawing> frames;
    const std::vector<StepView> views = step_views(s);
    for (const StepView& v : views) frames.push_back([&s, &v](Canvas& cv) { draw_frame(cv, s, v); });
    bytes = render_gif(f.width, f.height, frames, 80, 250);
  } else {
    const Size sz = frames_sheet_size(s);
    const Drawing d = [&s](Canvas& cv) { draw_frames_sheet(cv, s); };
    bytes = fmt == ImageFormat::kSvg ? render_svg(sz.width, sz.height, d) : render_png(sz.width, sz.height, d);
  }
  data::write_text_file(path, bytes);
}

}  // namespace trm::viz
