// The trm subcommands. Each registers its options on the CLI11 app and returns the action to run.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/run_lock.h"
#include "trm/backend/backend.h"
#include "trm/model/config.h"

namespace trm::cli {

using Action = std::function<int()>;

void add_data_commands(CLI::App& app, Action& action);
void add_data_build_arc_command(CLI::App& build, Action& action);  // cmd_data_arc.cpp
void add_arc_commands(CLI::App& app, Action& action);               // cmd_arc.cpp: trm arc eval|solve
void add_train_command(CLI::App& app, Action& action);
void add_eval_command(CLI::App& app, Action& action);
void add_solve_command(CLI::App& app, Action& action);
void add_predict_command(CLI::App& app, Action& action);  // cmd_predict.cpp
void add_info_commands(CLI::App& app, Action& action);
void add_bench_command(CLI::App& app, Action& action);
void add_report_command(CLI::App& app, Action& action);
void add_import_commands(CLI::App& app, Action& action);
void add_quantize_command(CLI::App& app, Action& action);  // cmd_quantize.cpp: trm quantize  // cmd_import.cpp: trm import | trm export
void add_plot_command(CLI::App& app, Action& action);      // cmd_plot.cpp: trm plot (training curves)
void add_serve_command(CLI::App& app, Action& action);  // cmd_serve.cpp: trm serve (HTTP)
void add_mcp_command(CLI::App& app, Action& action);    // cmd_mcp.cpp: trm mcp (MCP over stdio)

// --backend NAME on a command that computes (default "cpu"); the name is checked when the command
// runs, by make_backend(), whose error names the backends this build has.
void add_backend_option(CLI::App* cmd, std::string& name);
// --precision fp32|bf16|int8 (precision_option.cpp). apply_precision() parses it (trm::Error on
// an unknown name), sets it on the backend, and for bf16/int8 says on stderr which path runs and
// warns when this CPU only has a slow fallback.
void add_precision_option(CLI::App* cmd, std::string& name);
Precision apply_precision(Backend& backend, const std::string& name);
// "auto" (the default): bf16 on the cuda backend, fp32 on the others; else precision_from_string.
Precision resolve_precision(const Backend& backend, const std::string& name);
void check_precision_name(const std::string& name);  // trm::Error for a name that is neither auto nor a precision

// A dataset command's --out, checked before any work (cmd_data.cpp): created and proven
// writable; locked for the command's lifetime (two builds into one directory would mix their
// files); a non-empty directory that holds no trm dataset is refused unless `force`; temporary
// files of an interrupted earlier write are removed. The lock is held until the claim is
// destroyed; when that happens because the command failed, a directory the claim created is
// removed again (with its lock file, if nothing else was written), so a refused build leaves
// nothing behind (tests/bad_inputs.sh).
class DatasetDirClaim {
 public:
  DatasetDirClaim(std::unique_ptr<data::RunLock> lock, std::string out, bool created);
  ~DatasetDirClaim();
  DatasetDirClaim(const DatasetDirClaim&) = delete;
  DatasetDirClaim& operator=(const DatasetDirClaim&) = delete;

 private:
  std::unique_ptr<data::RunLock> lock_;
  std::string out_;
  bool created_;
  int exceptions_at_start_;
};
std::unique_ptr<DatasetDirClaim> claim_dataset_dir(const std::string& out, bool force);

// "PRESET key=value ..." (the preset optional: without one the overrides apply to the configs as
// passed in) into configs, then validates them; throws trm::Error.
void parse_model_args(const std::vector<std::string>& args, ModelConfig& model, OptimConfig& optim);

}  // namespace trm::cli
