// trm solve --checkpoint FILE [PUZZLE | --file F | -]
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/puzzle_text.h"
#include "trm/train/act.h"
#include "trm/train/checkpoint.h"
#include "trm/eval/evaluate.h"

namespace trm::cli {

void add_solve_command(CLI::App& app, Action& action) {
  static std::string ckpt, puzzle, file, halting = "adaptive";
  static bool show_steps = false, json_out = false;
  static std::string backend = "cpu";
  auto* cmd = app.add_subcommand("solve", "Solve one puzzle given as an argument, a file, or stdin ('-')");
  cmd->add_option("--checkpoint", ckpt, "Checkpoint (.safetensors) written by trm train")->required();
  cmd->add_option("puzzle", puzzle, "Sudoku: 16/36/81 digits with '.' or '0' for blanks; maze: rows of '# SG'; '-' = stdin");
  cmd->add_option("--file", file, "Read the puzzle from this file");
  cmd->add_option("--halting", halting, "adaptive (stop when q_halt > 0; HRM: q_halt > q_continue) or reference (always halt_max_steps)")->capture_default_str();
  add_backend_option(cmd, backend);
  cmd->add_flag("--steps", show_steps, "Print the answer after every supervision step");
  cmd->add_flag("--json", json_out, "Print one JSON object instead of text");
  cmd->callback([&action] {
    action = [] {
      std::string text = puzzle;
      if (!file.empty()) {
        std::ifstream f(file);
        if (!f) throw Error(file + ": cannot open");
        text.assign(std::istreambuf_iterator<char>(f), {});
      } else if (text.empty() || text == "-") {
        if (text.empty() && isatty(0)) throw Error("give a puzzle as an argument, with --file, or on stdin ('-')");
        text.assign(std::istreambuf_iterator<char>(std::cin), {});
      }
      const PuzzleText p = parse_puzzle(text);
      auto be = make_backend(backend);
      auto model = load_model_from_checkpoint(ckpt, *be, true);
      const ModelConfig& c = model->config();
      if (static_cast<int>(p.tokens.size()) != c.seq_len)
        throw Error("the puzzle has " + std::to_string(p.tokens.size()) + " cells but this model was trained on " +
                    std::to_string(c.seq_len));
      const Halting h = halting_from_string(halting);
      model->reserve(1, false);
      InferenceCarry carry(*model, 1);
      carry.reset(1);
      std::vector<std::int32_t> ids{0}, pred;
      const Batch batch{1, p.tokens.data(), nullptr, ids.data()};
      nlohmann::json steps = nlohmann::json::array();
      int used = 0;
      float q[2];
      for (int s = 1; s <= c.halt_max_steps; ++s) {
        carry.forward(batch);
        predictions(*model, 1, pred);
        be->to_host(model->q(), q, 2);
        used = s;
        const std::string problem = check_answer(p, pred);
        if (show_steps && !json_out)
          std::printf("step %d  q_halt %+.3f (p=%.3f)  %s\n%s", s, q[0], 1 / (1 + std::exp(-q[0])),
                      problem.empty() ? "valid" : problem.c_str(), format_tokens(p.kind, p.side, pred).c_str());
        steps.push_back({{"step", s}, {"q_halt", q[0]}, {"valid", problem.empty()}});
        if (h == Halting::kAdaptive && halt_signal(c, q)) break;  // TRM: q_halt > 0; HRM: q_halt > q_continue
      }
      const std::string problem = check_answer(p, pred);
      if (json_out) {
        std::printf("%s\n", nlohmann::json{{"solution", format_tokens(p.kind, p.side, pred)},
                                           {"valid", problem.empty()},
                                           {"steps_used", used},
                                           {"steps", steps}}
                                .dump()
                                .c_str());
      } else {
        std::printf("%s", format_tokens(p.kind, p.side, pred).c_str());
        std::printf("%s after %d supervision step%s\n", problem.empty() ? "solved" : ("not solved: " + problem).c_str(),
                    used, used == 1 ? "" : "s");
      }
      return problem.empty() ? 0 : 1;
    };
  });
}

}  // namespace trm::cli
