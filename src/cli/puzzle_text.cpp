#include "cli/puzzle_text.h"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "trm/error.h"
#include "trm/data/maze.h"
#include "trm/data/sudoku.h"

namespace trm::cli {

namespace {

// 'c' for printable ASCII, else the byte in hex ('\x09'), so the message shows what is there.
std::string show_char(char ch) {
  const auto u = static_cast<unsigned char>(ch);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + ch + "'";
  static const char* hex = "0123456789abcdef";
  return std::string("'\\x") + hex[u >> 4] + hex[u & 15] + "'";
}

// Where byte i of text is, 1-based: "line 2, column 5".
std::string where(const std::string& text, std::size_t i) {
  std::size_t line = 1, col = 1;
  for (std::size_t k = 0; k < i; ++k) {
    if (text[k] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

bool is_blank_text(const std::string& text) {
  for (char ch : text)
    if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') return false;
  return true;
}

// A ruled separator line of a pretty-printed grid ("------+------"): only '-', '=', '+', '|' and
// spaces, at least one '-' or '='.
bool is_rule_line(const std::string& text, std::size_t begin, std::size_t end) {
  bool dash = false;
  for (std::size_t i = begin; i < end; ++i) {
    const char ch = text[i];
    if (ch == '-' || ch == '=') dash = true;
    else if (ch != '+' && ch != '|' && ch != ' ' && ch != '\t' && ch != '\r') return false;
  }
  return dash;
}

PuzzleText parse_sudoku(const std::string& text, const std::string& source) {
  PuzzleText p;
  p.kind = PuzzleKind::kSudoku;
  std::vector<int> digits;
  std::vector<std::size_t> at;  // byte offset of each cell, for errors
  std::size_t line_begin = 0;
  while (line_begin <= text.size()) {
    std::size_t line_end = text.find('\n', line_begin);
    if (line_end == std::string::npos) line_end = text.size();
    if (!is_rule_line(text, line_begin, line_end)) {
      for (std::size_t i = line_begin; i < line_end; ++i) {
        const char ch = text[i];
        if (ch == '.' || ch == '_' || (ch >= '0' && ch <= '9')) {
          digits.push_back(ch >= '0' && ch <= '9' ? ch - '0' : 0);
          at.push_back(i);
        } else if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '|' && ch != ',') {
          throw Error(source + ": invalid character " + show_char(ch) + " at " + where(text, i) +
                      " (a Sudoku is digits, '.', '0' or '_' for blanks, separated by nothing, spaces, '|' or ',')");
        }
      }
    }
    line_begin = line_end + 1;
  }
  const int n = static_cast<int>(std::lround(std::sqrt(static_cast<double>(digits.size()))));
  if (static_cast<std::size_t>(n) * static_cast<std::size_t>(n) != digits.size() || (n != 4 && n != 6 && n != 9))
    throw Error(source + ": Sudoku text has " + std::to_string(digits.size()) +
                " cells; expected 16, 36 or 81 (digits, '.' or '0' for blanks)");
  p.side = n;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (digits[i] > n)
      throw Error(source + ": Sudoku digit " + std::to_string(digits[i]) + " at " + where(text, at[i]) +
                  " is larger than " + std::to_string(n));
    p.tokens.push_back(data::sudoku_token(static_cast<std::uint8_t>(digits[i])));
  }
  return p;
}

PuzzleText parse_maze(const std::string& text, const std::string& source) {
  PuzzleText p;
  p.kind = PuzzleKind::kMaze;
  int starts = 0, goals = 0;
  // A bordered maze (format_tokens): "+---+" rule lines are skipped, and a '|' that opens or
  // closes a line is the border, not a cell.
  std::vector<bool> border(text.size(), false);
  for (std::size_t b = 0; b < text.size();) {
    std::size_t e = text.find('\n', b);
    if (e == std::string::npos) e = text.size();
    std::size_t last = e;
    while (last > b && text[last - 1] == '\r') --last;
    if (last > b && text[b] == '+' && is_rule_line(text, b, last)) {
      for (std::size_t k = b; k < last; ++k) border[k] = true;
    } else if (last > b + 1 && text[b] == '|' && text[last - 1] == '|') {
      border[b] = border[last - 1] = true;
    }
    b = e + 1;
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '\n' || ch == '\r' || border[i]) continue;
    // The question alphabet: 'o' (a path cell) belongs in answers only; '\0' would match the
    // charset's terminator.
    const char* hit = ch == '\0' || ch == 'o' ? nullptr : std::strchr(data::kMazeCharset, ch);
    if (!hit)
      throw Error(source + ": invalid character " + show_char(ch) + " at " + where(text, i) +
                  " (a maze is '#' walls, ' ' open cells, one 'S' and one 'G')");
    starts += ch == 'S';
    goals += ch == 'G';
    p.tokens.push_back(static_cast<std::int32_t>(hit - data::kMazeCharset) + 1);
  }
  const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(p.tokens.size()))));
  if (static_cast<std::size_t>(side) * static_cast<std::size_t>(side) != p.tokens.size())
    throw Error(source + ": maze text has " + std::to_string(p.tokens.size()) + " cells, which is not a square");
  if (starts != 1 || goals != 1)
    throw Error(source + ": a maze needs exactly one 'S' and one 'G', the text has " + std::to_string(starts) +
                " and " + std::to_string(goals));
  p.side = side;
  return p;
}

bool looks_like_maze(const std::string& text) {
  return text.find('#') != std::string::npos || text.find('S') != std::string::npos;
}

std::string kind_name(PuzzleKind k) {
  return k == PuzzleKind::kSudoku ? "Sudoku" : k == PuzzleKind::kMaze ? "maze" : "grid task";
}

}  // namespace

std::string ModelPuzzles::describe() const {
  const std::string grid = std::to_string(side) + "x" + std::to_string(side);
  const std::string cells = " (" + std::to_string(side * side) + " cells)";
  return grid + (sudoku ? " Sudoku" : " maze") + cells;
}

ModelPuzzles puzzles_for_model(int vocab_size, int seq_len) {
  ModelPuzzles m;
  const int side = seq_len > 0 ? static_cast<int>(std::lround(std::sqrt(static_cast<double>(seq_len)))) : 0;
  if (side < 2 || static_cast<std::int64_t>(side) * side != seq_len) return m;
  m.side = side;
  m.sudoku = (side == 4 || side == 6 || side == 9) && vocab_size == side + 2;
  // A 4x4 maze would share the 4x4 Sudoku's vocab_size 6 and seq_len 16; as in `trm data show`,
  // such a model is a Sudoku one, so mazes start at 5x5 and every model is one kind.
  m.maze = vocab_size == data::kMazeVocabSize && side > 4;
  return m;
}

PuzzleText parse_puzzle(const std::string& text, const std::string& source) {
  if (is_blank_text(text)) throw Error(source + ": empty puzzle (0 cells)");
  return looks_like_maze(text) ? parse_maze(text, source) : parse_sudoku(text, source);
}

PuzzleText parse_puzzle_for_model(const std::string& text, const std::string& source, int vocab_size, int seq_len,
                                  const std::string& model) {
  const ModelPuzzles m = puzzles_for_model(vocab_size, seq_len);
  if (!m.sudoku && !m.maze)
    throw Error(model + " (vocab_size " + std::to_string(vocab_size) + ", seq_len " + std::to_string(seq_len) +
                ") is not a Sudoku or maze model: trm solve reads n x n Sudoku (vocab_size n + 2, seq_len n*n) and "
                "mazes (vocab_size 6); for ARC use trm arc solve");
  if (is_blank_text(text)) throw Error(source + ": empty puzzle; " + model + " takes a " + m.describe());
  const PuzzleKind kind = looks_like_maze(text) ? PuzzleKind::kMaze : PuzzleKind::kSudoku;
  if (kind != (m.sudoku ? PuzzleKind::kSudoku : PuzzleKind::kMaze))
    throw Error(source + ": the text is a " + kind_name(kind) +
                (kind == PuzzleKind::kMaze ? " (it has '#' or 'S')" : " (it has no '#' or 'S')") +
                ", but " + model + " takes a " + m.describe());
  PuzzleText p;
  try {
    p = m.sudoku ? parse_sudoku(text, source) : parse_maze(text, source);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + "; " + model + " takes a " + m.describe());
  }
  if (p.side != m.side)
    throw Error(source + ": the text is a " + std::to_string(p.side) + "x" + std::to_string(p.side) + " " +
                kind_name(p.kind) + " (" + std::to_string(p.tokens.size()) + " cells), but " + model + " takes a " +
                m.describe());
  return p;
}

std::string format_tokens(PuzzleKind kind, int side, const std::vector<std::int32_t>& tokens, std::size_t offset) {
  std::string out;
  // Appended piece by piece: GCC 12 raises a false -Wrestrict on a chained string "+".
  std::string rule(1, '+');
  rule.append(static_cast<std::size_t>(side), '-').append("+\n");
  if (kind == PuzzleKind::kMaze) out += rule;
  for (int r = 0; r < side; ++r) {
    if (kind == PuzzleKind::kMaze) out += '|';
    for (int c = 0; c < side; ++c) {
      const std::int32_t t = tokens[offset + static_cast<std::size_t>(r * side + c)];
      if (kind == PuzzleKind::kMaze)
        out += (t >= 1 && t <= 5) ? data::kMazeCharset[t - 1] : '?';
      else
        out += t == 1 ? '.' : (t >= 2 && t <= side + 1) ? static_cast<char>('0' + t - 1) : '?';
      if (kind == PuzzleKind::kSudoku && c + 1 < side) out += ' ';
    }
    if (kind == PuzzleKind::kMaze) out += '|';
    out += '\n';
  }
  if (kind == PuzzleKind::kMaze) out += rule;
  return out;
}

std::string format_tokens(const PuzzleText& like, const std::vector<std::int32_t>& tokens, std::size_t offset) {
  if (like.kind == PuzzleKind::kGrid) return format_grid_tokens(*like.grid, tokens, offset);
  return format_tokens(like.kind, like.side, tokens, offset);
}

std::string format_arc_grid(int rows, int cols, const std::vector<std::uint8_t>& cells, bool ansi) {
  // The usual ARC palette: black, blue, red, green, yellow, grey, magenta, orange, azure, maroon.
  static const int kPalette[10] = {16, 27, 196, 40, 226, 244, 201, 208, 51, 88};
  std::string out;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const int v = cells[static_cast<std::size_t>(r * cols + c)];
      if (ansi && v >= 0 && v <= 9)
        out += "\x1b[48;5;" + std::to_string(kPalette[v]) + "m  ";
      else
        out += v <= 9 ? static_cast<char>('0' + v) : '?';
    }
    if (ansi) out += "\x1b[0m";
    out += '\n';
  }
  return out;
}

bool has_checker(const PuzzleText& q) { return q.kind != PuzzleKind::kGrid; }

std::optional<data::GridFormat> grid_format_of(const nlohmann::json& config, const std::string& context) {
  if (!config.is_object() || !config.contains("grid")) return std::nullopt;
  return data::GridFormat::from_json(config.at("grid"), context);
}

PuzzleText parse_grid_puzzle(const std::string& text, const std::string& source, const data::GridFormat& g) {
  PuzzleText p;
  p.kind = PuzzleKind::kGrid;
  p.side = g.width;
  p.grid = std::make_shared<const data::GridFormat>(g);
  std::string alphabet;
  for (const auto& s : g.alphabet) alphabet += (alphabet.empty() ? "" : " ") + s;
  const bool single = g.single_char();
  auto add = [&](const std::string& sym, std::size_t at) {
    for (std::size_t k = 0; k < g.alphabet.size(); ++k)
      if (g.alphabet[k] == sym) {
        p.tokens.push_back(static_cast<std::int32_t>(k) + 1);
        return;
      }
    throw Error(source + ": symbol \"" + sym + "\" at " + where(text, at) + " is not in the task's alphabet (" + alphabet + ")");
  };
  std::string cur;
  std::size_t cur_at = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    const char ch = i < text.size() ? text[i] : ' ';
    const bool sep = ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || (!single && ch == ',');
    if (single) {
      if (!sep) add(std::string(1, ch), i);
      continue;
    }
    if (sep) {
      if (!cur.empty()) add(cur, cur_at);
      cur.clear();
    } else {
      if (cur.empty()) cur_at = i;
      cur += ch;
    }
  }
  if (p.tokens.size() != static_cast<std::size_t>(g.seq_len))
    throw Error(source + ": " + std::to_string(p.tokens.size()) + " symbols, but the task takes " + std::to_string(g.seq_len) +
                (g.width > 0 ? " (" + std::to_string(g.seq_len / g.width) + " rows of " + std::to_string(g.width) + ")" : std::string()));
  return p;
}

std::string format_grid_tokens(const data::GridFormat& g, const std::vector<std::int32_t>& tokens, std::size_t offset) {
  std::string out;
  const bool single = g.single_char();
  for (int i = 0; i < g.seq_len; ++i) {
    const std::int32_t t = tokens[offset + static_cast<std::size_t>(i)];
    const bool row_start = g.width > 0 ? i % g.width == 0 : i == 0;
    if (!single && !row_start) out += ' ';
    out += t >= 1 && static_cast<std::size_t>(t) <= g.alphabet.size() ? g.alphabet[static_cast<std::size_t>(t) - 1] : "?";
    if (g.width > 0 && (i + 1) % g.width == 0) out += '\n';
  }
  if (g.width == 0) out += '\n';
  return out;
}

PuzzleText parse_puzzle_for_checkpoint(const std::string& text, const std::string& source, const nlohmann::json& config,
                                       int vocab_size, int seq_len, const std::string& model) {
  if (const auto g = grid_format_of(config, model)) {
    if (g->seq_len != seq_len || static_cast<int>(g->alphabet.size()) + 1 != vocab_size)
      throw Error(model + ": its grid task (" + std::to_string(g->alphabet.size()) + " symbols, length " +
                  std::to_string(g->seq_len) + ") does not match the model (vocab_size " + std::to_string(vocab_size) +
                  ", seq_len " + std::to_string(seq_len) + ")");
    return parse_grid_puzzle(text, source, *g);
  }
  return parse_puzzle_for_model(text, source, vocab_size, seq_len, model);
}

std::string check_answer(const PuzzleText& q, const std::vector<std::int32_t>& answer, std::size_t offset) {
  if (q.kind == PuzzleKind::kGrid) return "";
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
