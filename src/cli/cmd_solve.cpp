// trm solve --checkpoint FILE [PUZZLE | --file F | -]
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/puzzle_text.h"
#include "io/text_file.h"
#include "trm/train/act.h"
#include "trm/train/checkpoint.h"
#include "trm/eval/evaluate.h"

namespace trm::cli {

void add_solve_command(CLI::App& app, Action& action) {
  static std::string ckpt, puzzle, file, halting = "adaptive";
  static bool show_steps = false, json_out = false;
  static std::string backend = "cpu", precision = "fp32";
  auto* cmd = app.add_subcommand("solve", "Solve one puzzle given as an argument, a file, or stdin ('-')");
  cmd->add_option("--checkpoint", ckpt, "Checkpoint (.safetensors) written by trm train")->required();
  cmd->add_option("puzzle", puzzle, "Sudoku: 16/36/81 digits with '.' or '0' for blanks; maze: rows of '# SG'; '-' = stdin");
  cmd->add_option("--file", file, "Read the puzzle from this file");
  cmd->add_option("--halting", halting, "adaptive (stop when q_halt > 0; HRM: q_halt > q_continue) or reference (always halt_max_steps)")->capture_default_str();
  add_backend_option(cmd, backend);
  add_precision_option(cmd, precision);
  cmd->add_flag("--steps", show_steps, "Print the answer after every supervision step");
  cmd->add_flag("--json", json_out, "Print one JSON object instead of text");
  cmd->callback([&action] {
    action = [] {
      precision_from_string(precision);  // a bad name fails before any file is read
      // The text and where it came from (named in every error about it).
      std::string text, source;
      if (!file.empty()) {
        if (!puzzle.empty()) throw Error("give the puzzle either as an argument or with --file, not both");
        source = file;
        text = io::read_text_file(file, kMaxPuzzleTextBytes);
      } else if (puzzle.empty() || puzzle == "-") {
        if (puzzle.empty() && isatty(0)) throw Error("give a puzzle as an argument, with --file, or on stdin ('-')");
        source = "stdin";
        text = io::read_fd_text(0, source, kMaxPuzzleTextBytes);
      } else {
        source = "the puzzle argument";
        text = puzzle;
      }
      // The checkpoint's header says what the model takes; the text is checked against it before
      // any weight is read.
      const Checkpoint ck = Checkpoint::read(ckpt);
      const ModelConfig c = ck.model_config();
      const PuzzleText p = parse_puzzle_for_checkpoint(text, source, ck.contents().config, c.vocab_size, c.seq_len, "the model in " + ckpt);
      auto be = make_backend(backend);
      apply_precision(*be, precision);
      auto model = std::make_unique<TrmModel>(c, *be);
      ck.load_model(*model, true);
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
                      problem.empty() ? "valid" : problem.c_str(), format_tokens(p, pred).c_str());
        steps.push_back({{"step", s}, {"q_halt", q[0]}, {"valid", problem.empty()}});
        if (h == Halting::kAdaptive && halt_signal(c, q)) break;  // TRM: q_halt > 0; HRM: q_halt > q_continue
      }
      const std::string problem = check_answer(p, pred);
      if (json_out) {
        std::printf("%s\n", nlohmann::json{{"solution", format_tokens(p, pred)},
                                           {"valid", problem.empty()},
                                           {"steps_used", used},
                                           {"steps", steps}}
                                .dump()
                                .c_str());
      } else {
        std::printf("%s", format_tokens(p, pred).c_str());
        std::printf("%s after %d supervision step%s\n",
                    !has_checker(p) ? "answer (no checker for this task)" : problem.empty() ? "solved" : ("not solved: " + problem).c_str(),
                    used, used == 1 ? "" : "s");
      }
      return problem.empty() ? 0 : 1;
    };
  });
}

}  // namespace trm::cli
