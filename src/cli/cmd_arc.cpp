// trm arc eval | trm arc solve: the ARC evaluator (docs/REFERENCE.md §7.2) and test-time training on a new task.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/puzzle_text.h"
#include "io/atomic_file.h"
#include "io/output_path.h"
#include "trm/dist/communicator.h"
#include "trm/arc/eval.h"
#include "trm/arc/solve.h"
#include "trm/train/checkpoint.h"
#include "trm/data/arc.h"
#include "trm/data/dataset.h"

namespace trm::cli {
namespace {

// dir was prepared (created, proven writable) before the work started.
void write_json(const std::string& dir, const std::string& name, const nlohmann::ordered_json& j) {
  data::write_text_file((std::filesystem::path(dir) / name).string(), j.dump() + "\n");
}

void add_eval(CLI::App& arc, Action& action) {
  static std::vector<std::string> ckpts;
  static std::string data_dir, out;
  static ArcEvalOptions o;
  static bool pool = false, raw = false;
  static std::string backend = "cpu", precision = "auto";
  auto* cmd = arc.add_subcommand("eval", "Vote over all augmented versions of the test split; pass@k and submission.json");
  cmd->add_option("--checkpoint", ckpts, "Checkpoint(s); several are evaluated in order")->required();
  cmd->add_option("--data", data_dir, "ARC dataset directory (trm data build arc)")->required();
  cmd->add_option("--out", out, "Directory for results.json and submission.json")->required();
  cmd->add_option("--batch", o.batch, "Batch size")->capture_default_str();
  cmd->add_option("--examples", o.max_examples,
                  "Only the first N test rows, rounded up to whole tasks (0 = all); pass@k is averaged over the tasks evaluated")
      ->capture_default_str();
  add_backend_option(cmd, backend);
  add_precision_option(cmd, precision);
  cmd->add_flag("--pool", pool,
                "Pool votes across the checkpoints (the reference's aggregated voting); off: each checkpoint alone");
  cmd->add_flag("--raw-weights", raw, "Use the raw weights instead of the EMA weights");
  cmd->callback([&action] {
    action = [] {
      // Before the votes are collected (which can take hours), not after.
      check_precision_name(precision);  // a bad name fails before --out is created
      // Under mpirun / srun the rows are sharded across the ranks (docs/DISTRIBUTED.md); rank 0
      // prints and writes the results.
      dist::Communicator& comm = dist::world();
      const bool root = comm.rank() == 0;
      o.comm = &comm;
      if (root) data::prepare_output_dir(out);
      if (o.batch < 1) throw Error("--batch must be >= 1 (got " + std::to_string(o.batch) + ")");
      if (o.max_examples < 0) throw Error("--examples must be >= 0 (got " + std::to_string(o.max_examples) + ")");
      const data::Dataset test = data::read_split(data_dir, "test");
      const std::vector<std::string> names = data::read_identifiers(data_dir);
      auto tasks = data::read_arc_test_puzzles((std::filesystem::path(data_dir) / "test_puzzles.json").string());
      const std::size_t all_tasks = tasks.size();
      if (o.max_examples > 0) {
        // Whole tasks only, and pass@k over those: a task cut in half, or the hundreds never
        // evaluated, would count as failures.
        o.max_examples = arc_whole_task_rows(test, o.max_examples);
        const std::vector<std::string> chosen = arc_tasks_in_rows(test, names, o.max_examples);
        std::erase_if(tasks, [&](const data::ArcTask& t) { return std::find(chosen.begin(), chosen.end(), t.id) == chosen.end(); });
        if (root)
          std::fprintf(stderr, "arc eval: the first %lld test rows hold %zu whole tasks of %zu; pass@k is averaged over those %zu\n",
                     static_cast<long long>(o.max_examples), tasks.size(), all_tasks, tasks.size());
      }
      auto be = make_backend(backend);
      apply_precision(*be, precision);
      ArcVoter voter;
      nlohmann::ordered_json results = nlohmann::ordered_json::array();
      ArcScore last;
      const bool tty = root && isatty(2);
      for (const auto& ck : ckpts) {
        if (!pool) voter.clear();
        // Puzzle ids are rows of the checkpoint's embedding table, numbered as the builder's
        // identifiers.json numbers the puzzle versions: a table of another size belongs to another
        // build (docs/IMPORT.md). Checked from the header, before a gigabyte table is read.
        const int rows = Checkpoint::read(ck).model_config().num_puzzle_identifiers;
        if (rows != test.meta.num_puzzle_identifiers)
          throw Error(ck + ": its puzzle table has " + std::to_string(rows) + " rows, but " + data_dir +
                      " has num_puzzle_identifiers " + std::to_string(test.meta.num_puzzle_identifiers) +
                      ": evaluate it on the dataset its run was built with (same builder, sources, --aug and seed)");
        auto model = load_model_from_checkpoint(ck, *be, !raw);
        arc_collect_votes(*model, test, names, voter, o, [tty](std::int64_t done, std::int64_t total) {
          if (tty) std::fprintf(stderr, "\r  %lld/%lld", static_cast<long long>(done), static_cast<long long>(total));
        });
        if (tty) std::fprintf(stderr, "\n");
        last = score_arc(voter, tasks);
        nlohmann::ordered_json j = {{"checkpoint", ck}, {"pooled", pool}, {"votes", voter.num_votes()},
                                    {"dropped_empty_predictions", voter.num_dropped()},
                                    {"tasks_evaluated", tasks.size()}, {"tasks_in_data", all_tasks}};
        j.update(last.to_json());
        if (root) std::printf("%s\n", j.dump().c_str());
        results.push_back(std::move(j));
      }
      if (!root) return 0;
      write_json(out, "results.json", results);
      write_json(out, "submission.json", last.submission);
      return 0;
    };
  });
}

void add_solve(CLI::App& arc, Action& action) {
  static std::string ckpt, task_file, out, init = "mean";
  static ArcSolveOptions o;
  static bool raw = false;
  static int show = 10;
  static std::string backend = "cpu";
  auto* cmd = arc.add_subcommand(
      "solve", "Solve a new task: train fresh puzzle-embedding rows on its demonstrations (network frozen), then vote");
  cmd->add_option("--checkpoint", ckpt, "ARC checkpoint")->required();
  cmd->add_option("--task", task_file, "Task JSON {\"train\": [...], \"test\": [...]}; its id is the file name")->required();
  cmd->add_option("--out", out, "Directory for predictions.json and submission.json")->required();
  cmd->add_option("--steps", o.steps, "SignSGD updates of the new rows")->capture_default_str();
  cmd->add_option("--aug", o.aug, "Augmented versions besides the original")->capture_default_str();
  cmd->add_option("--batch", o.batch, "Demonstration examples per update")->capture_default_str();
  cmd->add_option("--lr", o.lr, "Puzzle-embedding learning rate")->capture_default_str();
  cmd->add_option("--weight-decay", o.weight_decay, "Puzzle-embedding weight decay")->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed")->capture_default_str();
  cmd->add_option("--init", init, "New rows start at the mean of the trained rows (mean) or at zero (zeros)")->capture_default_str();
  add_backend_option(cmd, backend);
  cmd->add_option("--candidates", show, "Ranked candidates kept per test input in predictions.json")->capture_default_str();
  cmd->add_flag("--raw-weights", raw, "Use the raw weights instead of the EMA weights");
  cmd->callback([&action] {
    action = [] {
      o.init = arc_row_init_from_string(init);
      data::prepare_output_dir(out);  // before the test-time training, not after it
      const data::ArcTask task = data::read_arc_task_file(task_file);
      auto be = make_backend(backend);
      auto model = load_model_from_checkpoint(ckpt, *be, !raw);
      // Progress on stderr: a line that rewrites itself on a terminal, else a line per tenth.
      const bool tty = isatty(2);
      int last_tenth = -1;
      o.progress = [tty, &last_tenth](const char* phase, int done, int total, double loss) {
        const bool tune = phase[0] == 't';
        const int tenth = total > 0 ? 10 * done / total : 10;
        if (!tty && tenth == last_tenth && done != total) return;
        last_tenth = tenth;
        if (tune)
          std::fprintf(stderr, "%sarc solve: test-time training %d/%d  loss %.3f%s", tty ? "\r" : "", done, total, loss,
                       tty ? "   " : "\n");
        else
          std::fprintf(stderr, "%sarc solve: voting %d/%d rows%s", tty ? "\r" : "", done, total, tty ? "   " : "\n");
        if (tty && done == total) std::fprintf(stderr, "\n");
        if (done == total) last_tenth = -1;
      };
      const ArcSolveResult r = arc_solve(*model, task, o);
      // The answer itself: the two attempts of every test input, drawn.
      const bool colour = isatty(1);
      for (std::size_t t = 0; t < r.ranked.size(); ++t) {
        if (r.ranked[t].empty()) {
          std::printf("test input %zu: no prediction (every version predicted an empty grid)\n", t + 1);
          continue;
        }
        for (std::size_t a = 0; a < r.ranked[t].size() && a < static_cast<std::size_t>(kArcSubmissionK); ++a) {
          const ArcCandidate& cand = r.ranked[t][a];
          std::printf("test input %zu, attempt %zu: %dx%d, %d vote%s\n%s", t + 1, a + 1, cand.grid.rows, cand.grid.cols,
                      cand.count, cand.count == 1 ? "" : "s",
                      format_arc_grid(cand.grid.rows, cand.grid.cols, cand.grid.cells, colour).c_str());
        }
      }
      nlohmann::ordered_json preds = nlohmann::ordered_json::array();
      // Ranked candidates per test input, for inspection beyond the two submitted attempts.
      for (const auto& cands : r.ranked) {
        nlohmann::ordered_json list = nlohmann::ordered_json::array();
        for (std::size_t i = 0; i < cands.size() && static_cast<int>(i) < show; ++i)
          list.push_back({{"votes", cands[i].count}, {"mean_q", cands[i].mean_q}, {"grid", data::arc_grid_to_json(cands[i].grid)}});
        preds.push_back(std::move(list));
      }
      write_json(out, "predictions.json", {{"task", task.id}, {"versions", r.names.size() - 1}, {"test", preds}});
      write_json(out, "submission.json", r.score.submission);
      nlohmann::ordered_json j = {{"task", task.id}, {"versions", r.names.size() - 1}, {"train_examples", r.train_examples},
                                  {"steps", o.steps}, {"first_loss", r.losses.empty() ? 0.0 : r.losses.front()},
                                  {"last_loss", r.losses.empty() ? 0.0 : r.losses.back()}, {"seconds", r.seconds}};
      if (r.score.scored_puzzles > 0) j.update(r.score.to_json());
      std::printf("%s\n", j.dump().c_str());
      return 0;
    };
  });
}

}  // namespace

void add_arc_commands(CLI::App& app, Action& action) {
  auto* arc = app.add_subcommand("arc", "ARC-AGI: evaluate with augmentation voting, or solve a new task by test-time training");
  arc->require_subcommand(1);
  add_eval(*arc, action);
  add_solve(*arc, action);
}

}  // namespace trm::cli
