// The Model Context Protocol server of trm (JSON-RPC 2.0 messages; the transport is the caller's:
// stdio lines in `trm mcp`, POST /mcp in `trm serve`). Methods: initialize, ping, tools/list,
// tools/call; notifications are accepted and not answered. Tools: solve_sudoku, solve_maze,
// solve_grid, list_models (docs/SERVING.md "MCP"). A bad tool argument is a tool result with
// isError: true (the model calling the tool can read it and retry), not a JSON-RPC error.
#pragma once
#include <istream>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "trm/serve/service.h"

namespace trm::serve {

// Protocol revisions this server speaks; initialize answers the client's when listed, else the first.
inline constexpr const char* kMcpVersions[] = {"2025-06-18", "2025-11-25", "2025-03-26", "2024-11-05"};

class McpHandler {
 public:
  explicit McpHandler(Service& service) : service_(service) {}
  // One message (or a JSON-RPC batch array) -> the reply, or nothing for notifications/responses.
  std::optional<nlohmann::json> handle(const nlohmann::json& message);
  static nlohmann::json parse_error(const std::string& what);  // -32700, id null
  nlohmann::json tools() const;

 private:
  std::optional<nlohmann::json> one(const nlohmann::json& m);
  std::optional<nlohmann::json> guarded(const nlohmann::json& m);
  nlohmann::json call_tool(const nlohmann::json& params);
  Service& service_;
};

// `trm mcp`: newline-delimited JSON-RPC on in/out until end of input (lines over 4 MiB are
// refused with a parse error and skipped).
void serve_mcp_stdio(McpHandler& handler, std::istream& in, std::ostream& out);

}  // namespace trm::serve
