// Tables of `trm report` (see include/trm/eval/report.h).
#include "trm/eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "trm/error.h"

namespace trm {

const std::vector<std::string>& report_benchmarks() {
  static const std::vector<std::string> b{"sudoku", "maze", "arc1", "arc2"};
  return b;
}

std::string benchmark_title(const std::string& b) {
  if (b == "sudoku") return "Sudoku-Extreme";
  if (b == "maze") return "Maze-Hard";
  if (b == "arc1") return "ARC-AGI-1";
  if (b == "arc2") return "ARC-AGI-2";
  throw Error("unknown benchmark \"" + b + "\" (expected sudoku, maze, arc1 or arc2)");
}

std::string report_data_label(const std::string& benchmark, int vocab_size, int seq_len) {
  const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(std::max(seq_len, 0)))));
  const std::string grid = side * side == seq_len ? std::to_string(side) + "x" + std::to_string(side) : "";
  if (benchmark == "sudoku") {
    if (seq_len == 81 && vocab_size == 11) return "";
    if (!grid.empty() && vocab_size == side + 2) return grid + " Sudoku";
  } else if (benchmark == "maze") {
    if (seq_len == 900 && vocab_size == 6) return "";
    if (!grid.empty() && vocab_size == 6) return grid + " maze";
  } else {
    return "";
  }
  return "a vocab " + std::to_string(vocab_size) + ", length " + std::to_string(seq_len) + " task";
}

ReportEntry parse_report_entry(const std::string& spec) {
  std::vector<std::string> parts;
  std::stringstream ss(spec);
  std::string part;
  while (std::getline(ss, part, ',')) parts.push_back(part);
  if (parts.size() != 4)
    throw Error("report entry \"" + spec + "\": expected METHOD,BENCHMARK,CHECKPOINT,DATA (4 comma-separated fields, got " +
                std::to_string(parts.size()) + ")");
  for (auto& p : parts) {
    const auto a = p.find_first_not_of(" \t"), z = p.find_last_not_of(" \t\r");
    p = a == std::string::npos ? "" : p.substr(a, z - a + 1);
    if (p.empty()) throw Error("report entry \"" + spec + "\": an empty field");
  }
  benchmark_title(parts[1]);  // validates
  return {parts[0], parts[1], parts[2], parts[3]};
}

std::vector<ReportEntry> read_report_entries(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open for reading");
  std::vector<ReportEntry> out;
  std::string line;
  int no = 0;
  while (std::getline(in, line)) {
    ++no;
    const auto a = line.find_first_not_of(" \t\r");
    if (a == std::string::npos || line[a] == '#') continue;
    try {
      out.push_back(parse_report_entry(line));
    } catch (const Error& e) {
      throw Error(path + ":" + std::to_string(no) + ": " + e.what());
    }
  }
  if (out.empty()) throw Error(path + ": no entries");
  return out;
}

void Report::add(const std::string& method, std::int64_t params, const std::string& benchmark, const ReportCell& cell) {
  benchmark_title(benchmark);
  for (auto& r : rows)
    if (r.method == method) {
      r.cells[benchmark] = cell;
      if (params > r.params) r.params = params;
      return;
    }
  rows.push_back({method, params, {{benchmark, cell}}});
}

const std::map<std::string, std::map<std::string, double>>& paper_results() {
  // Tables 4 and 5 of the paper (HRM numbers quoted there from the HRM paper).
  static const std::map<std::string, std::map<std::string, double>> p{
      {"HRM", {{"sudoku", 55.0}, {"maze", 74.5}, {"arc1", 40.3}, {"arc2", 5.0}}},
      {"TRM-Att", {{"sudoku", 74.7}, {"maze", 85.3}, {"arc1", 44.6}, {"arc2", 7.8}}},
      {"TRM-MLP", {{"sudoku", 87.4}, {"maze", 0.0}, {"arc1", 29.6}, {"arc2", 2.4}}},
  };
  return p;
}

namespace {
std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
std::string params_text(std::int64_t p) { return p >= 1000000 ? fmt("%.1fM", p / 1e6) : fmt("%.0fk", p / 1e3); }
}  // namespace

std::string report_markdown(const Report& r, bool with_paper) {
  // Built with one append per piece: GCC 12 raises a false -Wrestrict on chained string "+".
  const auto& cols = report_benchmarks();
  std::string s = "| method | params |";
  for (const auto& c : cols) {
    s.append(" ").append(benchmark_title(c)).append(c[0] == 'a' ? " (pass@2)" : " (exact)").append(" |");
  }
  s.append("\n|---|---|");
  for (std::size_t i = 0; i < cols.size(); ++i) s.append("---|");
  s.append("\n");
  for (const auto& row : r.rows) {
    s.append("| ").append(row.method).append(" | ").append(params_text(row.params)).append(" |");
    for (const auto& c : cols) {
      auto it = row.cells.find(c);
      if (it == row.cells.end()) {
        s.append(" – |");
      } else {
        s.append(" ").append(fmt("%.1f", it->second.percent)).append(" (n=").append(std::to_string(it->second.n));
        if (!it->second.data_label.empty()) s.append(", ").append(it->second.data_label);
        s.append(") |");
      }
    }
    s.append("\n");
  }
  s.append("\nEvaluated:\n\n");
  for (const auto& row : r.rows)
    for (const auto& c : cols) {
      auto it = row.cells.find(c);
      if (it == row.cells.end()) continue;
      s.append("- ").append(row.method).append(", ");
      if (it->second.data_label.empty())
        s.append(benchmark_title(c));
      else
        s.append(it->second.data_label).append(" (not ").append(benchmark_title(c)).append(": not comparable with the paper)");
      s.append(": `").append(it->second.checkpoint);
      s.append("` on `").append(it->second.data).append("`, ").append(std::to_string(it->second.n));
      s.append(c[0] == 'a' ? " puzzles, " : " examples, ");
      s.append(it->second.metric).append(", ").append(fmt("%.1f", it->second.seconds)).append(" s\n");
    }
  if (with_paper) {
    s.append("\nThe paper's numbers (Tables 4 and 5; full data and GPU budgets):\n\n| method |");
    for (const auto& c : cols) s.append(" ").append(benchmark_title(c)).append(" |");
    s.append("\n|---|");
    for (std::size_t i = 0; i < cols.size(); ++i) s.append("---|");
    s.append("\n");
    for (const auto& [method, vals] : paper_results()) {
      s.append("| ").append(method).append(" (paper) |");
      for (const auto& c : cols) s.append(" ").append(fmt("%.1f", vals.at(c))).append(" |");
      s.append("\n");
    }
  }
  return s;
}

nlohmann::json report_json(const Report& r, bool with_paper) {
  nlohmann::json j;
  j["rows"] = nlohmann::json::array();
  for (const auto& row : r.rows) {
    nlohmann::json cells = nlohmann::json::object();
    for (const auto& [b, c] : row.cells)
      cells[b] = {{"percent", c.percent}, {"metric", c.metric}, {"n", c.n}, {"seconds", c.seconds}, {"checkpoint", c.checkpoint}, {"data", c.data},
                  {"data_label", c.data_label}};
    j["rows"].push_back({{"method", row.method}, {"params", row.params}, {"results", cells}});
  }
  if (with_paper) j["paper"] = paper_results();
  return j;
}

}  // namespace trm
