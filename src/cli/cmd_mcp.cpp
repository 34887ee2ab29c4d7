// trm mcp --model NAME=CHECKPOINT ... : the MCP server over stdio (docs/SERVING.md "MCP").
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/serve_options.h"
#include "serve/mcp.h"

namespace trm::cli {

void add_mcp_command(CLI::App& app, Action& action) {
  static ServeArgs args;
  auto* cmd = app.add_subcommand("mcp", "Serve models as MCP tools over stdio (newline-delimited JSON-RPC)");
  add_serve_model_options(cmd, args);
  cmd->callback([&action] {
    action = [] {
      serve::Service service(serve_models(args), serve_service_options(args));
      serve::McpHandler handler(service);
      // stdout carries the protocol only; anything else goes to stderr.
      serve::serve_mcp_stdio(handler, std::cin, std::cout);
      return 0;
    };
  });
}

}  // namespace trm::cli
