// trm report: entry parsing and the paper-style tables.
#include <gtest/gtest.h>

#include <fstream>

#include "expect_error.h"
#include "temp_dir.h"
#include "trm/model/config.h"
#include "trm/eval/report.h"

namespace trm {

TEST(Report, ParsesEntries) {
  const ReportEntry e = parse_report_entry(" TRM-MLP, sudoku ,runs/a.safetensors, data/s ");
  EXPECT_EQ(e.method, "TRM-MLP");
  EXPECT_EQ(e.benchmark, "sudoku");
  EXPECT_EQ(e.checkpoint, "runs/a.safetensors");
  EXPECT_EQ(e.data, "data/s");
  EXPECT_THROW(parse_report_entry("TRM,sudoku,ckpt"), Error);          // 3 fields
  EXPECT_THROW(parse_report_entry("TRM,chess,ckpt,data"), Error);      // unknown benchmark
  EXPECT_THROW(parse_report_entry("TRM,sudoku,,data"), Error);         // empty field
}

TEST(Report, EntriesFileNamesTheBadLine) {
  test_util::TempDir dir;
  const std::string path = dir / "entries.txt";
  std::ofstream(path) << "# method,benchmark,checkpoint,data\nHRM,maze,a,b\n\nTRM,arc3,c,d\n";
  test_util::expect_error([&] { read_report_entries(path); }, {"entries.txt:4"});
  std::ofstream(path) << "# only a comment\n";
  EXPECT_THROW(read_report_entries(path), Error);
}

TEST(Report, TableHasOneRowPerMethodAndDashesForMissingCells) {
  Report r;
  r.add("TRM-MLP", 5028866, "sudoku", {87.25, "exact", 1000, 12.0, "a", "data/s4", ""});
  r.add("HRM", 27000000, "sudoku", {55.0, "exact", 1000, 30.0, "b", "d", ""});
  r.add("TRM-MLP", 5028866, "maze", {1.5, "exact", 10, 3.0, "c", "m", ""});
  ASSERT_EQ(r.rows.size(), 2u);
  const std::string md = report_markdown(r, false);
  EXPECT_NE(md.find("| TRM-MLP | 5.0M | 87.2 (n=1000) | 1.5 (n=10) | – | – |"), std::string::npos) << md;
  EXPECT_NE(md.find("| HRM | 27.0M | 55.0 (n=1000) | – | – | – |"), std::string::npos) << md;
  EXPECT_EQ(md.find("(paper)"), std::string::npos);
  EXPECT_NE(md.find("- TRM-MLP, Sudoku-Extreme: `a` on `data/s4`, 1000 examples, exact, 12.0 s"), std::string::npos) << md;
  const std::string with_paper = report_markdown(r, true);
  EXPECT_NE(with_paper.find("| TRM-Att (paper) | 74.7 | 85.3 | 44.6 | 7.8 |"), std::string::npos) << with_paper;
  const auto j = report_json(r, true);
  EXPECT_EQ(j["rows"][0]["results"]["maze"]["n"], 10);
  EXPECT_DOUBLE_EQ(j["paper"]["HRM"]["arc1"].get<double>(), 40.3);
  EXPECT_THROW(r.add("X", 1, "tetris", {}), Error);
}

TEST(Report, DataThatIsNotTheBenchmarkIsLabelledAsWhatItIs) {
  EXPECT_EQ(report_data_label("sudoku", 11, 81), "");
  EXPECT_EQ(report_data_label("sudoku", 6, 16), "4x4 Sudoku");
  EXPECT_EQ(report_data_label("maze", 6, 900), "");
  EXPECT_EQ(report_data_label("maze", 6, 81), "9x9 maze");
  EXPECT_EQ(report_data_label("sudoku", 4, 24), "a vocab 4, length 24 task");
  Report r;
  ReportCell c{99.0, "exact", 50, 1.0, "a", "data/s4", ""};
  c.data_label = "4x4 Sudoku";
  r.add("TRM-MLP", 126850, "sudoku", c);
  const std::string md = report_markdown(r, true);
  EXPECT_NE(md.find("99.0 (n=50, 4x4 Sudoku)"), std::string::npos) << md;
  EXPECT_NE(md.find("- TRM-MLP, 4x4 Sudoku (not Sudoku-Extreme: not comparable with the paper): `a`"), std::string::npos) << md;
  EXPECT_EQ(report_json(r, false)["rows"][0]["results"]["sudoku"]["data_label"], "4x4 Sudoku");
}

}  // namespace trm
