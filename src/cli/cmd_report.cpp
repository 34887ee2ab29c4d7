// trm report --entry METHOD,BENCHMARK,CHECKPOINT,DATA ... : evaluates each checkpoint on its
// benchmark's test split and prints the paper-style table (Markdown on stdout; JSON with --json).
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "io/atomic_file.h"
#include "io/json_file.h"
#include "io/output_path.h"
#include <chrono>
#include <filesystem>

#include "trm/arc/eval.h"
#include "trm/train/checkpoint.h"
#include "trm/data/dataset.h"
#include "trm/eval/evaluate.h"
#include "trm/eval/report.h"

namespace trm::cli {

namespace {
ReportCell evaluate_entry(const ReportEntry& e, const EvalOptions& opt, Backend& be, std::int64_t& params) {
  auto model = load_model_from_checkpoint(e.checkpoint, be, true);
  params = model->num_params();
  ReportCell cell;
  cell.checkpoint = e.checkpoint;
  cell.data = e.data;
  if (e.benchmark == "sudoku" || e.benchmark == "maze") {
    const data::Dataset ds = data::read_split(e.data, "test");
    const EvalResult r = evaluate(*model, ds, opt);
    cell.data_label = report_data_label(e.benchmark, ds.meta.vocab_size, ds.meta.seq_len);
    cell.percent = 100.0 * r.exact_accuracy;
    cell.metric = "exact";
    cell.n = r.n;
    cell.seconds = r.seconds;
    return cell;
  }
  // ARC: votes over every augmented version of the test inputs, pass@2 (docs/REFERENCE.md §7.2), one
  // checkpoint alone (no pooling across checkpoints).
  const auto t0 = std::chrono::steady_clock::now();
  const data::Dataset test = data::read_split(e.data, "test");
  const std::vector<std::string> names = data::read_identifiers(e.data);
  const auto tasks = data::read_arc_test_puzzles((std::filesystem::path(e.data) / "test_puzzles.json").string());
  ArcVoter voter;
  ArcEvalOptions ao;
  ao.batch = opt.batch;
  ao.max_examples = opt.max_examples;
  arc_collect_votes(*model, test, names, voter, ao);
  const ArcScore score = score_arc(voter, tasks, {1, kArcSubmissionK});
  cell.percent = 100.0 * score.pass_at_k.at(1);
  cell.metric = "pass@2";
  cell.n = score.puzzles;
  cell.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return cell;
}
}  // namespace

void add_report_command(CLI::App& app, Action& action) {
  static std::vector<std::string> entries;
  static std::string entries_file, json_out, md_out, halting = "reference";
  static EvalOptions o;
  static bool no_paper = false;
  static std::string backend = "cpu";
  auto* cmd = app.add_subcommand("report", "Evaluate checkpoints and print the paper's tables (Sudoku-Extreme, Maze-Hard, ARC-AGI-1/2)");
  cmd->add_option("--entry", entries, "METHOD,BENCHMARK,CHECKPOINT,DATA (benchmark: sudoku, maze, arc1, arc2); repeatable");
  cmd->add_option("--entries", entries_file, "A file of entries, one per line (# comments)");
  cmd->add_option("--examples", o.max_examples, "Evaluate only the first N test examples of each (0 = all)")->capture_default_str();
  cmd->add_option("--batch", o.batch, "Evaluation batch size")->capture_default_str();
  cmd->add_option("--halting", halting, "reference (all steps, as the paper) or adaptive")->capture_default_str();
  cmd->add_option("--json", json_out, "Also write the report as JSON here");
  cmd->add_option("--markdown", md_out, "Also write the Markdown here");
  add_backend_option(cmd, backend);
  cmd->add_flag("--no-paper", no_paper, "Leave out the paper's rows");
  cmd->callback([&action] {
    action = [] {
      std::vector<ReportEntry> list;
      if (!entries_file.empty()) list = read_report_entries(entries_file);
      for (const auto& s : entries) list.push_back(parse_report_entry(s));
      if (list.empty()) throw Error("report: give at least one --entry or an --entries file");
      // The files are written after every evaluation: check that they can be, first.
      if (!json_out.empty()) data::check_output_file(json_out);
      if (!md_out.empty()) data::check_output_file(md_out);
      o.halting = halting_from_string(halting);
      const auto be = make_backend(backend);
      Report report;
      for (const auto& e : list) {
        std::fprintf(stderr, "report: %s on %s (%s) ...\n", e.method.c_str(), benchmark_title(e.benchmark).c_str(),
                     e.checkpoint.c_str());
        std::int64_t params = 0;
        const ReportCell cell = evaluate_entry(e, o, *be, params);
        std::fprintf(stderr, "report:   %s %.2f%% on %lld in %.1f s%s\n", cell.metric.c_str(), cell.percent,
                     static_cast<long long>(cell.n), cell.seconds,
                     cell.data_label.empty() ? "" : (" (the data is " + cell.data_label + ")").c_str());
        report.add(e.method, params, e.benchmark, cell);
      }
      const std::string md = report_markdown(report, !no_paper);
      std::cout << md;
      if (!md_out.empty()) data::write_text_file(md_out, md);
      if (!json_out.empty()) data::write_json_file_atomic(json_out, report_json(report, !no_paper));
      return 0;
    };
  });
}

}  // namespace trm::cli
