// Every file of the bad-input corpus (tests/bad_inputs/, made by make.py there) through the reader
// it targets, in process: each must be refused with a trm::Error naming the file. (bad_inputs.sh
// feeds the same files through the CLI and checks exit status 2 and that nothing is written.)
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "cli/puzzle_text.h"
#include "io/json_file.h"
#include "io/text_file.h"
#include "trm/data.h"
#include "trm/data/arc.h"
#include "trm/data/maze.h"
#include "trm/data/sudoku.h"
#include "trm/error.h"
#include "trm/io/npy.h"
#include "trm/io/safetensors.h"
#include "trm/model/config.h"

namespace trm {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> corpus(const std::string& folder) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(fs::path(TRM_BAD_INPUTS_DIR) / folder)) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

// The case name: the file name without folder, extension, or "<target>--" prefix.
std::string prefix_of(const std::string& path) {
  const std::string stem = fs::path(path).stem().string();
  const auto p = stem.find("--");
  return p == std::string::npos ? "" : stem.substr(0, p);
}

void expect_refused(const std::string& path, const std::function<void()>& read) {
  try {
    read();
    ADD_FAILURE() << path << ": was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << "the message does not name the file: " << e.what();
  }
  // Anything but trm::Error propagates and fails the test.
}

TEST(BadInputs, Safetensors) {
  const auto files = corpus("safetensors");
  EXPECT_GE(files.size(), 15u);
  for (const auto& f : files) expect_refused(f, [&] { SafeTensorsFile::read(f); });
}

TEST(BadInputs, Npy) {
  const auto files = corpus("npy");
  EXPECT_GE(files.size(), 10u);
  for (const auto& f : files) {
    const std::string array = prefix_of(f);
    expect_refused(f, [&] {
      const auto a = data::NpyArray::read(f);
      // The index arrays are read as 1-D int32, the token arrays as uint8 (dataset_io.cpp).
      if (array == "inputs") {
        a.u8();
      } else {
        if (a.shape().size() != 1) throw Error(f + ": expected a 1-D array");
        a.to_int32();
      }
    });
  }
}

TEST(BadInputs, DatasetJson) {
  // The train-- cases are wrong on their own; the test-- ones disagree with a train split and are
  // checked against the 4x4 Sudoku metadata make.py describes.
  data::Metadata train;
  train.vocab_size = 6;
  train.seq_len = 16;
  int checked = 0;
  for (const auto& f : corpus("dataset_json")) {
    if (prefix_of(f) == "train") {
      expect_refused(f, [&] { data::metadata_from_json(data::read_json_file(f), f); });
    } else {
      const auto m = data::metadata_from_json(data::read_json_file(f), f);  // valid on its own
      expect_refused(f, [&] { data::check_metadata_agree(train, "train/dataset.json", m, f); });
    }
    ++checked;
  }
  EXPECT_GE(checked, 15);
}

TEST(BadInputs, Csv) {
  const auto files = corpus("csv");
  EXPECT_GE(files.size(), 12u);
  for (const auto& f : files) {
    if (prefix_of(f) == "maze")
      expect_refused(f, [&] { data::read_maze_csv(f); });
    else
      expect_refused(f, [&] { data::read_sudoku_csv(f); });
  }
}

TEST(BadInputs, ArcTasks) {
  const auto files = corpus("arc_task");
  EXPECT_GE(files.size(), 15u);
  for (const auto& f : files) expect_refused(f, [&] { data::read_arc_task_file(f); });
}

TEST(BadInputs, SolveText) {
  const auto files = corpus("solve");
  EXPECT_GE(files.size(), 8u);
  // For a 4x4 Sudoku model: vocab 6, seq_len 16.
  for (const auto& f : files)
    expect_refused(f, [&] { cli::parse_puzzle_for_model(io::read_text_file(f, cli::kMaxPuzzleTextBytes), f, 6, 16); });
}

// Found by fuzz_config_json: a number too large for an int or int64 config key
// ("hidden_size": 3.3e59, "total_steps": 3.3e107, or an integer literal beyond uint64, which the
// JSON parser reads as a float) reached nlohmann's get<int>() / get<int64_t>(), an undefined
// float-to-integer conversion (UBSan: "outside the range of representable values of type 'int'").
// The config reader must refuse it as a trm::Error. The fix belongs in src/model/config.cpp
// (from_value); until it is made this test fails under UBSan (the asan preset).
TEST(BadInputs, ConfigJson) {
  const auto files = corpus("config_json");
  EXPECT_GE(files.size(), 2u);
  for (const auto& f : files) {
    const nlohmann::json j = data::read_json_file(f);
    if (j.contains("model")) {
      EXPECT_THROW(
          {
            ModelConfig m;
            from_json(j.at("model"), m);
            m.validate();
          },
          Error)
          << f;
    }
    if (j.contains("optim")) {
      EXPECT_THROW(
          {
            OptimConfig o;
            from_json(j.at("optim"), o);
            o.validate();
          },
          Error)
          << f;
    }
  }
}

}  // namespace
}  // namespace trm
