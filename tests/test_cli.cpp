// The text forms `trm solve` reads and prints (src/cli/puzzle_text.cpp): Sudoku and maze parsing,
// formatting round trips, and answer checking.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/puzzle_text.h"
#include "trm/model/config.h"
#include "trm/data/maze.h"
#include "trm/data/sudoku.h"

namespace trm::cli {
namespace {

std::vector<std::int32_t> sudoku_tokens(const std::string& digits) {
  std::vector<std::int32_t> t;
  for (char ch : digits) t.push_back(ch == '.' ? 1 : ch - '0' + 1);
  return t;
}

std::string error_of(const std::string& text) {
  try {
    parse_puzzle(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// Parses text and expects it recognized as a `kind` puzzle of side `side`.
PuzzleText parse_as(const std::string& text, PuzzleKind kind, int side) {
  const PuzzleText p = parse_puzzle(text);
  EXPECT_EQ(p.kind, kind) << text;
  EXPECT_EQ(p.side, side) << text;
  return p;
}

// A valid 4x4 grid and a question of it.
const std::string kSolution4 = "1234341221434321";
const std::string kQuestion4 = "1..4..1.2..3.3.1";

// ---------------------------------------------------------------------------------------------
// Sudoku parsing

TEST(ParseSudoku, FourByFourWithDotsZerosSeparatorsAndNewlines) {
  const PuzzleText a = parse_as(kQuestion4, PuzzleKind::kSudoku, 4);
  EXPECT_EQ(a.tokens, sudoku_tokens(kQuestion4));
  EXPECT_EQ(a.tokens[0], 2);  // digit 1 -> token 2
  EXPECT_EQ(a.tokens[1], 1);  // blank -> token 1

  // The same puzzle with '0' for blanks, separators and newlines.
  const PuzzleText b = parse_puzzle("1 0 | 0 4\n0 0 | 1 0\n----+----\n2 0 | 0 3\n0 3 | 0 1\n");
  EXPECT_EQ(b.side, 4);
  EXPECT_EQ(b.tokens, a.tokens);
  const PuzzleText c = parse_puzzle("1..4\r\n..1.\r\n2..3\r\n.3.1\r\n");
  EXPECT_EQ(c.tokens, a.tokens);
  const PuzzleText d = parse_puzzle("1,_,_,4,_,_,1,_,2,_,_,3,_,3,_,1");
  EXPECT_EQ(d.tokens, a.tokens);
}

TEST(ParseSudoku, SixBySixAndNineByNine) {
  const std::string six = "1.3.5.\n"
                          "4.6.2.\n"
                          "2.4.6.\n"
                          "5.1.3.\n"
                          "3.5.1.\n"
                          "6.2.4.\n";
  const PuzzleText p6 = parse_as(six, PuzzleKind::kSudoku, 6);
  ASSERT_EQ(p6.tokens.size(), 36u);
  EXPECT_EQ(p6.tokens[4], 6);  // digit 5
  EXPECT_EQ(p6.tokens[5], 1);

  std::string nine;
  for (int r = 0; r < 9; ++r) nine += "000000009\n";
  nine[0] = '5';
  const PuzzleText p9 = parse_puzzle(nine);
  EXPECT_EQ(p9.side, 9);
  ASSERT_EQ(p9.tokens.size(), 81u);
  EXPECT_EQ(p9.tokens[0], 6);
  EXPECT_EQ(p9.tokens[1], 1);
  EXPECT_EQ(p9.tokens[8], 10);
}

TEST(ParseSudoku, WrongLengthsAndLargeDigitsAreRejected) {
  EXPECT_NE(error_of("1..4..1.2..3.3.").find("15 cells"), std::string::npos) << error_of("1..4..1.2..3.3.");
  EXPECT_NE(error_of(kQuestion4 + ".").find("17 cells"), std::string::npos);
  EXPECT_NE(error_of(std::string(25, '.')).find("25 cells"), std::string::npos);  // 5x5 is square but not a Sudoku
  EXPECT_NE(error_of(std::string(64, '.')).find("64 cells"), std::string::npos);  // 8x8
  EXPECT_NE(error_of("").find("0 cells"), std::string::npos);
  // A digit larger than n.
  const std::string five = "5..4..1.2..3.3.1";
  EXPECT_NE(error_of(five).find("digit 5"), std::string::npos) << error_of(five);
  std::string six(36, '.');
  six[7] = '7';
  EXPECT_NE(error_of(six).find("digit 7"), std::string::npos) << error_of(six);
  EXPECT_EQ(error_of(std::string(81, '9')), "no error");
}

// ---------------------------------------------------------------------------------------------
// Maze parsing

TEST(ParseMaze, RowsOnSeparateLinesKeepLeadingAndTrailingSpaces) {
  // The first row starts with spaces and the last one ends with them.
  const std::string text = "  S#\n"
                           " # #\n"
                           " #G \n"
                           "    \n";
  const PuzzleText p = parse_as(text, PuzzleKind::kMaze, 4);
  using namespace trm::data;
  const std::vector<std::int32_t> expect = {kMazeOpen, kMazeOpen, kMazeStart, kMazeWall,  //
                                            kMazeOpen, kMazeWall, kMazeOpen,  kMazeWall,  //
                                            kMazeOpen, kMazeWall, kMazeGoal,  kMazeOpen,  //
                                            kMazeOpen, kMazeOpen, kMazeOpen,  kMazeOpen};
  EXPECT_EQ(p.tokens, expect);
  // One line, and CRLF line ends, give the same maze.
  EXPECT_EQ(parse_puzzle("  S# # # #G     ").tokens, expect);
  EXPECT_EQ(parse_puzzle("  S#\r\n # #\r\n #G \r\n    \r\n").tokens, expect);
  // A maze without any wall is still recognized by its S.
  parse_as("S  G", PuzzleKind::kMaze, 2);
}

TEST(ParseMaze, InvalidCharactersAndNonSquareSizesAreRejected) {
  std::string msg = error_of("  S#\n # #\n #G.\n    \n");
  EXPECT_NE(msg.find("invalid character '.'"), std::string::npos) << msg;
  msg = error_of("  S#\n # #\n #Gx\n    \n");
  EXPECT_NE(msg.find("invalid character 'x'"), std::string::npos) << msg;
  msg = error_of("  S#\n\t# #\n #G \n    \n");
  EXPECT_NE(msg.find("invalid character"), std::string::npos) << msg;
  msg = error_of("  S#\n # #\n #Go\n    \n");  // path cells belong in answers, not questions
  EXPECT_NE(msg.find("invalid character 'o'"), std::string::npos) << msg;
  msg = error_of("  S#\n # #\n #G\n    \n");  // a row lost its trailing space: 15 cells
  EXPECT_NE(msg.find("15 cells"), std::string::npos) << msg;
  msg = error_of(std::string("  S#\n # #\n #G", 13) + std::string(1, '\0') + "\n    \n");
  EXPECT_NE(msg.find("invalid character"), std::string::npos) << msg;
}

TEST(ParseMaze, NeedsExactlyOneStartAndGoal) {
  EXPECT_NE(error_of("S  S").find("exactly one 'S' and one 'G'"), std::string::npos) << error_of("S  S");
  EXPECT_NE(error_of("#S# ").find("has 1 and 0"), std::string::npos) << error_of("#S# ");
}

// ---------------------------------------------------------------------------------------------
// Stray characters: refused with their position, never dropped ("-1" used to read as "1").

TEST(ParsePuzzle, StrayCharactersAreRefusedWithTheirPosition) {
  std::string msg = error_of("-1..4..1.2..3.3.1");
  EXPECT_NE(msg.find("invalid character '-' at line 1, column 1"), std::string::npos) << msg;
  msg = error_of("1..4\n..1.\n2..3\n.3.x\n");
  EXPECT_NE(msg.find("invalid character 'x' at line 4, column 4"), std::string::npos) << msg;
  msg = error_of("1..4..1.2..3.3.1;");
  EXPECT_NE(msg.find("';'"), std::string::npos) << msg;
  // Bytes outside printable ASCII are shown in hex.
  msg = error_of("1..4..1.2..3.3.1\xc3\xa9");
  EXPECT_NE(msg.find("'\\xc3' at line 1, column 17"), std::string::npos) << msg;
  msg = error_of(std::string("1..4..1.2..3.3.1\0", 17));
  EXPECT_NE(msg.find("'\\x00'"), std::string::npos) << msg;
  // A '-' inside a line of digits is not a rule line.
  msg = error_of("1 . | . 4\n. . | 1 .\n--+--\n2 . | . 3\n. 3 | -1\n");
  EXPECT_NE(msg.find("'-' at line 5, column 7"), std::string::npos) << msg;
  // Maze positions too.
  msg = error_of("  S#\n # #\n #Gx\n    \n");
  EXPECT_NE(msg.find("invalid character 'x' at line 3, column 4"), std::string::npos) << msg;
  // The source is named.
  try {
    parse_puzzle("1..4..1.2..3.3.1?", "puzzle.txt");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("puzzle.txt: ", 0), 0u) << e.what();
  }
  // A digit too large for the grid names where it is.
  msg = error_of("1..4\n..1.\n2..5\n.3.1\n");
  EXPECT_NE(msg.find("digit 5 at line 3, column 4"), std::string::npos) << msg;
  // Empty and whitespace-only input.
  EXPECT_NE(error_of(" \n\t\r\n").find("empty puzzle"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// What a model takes

std::string model_error_of(const std::string& text, int vocab, int seq_len) {
  try {
    parse_puzzle_for_model(text, "arg", vocab, seq_len, "model.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(ModelPuzzles, KindAndSideFromVocabAndSeqLen) {
  const ModelPuzzles s9 = puzzles_for_model(11, 81);
  EXPECT_TRUE(s9.sudoku);
  EXPECT_FALSE(s9.maze);
  EXPECT_EQ(s9.describe(), "9x9 Sudoku (81 cells)");
  EXPECT_TRUE(puzzles_for_model(8, 36).sudoku);
  const ModelPuzzles m30 = puzzles_for_model(data::kMazeVocabSize, 900);
  EXPECT_TRUE(m30.maze);
  EXPECT_FALSE(m30.sudoku);
  EXPECT_EQ(m30.describe(), "30x30 maze (900 cells)");
  // 4x4 Sudoku and 4x4 maze share vocab 6 and seq_len 16: taken as Sudoku, as `trm data show` does.
  const ModelPuzzles four = puzzles_for_model(6, 16);
  EXPECT_TRUE(four.sudoku);
  EXPECT_FALSE(four.maze);
  EXPECT_TRUE(puzzles_for_model(6, 25).maze);
  EXPECT_FALSE(puzzles_for_model(6, 9).maze);
  const ModelPuzzles arc = puzzles_for_model(12, 900);
  EXPECT_FALSE(arc.sudoku || arc.maze);
  EXPECT_FALSE(puzzles_for_model(11, 80).sudoku);
}

TEST(ModelPuzzles, TextThatDoesNotFitTheModelIsRefused) {
  const std::string maze4 = "  S#\n # #\n #G \n    \n";
  // A maze given to a Sudoku model used to run (here with the same cell count: 4x4).
  std::string msg = model_error_of(maze4, 6, 16);
  EXPECT_NE(msg.find("arg: the text is a maze"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.safetensors takes a 4x4 Sudoku (16 cells)"), std::string::npos) << msg;
  msg = model_error_of(maze4, 11, 81);
  EXPECT_NE(msg.find("arg: the text is a maze"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.safetensors takes a 9x9 Sudoku (81 cells)"), std::string::npos) << msg;
  // A Sudoku given to a maze model.
  msg = model_error_of(kQuestion4, 6, 900);
  EXPECT_NE(msg.find("the text is a Sudoku"), std::string::npos) << msg;
  EXPECT_NE(msg.find("30x30 maze (900 cells)"), std::string::npos) << msg;
  // The right kind but the wrong size: expected vs got.
  msg = model_error_of(kQuestion4, 11, 81);
  EXPECT_NE(msg.find("the text is a 4x4 Sudoku (16 cells), but model.safetensors takes a 9x9 Sudoku (81 cells)"),
            std::string::npos) << msg;
  // A model that is neither.
  msg = model_error_of(kQuestion4, 12, 900);
  EXPECT_NE(msg.find("model.safetensors (vocab_size 12, seq_len 900) is not a Sudoku or maze model"), std::string::npos)
      << msg;
  // A parse error says what the model takes too.
  msg = model_error_of("1..4..1.2..3.3.-", 6, 16);
  EXPECT_NE(msg.find("invalid character '-'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("takes a 4x4 Sudoku (16 cells)"), std::string::npos) << msg;
  msg = model_error_of("", 11, 81);
  EXPECT_NE(msg.find("arg: empty puzzle"), std::string::npos) << msg;
  // What fits parses as before.
  EXPECT_EQ(parse_puzzle_for_model(kQuestion4, "arg", 6, 16).tokens, sudoku_tokens(kQuestion4));
  const std::string maze5 = "  S# \n # # \n #G  \n     \n#####\n";
  EXPECT_EQ(parse_puzzle_for_model(maze5, "arg", 6, 25).kind, PuzzleKind::kMaze);
  EXPECT_EQ(parse_puzzle_for_model(maze5, "arg", 6, 25).tokens, parse_puzzle(maze5).tokens);
  msg = model_error_of(maze4, 6, 25);
  EXPECT_NE(msg.find("the text is a 4x4 maze (16 cells), but model.safetensors takes a 5x5 maze (25 cells)"),
            std::string::npos) << msg;
}

// ---------------------------------------------------------------------------------------------
// Formatting

TEST(FormatTokens, SudokuAndMazeRoundTrip) {
  const PuzzleText q = parse_puzzle(kQuestion4);
  const std::string text = format_tokens(PuzzleKind::kSudoku, 4, q.tokens);
  EXPECT_EQ(text, "1 . . 4\n. . 1 .\n2 . . 3\n. 3 . 1\n");
  EXPECT_EQ(parse_puzzle(text).tokens, q.tokens);

  std::string nine;
  for (int i = 0; i < 81; ++i) nine += static_cast<char>(i % 7 == 0 ? '.' : '1' + (i * 5) % 9);
  const PuzzleText p9 = parse_puzzle(nine);
  EXPECT_EQ(parse_puzzle(format_tokens(PuzzleKind::kSudoku, 9, p9.tokens)).tokens, p9.tokens);

  const std::string maze = "  S#\n # #\n #G \n    \n";
  const PuzzleText m = parse_puzzle(maze);
  // Drawn inside a border, so the open cells at the ends of a row show; read back as the same maze.
  const std::string bordered = "+----+\n|  S#|\n| # #|\n| #G |\n|    |\n+----+\n";
  EXPECT_EQ(format_tokens(PuzzleKind::kMaze, 4, m.tokens), bordered);
  EXPECT_EQ(parse_puzzle(format_tokens(PuzzleKind::kMaze, 4, m.tokens)).tokens, m.tokens);
  EXPECT_EQ(parse_puzzle(bordered).side, 4);

  // Offsets skip a prefix (the model's output carries the puzzle positions first); unknown
  // tokens print as '?'.
  std::vector<std::int32_t> shifted = {0, 0, 0};
  shifted.insert(shifted.end(), q.tokens.begin(), q.tokens.end());
  EXPECT_EQ(format_tokens(PuzzleKind::kSudoku, 4, shifted, 3), text);
  std::vector<std::int32_t> bad = q.tokens;
  bad[0] = 0;
  bad[1] = 9;
  EXPECT_EQ(format_tokens(PuzzleKind::kSudoku, 4, bad).substr(0, 4), "? ? ");
  std::vector<std::int32_t> path = m.tokens;
  path[1] = data::kMazePath;
  path[4] = 0;
  EXPECT_EQ(format_tokens(PuzzleKind::kMaze, 4, path).substr(7, 13), "| oS#|\n|?# #|");
}

// ---------------------------------------------------------------------------------------------
// Grid tasks (trm data build grid): the alphabet and width carried by the checkpoint

std::string grid_error(const std::string& text, const data::GridFormat& g) {
  try {
    parse_grid_puzzle(text, "arg", g);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(GridText, ParsesAndFormatsSingleCharacterSymbols) {
  data::GridFormat g;
  g.alphabet = {".", "#"};
  g.width = 3;
  g.seq_len = 6;
  const PuzzleText p = parse_grid_puzzle(".#.\n##.\n", "arg", g);
  EXPECT_EQ(p.kind, PuzzleKind::kGrid);
  EXPECT_EQ(p.tokens, (std::vector<std::int32_t>{1, 2, 1, 2, 2, 1}));
  EXPECT_EQ(format_tokens(p, p.tokens), ".#.\n##.\n");
  EXPECT_EQ(parse_grid_puzzle(".#. ##.", "arg", g).tokens, p.tokens);  // spaces and newlines are not symbols
  EXPECT_FALSE(has_checker(p));
  EXPECT_EQ(check_answer(p, p.tokens), "");
  EXPECT_EQ(grid_error(".#x##.", g), "arg: symbol \"x\" at line 1, column 3 is not in the task's alphabet (. #)");
  EXPECT_EQ(grid_error(".#.", g), "arg: 3 symbols, but the task takes 6 (2 rows of 3)");
  g.width = 0;
  EXPECT_EQ(format_grid_tokens(g, p.tokens), ".#.##.\n");
  std::vector<std::int32_t> odd = p.tokens;
  odd[0] = 0;
  EXPECT_EQ(format_grid_tokens(g, odd), "?#.##.\n");
}

TEST(GridText, MultiCharacterSymbolsAreSeparated) {
  data::GridFormat g;
  g.alphabet = {"2", "3", "10"};
  g.width = 2;
  g.seq_len = 4;
  const PuzzleText p = parse_grid_puzzle("10 2\n3,3", "arg", g);
  EXPECT_EQ(p.tokens, (std::vector<std::int32_t>{3, 1, 2, 2}));
  EXPECT_EQ(format_tokens(p, p.tokens), "10 2\n3 3\n");
}

TEST(GridText, CheckpointConfigSelectsTheGridParser) {
  const nlohmann::json config = {{"grid", {{"alphabet", {"a", "b"}}, {"width", 0}, {"seq_len", 3}}}};
  EXPECT_EQ(parse_puzzle_for_checkpoint("aba", "arg", config, 3, 3, "m").kind, PuzzleKind::kGrid);
  // Without "grid", a Sudoku model reads Sudoku text as before.
  EXPECT_EQ(parse_puzzle_for_checkpoint("1..4.3....2.4..1", "arg", nlohmann::json::object(), 6, 16, "m").kind,
            PuzzleKind::kSudoku);
  try {
    parse_puzzle_for_checkpoint("aba", "arg", config, 5, 3, "m");
    ADD_FAILURE() << "a grid entry that does not match the model was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not match the model"), std::string::npos);
  }
}

TEST(ArcText, DrawsDigitsOrColours) {
  EXPECT_EQ(format_arc_grid(2, 2, {0, 1, 9, 3}, false), "01\n93\n");
  const std::string colour = format_arc_grid(1, 2, {0, 2}, true);
  EXPECT_EQ(colour, "\x1b[48;5;16m  \x1b[48;5;196m  \x1b[0m\n");
}

// ---------------------------------------------------------------------------------------------
// Answer checking

TEST(CheckAnswer, Sudoku) {
  const PuzzleText q = parse_puzzle(kQuestion4);
  const auto good = sudoku_tokens(kSolution4);
  EXPECT_EQ(check_answer(q, good), "");
  // With an offset.
  std::vector<std::int32_t> shifted = {7, 7};
  shifted.insert(shifted.end(), good.begin(), good.end());
  EXPECT_EQ(check_answer(q, shifted, 2), "");

  // A given changed: swap the digits 1 and 4 everywhere, still a valid grid but cell 0 was a 1.
  std::string swapped = kSolution4;
  for (char& ch : swapped) ch = ch == '1' ? '4' : ch == '4' ? '1' : ch;
  EXPECT_EQ(check_answer(q, sudoku_tokens(swapped)), "changes a given digit");

  // A broken row: cell 1 (blank in the question) repeats the row's 1.
  std::string dup = kSolution4;
  dup[1] = '1';
  EXPECT_EQ(check_answer(q, sudoku_tokens(dup)), "breaks a row, column or box constraint");
  // Rows kept valid but columns broken: swap the two blank cells 1 and 2 of row 0.
  std::string cols = kSolution4;
  std::swap(cols[1], cols[2]);
  EXPECT_EQ(check_answer(q, sudoku_tokens(cols)), "breaks a row, column or box constraint");
  // A blank or a non-digit token in the answer.
  auto blank = good;
  blank[5] = 1;
  EXPECT_NE(check_answer(q, blank).find("cell 5"), std::string::npos) << check_answer(q, blank);
  auto pad = good;
  pad[9] = 0;
  EXPECT_NE(check_answer(q, pad).find("cell 9"), std::string::npos);
  auto big = good;
  big[2] = 6;  // digit 5 in a 4x4
  EXPECT_NE(check_answer(q, big).find("cell 2"), std::string::npos);
}

TEST(CheckAnswer, Maze) {
  //   row 0: "  S#"
  //   row 1: " # #"
  //   row 2: " #G "
  //   row 3: "    "
  // S is cell 2, G cell 10; the shortest path is S -> (1,2) = cell 6 -> G: 2 steps.
  const PuzzleText q = parse_puzzle("  S#\n # #\n #G \n    \n");
  auto answer = q.tokens;
  answer[6] = data::kMazePath;  // (1,2)
  EXPECT_EQ(check_answer(q, answer), "");

  // A path that is not shortest: around the left side.
  auto longer = q.tokens;
  for (int cell : {1, 0, 4, 8, 12, 13, 14}) longer[static_cast<std::size_t>(cell)] = data::kMazePath;
  // S (0,2) -> (0,1) -> (0,0) -> (1,0) -> (2,0) -> (3,0) -> (3,1) -> (3,2) -> G (2,2): 8 steps.
  EXPECT_NE(check_answer(q, longer), "");
  EXPECT_NE(check_answer(q, longer).find("do not connect S to G in 2 steps"), std::string::npos) << check_answer(q, longer);
  // The shortest path plus an extra marked cell.
  auto extra = answer;
  extra[15] = data::kMazePath;
  EXPECT_NE(check_answer(q, extra).find("cells are marked"), std::string::npos) << check_answer(q, extra);
  // No path at all.
  EXPECT_NE(check_answer(q, q.tokens), "");
  // A wall turned into a path cell.
  auto through_wall = answer;
  through_wall[3] = data::kMazePath;
  // Named by row and column (1-based), as the drawn maze is read: cell 3 is row 1, column 4.
  EXPECT_EQ(check_answer(q, through_wall), "row 1, column 4 changes from '#' to 'o'");
  // S moved.
  auto moved = answer;
  moved[2] = data::kMazeOpen;
  EXPECT_NE(check_answer(q, moved), "");
}

}  // namespace
}  // namespace trm::cli
