// The --backend option shared by every command that computes.
#include "cli/commands.h"

namespace trm::cli {

void add_backend_option(CLI::App* cmd, std::string& name) {
  // Names only: probing cuda loads the CUDA libraries, which every command would then pay for.
  std::string help = "Where to compute:";
  for (const std::string& n : backend_names()) help += " " + n + ",";
  help.back() = ' ';
  help += "(`trm info --system` says which run here)";
  cmd->add_option("--backend", name, help)->capture_default_str();
}

}  // namespace trm::cli
