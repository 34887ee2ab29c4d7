// The --backend option shared by every command that computes.
#include "cli/commands.h"

namespace trm::cli {

void add_backend_option(CLI::App* cmd, std::string& name) {
  std::string help = "Where to compute:";
  for (const BackendInfo& b : known_backends())
    help += " " + b.name + (b.available ? "" : " (not available: " + b.reason + ")") + ";";
  help.back() = '.';
  cmd->add_option("--backend", name, help)->capture_default_str();
}

}  // namespace trm::cli
