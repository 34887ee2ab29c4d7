// trm solve --checkpoint FILE [PUZZLE | --file F | -]
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/puzzle_checker.h"
#include "cli/puzzle_text.h"
#include "cli/sampling_option.h"
#include "io/output_path.h"
#include "io/text_file.h"
#include "trm/eval/evaluate.h"
#include "trm/infer/solver.h"
#include "trm/train/checkpoint.h"
#include "trm/viz/render.h"

namespace trm::cli {

namespace {

// How --render draws this puzzle's tokens.
viz::BoardSpec board_spec(const PuzzleText& p) {
  viz::BoardSpec b;
  const int n = static_cast<int>(p.tokens.size());
  switch (p.kind) {
    case PuzzleKind::kSudoku: b.kind = viz::BoardKind::kSudoku; b.rows = b.cols = p.side; break;
    case PuzzleKind::kMaze: b.kind = viz::BoardKind::kMaze; b.rows = b.cols = p.side; break;
    case PuzzleKind::kGrid:
      b.kind = viz::BoardKind::kSymbols;
      b.cols = p.grid->width > 0 ? p.grid->width : n;
      b.rows = n / b.cols;
      b.alphabet = p.grid->alphabet;
      break;
  }
  return b;
}

}  // namespace

void add_solve_command(CLI::App& app, Action& action) {
  static std::string ckpt, puzzle, file, halting = "adaptive", render;
  static bool show_steps = false, json_out = false;
  static std::string backend = "cpu", precision = "auto";
  static SamplingArgs sampling;
  auto* cmd = app.add_subcommand("solve", "Solve one puzzle given as an argument, a file, or stdin ('-')");
  cmd->add_option("--checkpoint", ckpt, "Checkpoint (.safetensors) written by trm train")->required();
  cmd->add_option("puzzle", puzzle, "Sudoku: 16/36/81 digits with '.' or '0' for blanks; maze: rows of '# SG'; '-' = stdin");
  cmd->add_option("--file", file, "Read the puzzle from this file");
  cmd->add_option("--halting", halting,
                  "adaptive (stop when q_halt > 0 and the answer passes the puzzle's rules; HRM: q_halt > "
                  "q_continue) or reference (always halt_max_steps)")
      ->capture_default_str();
  add_sampling_options(cmd, sampling);
  add_backend_option(cmd, backend);
  add_precision_option(cmd, precision);
  cmd->add_flag("--steps", show_steps, "Print the answer after every supervision step");
  cmd->add_flag("--json", json_out, "Print one JSON object instead of text");
  cmd->add_option("--render", render,
                  "Draw the answer after every supervision step: .svg or .png (all steps side by side) or .gif "
                  "(an animation); changed cells highlighted, the halting confidence as a bar");
  cmd->callback([&action] {
    action = [] {
      check_precision_name(precision);  // a bad name fails before any file is read
      if (!render.empty()) {
        viz::image_format_for(render, {viz::ImageFormat::kSvg, viz::ImageFormat::kPng, viz::ImageFormat::kGif});
        data::check_output_file(render);
      }
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
      infer::SolverOptions so;
      so.halting = halting_from_string(halting) == Halting::kAdaptive ? infer::HaltMode::kAdaptive
                                                                       : infer::HaltMode::kReference;
      apply_sampling(sampling, true, so);
      // The checkpoint's header says what the model takes; the text is checked against it before
      // any weight is read.
      const Checkpoint ck = Checkpoint::read(ckpt);
      const ModelConfig c = ck.model_config();
      const PuzzleText p = parse_puzzle_for_checkpoint(text, source, ck.contents().config, c.vocab_size, c.seq_len, "the model in " + ckpt);
      so.checker = checker_for(p);
      // "auto" picks the checker rule only where there is a checker (a grid task has none).
      if (sampling.select == "auto" && !so.checker.active()) so.select = infer::Select::kConfidence;
      // Givens that conflict, or a maze without a way through: not the model's fault, and no
      // answer could be right, so say so instead of running it.
      const std::string invalid = so.checker.puzzle_problem(p.tokens.data());
      if (!invalid.empty()) throw Error(source + ": this puzzle is invalid / has no solution: " + invalid);
      so.batch = so.samples;  // the K trajectories of the one puzzle, as one batch
      auto be = make_backend(backend);
      apply_precision(*be, precision);
      auto model = std::make_unique<TrmModel>(c, *be);
      ck.load_model(*model, true);
      infer::Solver solver(*model, so);
      // Per trajectory, its steps; the chosen one's go into the JSON.
      std::vector<nlohmann::json> steps(static_cast<std::size_t>(so.samples), nlohmann::json::array());
      std::vector<std::int32_t> shown;
      // --render: per trajectory, the answer tokens after each step.
      std::vector<std::vector<std::vector<std::int32_t>>> step_tokens(static_cast<std::size_t>(so.samples));
      const std::vector<std::int32_t> ids{0};
      std::vector<infer::Answer> answers;
      solver.solve(p.tokens.data(), ids.data(), 1, answers,
                   [&](std::int64_t, int sample, int step, const std::int32_t* tok, float conf, bool verified) {
                     steps[static_cast<std::size_t>(sample)].push_back(
                         {{"step", step}, {"confidence", conf}, {"valid", verified}});
                     if (!render.empty()) step_tokens[static_cast<std::size_t>(sample)].emplace_back(tok, tok + c.seq_len);
                     if (!show_steps || json_out) return;
                     shown.assign(tok, tok + c.seq_len);
                     const std::string problem = verified ? "" : so.checker.problem(p.tokens.data(), tok);
                     std::printf("%sstep %d  confidence %.3f  %s\n%s",
                                 so.samples > 1 ? ("sample " + std::to_string(sample + 1) + "  ").c_str() : "", step,
                                 conf, verified ? "valid" : problem.c_str(), format_tokens(p, shown).c_str());
                   });
      const infer::Answer& a = answers.front();
      const bool checked = so.checker.active();  // a grid task (trm data build grid) has no rules to check
      const bool ok = a.check == infer::CheckStatus::kVerified;
      const std::string problem = ok || !checked ? "" : so.checker.problem(p.tokens.data(), a.tokens.data());
      if (!render.empty()) {
        viz::SolveSteps rs;
        rs.spec = board_spec(p);
        rs.question = p.tokens;
        rs.answers = std::move(step_tokens[static_cast<std::size_t>(a.sample)]);
        // The chosen trajectory's steps up to the one it answered at.
        rs.answers.resize(std::min(rs.answers.size(), static_cast<std::size_t>(a.steps)));
        for (const auto& st : steps[static_cast<std::size_t>(a.sample)]) {
          if (rs.confidence.size() == rs.answers.size()) break;
          rs.confidence.push_back(st["confidence"].get<float>());
          rs.verified.push_back(st["valid"].get<bool>());
        }
        rs.checked = checked;
        rs.halted = a.q_halt > 0;
        rs.title = ModelPuzzles(puzzles_for_model(c.vocab_size, c.seq_len)).describe();
        if (p.kind == PuzzleKind::kGrid) rs.title = "grid task (" + std::to_string(c.seq_len) + " cells)";
        rs.title += ", " + ckpt + (so.samples > 1 ? ", sample " + std::to_string(a.sample + 1) : "");
        viz::write_steps_image(render, rs);
        std::fprintf(stderr, "render: %zu step%s -> %s\n", rs.answers.size(), rs.answers.size() == 1 ? "" : "s",
                     render.c_str());
      }
      if (json_out) {
        nlohmann::json j{{"solution", format_tokens(p, a.tokens)},
                         {"valid", checked ? nlohmann::json(ok) : nlohmann::json(nullptr)},
                         {"check", infer::to_string(a.check)},
                         {"confidence", a.confidence},
                         {"steps_used", a.steps},
                         {"steps", steps[static_cast<std::size_t>(a.sample)]}};
        if (checked && !ok) j["problem"] = problem;
        if (so.samples > 1) {
          j["samples"] = so.samples;
          j["sample"] = a.sample;
          j["select"] = infer::to_string(so.select);
          j["steps_all_samples"] = a.total_steps;
        }
        std::printf("%s\n", j.dump().c_str());
      } else {
        // With --steps the final grid was just printed as the last step: only the verdict follows.
        if (!show_steps || so.samples > 1) std::printf("%s", format_tokens(p, a.tokens).c_str());
        std::printf("%s after %d supervision step%s, confidence %.3f%s\n",
                    !checked ? "answer (no checker for this task)"
                    : ok     ? "solved (verified)"
                             : ("not solved (unverified): " + problem).c_str(),
                    a.steps,
                    a.steps == 1 ? "" : "s", a.confidence,
                    so.samples > 1 ? (", sample " + std::to_string(a.sample + 1) + " of " + std::to_string(so.samples) +
                                      " chosen by " + infer::to_string(so.select))
                                         .c_str()
                                   : "");
      }
      return ok || !checked ? 0 : 1;
    };
  });
}

}  // namespace trm::cli
