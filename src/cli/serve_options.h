// The options trm serve and trm mcp share: the models and the batching / limit settings.
#pragma once
#include <string>
#include <vector>

#include "cli/commands.h"
#include "trm/serve/service.h"

namespace trm::cli {

struct ServeArgs {
  std::vector<std::string> models;
  std::string backend = "cpu", precision = "auto";
  serve::ServiceOptions service;
  bool no_batching = false;
};

inline void add_serve_model_options(CLI::App* cmd, ServeArgs& a) {
  cmd->add_option("--model", a.models, "NAME=CHECKPOINT (repeat for several models)")->required();
  add_backend_option(cmd, a.backend);
  add_precision_option(cmd, a.precision);
  serve::ServiceOptions& o = a.service;
  cmd->add_option("--max-batch", o.max_batch, "Rows in one model step (1: no batching)")->capture_default_str();
  cmd->add_flag("--no-batching", a.no_batching, "Solve one request at a time per model (as --max-batch 1)");
  cmd->add_option("--batch-window-ms", o.batch_window_ms, "How long an idle worker waits for requests to join the first")
      ->capture_default_str();
  cmd->add_option("--max-queue", o.max_queue, "Requests waiting per model (503 beyond)")->capture_default_str();
  cmd->add_option("--deadline-ms", o.deadline_ms, "Per-request deadline (504 beyond)")->capture_default_str();
  cmd->add_option("--max-samples", o.max_samples, "Largest 'samples' a request may ask for")->capture_default_str();
  cmd->add_option("--noise", o.noise, "Latent noise sigma of samples 2..K")->capture_default_str();
  cmd->add_flag("!--no-halting-gate", o.gate_halting,
                "Halt on the model's signal even when the checker rejects the answer (default: refine on, as trm solve)");
}

inline std::vector<serve::ModelSpec> serve_models(const ServeArgs& a) {
  std::vector<serve::ModelSpec> v;
  for (const auto& m : a.models) v.push_back(serve::parse_model_spec(m));
  return v;
}

inline serve::ServiceOptions serve_service_options(const ServeArgs& a) {
  serve::ServiceOptions o = a.service;
  o.backend = a.backend;
  o.precision = a.precision;
  if (a.no_batching) o.max_batch = 1;
  return o;
}

}  // namespace trm::cli
