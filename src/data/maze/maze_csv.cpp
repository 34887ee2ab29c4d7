#include <algorithm>
#include <cmath>

#include "trm/error.h"
#include "trm/io/csv.h"
#include "trm/data/maze.h"

namespace trm::data {
namespace {

void encode(const std::string& text, std::uint8_t* out, const std::string& where, const char* what) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char* hit = std::char_traits<char>::find(kMazeCharset, 5, text[i]);
    if (hit == nullptr)
      throw Error(where + ": " + what + " has '" + std::string(1, text[i]) + "' at position " + std::to_string(i) +
                  " (the maze charset is \"" + kMazeCharset + "\")");
    out[i] = static_cast<std::uint8_t>(hit - kMazeCharset + 1);
  }
}

}  // namespace

MazeSet read_maze_csv(const std::string& path) {
  MazeSet set;
  std::vector<std::uint8_t> q, a;
  read_csv(path, kPuzzleCsvHeader, [&](const std::vector<std::string>& f, std::int64_t line) {
    const std::string where = path + ":" + std::to_string(line);
    const std::string& question = f[1];
    const std::string& answer = f[2];
    if (set.side == 0) {
      const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(question.size()))));
      if (side < 2 || static_cast<std::size_t>(side) * static_cast<std::size_t>(side) != question.size())
        throw Error(where + ": question has " + std::to_string(question.size()) +
                    " characters, not a square grid of side >= 2");
      // The generator's bound (maze_generate.cpp); side * side must also fit the int cell count.
      if (side > kMazeMaxSide)
        throw Error(where + ": question is a " + std::to_string(side) + "x" + std::to_string(side) +
                    " maze, larger than " + std::to_string(kMazeMaxSide) + "x" + std::to_string(kMazeMaxSide));
      set.side = side;
      q.resize(static_cast<std::size_t>(set.cells()));
      a.resize(q.size());
    }
    if (question.size() != q.size() || answer.size() != q.size())
      throw Error(where + ": question and answer have " + std::to_string(question.size()) + " and " +
                  std::to_string(answer.size()) + " characters, expected " + std::to_string(q.size()) +
                  " like the first row");
    encode(question, q.data(), where, "question");
    encode(answer, a.data(), where, "answer");
    if (std::count(q.begin(), q.end(), kMazeStart) != 1 || std::count(q.begin(), q.end(), kMazeGoal) != 1)
      throw Error(where + ": question needs exactly one 'S' and one 'G'");
    for (std::size_t i = 0; i < q.size(); ++i)
      if (a[i] != q[i] && !(q[i] == kMazeOpen && a[i] == kMazePath))
        throw Error(where + ": answer differs from the question at position " + std::to_string(i) +
                    " by more than marking an open cell as 'o'");
    set.add(q.data(), a.data());
  });
  if (set.side == 0) throw Error(path + ": no mazes after the header");
  return set;
}

void write_maze_csv(const std::string& path, const MazeSet& set, const std::string& source) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(static_cast<std::size_t>(set.size()));
  for (std::int64_t i = 0; i < set.size(); ++i) {
    const auto path_cells = std::count(set.answer(i), set.answer(i) + set.cells(), kMazePath) + 2;
    rows.push_back({source, maze_to_string(set.question(i), set.cells()), maze_to_string(set.answer(i), set.cells()),
                    std::to_string(path_cells)});
  }
  write_csv(path, kPuzzleCsvHeader, rows);
}

}  // namespace trm::data
