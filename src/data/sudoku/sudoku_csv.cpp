#include <charconv>
#include <cmath>

#include "trm/error.h"
#include "trm/io/csv.h"
#include "trm/data/sudoku.h"

namespace trm::data {
namespace {

int side_of(std::size_t len) {
  const int n = static_cast<int>(std::lround(std::sqrt(static_cast<double>(len))));
  return static_cast<std::size_t>(n) * static_cast<std::size_t>(n) == len ? n : -1;
}

void parse_digits(const std::string& text, int n, bool blanks_allowed, std::uint8_t* out, const std::string& where,
                  const char* what) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    int d = -1;
    if (ch == '.' || ch == '0')
      d = blanks_allowed ? 0 : -1;
    else if (ch >= '1' && ch <= '0' + n)
      d = ch - '0';
    if (d < 0)
      throw Error(where + ": " + what + " has '" + std::string(1, ch) + "' at position " + std::to_string(i) +
                  " (expected " + (blanks_allowed ? "'.', '0' or " : "") + "a digit 1-" + std::to_string(n) + ")");
    out[i] = static_cast<std::uint8_t>(d);
  }
}

}  // namespace

SudokuSet read_sudoku_csv(const std::string& path, std::optional<int> min_difficulty) {
  SudokuSet set;
  bool have_shape = false;
  std::int64_t rows = 0;
  std::vector<std::uint8_t> q, a;
  read_csv(path, kPuzzleCsvHeader, [&](const std::vector<std::string>& f, std::int64_t line) {
    ++rows;
    const std::string where = path + ":" + std::to_string(line);
    const std::string& question = f[1];
    const std::string& answer = f[2];
    if (!have_shape) {
      const int n = side_of(question.size());
      if (n != 4 && n != 6 && n != 9)
        throw Error(where + ": question has " + std::to_string(question.size()) +
                    " characters; a Sudoku row needs 16, 36 or 81 (4x4, 6x6, 9x9)");
      set.shape = SudokuShape::for_size(n);
      have_shape = true;
      q.resize(static_cast<std::size_t>(set.shape.cells()));
      a.resize(q.size());
    }
    const auto cells = static_cast<std::size_t>(set.shape.cells());
    if (question.size() != cells || answer.size() != cells)
      throw Error(where + ": question and answer have " + std::to_string(question.size()) + " and " +
                  std::to_string(answer.size()) + " characters, expected " + std::to_string(cells) +
                  " like the first row");
    if (min_difficulty) {
      int rating = 0;
      const auto& r = f[3];
      const auto [end, ec] = std::from_chars(r.data(), r.data() + r.size(), rating);
      if (ec != std::errc() || end != r.data() + r.size())
        throw Error(where + ": rating \"" + r + "\" is not an integer (needed by min_difficulty)");
      if (rating < *min_difficulty) return;
    }
    parse_digits(question, set.shape.n, true, q.data(), where, "question");
    parse_digits(answer, set.shape.n, false, a.data(), where, "answer");
    if (!sudoku_is_solution(set.shape, a.data()))
      throw Error(where + ": answer breaks a row, column or box constraint");
    if (!sudoku_agrees(set.shape, q.data(), a.data()))
      throw Error(where + ": answer changes a given digit of the question");
    set.add(q.data(), a.data());
  });
  if (rows == 0) throw Error(path + ": no puzzles after the header");
  return set;
}

void write_sudoku_csv(const std::string& path, const SudokuSet& set, const std::string& source) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(static_cast<std::size_t>(set.size()));
  const int cells = set.shape.cells();
  for (std::int64_t i = 0; i < set.size(); ++i) {
    std::string q(static_cast<std::size_t>(cells), '.'), a(static_cast<std::size_t>(cells), '0');
    for (int c = 0; c < cells; ++c) {
      if (set.question(i)[c]) q[static_cast<std::size_t>(c)] = static_cast<char>('0' + set.question(i)[c]);
      a[static_cast<std::size_t>(c)] = static_cast<char>('0' + set.answer(i)[c]);
    }
    rows.push_back({source, std::move(q), std::move(a), ""});
  }
  write_csv(path, kPuzzleCsvHeader, rows);
}

}  // namespace trm::data
