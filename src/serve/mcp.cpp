#include "serve/mcp.h"

#include <cstdio>
#include <cstring>
#include <sstream>

#include "trm/error.h"

namespace trm::serve {

namespace {
constexpr std::size_t kMaxLine = std::size_t{4} << 20;

nlohmann::json rpc_error(const nlohmann::json& id, int code, const std::string& message) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}
nlohmann::json rpc_result(const nlohmann::json& id, nlohmann::json result) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}
nlohmann::json tool_error(const std::string& message) {
  return {{"content", nlohmann::json::array({{{"type", "text"}, {"text", message}}})}, {"isError", true}};
}

nlohmann::json solve_options_schema(int max_samples) {
  return {{"model", {{"type", "string"}, {"description", "the model's name (list_models); default: the first one of this task"}}},
          {"halting", {{"type", "string"}, {"enum", {"adaptive", "reference"}},
                       {"description", "adaptive: stop at the model's halting signal (default); reference: run every step"}}},
          {"samples", {{"type", "integer"}, {"minimum", 1}, {"maximum", max_samples},
                       {"description", "test-time samples; the most confident answer is returned (default 1)"}}}};
}
const nlohmann::json kGridSchema = {
    {"type", "array"},
    {"items", {{"type", "array"}, {"items", {{"type", "integer"}}}}},
    {"description", "the puzzle as rows of integers in the model's alphabet (list_models: vocab)"}};
}  // namespace

nlohmann::json McpHandler::parse_error(const std::string& what) { return rpc_error(nullptr, -32700, "parse error: " + what); }

nlohmann::json McpHandler::tools() const {
  const int k = service_.options().max_samples;
  nlohmann::json sudoku_props = solve_options_schema(k);
  sudoku_props["puzzle"] = {{"type", "string"},
                            {"description", "n*n cells (n = 4, 6 or 9) row by row: digits 1..n, '.' or '0' for blanks; "
                                            "spaces, '|' and newlines are ignored. E.g. \"1..4..1..1..4..1\""}};
  nlohmann::json maze_props = solve_options_schema(k);
  maze_props["maze"] = {{"type", "string"},
                        {"description", "side lines of side characters: '#' wall, ' ' open, 'S' start, 'G' goal"}};
  nlohmann::json grid_props = solve_options_schema(k);
  grid_props["puzzle"] = {{"type", "string"}, {"description", "the puzzle as text in the task's alphabet (as trm solve reads it)"}};
  grid_props["grid"] = kGridSchema;
  auto tool = [](const char* name, const char* title, const char* desc, nlohmann::json props, nlohmann::json required) {
    return nlohmann::json{{"name", name},
                          {"title", title},
                          {"description", desc},
                          {"inputSchema", {{"type", "object"}, {"properties", std::move(props)}, {"required", std::move(required)},
                                           {"additionalProperties", false}}}};
  };
  return nlohmann::json::array(
      {tool("solve_sudoku", "Solve a Sudoku",
            "Solve a 4x4, 6x6 or 9x9 Sudoku with a served Tiny Recursive Model. Returns the grid, the supervision steps "
            "used, the halting confidence per step and whether the rules checker verified the answer.",
            sudoku_props, nlohmann::json::array({"puzzle"})),
       tool("solve_maze", "Solve a maze",
            "Find the path from S to G in a square maze with a served Tiny Recursive Model; the answer marks the path "
            "with 'o' and is checked by the maze rules.",
            maze_props, nlohmann::json::array({"maze"})),
       tool("solve_grid", "Solve a grid task",
            "Run any served model on a puzzle of its own task (Sudoku, maze or a `trm data build grid` task), given "
            "as text or as rows of integers.",
            grid_props, nlohmann::json::array()),
       tool("list_models", "List models", "The served models: name, task, grid shape, alphabet and parameter count.",
            nlohmann::json::object(), nlohmann::json::array())});
}

nlohmann::json McpHandler::call_tool(const nlohmann::json& params) {
  const std::string name = params.value("name", "");
  const nlohmann::json args = params.contains("arguments") ? params.at("arguments") : nlohmann::json::object();
  if (!args.is_object()) return tool_error("arguments must be an object");
  if (name == "list_models") {
    nlohmann::json models = service_.models_json();
    std::string text;
    for (const auto& m : models.at("models"))
      text += m.at("name").get<std::string>() + ": " + m.at("task").get<std::string>() + " " +
              std::to_string(m.at("rows").get<int>()) + "x" + std::to_string(m.at("cols").get<int>()) + ", " +
              std::to_string(m.at("params").get<std::int64_t>()) + " parameters\n";
    return {{"content", nlohmann::json::array({{{"type", "text"}, {"text", text}}})}, {"structuredContent", models}};
  }
  std::string task;
  nlohmann::json req = nlohmann::json::object();
  for (const char* k : {"model", "halting", "samples"})
    if (args.contains(k)) req[k] = args.at(k);
  auto refuse_extra = [&](std::initializer_list<const char*> allowed) -> std::string {
    for (const auto& [k, v] : args.items()) {
      (void)v;
      bool ok = false;
      for (const char* a : allowed) ok = ok || k == a;
      if (!ok) return "unknown argument \"" + (k.size() > 64 ? k.substr(0, 64) : k) + "\"";
    }
    return "";
  };
  std::string extra;
  if (name == "solve_sudoku") {
    task = "sudoku";
    extra = refuse_extra({"puzzle", "model", "halting", "samples"});
    if (!args.contains("puzzle")) return tool_error("missing the argument \"puzzle\"");
    req["puzzle"] = args.at("puzzle");
  } else if (name == "solve_maze") {
    task = "maze";
    extra = refuse_extra({"maze", "model", "halting", "samples"});
    if (!args.contains("maze")) return tool_error("missing the argument \"maze\"");
    req["puzzle"] = args.at("maze");
  } else if (name == "solve_grid") {
    extra = refuse_extra({"puzzle", "grid", "model", "halting", "samples"});
    for (const char* k : {"puzzle", "grid"})
      if (args.contains(k)) req[k] = args.at(k);
  } else {
    throw ApiError(-32602, "unknown tool \"" + (name.size() > 64 ? name.substr(0, 64) : name) + "\"");
  }
  if (!extra.empty()) return tool_error(extra);
  // The model: the one named (it must be of this tool's task), else the first of the task.
  if (!task.empty()) {
    const auto models = service_.model_tasks();
    if (req.contains("model")) {
      bool fits = false;
      for (const auto& [n, t] : models) fits = fits || (req["model"].is_string() && n == req["model"].get<std::string>() && t == task);
      if (!fits) return tool_error("model: no " + task + " model of that name (list_models shows the served models)");
    } else {
      for (const auto& [n, t] : models)
        if (t == task && !req.contains("model")) req["model"] = n;
      if (!req.contains("model")) return tool_error("no " + task + " model is served here");
    }
  }
  nlohmann::json r;
  try {
    r = service_.solve(req);
  } catch (const ApiError& e) {
    return tool_error(e.what());
  }
  nlohmann::json structured{{"model", r["model"]},     {"grid", r["grid"]},     {"solution", r["solution"]},
                            {"steps", r["steps"]},     {"halted", r["halted"]}, {"confidence", r["confidence"]},
                            {"verified", r["verified"]}};
  const std::string verdict = r["verified"].is_null() ? "answer (no checker for this task)"
                              : r["verified"].get<bool>() ? "solved (verified by the rules)"
                                                          : "not solved (the answer breaks the rules)";
  std::ostringstream text;
  text << verdict << " after " << r["steps"].get<int>() << " supervision step(s), halting confidence ";
  text << (r["confidence"].empty() ? 0.0 : r["confidence"].back().get<double>()) << ":\n" << r["solution"].get<std::string>();
  return {{"content", nlohmann::json::array({{{"type", "text"}, {"text", text.str()}}})},
          {"structuredContent", structured},
          {"isError", false}};
}

std::optional<nlohmann::json> McpHandler::one(const nlohmann::json& m) {
  if (!m.is_object() || m.value("jsonrpc", nlohmann::json()) != "2.0")
    return rpc_error(m.is_object() && m.contains("id") ? m["id"] : nlohmann::json(nullptr), -32600,
                     "invalid request: not a JSON-RPC 2.0 object");
  const bool has_id = m.contains("id");
  nlohmann::json id = has_id ? m.at("id") : nlohmann::json(nullptr);
  if (has_id && !id.is_string() && !id.is_number_integer() && !id.is_null())
    return rpc_error(nullptr, -32600, "invalid request: id must be a string or an integer");
  if (!m.contains("method")) return std::nullopt;  // a response to us (we send no requests): ignored
  if (!m.at("method").is_string()) return rpc_error(id, -32600, "invalid request: method must be a string");
  const std::string method = m.at("method").get<std::string>();
  if (!has_id) return std::nullopt;  // notifications (notifications/initialized, cancelled, ...)
  const nlohmann::json params = m.contains("params") ? m.at("params") : nlohmann::json::object();
  if (!params.is_object()) return rpc_error(id, -32602, "params must be an object");
  if (method == "initialize") {
    std::string version = kMcpVersions[0];
    if (params.contains("protocolVersion") && params["protocolVersion"].is_string())
      for (const char* v : kMcpVersions)
        if (params["protocolVersion"] == v) version = v;
    return rpc_result(id, {{"protocolVersion", version},
                           {"capabilities", {{"tools", {{"listChanged", false}}}}},
                           {"serverInfo", {{"name", "trm"}, {"version", TRM_SERVE_VERSION}}},
                           {"instructions", "Tiny Recursive Model puzzle solvers: call list_models, then solve_sudoku, "
                                            "solve_maze or solve_grid."}});
  }
  if (method == "ping") return rpc_result(id, nlohmann::json::object());
  if (method == "tools/list") return rpc_result(id, {{"tools", tools()}});
  if (method == "tools/call") {
    if (!params.contains("name") || !params["name"].is_string()) return rpc_error(id, -32602, "tools/call needs a tool name");
    try {
      return rpc_result(id, call_tool(params));
    } catch (const ApiError& e) {
      return rpc_error(id, e.code(), e.what());
    }
  }
  return rpc_error(id, -32601, "method not found: " + (method.size() > 64 ? method.substr(0, 64) : method));
}

std::optional<nlohmann::json> McpHandler::guarded(const nlohmann::json& m) {
  try {
    return one(m);
  } catch (const std::exception& e) {  // a bug of ours: answered as an internal error, never a crash
    std::fprintf(stderr, "trm mcp: internal error: %s\n", e.what());
    return rpc_error(m.is_object() && m.contains("id") ? m["id"] : nlohmann::json(nullptr), -32603, "internal error");
  }
}

std::optional<nlohmann::json> McpHandler::handle(const nlohmann::json& message) {
  if (!message.is_array()) return guarded(message);
  if (message.empty()) return rpc_error(nullptr, -32600, "invalid request: empty batch");
  if (message.size() > 64) return rpc_error(nullptr, -32600, "invalid request: a batch of more than 64 messages");
  nlohmann::json replies = nlohmann::json::array();
  for (const auto& m : message)
    if (auto r = guarded(m)) replies.push_back(std::move(*r));
  if (replies.empty()) return std::nullopt;
  return replies;
}

void serve_mcp_stdio(McpHandler& handler, std::istream& in, std::ostream& out) {
  std::string line;
  for (;;) {
    line.clear();
    bool too_long = false;
    int ch;
    std::streambuf* sb = in.rdbuf();
    while ((ch = sb->sbumpc()) != std::char_traits<char>::eof() && ch != '\n') {
      if (line.size() < kMaxLine) line.push_back(static_cast<char>(ch));
      else too_long = true;
    }
    const bool eof = ch == std::char_traits<char>::eof();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::optional<nlohmann::json> reply;
    if (too_long) {
      reply = McpHandler::parse_error("a message longer than 4 MiB");
    } else if (line.find_first_not_of(" \t") != std::string::npos) {
      try {
        reply = handler.handle(parse_json_body(line));
      } catch (const ApiError& e) {
        reply = McpHandler::parse_error(e.what());
      }
    }
    if (reply) out << dump_json(*reply) << '\n' << std::flush;
    if (eof) return;
  }
}

}  // namespace trm::serve
