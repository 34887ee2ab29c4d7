// trm data generate|build|download
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/puzzle_text.h"
#include "io/atomic_file.h"
#include "io/output_path.h"
#include "trm/data/dataset.h"
#include "trm/data/grid.h"
#include "trm/io/download.h"
#include "trm/data/maze.h"
#include "trm/data/sudoku.h"

namespace trm::cli {
namespace {

void report(const std::string& out, const data::BuiltDataset& d, double seconds) {
  const nlohmann::json j = {{"out", out},
                            {"train_examples", d.train.num_examples},
                            {"train_groups", d.train.num_groups()},
                            {"test_examples", d.test.num_examples},
                            {"seq_len", d.train.meta.seq_len},
                            {"vocab_size", d.train.meta.vocab_size},
                            {"seconds", seconds}};
  std::printf("%s\n", j.dump().c_str());
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

DatasetDirClaim::DatasetDirClaim(std::unique_ptr<data::RunLock> lock, std::string out, bool created)
    : lock_(std::move(lock)), out_(std::move(out)), created_(created), exceptions_at_start_(std::uncaught_exceptions()) {}

DatasetDirClaim::~DatasetDirClaim() {
  namespace fs = std::filesystem;
  const bool failed = std::uncaught_exceptions() > exceptions_at_start_;
  const std::string lock_path = lock_ ? lock_->path() : "";
  lock_.reset();
  if (!failed || !created_) return;
  std::error_code ec;
  if (data::directory_entries(out_, {".lock"}).empty()) {
    fs::remove(lock_path, ec);
    fs::remove(out_, ec);
  }
}

std::unique_ptr<DatasetDirClaim> claim_dataset_dir(const std::string& out, bool force) {
  namespace fs = std::filesystem;
  const std::vector<std::string> entries = data::directory_entries(out, {".lock"});
  std::error_code ec;
  const bool dataset = fs::exists(fs::path(out) / "train" / "dataset.json", ec) ||
                       fs::exists(fs::path(out) / "test" / "dataset.json", ec) ||
                       fs::exists(fs::path(out) / "identifiers.json", ec);
  if (!entries.empty() && !dataset && !force) {
    std::string some;
    for (std::size_t i = 0; i < entries.size() && i < 3; ++i) some += (i ? ", " : "") + entries[i];
    if (entries.size() > 3) some += ", ...";
    throw Error(out + ": the output directory is not empty (" + some +
                ") and holds no trm dataset; choose a new or empty directory, or pass --force to write into it");
  }
  std::error_code exists_ec;
  const bool created = !fs::exists(out, exists_ec);
  data::prepare_output_dir(out);
  auto lock = std::make_unique<data::RunLock>(out, "dataset directory");
  // Temporary files of a write that a crash interrupted (the builders write every file through
  // write_file_atomically: NAME.tmp renamed to NAME), in the places the builders write to.
  for (const fs::path& dir : {fs::path(out), fs::path(out) / "train", fs::path(out) / "test"}) {
    for (const std::string& name : data::directory_entries(dir.string())) {
      const std::string suffix = ".tmp";
      if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
      const std::string target = (dir / name.substr(0, name.size() - suffix.size())).string();
      if (target.ends_with(".npy") || target.ends_with(".json"))
        if (data::remove_stale_temp(target))
          std::fprintf(stderr, "trm data: removed %s, left by an interrupted write\n", data::atomic_temp_path(target).c_str());
    }
  }
  if (dataset) std::fprintf(stderr, "trm data: replacing the dataset in %s\n", out.c_str());
  return std::make_unique<DatasetDirClaim>(std::move(lock), out, created);
}

void add_data_commands(CLI::App& app, Action& action) {
  auto* data_cmd = app.add_subcommand("data", "Make datasets in the reference's layout: generate, build from CSV, download");
  data_cmd->require_subcommand(1);

  // ---- generate ----
  auto* gen = data_cmd->add_subcommand("generate", "Generate puzzles with verified solutions");
  gen->require_subcommand(1);
  static std::string out;
  static bool force = false;
  static const char* kForceHelp = "Write into a non-empty --out that holds no trm dataset (files of the same names are replaced)";
  static data::SudokuGenerateOptions sg;
  auto* gs = gen->add_subcommand("sudoku", "n x n Sudoku (n = 4, 6, 9) with a unique solution each");
  gs->add_option("--out", out, "Output dataset directory")->required();
  gs->add_option("--n", sg.puzzle.n, "Grid size: 4, 6 or 9")->capture_default_str();
  gs->add_option("--clues", sg.puzzle.target_clues, "Givens to keep (fewer = harder); 0 = minimal puzzles")->capture_default_str();
  gs->add_option("--train", sg.num_train, "Training puzzles")->capture_default_str();
  gs->add_option("--test", sg.num_test, "Test puzzles (disjoint from training)")->capture_default_str();
  gs->add_option("--aug", sg.num_aug, "Augmented versions per training puzzle (digit/row/column shuffles)")->capture_default_str();
  gs->add_option("--seed", sg.seed, "Seed")->capture_default_str();
  gs->add_flag("--force", force, kForceHelp);
  gs->callback([&action] {
    action = [] {
      const auto lock = claim_dataset_dir(out, force);
      const auto t0 = std::chrono::steady_clock::now();
      const auto d = data::generate_sudoku_dataset(out, sg);
      report(out, d, since(t0));
      return 0;
    };
  });
  static data::MazeGenerateOptions mg = [] {
    data::MazeGenerateOptions m;
    m.maze.side = 15;
    m.maze.min_path_cells = 30;
    return m;
  }();
  auto* gm = gen->add_subcommand("maze", "k x k mazes ('# SGo', as Maze-Hard) with a minimum shortest-path length");
  gm->add_option("--out", out, "Output dataset directory")->required();
  gm->add_option("--side", mg.maze.side, "Grid side")->capture_default_str();
  gm->add_option("--min-path", mg.maze.min_path_cells, "Minimum shortest path length in cells (S and G included)")->capture_default_str();
  gm->add_option("--train", mg.num_train, "Training mazes")->capture_default_str();
  gm->add_option("--test", mg.num_test, "Test mazes")->capture_default_str();
  gm->add_flag("--aug", mg.aug, "Add the 8 dihedral transforms of each training maze");
  gm->add_option("--seed", mg.seed, "Seed")->capture_default_str();
  gm->add_flag("--force", force, kForceHelp);
  gm->callback([&action] {
    action = [] {
      const auto lock = claim_dataset_dir(out, force);
      const auto t0 = std::chrono::steady_clock::now();
      const auto d = data::generate_maze_dataset(out, mg);
      report(out, d, since(t0));
      return 0;
    };
  });

  // ---- build ----
  auto* build = data_cmd->add_subcommand("build", "Build a dataset from the benchmark CSV files");
  build->require_subcommand(1);
  static std::string train_csv, test_csv;
  static data::SudokuBuildOptions sb = [] {
    data::SudokuBuildOptions s;
    s.num_aug = 1000;
    return s;
  }();
  static std::int64_t subsample = 0;
  static int min_difficulty = -1;
  auto* bs = build->add_subcommand("sudoku", "Sudoku-Extreme (docs/REFERENCE.md §6.2): subsample, 1000 shuffles per training puzzle");
  bs->add_option("--train-csv", train_csv, "train.csv (source,question,answer,rating)")->required();
  bs->add_option("--test-csv", test_csv, "test CSV")->required();
  bs->add_option("--out", out, "Output dataset directory")->required();
  bs->add_option("--subsample-size", subsample, "Keep this many training puzzles (0 = all)")->capture_default_str();
  bs->add_option("--num-aug", sb.num_aug, "Augmentations per training puzzle")->capture_default_str();
  bs->add_option("--min-difficulty", min_difficulty, "Drop rows rated below this (-1 = keep all)")->capture_default_str();
  bs->add_option("--seed", sb.seed, "Seed (the reference's builder is unseeded)")->capture_default_str();
  bs->add_flag("--force", force, kForceHelp);
  bs->callback([&action] {
    action = [] {
      const auto lock = claim_dataset_dir(out, force);
      if (subsample > 0) sb.subsample_size = subsample;
      if (min_difficulty >= 0) sb.min_difficulty = min_difficulty;
      const auto t0 = std::chrono::steady_clock::now();
      const auto d = data::build_sudoku_dataset(train_csv, test_csv, out, sb);
      report(out, d, since(t0));
      return 0;
    };
  });
  add_data_build_arc_command(*build, action);
  static data::MazeBuildOptions mb;
  auto* bm = build->add_subcommand("maze", "Maze-Hard 30x30 (docs/REFERENCE.md §6.3), optionally with the 8 dihedral augmentations");
  bm->add_option("--train-csv", train_csv, "train.csv")->required();
  bm->add_option("--test-csv", test_csv, "test.csv")->required();
  bm->add_option("--out", out, "Output dataset directory")->required();
  bm->add_flag("--aug", mb.aug, "Add the 8 dihedral transforms of each training maze (the reference default is off)");
  bm->add_option("--subsample-size", subsample, "Keep this many training mazes (0 = all)")->capture_default_str();
  bm->add_option("--seed", mb.seed, "Seed for the subsample")->capture_default_str();
  bm->add_flag("--force", force, kForceHelp);
  bm->callback([&action] {
    action = [] {
      const auto lock = claim_dataset_dir(out, force);
      if (subsample > 0) mb.subsample_size = subsample;
      const auto t0 = std::chrono::steady_clock::now();
      const auto d = data::build_maze_dataset(train_csv, test_csv, out, mb);
      report(out, d, since(t0));
      return 0;
    };
  });

  static data::GridBuildOptions gb;
  static std::string grid_train, grid_test;
  auto* bg = build->add_subcommand(
      "grid", "Your own task: input/output pairs of equal length over any alphabet, from CSV or JSONL (docs/DATA.md)");
  bg->add_option("--train", grid_train, "Training examples: .csv (header input,output[,width]) or .jsonl ({\"input\":..,\"output\":..})")
      ->required();
  bg->add_option("--test", grid_test, "Test examples, same format")->required();
  bg->add_option("--out", out, "Output dataset directory")->required();
  bg->add_option("--width", gb.width, "Row width for 2-D rendering (0 = from the files, or a 1-D sequence)")->capture_default_str();
  bg->add_option("--aug", gb.augmentation, "none, dihedral (square grids), permutation (of the symbols) or dihedral+permutation")
      ->capture_default_str();
  bg->add_option("--num-aug", gb.num_aug, "Augmented versions per training example (with --aug)")->capture_default_str();
  bg->add_option("--seed", gb.seed, "Seed of the augmentations")->capture_default_str();
  bg->add_flag("--force", force, kForceHelp);
  bg->callback([&action] {
    action = [] {
      const auto lock = claim_dataset_dir(out, force);
      const auto t0 = std::chrono::steady_clock::now();
      const auto d = data::build_grid_dataset(grid_train, grid_test, out, gb);
      report(out, d, since(t0));
      return 0;
    };
  });

  // ---- show ----
  static std::string show_dir, show_split = "test";
  static std::int64_t show_index = 0;
  static bool show_answer = false;
  auto* sh = data_cmd->add_subcommand("show", "Print one example of a dataset as text (the format trm solve reads)");
  sh->add_option("dir", show_dir, "Dataset directory")->required();
  sh->add_option("--split", show_split, "Split")->capture_default_str();
  sh->add_option("--index", show_index, "Example row")->capture_default_str();
  sh->add_flag("--answer", show_answer, "Print the label (the solution) instead of the input");
  sh->callback([&action] {
    action = [] {
      const data::Dataset ds = data::read_split(show_dir, show_split);
      if (show_index < 0 || show_index >= ds.num_examples)
        throw Error("--index " + std::to_string(show_index) + " is outside the " + std::to_string(ds.num_examples) +
                    " examples of " + show_dir + "/" + show_split);
      const int S = ds.meta.seq_len, side = static_cast<int>(std::lround(std::sqrt(S)));
      const std::uint8_t* row = show_answer ? ds.label_row(show_index) : ds.input_row(show_index);
      std::vector<std::int32_t> tokens(row, row + S);
      if (const auto grid = data::read_grid_format(show_dir)) {
        std::printf("%s", format_grid_tokens(*grid, tokens).c_str());
        return 0;
      }
      // Sudoku n x n has vocab n + 2; Maze-style grids have vocab 6 and sides above 4.
      const bool sudoku = side * side == S && ds.meta.vocab_size == side + 2 && (side == 4 || side == 6 || side == 9);
      const bool maze = side * side == S && ds.meta.vocab_size == data::kMazeVocabSize && side > 4;
      if (!sudoku && !maze) throw Error(show_dir + ": not a Sudoku or maze dataset (seq_len " + std::to_string(S) + ")");
      std::printf("%s", format_tokens(sudoku ? PuzzleKind::kSudoku : PuzzleKind::kMaze, side, tokens).c_str());
      return 0;
    };
  });

  // ---- download ----
  static std::string name, dest = "data/raw";
  auto* dl = data_cmd->add_subcommand("download", "Download the benchmark CSVs (needs curl and internet), checking sha256");
  dl->add_option("name", name, "sudoku-extreme, sudoku-extreme-1k or maze-30x30-hard-1k")->required();
  dl->add_option("--out", dest, "Directory; files go to <out>/<name>/")->capture_default_str();
  dl->callback([&action] {
    action = [] {
      data::prepare_output_dir(dest);  // before anything is fetched
      for (const auto& p : data::download_dataset(dest, name)) std::printf("%s\n", p.c_str());
      return 0;
    };
  });
}

}  // namespace trm::cli
