// Maze-Hard (docs/REFERENCE.md §6.3): square mazes as row-major strings over "# SGo" (wall, open, start, goal,
// path), CSV reading, the dataset builder with the optional 8 dihedral augmentations, shortest
// path tools, and a generator of mazes in the same format.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trm/data/dataset.h"
#include "trm/data/rng.h"

namespace trm::data {

// Token ids: the position in kMazeCharset plus 1 (0 is PAD).
inline constexpr char kMazeCharset[] = "# SGo";
enum MazeToken : std::uint8_t { kMazeWall = 1, kMazeOpen = 2, kMazeStart = 3, kMazeGoal = 4, kMazePath = 5 };
inline constexpr int kMazeVocabSize = 6;
inline constexpr int kMazeMaxSide = 255;  // the largest maze generated or read (seq_len 65025)

// Mazes as tokens, row-major side x side.
struct MazeSet {
  int side = 0;
  std::vector<std::uint8_t> questions;  // [size, side*side]
  std::vector<std::uint8_t> answers;    // [size, side*side]

  int cells() const { return side * side; }
  std::int64_t size() const { return cells() ? static_cast<std::int64_t>(questions.size()) / cells() : 0; }
  const std::uint8_t* question(std::int64_t i) const { return questions.data() + i * cells(); }
  const std::uint8_t* answer(std::int64_t i) const { return answers.data() + i * cells(); }
  void add(const std::uint8_t* question, const std::uint8_t* answer);
  MazeSet select(const std::vector<std::int64_t>& rows) const;
};

std::string maze_to_string(const std::uint8_t* tokens, int cells);

// Reads `source,question,answer,rating` without trimming. Each row is checked: a square size
// (the same throughout), characters from the charset, one S and one G, and an answer equal to the
// question apart from open cells turned into path cells. Errors name file and line.
MazeSet read_maze_csv(const std::string& path);
// Writes the same format; rating = path cells with S and G (as in the released files).
void write_maze_csv(const std::string& path, const MazeSet& set, const std::string& source = "");

// BFS step counts from `from` (-1 where unreachable); every non-wall cell is passable.
std::vector<int> maze_distances(const std::uint8_t* grid, int side, int from);
// The shortest S..G path (both included) that the released answers use: a BFS from S visiting
// neighbours in the order down, left, right, up, the first parent found winning. Empty when G is
// unreachable or S or G is missing.
std::vector<int> maze_canonical_path(const std::uint8_t* grid, int side);
// `question` with the canonical path marked; false when there is no path.
bool maze_solve(const std::uint8_t* question, int side, std::uint8_t* answer);
// "" when `answer` is `question` with some shortest S -> G path marked (not necessarily the
// canonical one), otherwise what is wrong.
std::string maze_answer_problem(const std::uint8_t* question, const std::uint8_t* answer, int side);

// One group per maze: the maze alone, or with aug its 8 dihedral transforms (ids 0..7, in that
// order) as 8 puzzles. Identifiers are all 0.
Dataset build_maze_split(const MazeSet& mazes, bool aug);

struct MazeBuildOptions {
  bool aug = false;                            // train only (the reference's --aug, default off)
  std::optional<std::int64_t> subsample_size;  // train only
  std::uint64_t seed = 0;                      // for the subsample
};

BuiltDataset build_maze_dataset(const std::string& train_csv, const std::string& test_csv,
                                const std::string& out_dir, const MazeBuildOptions& opt);

struct MazeGenOptions {
  int side = 30;
  int min_path_cells = 110;  // shortest path length in cells, S and G included (the CSV rating)
  double wall_min = 0.30;    // wall density drawn per maze from [wall_min, wall_max]
  double wall_max = 0.42;
  int max_attempts = 20000;
};

// Random walls, S and G placed at least min_path_cells apart, answer = the canonical path.
// Throws trm::Error when max_attempts random mazes all fall short.
void generate_maze(const MazeGenOptions& opt, Rng& rng, std::uint8_t* question, std::uint8_t* answer);
MazeSet generate_mazes(std::int64_t count, const MazeGenOptions& opt, Rng& rng);

struct MazeGenerateOptions : GeneratedSplits {
  MazeGenOptions maze;
  bool aug = false;  // also write the 8 dihedral versions of every training maze
};

BuiltDataset generate_maze_dataset(const std::string& out_dir, const MazeGenerateOptions& opt);

}  // namespace trm::data
