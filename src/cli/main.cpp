// trm command-line entry point: dispatches to the subcommands in src/cli/cmd_*.cpp.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

#include "cli/commands.h"
#include "cli/help_example.h"
#include "trm/dist/communicator.h"

namespace {
int run_command(const trm::cli::Action& action) {
  try {
    const int status = action ? action() : 0;
    // What a command prints on stdout is a result (JSON lines, tables): a write error there (a
    // full disk behind a redirection) must not end in status 0 with the result lost.
    errno = 0;
    if (std::fflush(stdout) != 0 || std::ferror(stdout))
      throw trm::Error(std::string("standard output: write failed (") + std::strerror(errno ? errno : EIO) + ")");
    return status;
  } catch (const trm::Error& e) {
    // Bad input (a file, a config, a shape): the message names it; status 2 (tests/cli_smoke.sh).
    std::fprintf(stderr, "trm: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    // Anything else (a failed TRM_ASSERT, std::filesystem, nlohmann::json, std::bad_alloc) would
    // otherwise reach std::terminate and abort with a core dump; report it and exit 1.
    std::fprintf(stderr, "trm: internal error: %s\n", e.what());
    return 1;
  }
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      std::string("trm - the Tiny Recursive Model in C++.\n") +
      "Typical session:\n"
      "  trm data generate sudoku --n 4 --out data/sudoku4      # or: trm data build sudoku / maze / grid, trm data download\n"
      "  trm train tiny-sudoku-mlp --data data/sudoku4 --out runs/s4 --max-steps 400 --batch 128   # ~1 min on 2 cores\n"
      "  trm eval --checkpoint runs/s4/final.safetensors --data data/sudoku4\n"
      "  trm solve --checkpoint runs/s4/final.safetensors '" + trm::cli::kHelpPuzzle + "' --steps\n" +
      "  trm predict --checkpoint runs/s4/final.safetensors --data data/sudoku4 --out predictions.jsonl\n"
      "Cost first: trm train PRESET --data DIR --out DIR --dry-run (size, FLOPs, step time, memory, ETA; writes nothing).\n"
      "CPU-sized presets: tiny-sudoku-mlp, tiny-maze, cpu-sudoku, cpu-maze, cpu-arc (trm presets lists all).\n"
      "Your own task: trm data build grid --train FILE --test FILE --out DIR (docs/DATA.md).\n"
      "ARC: trm data build arc, trm arc eval, trm arc solve (see README).\n"
      "Pictures: trm plot runs/s4 --out curves.svg; trm solve ... --render steps.gif (docs/VISUALS.md).\n"
      "Released PyTorch checkpoints: trm import PATH --out model.safetensors; back: trm export (docs/IMPORT.md).\n"};
  app.set_version_flag("--version", std::string("trm ") + TRM_VERSION);
  app.require_subcommand(1);
  trm::cli::Action action;
  trm::cli::add_data_commands(app, action);
  trm::cli::add_train_command(app, action);
  trm::cli::add_eval_command(app, action);
  trm::cli::add_solve_command(app, action);
  trm::cli::add_predict_command(app, action);
  trm::cli::add_info_commands(app, action);
  trm::cli::add_bench_command(app, action);
  trm::cli::add_report_command(app, action);
  trm::cli::add_arc_commands(app, action);
  trm::cli::add_import_commands(app, action);
  trm::cli::add_quantize_command(app, action);
  trm::cli::add_plot_command(app, action);
  trm::cli::add_serve_command(app, action);
  trm::cli::add_mcp_command(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  // Every exit of a command goes through dist::finish: with several MPI ranks, a failed rank ends
  // the others (which may be waiting for it in a collective) instead of leaving them to hang.
  return trm::dist::finish(run_command(action));
}
