// Pictures (src/viz/, docs/VISUALS.md): the cells a solve step turns into, the three image formats
// as files a reader accepts (PNG signature and IHDR, GIF frames decoded by giflib, SVG that is
// well-formed with one group per frame), and metrics.jsonl read into curves with its errors.
#include <gif_lib.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "expect_error.h"
#include "temp_dir.h"
#include "trm/viz/canvas.h"
#include "trm/viz/plot.h"
#include "trm/viz/render.h"

namespace trm::viz {
namespace {

using test_util::expect_error;
using test_util::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

// A small well-formedness check: every element closed in order, attributes quoted, one root.
void expect_well_formed_xml(const std::string& xml) {
  std::vector<std::string> open;
  std::size_t pos = xml.find("<svg");
  ASSERT_NE(pos, std::string::npos);
  int roots = 0;
  while ((pos = xml.find('<', pos)) != std::string::npos) {
    const std::size_t end = xml.find('>', pos);
    ASSERT_NE(end, std::string::npos) << "unterminated tag at " << pos;
    const std::string tag = xml.substr(pos + 1, end - pos - 1);
    ASSERT_FALSE(tag.empty());
    EXPECT_EQ(count(tag, "\"") % 2, 0u) << tag;
    if (tag[0] == '/') {
      ASSERT_FALSE(open.empty()) << "closing " << tag << " with nothing open";
      EXPECT_EQ("/" + open.back(), tag);
      open.pop_back();
    } else if (tag.back() != '/') {
      if (open.empty()) ++roots;
      open.push_back(tag.substr(0, tag.find(' ')));
    }
    // Text between tags must not hold a raw '<' or an unescaped '&'.
    const std::size_t next = xml.find('<', end);
    const std::string text = xml.substr(end + 1, next == std::string::npos ? std::string::npos : next - end - 1);
    for (std::size_t a = text.find('&'); a != std::string::npos; a = text.find('&', a + 1))
      EXPECT_TRUE(text.compare(a, 5, "&amp;") == 0 || text.compare(a, 4, "&lt;") == 0 || text.compare(a, 4, "&gt;") == 0 ||
                  text.compare(a, 6, "&quot;") == 0)
          << text;
    pos = end + 1;
  }
  EXPECT_TRUE(open.empty());
  EXPECT_EQ(roots, 1);
}

std::uint32_t be32(const std::string& s, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8 | static_cast<unsigned char>(s[at + 3]);
}

// A 4x4 Sudoku solved in three steps: 1 + digit tokens, 1 = blank.
SolveSteps sudoku_steps() {
  SolveSteps s;
  s.spec = {BoardKind::kSudoku, 4, 4, {}};
  // 1 . . 4 / . . 1 . / . 1 . . / 4 . . 1  (tokens: digit + 1)
  s.question = {2, 1, 1, 5, 1, 1, 2, 1, 1, 2, 1, 1, 5, 1, 1, 2};
  s.answers = {{2, 3, 3, 5, 4, 5, 2, 4, 3, 2, 5, 4, 5, 4, 3, 2},   // wrong in two cells
               {2, 3, 4, 5, 4, 5, 2, 3, 3, 2, 5, 4, 5, 4, 3, 2},   // two changed
               {2, 3, 4, 5, 4, 5, 2, 3, 3, 2, 5, 4, 5, 4, 3, 2}};  // none changed
  s.confidence = {0.1f, 0.6f, 0.97f};
  s.verified = {0, 1, 1};
  s.checked = true;
  s.halted = true;
  s.title = "4x4 Sudoku & <test>";
  return s;
}

TEST(VizCells, SudokuLabelsGivensAndChanges) {
  const SolveSteps s = sudoku_steps();
  const auto v = step_views(s);
  ASSERT_EQ(v.size(), 3u);
  // Step 1 against the question: every blank was filled (10 cells), no given changed.
  EXPECT_EQ(v[0].changed, 10);
  EXPECT_EQ(v[1].changed, 2);
  EXPECT_EQ(v[2].changed, 0);
  EXPECT_TRUE(v[2].last);
  EXPECT_FALSE(v[0].last);
  EXPECT_FLOAT_EQ(v[1].confidence, 0.6f);
  EXPECT_TRUE(v[1].verified);
  const CellView& given = v[0].cells[0];
  EXPECT_TRUE(given.given);
  EXPECT_EQ(given.label, "1");
  EXPECT_FALSE(given.changed);
  // Cell 2 is 2 after step 1 and 3 after step 2: the label follows the answer, and it is changed.
  EXPECT_EQ(v[0].cells[2].label, "2");
  EXPECT_EQ(v[1].cells[2].label, "3");
  EXPECT_TRUE(v[1].cells[2].changed);
  EXPECT_FALSE(v[1].cells[1].changed);
  EXPECT_NE(v[1].cells[2].fill, v[1].cells[1].fill);  // the changed cell is highlighted
  EXPECT_EQ(v[2].cells[2].fill, v[2].cells[1].fill);  // and not once it stays
  EXPECT_NE(v[0].cells[2].ink, given.ink);             // filled digits in another ink than givens
  // A blank in the answer has no label.
  auto blank = board_cells(s.spec, s.question, s.question, s.question);
  EXPECT_EQ(blank[1].label, "");
  EXPECT_THROW(board_cells(s.spec, s.question, s.question, {1, 2}), InternalError);
}

TEST(VizCells, MazeAndSymbolColours) {
  const BoardSpec maze{BoardKind::kMaze, 1, 5, {}};
  // # S _ _ G  ->  # S o o G
  const std::vector<std::int32_t> q{1, 3, 2, 2, 4}, a{1, 3, 5, 5, 4};
  const auto cells = board_cells(maze, q, q, a);
  EXPECT_EQ(cells[1].label, "S");
  EXPECT_EQ(cells[4].label, "G");
  EXPECT_TRUE(cells[0].given);
  EXPECT_FALSE(cells[2].given);
  EXPECT_TRUE(cells[2].changed);
  EXPECT_FALSE(cells[1].changed);
  EXPECT_EQ(cells[2].fill, cells[3].fill);
  EXPECT_NE(cells[2].fill, cells[0].fill);
  EXPECT_NE(board_cells(maze, q, q, q)[2].fill, cells[2].fill);  // an open cell is not a path cell
  // Digit symbols take the ARC palette: token t is alphabet[t - 1].
  const BoardSpec arc{BoardKind::kSymbols, 1, 3, {"0", "1", "2"}};
  const auto ac = board_cells(arc, {1, 1, 1}, {1, 1, 1}, {1, 2, 3});
  EXPECT_EQ(ac[0].fill, arc_color(0));
  EXPECT_EQ(ac[1].fill, arc_color(1));
  EXPECT_EQ(ac[2].fill, arc_color(2));
  EXPECT_EQ(ac[2].label, "2");
  EXPECT_EQ(ac[0].ink, (Rgb{255, 255, 255}));  // white on black
  const BoardSpec words{BoardKind::kSymbols, 1, 2, {"ab", "cd"}};
  const auto wc = board_cells(words, {1, 1}, {1, 1}, {1, 2});
  EXPECT_EQ(wc[1].label, "cd");
  EXPECT_NE(wc[0].fill, wc[1].fill);
}

TEST(VizFiles, SvgHasOneWellFormedGroupPerStep) {
  const SolveSteps s = sudoku_steps();
  const Size sz = frames_sheet_size(s);
  const std::string svg = render_svg(sz.width, sz.height, [&](Canvas& c) { draw_frames_sheet(c, s); });
  expect_well_formed_xml(svg);
  EXPECT_EQ(count(svg, "<g class=\"frame\">"), 3u);
  EXPECT_EQ(count(svg, "<g class=\"confidence\">"), 3u);
  EXPECT_NE(svg.find("4x4 Sudoku &amp; &lt;test&gt;"), std::string::npos);  // the title, escaped
  EXPECT_NE(svg.find("halt confidence 0.970"), std::string::npos);
  EXPECT_NE(svg.find("step 3  (halted)"), std::string::npos);
  EXPECT_NE(svg.find("2 changed"), std::string::npos);
}

TEST(VizFiles, WrittenPngGifAndSvg) {
  TempDir dir("trm_viz");
  const SolveSteps s = sudoku_steps();
  write_steps_image(dir / "steps.png", s);
  const std::string png = slurp(dir / "steps.png");
  ASSERT_GT(png.size(), 33u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  const Size sz = frames_sheet_size(s);
  EXPECT_EQ(be32(png, 16), static_cast<std::uint32_t>(sz.width));
  EXPECT_EQ(be32(png, 20), static_cast<std::uint32_t>(sz.height));

  write_steps_image(dir / "steps.SVG", s);
  EXPECT_EQ(count(slurp(dir / "steps.SVG"), "<g class=\"frame\">"), 3u);

  expect_error([&] { write_steps_image(dir / "steps.jpg", s); }, {"steps.jpg", ".svg, .png, .gif"});
  EXPECT_FALSE(std::filesystem::exists(dir / "steps.jpg"));
  expect_error([&] { image_format_for(dir / "noext", {ImageFormat::kSvg}); }, {"noext", "(no extension)"});
}

// Decodes a GIF with giflib and checks the frame count, size and that each frame's cells have the
// colours of that step's answer (a maze: walls, open cells and the path as the model found it).
TEST(VizFiles, GifFramesFollowTheAnswer) {
  TempDir dir("trm_viz");
  SolveSteps s;
  s.spec = {BoardKind::kMaze, 3, 3, {}};
  // # S #  /  #   #  /  # G #   -> the path appears in the middle at step 2.
  s.question = {1, 3, 1, 1, 2, 1, 1, 4, 1};
  s.answers = {{1, 3, 1, 1, 2, 1, 1, 4, 1}, {1, 3, 1, 1, 5, 1, 1, 4, 1}, {1, 3, 1, 1, 5, 1, 1, 4, 1},
               {1, 3, 1, 1, 5, 1, 1, 4, 1}};
  s.confidence = {0.05f, 0.4f, 0.8f, 0.99f};
  s.verified = {0, 1, 1, 1};
  s.checked = true;
  s.title = "3x3 maze";
  write_steps_image(dir / "steps.gif", s);
  const std::string gif = slurp(dir / "steps.gif");
  ASSERT_GE(gif.size(), 13u);
  EXPECT_EQ(gif.substr(0, 6), "GIF89a");
  int err = 0;
  GifFileType* g = DGifOpenFileName((dir / "steps.gif").c_str(), &err);
  ASSERT_NE(g, nullptr) << GifErrorString(err);
  ASSERT_EQ(DGifSlurp(g), GIF_OK) << GifErrorString(g->Error);
  const Size fs = frame_size(s);
  EXPECT_EQ(g->SWidth, fs.width);
  EXPECT_EQ(g->SHeight, fs.height);
  ASSERT_EQ(g->ImageCount, 4);
  const auto views = step_views(s);
  for (int f = 0; f < g->ImageCount; ++f) {
    const SavedImage& im = g->SavedImages[f];
    const ColorMapObject* cm = im.ImageDesc.ColorMap ? im.ImageDesc.ColorMap : g->SColorMap;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) {
        const Box b = frame_cell_box(s, r, c);
        if (views[static_cast<std::size_t>(f)].cells[static_cast<std::size_t>(r * 3 + c)].label.size()) continue;  // S, G
        const int x = static_cast<int>(b.x + b.w / 2), y = static_cast<int>(b.y + b.h / 2);
        const GifColorType px = cm->Colors[im.RasterBits[y * g->SWidth + x]];
        const Rgb want = gif_palette_color(gif_palette_index(views[static_cast<std::size_t>(f)].cells[static_cast<std::size_t>(r * 3 + c)].fill));
        EXPECT_EQ((Rgb{px.Red, px.Green, px.Blue}), want) << "frame " << f << " cell " << r << "," << c;
      }
  }
  // The middle cell is open in frame 1 and path from frame 2 on: different pixels.
  const Box mid = frame_cell_box(s, 1, 1);
  const std::size_t at = static_cast<std::size_t>(static_cast<int>(mid.y + mid.h / 2) * g->SWidth + static_cast<int>(mid.x + mid.w / 2));
  EXPECT_NE(g->SavedImages[0].RasterBits[at], g->SavedImages[1].RasterBits[at]);
  DGifCloseFile(g, &err);
}

TEST(VizPalette, NearestColourIsStable) {
  for (int i = 0; i < 256; ++i) EXPECT_EQ(gif_palette_index(gif_palette_color(i)), i) << i;
  EXPECT_EQ(gif_palette_color(gif_palette_index({255, 255, 255})), (Rgb{255, 255, 255}));
  EXPECT_EQ(gif_palette_color(gif_palette_index({0, 0, 0})), (Rgb{0, 0, 0}));
}

// ---- plot ----

const char* kMetrics =
    "{\"type\":\"train\",\"step\":100,\"lm_loss\":1.5,\"accuracy\":0.4,\"exact_accuracy\":0.0,\"steps\":16.0}\n"
    "{\"type\":\"train\",\"step\":50,\"lm_loss\":2.0,\"accuracy\":0.2,\"exact_accuracy\":0.0,\"steps\":16.0}\n"
    "{\"type\":\"nonfinite\",\"step\":120,\"action\":\"skipped\"}\n"
    "\n"
    "{\"type\":\"eval\",\"step\":100,\"cell_accuracy\":0.5,\"exact_accuracy\":0.1,\"avg_steps\":12.0}\n"
    "{\"type\":\"train\",\"step\":100,\"lm_loss\":1.25,\"accuracy\":null,\"exact_accuracy\":0.05,\"steps\":15.0}\n";

TEST(VizPlot, ReadsTrainAndEvalSortedLastWins) {
  TempDir dir("trm_viz");
  std::filesystem::create_directories(dir / "run");
  write(dir / "run/metrics.jsonl", kMetrics);
  const RunCurves r = read_run_curves(dir / "run");
  ASSERT_EQ(r.train_loss.size(), 2u);
  EXPECT_EQ(r.train_loss[0].step, 50);
  EXPECT_DOUBLE_EQ(r.train_loss[1].value, 1.25);  // step 100 logged again (a resume): the later line
  EXPECT_DOUBLE_EQ(r.train_accuracy[1].value, 0.4);  // null leaves the earlier value at that step
  EXPECT_EQ(r.eval_exact.size(), 1u);
  EXPECT_DOUBLE_EQ(r.eval_steps[0].value, 12.0);
  EXPECT_EQ(r.file, dir / "run/metrics.jsonl");
}

TEST(VizPlot, BadMetricsNameFileAndLine) {
  TempDir dir("trm_viz");
  expect_error([&] { read_run_curves(dir / "none"); }, {"none", "no such run directory"});
  std::filesystem::create_directories(dir / "notrun");
  expect_error([&] { read_run_curves(dir / "notrun"); }, {"notrun/metrics.jsonl", "no such file"});
  write(dir / "empty.jsonl", "");
  expect_error([&] { read_run_curves(dir / "empty.jsonl"); }, {"empty.jsonl", "no \"train\" or \"eval\" lines", "empty"});
  write(dir / "bad.jsonl", std::string(kMetrics) + "{\"type\":\"train\",\"step\":3\n");
  expect_error([&] { read_run_curves(dir / "bad.jsonl"); }, {"bad.jsonl:7", "not a JSON line"});
  write(dir / "nokey.jsonl", "{\"type\":\"train\",\"step\":3,\"lm_loss\":1}\n");
  expect_error([&] { read_run_curves(dir / "nokey.jsonl"); }, {"nokey.jsonl:1", "\"accuracy\""});
  write(dir / "str.jsonl", "{\"type\":\"eval\",\"step\":3,\"cell_accuracy\":\"x\",\"exact_accuracy\":1,\"avg_steps\":1}\n");
  expect_error([&] { read_run_curves(dir / "str.jsonl"); }, {"str.jsonl:1", "\"cell_accuracy\" is not a number"});
  write(dir / "step.jsonl", "{\"type\":\"eval\",\"step\":-1}\n");
  expect_error([&] { read_run_curves(dir / "step.jsonl"); }, {"step.jsonl:1", "\"step\""});
  write(dir / "array.jsonl", "[1,2]\n");
  expect_error([&] { read_run_curves(dir / "array.jsonl"); }, {"array.jsonl:1", "not a JSON object"});
  write(dir / "other.jsonl", "{\"type\":\"nonfinite\",\"step\":1}\n");
  expect_error([&] { read_run_curves(dir / "other.jsonl"); }, {"other.jsonl", "no \"train\" or \"eval\""});
}

TEST(VizPlot, NamesTicksAndPanels) {
  std::vector<RunCurves> runs(3);
  name_runs(runs, {"runs/a/", "x/b", "y/b/metrics.jsonl"});
  EXPECT_EQ(runs[0].name, "a");
  EXPECT_EQ(runs[1].name, "x/b");  // two runs named b: the paths tell them apart
  EXPECT_EQ(runs[2].name, "y/b/metrics.jsonl");
  EXPECT_EQ(nice_ticks(0, 1, 5), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(nice_ticks(0, 400, 6), (std::vector<double>{0, 100, 200, 300, 400}));
  TempDir dir("trm_viz");
  write(dir / "m.jsonl", kMetrics);
  runs = {read_run_curves(dir / "m.jsonl"), read_run_curves(dir / "m.jsonl")};
  name_runs(runs, {"one", "two"});
  const std::string svg = render_svg(kPlotWidth, kPlotHeight, [&](Canvas& c) { draw_curves(c, runs, "t & t"); });
  expect_well_formed_xml(svg);
  EXPECT_EQ(count(svg, "<g class=\"panel\">"), 4u);
  EXPECT_EQ(count(svg, "<g class=\"series train\">"), 8u);  // 4 panels x 2 runs
  EXPECT_EQ(count(svg, "<g class=\"series eval\">"), 6u);   // 3 panels have eval curves
  EXPECT_NE(svg.find(">one</text>"), std::string::npos);
  EXPECT_NE(svg.find(">two</text>"), std::string::npos);
  const std::string png = render_png(kPlotWidth, kPlotHeight, [&](Canvas& c) { draw_curves(c, runs, "t"); }, 1.5);
  EXPECT_EQ(be32(png, 16), 1500u);
  EXPECT_EQ(be32(png, 20), static_cast<std::uint32_t>(kPlotHeight * 1.5));
}

}  // namespace
}  // namespace trm::viz
