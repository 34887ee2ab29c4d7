// What a served model takes and gives: its task (from the checkpoint, as `trm solve` decides it),
// the integer alphabet of request and answer grids, and the conversions between those grids, the
// CLI text form and model tokens (docs/SERVING.md "GET /v1/models").
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/puzzle_text.h"
#include "trm/data/grid.h"
#include "trm/infer/check.h"
#include "trm/model/config.h"

namespace trm::serve {

struct ModelInfo {
  std::string name, checkpoint, task;  // task: sudoku | maze | grid | arc | unknown
  ModelConfig config;
  nlohmann::json checkpoint_config;  // the checkpoint's {"model", "optim", "train", ...}
  std::int64_t params = 0;
  int rows = 0, cols = 0;
  cli::PuzzleText like;       // kind, side and grid format for formatting answers
  infer::Checker checker;     // inactive for grid tasks
  std::vector<std::string> symbols;  // symbols[v]: how the text writes value v
  int question_values = 0;    // values 0..question_values-1 may appear in a request grid
  int blank = -1;             // the value of a cell to fill (-1: none)

  // From a checkpoint's config; `params` is filled by the caller (it needs the model).
  static ModelInfo make(const std::string& name, const std::string& checkpoint, const ModelConfig& c,
                        const nlohmann::json& checkpoint_config);
  bool solvable() const { return task == "sudoku" || task == "maze" || task == "grid"; }
  nlohmann::json to_json() const;

  // The request's puzzle ("puzzle" text or "grid" integers; exactly one) as model tokens, checked
  // for size, alphabet and (Sudoku, maze) solvability. ApiError 400 naming the field.
  std::vector<std::int32_t> encode(const nlohmann::json& request) const;
  // Model tokens -> rows of values (a padding token becomes the blank, or -1 without one).
  nlohmann::json grid_json(const std::int32_t* tokens) const;
  std::string text(const std::int32_t* tokens) const;
};

}  // namespace trm::serve
