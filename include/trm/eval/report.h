// `trm report`: the paper's result tables (Tables 4 and 5: Sudoku-Extreme, Maze-Hard, ARC-AGI-1,
// ARC-AGI-2; one row per method) filled with this machine's evaluations of a set of checkpoints,
// next to the paper's own numbers, as Markdown and JSON.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace trm {

// The table's columns, in order: "sudoku", "maze", "arc1", "arc2".
const std::vector<std::string>& report_benchmarks();
std::string benchmark_title(const std::string& benchmark);  // "Sudoku-Extreme", ...; throws on unknown

// One checkpoint to evaluate: "METHOD,BENCHMARK,CHECKPOINT,DATA", e.g.
// "TRM-MLP,sudoku,runs/s/final.safetensors,data/sudoku-extreme-1k-aug-1000".
struct ReportEntry {
  std::string method, benchmark, checkpoint, data;
};
ReportEntry parse_report_entry(const std::string& spec);                  // throws trm::Error
std::vector<ReportEntry> read_report_entries(const std::string& path);    // one per line; # comments

struct ReportCell {
  double percent = 0;       // exact accuracy (Sudoku, Maze) or pass@2 (ARC), in %
  std::string metric;       // "exact" or "pass@2"
  std::int64_t n = 0;       // examples (puzzles for ARC) evaluated
  double seconds = 0;
  std::string checkpoint;
  std::string data;         // the dataset evaluated (listed under the table)
  // What the data is when it is not the benchmark's own shape ("4x4 Sudoku"): shown in the cell
  // and the list, so a small run is not read as a Sudoku-Extreme or Maze-Hard result. "" = the
  // benchmark's shape.
  std::string data_label;
};

// report's data_label for a Sudoku or maze test split: "" for the benchmark's shape (9x9 Sudoku,
// vocab 11; 30x30 maze), else "NxN Sudoku" / "NxN maze" / "a vocab V, length S task".
std::string report_data_label(const std::string& benchmark, int vocab_size, int seq_len);

struct Report {
  struct Row {
    std::string method;
    std::int64_t params = 0;
    std::map<std::string, ReportCell> cells;  // by benchmark
  };
  std::vector<Row> rows;  // in first-seen order
  void add(const std::string& method, std::int64_t params, const std::string& benchmark, const ReportCell& cell);
};

// Markdown: the measured table (cells "87.4 (n=1000)"; "–" where not evaluated), a list of the
// checkpoint and dataset behind every cell (a column names a benchmark, the list says what was
// actually evaluated), then, when with_paper, the paper's rows.
std::string report_markdown(const Report& r, bool with_paper);
nlohmann::json report_json(const Report& r, bool with_paper);

// The paper's numbers (docs/REFERENCE.md §8.2) for HRM, TRM-Att and TRM-MLP: method -> benchmark -> percent.
const std::map<std::string, std::map<std::string, double>>& paper_results();

}  // namespace trm
