// Reading ARC tasks: the combined challenge/solution files and raw per-task JSON files.
// Every malformed input becomes a trm::Error that names the file and the offending element.
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/json_file.h"
#include "trm/error.h"
#include "trm/data/arc.h"

namespace trm::data {
namespace fs = std::filesystem;

ArcGrid arc_grid_from_json(const nlohmann::json& j, const std::string& context) {
  if (!j.is_array() || j.empty()) throw Error(context + ": a grid must be a non-empty list of rows");
  ArcGrid g;
  // Sizes are compared before any narrowing to int.
  if (j.size() > static_cast<std::size_t>(kArcMaxSide))
    throw Error(context + ": grid has " + std::to_string(j.size()) + " rows, more than " + std::to_string(kArcMaxSide));
  g.rows = static_cast<int>(j.size());
  for (std::size_t r = 0; r < j.size(); ++r) {
    const auto& row = j[r];
    const std::string where = context + " row " + std::to_string(r);
    if (!row.is_array() || row.empty()) throw Error(where + ": a row must be a non-empty list of colours");
    if (r == 0) {
      if (row.size() > static_cast<std::size_t>(kArcMaxSide))
        throw Error(context + ": grid has " + std::to_string(row.size()) + " columns, more than " + std::to_string(kArcMaxSide));
      g.cols = static_cast<int>(row.size());
    } else if (row.size() != static_cast<std::size_t>(g.cols)) {
      throw Error(where + ": has " + std::to_string(row.size()) + " cells, row 0 has " + std::to_string(g.cols) +
                  " (grids must be rectangular)");
    }
    for (const auto& v : row) {
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > 9)
        throw Error(where + ": colour " + json_excerpt(v) + " is not an integer in 0..9");
      g.cells.push_back(static_cast<std::uint8_t>(v.get<int>()));
    }
  }
  return g;
}

nlohmann::json arc_grid_to_json(const ArcGrid& g) {
  nlohmann::json j = nlohmann::json::array();
  for (int r = 0; r < g.rows; ++r) {
    nlohmann::json row = nlohmann::json::array();
    for (int c = 0; c < g.cols; ++c) row.push_back(static_cast<int>(g.at(r, c)));
    j.push_back(std::move(row));
  }
  return j;
}

namespace {

std::vector<ArcPair> pairs_from_json(const nlohmann::json& task, const char* key, bool need_output,
                                     const std::string& context) {
  if (!task.contains(key)) throw Error(context + ": missing \"" + key + "\" list");
  const auto& list = task.at(key);
  if (!list.is_array()) throw Error(context + ": \"" + key + "\" must be a list of pairs");
  if (list.size() > kArcMaxPairs)
    throw Error(context + ": \"" + key + "\" holds " + std::to_string(list.size()) + " pairs, more than " +
                std::to_string(kArcMaxPairs) + " (real ARC tasks have at most about 10)");
  std::vector<ArcPair> out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& p = list[i];
    const std::string where = context + " " + key + "[" + std::to_string(i) + "]";
    if (!p.is_object() || !p.contains("input")) throw Error(where + ": must be an object with an \"input\" grid");
    ArcPair pair;
    pair.input = arc_grid_from_json(p.at("input"), where + ".input");
    if (p.contains("output")) pair.output = arc_grid_from_json(p.at("output"), where + ".output");
    else if (need_output) throw Error(where + ": missing \"output\" grid");
    out.push_back(std::move(pair));
  }
  return out;
}

}  // namespace

ArcTask arc_task_from_json(const std::string& id, const nlohmann::json& j, const std::string& context) {
  if (!j.is_object()) throw Error(context + ": a task must be an object with \"train\" and \"test\" lists");
  if (id.empty() || id.find(kArcNameSeparator) != std::string::npos)
    throw Error(context + ": task id \"" + id + "\" is empty or contains \"" + kArcNameSeparator + "\"");
  ArcTask t;
  t.id = id;
  t.train = pairs_from_json(j, "train", true, context);
  t.test = pairs_from_json(j, "test", false, context);
  if (t.train.empty()) throw Error(context + ": task has no demonstration (\"train\") pairs");
  if (t.test.empty()) throw Error(context + ": task has no \"test\" inputs");
  return t;
}

nlohmann::json arc_task_to_json(const ArcTask& t) {
  auto pairs = [](const std::vector<ArcPair>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& p : v) {
      nlohmann::json o = {{"input", arc_grid_to_json(p.input)}};
      if (p.output) o["output"] = arc_grid_to_json(*p.output);
      a.push_back(std::move(o));
    }
    return a;
  };
  return {{"train", pairs(t.train)}, {"test", pairs(t.test)}};
}

ArcTask read_arc_task_file(const std::string& path) {
  return arc_task_from_json(fs::path(path).stem().string(), read_json_file(path), path);
}

std::vector<ArcTask> read_arc_combined(const std::string& dir, const std::string& subset) {
  const std::string chal = (fs::path(dir) / ("arc-agi_" + subset + "_challenges.json")).string();
  const std::string sols = (fs::path(dir) / ("arc-agi_" + subset + "_solutions.json")).string();
  const nlohmann::json c = read_json_file(chal);
  if (!c.is_object()) throw Error(chal + ": must be an object {task id: task}");
  nlohmann::json s;
  const bool has_sols = fs::exists(sols);
  if (has_sols) {
    s = read_json_file(sols);
    if (!s.is_object()) throw Error(sols + ": must be an object {task id: [grid, ...]}");
  }
  std::vector<ArcTask> tasks;
  for (const auto& [id, task] : c.items()) {
    ArcTask t = arc_task_from_json(id, task, chal + " task " + id);
    if (has_sols) {
      if (!s.contains(id)) throw Error(sols + ": no solutions for task " + id);
      const auto& list = s.at(id);
      if (!list.is_array() || list.size() != t.test.size())
        throw Error(sols + " task " + id + ": needs a list of " + std::to_string(t.test.size()) + " grids (one per test input)");
      for (std::size_t i = 0; i < list.size(); ++i)
        t.test[i].output = arc_grid_from_json(list[i], sols + " task " + id + "[" + std::to_string(i) + "]");
    }
    tasks.push_back(std::move(t));
  }
  return tasks;
}

std::vector<ArcTask> read_arc_task_dir(const std::string& dir) {
  if (!fs::is_directory(dir)) throw Error(dir + ": not a directory of ARC task files");
  std::vector<std::string> paths;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".json") paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());
  if (paths.empty()) throw Error(dir + ": holds no *.json task files");
  std::vector<ArcTask> tasks;
  for (const auto& p : paths) tasks.push_back(read_arc_task_file(p));
  return tasks;
}

std::vector<ArcTask> load_arc_subset(const std::string& source, const std::string& subset) {
  const fs::path combined = fs::path(source) / ("arc-agi_" + subset + "_challenges.json");
  std::vector<ArcTask> tasks;
  if (fs::exists(combined)) tasks = read_arc_combined(source, subset);
  else if (fs::is_directory(fs::path(source) / subset)) tasks = read_arc_task_dir((fs::path(source) / subset).string());
  else
    throw Error(source + ": subset \"" + subset + "\" is neither " + combined.filename().string() +
                " nor a directory of task files");
  std::sort(tasks.begin(), tasks.end(), [](const ArcTask& a, const ArcTask& b) { return a.id < b.id; });
  for (std::size_t i = 1; i < tasks.size(); ++i)
    if (tasks[i].id == tasks[i - 1].id)
      throw Error(source + ": subset \"" + subset + "\" holds task id " + tasks[i].id + " twice");
  return tasks;
}

std::vector<ArcTask> read_arc_test_puzzles(const std::string& path) {
  const nlohmann::json j = read_json_file(path);
  if (!j.is_object()) throw Error(path + ": must be an object {task id: task}");
  std::vector<ArcTask> tasks;
  for (const auto& [id, task] : j.items()) tasks.push_back(arc_task_from_json(id, task, path + " task " + id));
  return tasks;  // nlohmann::json objects iterate in key order
}

}  // namespace trm::data
