// trm predict --checkpoint CKPT --data DIR|FILE --out predictions.jsonl: batch-solves a dataset
// split or a text file of puzzles (one per line, the `trm solve` text form) on the inference engine
// (trm/infer/solver.h), one JSON line per puzzle, written atomically once all are solved.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/progress_line.h"
#include "cli/puzzle_checker.h"
#include "cli/puzzle_text.h"
#include "cli/sampling_option.h"
#include "data/collate.h"
#include "io/atomic_file.h"
#include "io/output_path.h"
#include "io/text_file.h"
#include "trm/data/dataset.h"
#include "trm/data/maze.h"
#include "trm/eval/evaluate.h"
#include "trm/infer/solver.h"
#include "trm/train/checkpoint.h"

namespace trm::cli {

namespace {
// The largest puzzle file read whole (a million 9x9 Sudoku lines is ~82 MB).
constexpr std::size_t kMaxPredictFileBytes = std::size_t{1} << 30;

// An answer as one string in the puzzle's own alphabet (Sudoku digits, maze "# SGo"), or the token
// ids for other tasks.
nlohmann::json answer_json(infer::PuzzleFamily f, const std::vector<std::int32_t>& t) {
  if (f == infer::PuzzleFamily::kNone) return t;
  std::string s;
  for (std::int32_t x : t) {
    if (f == infer::PuzzleFamily::kMaze) s += (x >= 1 && x <= 5) ? data::kMazeCharset[x - 1] : '?';
    else s += x >= 2 && x <= 10 ? static_cast<char>('0' + x - 1) : x == 1 ? '.' : '?';
  }
  return s;
}
}  // namespace

void add_predict_command(CLI::App& app, Action& action) {
  static std::string ckpt, data, out, split = "test", halting = "adaptive", backend = "cpu";
  static std::int64_t max_n = 0;
  static int batch = 256;
  static bool raw = false;
  static SamplingArgs sampling;
  auto* cmd = app.add_subcommand("predict", "Solve every puzzle of a dataset split or a text file; one JSON line each");
  cmd->add_option("--checkpoint", ckpt, "Checkpoint (.safetensors) written by trm train")->required();
  cmd->add_option("--data", data, "Dataset directory, or a text file with one puzzle per line (the solve form)")->required();
  cmd->add_option("--out", out, "Predictions file (JSON lines), written atomically")->required();
  cmd->add_option("--split", split, "Split of a dataset directory")->capture_default_str();
  cmd->add_option("--max", max_n, "Only the first N puzzles (0 = all)")->capture_default_str();
  cmd->add_option("--batch", batch, "Rows in flight")->capture_default_str();
  cmd->add_option("--halting", halting, "adaptive or reference (always halt_max_steps)")->capture_default_str();
  add_sampling_options(cmd, sampling);
  add_backend_option(cmd, backend);
  cmd->add_flag("--raw-weights", raw, "Use the raw weights instead of the EMA weights");
  cmd->callback([&action] {
    action = [] {
      if (max_n < 0) throw Error("--max must be >= 0 (got " + std::to_string(max_n) + ")");
      data::check_output_file(out);  // before any work: an hour of solving must not end unwritable
      infer::SolverOptions so;
      so.halting = halting_from_string(halting) == Halting::kAdaptive ? infer::HaltMode::kAdaptive
                                                                       : infer::HaltMode::kReference;
      so.batch = batch;
      apply_sampling(sampling, true, so);  // "auto" falls back to confidence below when there is no checker
      const bool auto_select = sampling.select == "auto";
      const Checkpoint ck = Checkpoint::read(ckpt);
      const ModelConfig c = ck.model_config();
      const int S = c.seq_len;
      // The puzzles: model tokens [n, S], and labels [n, S] when they are known.
      std::vector<std::int32_t> inputs, labels, ids;
      std::vector<std::string> invalid;  // per puzzle: why it cannot be solved ("" = fine)
      bool have_labels = false;
      if (std::filesystem::is_directory(data)) {
        const data::Dataset ds = data::read_split(data, split);
        if (ds.meta.seq_len != S || ds.meta.vocab_size > c.vocab_size)
          throw Error(data + ": split " + split + " has seq_len " + std::to_string(ds.meta.seq_len) + " and vocab_size " +
                      std::to_string(ds.meta.vocab_size) + "; the model in " + ckpt + " takes seq_len " +
                      std::to_string(S) + " and vocab_size " + std::to_string(c.vocab_size));
        const std::int64_t n = max_n > 0 ? std::min(max_n, ds.num_examples) : ds.num_examples;
        so.checker = infer::checker_for_dataset(ds);
        data::Batch rows;
        data::collate_range(ds, 0, static_cast<int>(n), rows);
        inputs.assign(rows.inputs.begin(), rows.inputs.begin() + n * S);
        labels.assign(rows.labels.begin(), rows.labels.begin() + n * S);
        ids.assign(rows.puzzle_identifiers.begin(), rows.puzzle_identifiers.begin() + n);
        invalid.assign(static_cast<std::size_t>(n), "");
        have_labels = true;
      } else {
        const std::string text = io::read_text_file(data, kMaxPredictFileBytes);
        std::istringstream lines(text);
        std::string line;
        int lineno = 0;
        while (std::getline(lines, line) && (max_n == 0 || static_cast<std::int64_t>(ids.size()) < max_n)) {
          ++lineno;
          if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
          const PuzzleText p = parse_puzzle_for_checkpoint(line, data + ":" + std::to_string(lineno), ck.contents().config,
                                                           c.vocab_size, S, "the model in " + ckpt);
          const infer::Checker chk = checker_for(p);
          if (so.checker.active() && so.checker.family() != chk.family())
            throw Error(data + ":" + std::to_string(lineno) + ": a " + to_string(chk.family()) + " among " +
                        to_string(so.checker.family()) + " puzzles");
          so.checker = chk;
          invalid.push_back(chk.puzzle_problem(p.tokens.data()));
          inputs.insert(inputs.end(), p.tokens.begin(), p.tokens.end());
          ids.push_back(0);
        }
        if (ids.empty()) throw Error(data + ": no puzzles (one per line, in the form trm solve reads)");
      }
      if (!so.checker.active() && auto_select) so.select = infer::Select::kConfidence;
      const std::int64_t n = static_cast<std::int64_t>(ids.size());
      so.batch = static_cast<int>(std::min<std::int64_t>(so.batch, std::max<std::int64_t>(n, 1) * so.samples));
      auto be = make_backend(backend);
      auto model = load_model_from_checkpoint(ckpt, *be, !raw);
      infer::Solver solver(*model, so);
      ProgressLine line("predict", isatty(2));
      std::vector<infer::Answer> answers;
      const auto t0 = std::chrono::steady_clock::now();
      solver.solve(inputs.data(), ids.data(), n, answers, {}, [&line](std::int64_t d, std::int64_t t) { line(d, t); });
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::int64_t correct = 0, verified = 0, bad = 0;
      std::string body;
      for (std::int64_t i = 0; i < n; ++i) {
        const infer::Answer& a = answers[static_cast<std::size_t>(i)];
        nlohmann::json j{{"index", i},
                         {"answer", answer_json(so.checker.family(), a.tokens)},
                         {"steps", a.steps},
                         {"confidence", a.confidence},
                         {"check", infer::to_string(a.check)},
                         {"verified", a.check == infer::CheckStatus::kVerified}};
        if (so.samples > 1) j["sample"] = a.sample;
        if (!a.finite) j["nonfinite"] = true;
        if (!invalid[static_cast<std::size_t>(i)].empty()) {
          j["error"] = "this puzzle is invalid / has no solution: " + invalid[static_cast<std::size_t>(i)];
          ++bad;
        }
        if (have_labels) {
          bool ok = a.finite;
          for (int s = 0; s < S && ok; ++s) {
            const std::int32_t l = labels[static_cast<std::size_t>(i * S + s)];
            ok = l < 0 || l == a.tokens[static_cast<std::size_t>(s)];
          }
          j["correct"] = ok;
          correct += ok;
        }
        verified += a.check == infer::CheckStatus::kVerified;
        body += j.dump();
        body += '\n';
      }
      data::write_text_file(out, body);
      nlohmann::json summary{{"n", n},
                             {"out", out},
                             {"verified", verified},
                             {"checker", to_string(so.checker.family())},
                             {"seconds", secs},
                             {"answers_per_second", secs > 0 ? static_cast<double>(n) / secs : 0.0},
                             {"samples", so.samples},
                             {"select", infer::to_string(so.select)}};
      if (have_labels) summary["exact_accuracy"] = n > 0 ? static_cast<double>(correct) / static_cast<double>(n) : 0.0;
      if (bad > 0) summary["invalid_puzzles"] = bad;
      std::printf("%s\n", summary.dump().c_str());
      return 0;
    };
  });
}

}  // namespace trm::cli
