#include "serve/model_info.h"

#include "trm/data/maze.h"
#include "trm/error.h"
#include "trm/serve/service.h"

namespace trm::serve {

namespace {
std::string clip(const std::string& s, std::size_t n = 200) { return s.size() <= n ? s : s.substr(0, n) + "..."; }
}  // namespace

ModelInfo ModelInfo::make(const std::string& name, const std::string& checkpoint, const ModelConfig& c,
                          const nlohmann::json& checkpoint_config) {
  ModelInfo m;
  m.name = name;
  m.checkpoint = checkpoint;
  m.config = c;
  m.checkpoint_config = checkpoint_config;
  // As trm solve decides (src/cli/puzzle_text.h): a grid task named in the config, else Sudoku or
  // maze from vocab_size and seq_len; ARC models (vocab 12, 30x30) are listed but not solved here.
  if (auto g = cli::grid_format_of(checkpoint_config, checkpoint)) {
    m.task = "grid";
    m.like.kind = cli::PuzzleKind::kGrid;
    m.like.side = g->width;
    m.like.grid = std::make_shared<const data::GridFormat>(*g);
    m.cols = g->width > 0 ? g->width : g->seq_len;
    m.rows = g->seq_len / m.cols;
    m.symbols = g->alphabet;
    m.question_values = static_cast<int>(g->alphabet.size());
    return m;
  }
  const cli::ModelPuzzles p = cli::puzzles_for_model(c.vocab_size, c.seq_len);
  if (p.sudoku || p.maze) {
    m.rows = m.cols = p.side;
    m.like.side = p.side;
    if (p.sudoku) {
      m.task = "sudoku";
      m.like.kind = cli::PuzzleKind::kSudoku;
      m.checker = infer::Checker(infer::PuzzleFamily::kSudoku, p.side);
      m.symbols.push_back(".");
      for (int d = 1; d <= p.side; ++d) m.symbols.push_back(std::to_string(d));
      m.question_values = p.side + 1;
      m.blank = 0;
    } else {
      m.task = "maze";
      m.like.kind = cli::PuzzleKind::kMaze;
      m.checker = infer::Checker(infer::PuzzleFamily::kMaze, p.side);
      for (int i = 0; data::kMazeCharset[i] != '\0'; ++i) m.symbols.emplace_back(1, data::kMazeCharset[i]);
      m.question_values = 4;  // '#', ' ', 'S', 'G': a path cell 'o' belongs in answers only
      m.blank = 1;
    }
    return m;
  }
  m.task = c.vocab_size == 12 && c.seq_len == 900 ? "arc" : "unknown";
  m.rows = 1;
  m.cols = c.seq_len;
  return m;
}

nlohmann::json ModelInfo::to_json() const {
  nlohmann::json values = nlohmann::json::array();
  for (std::size_t v = 0; v < symbols.size(); ++v) values.push_back(v);
  const nlohmann::json mc = config;
  return {{"name", name},
          {"task", task},
          {"arch", to_string(config.arch)},
          {"params", params},
          {"seq_len", config.seq_len},
          {"rows", rows},
          {"cols", cols},
          {"vocab", {{"blank", blank >= 0 ? nlohmann::json(blank) : nlohmann::json(nullptr)},
                     {"values", values},
                     {"symbols", symbols},
                     {"question_values", question_values}}},
          {"halt_max_steps", config.halt_max_steps},
          {"checker", checker.active()},
          {"solvable", solvable()},
          {"config", mc}};
}

std::vector<std::int32_t> ModelInfo::encode(const nlohmann::json& req) const {
  const bool has_text = req.contains("puzzle"), has_grid = req.contains("grid");
  if (has_text == has_grid)
    throw ApiError(400, has_text ? "give either \"puzzle\" (text) or \"grid\" (integers), not both"
                                 : "missing the puzzle: give \"puzzle\" (text) or \"grid\" (rows of integers)",
                   has_text ? "grid" : "puzzle");
  std::vector<std::int32_t> tokens;
  const char* field = has_text ? "puzzle" : "grid";
  if (has_text) {
    const nlohmann::json& t = req.at("puzzle");
    if (!t.is_string()) throw ApiError(400, "puzzle: must be a string (the text trm solve reads)", "puzzle");
    const std::string& s = t.get_ref<const std::string&>();
    if (s.size() > cli::kMaxPuzzleTextBytes) throw ApiError(400, "puzzle: longer than 1 MiB", "puzzle");
    try {
      tokens = cli::parse_puzzle_for_checkpoint(s, "puzzle", checkpoint_config, config.vocab_size, config.seq_len,
                                                "model \"" + name + "\"")
                   .tokens;
    } catch (const Error& e) {
      throw ApiError(400, clip(e.what(), 400), "puzzle");
    }
  } else {
    const nlohmann::json& g = req.at("grid");
    const std::string shape = std::to_string(rows) + " rows of " + std::to_string(cols) + " integers in 0.." +
                              std::to_string(question_values - 1);
    if (!g.is_array()) throw ApiError(400, "grid: must be an array of " + shape, "grid");
    if (static_cast<int>(g.size()) != rows)
      throw ApiError(400, "grid: has " + std::to_string(g.size()) + " rows, the model expects " + std::to_string(rows), "grid");
    tokens.reserve(static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols));
    for (int r = 0; r < rows; ++r) {
      const nlohmann::json& row = g[static_cast<std::size_t>(r)];
      const std::string rn = "grid: row " + std::to_string(r + 1);
      if (!row.is_array()) throw ApiError(400, rn + " is not an array", "grid");
      if (static_cast<int>(row.size()) != cols)
        throw ApiError(400, rn + " has " + std::to_string(row.size()) + " cells, the model expects " + std::to_string(cols), "grid");
      for (int k = 0; k < cols; ++k) {
        const nlohmann::json& v = row[static_cast<std::size_t>(k)];
        const std::string at = rn + " column " + std::to_string(k + 1);
        if (!v.is_number_integer()) throw ApiError(400, at + ": not an integer", "grid");
        const bool neg = v.is_number_unsigned() ? false : v.get<std::int64_t>() < 0;
        const std::uint64_t x = neg ? 0 : v.get<std::uint64_t>();
        if (neg || x >= static_cast<std::uint64_t>(question_values))
          throw ApiError(400, at + ": " + v.dump() + " is outside the puzzle alphabet 0.." + std::to_string(question_values - 1),
                         "grid");
        tokens.push_back(static_cast<std::int32_t>(x) + 1);  // value v is token v + 1 (0 is padding)
      }
    }
  }
  if (checker.active()) {
    const std::string why = checker.puzzle_problem(tokens.data());
    if (!why.empty()) throw ApiError(400, std::string(field) + ": this puzzle is invalid / has no solution: " + why, field);
  }
  return tokens;
}

nlohmann::json ModelInfo::grid_json(const std::int32_t* tokens) const {
  nlohmann::json g = nlohmann::json::array();
  for (int r = 0; r < rows; ++r) {
    nlohmann::json row = nlohmann::json::array();
    for (int k = 0; k < cols; ++k) {
      const std::int32_t t = tokens[static_cast<std::ptrdiff_t>(r) * cols + k];
      row.push_back(t >= 1 && t <= static_cast<std::int32_t>(symbols.size()) ? t - 1 : blank);
    }
    g.push_back(std::move(row));
  }
  return g;
}

std::string ModelInfo::text(const std::int32_t* tokens) const {
  return cli::format_tokens(like, std::vector<std::int32_t>(tokens, tokens + config.seq_len));
}

}  // namespace trm::serve
