// The C API (include/trm/trm.h) over the C++ library. Every entry point runs its body inside
// guarded(): C++ exceptions become a trm_status plus the thread-local message, so none crosses
// the C boundary. A trm_model owns its backend and model and a mutex that serializes the calls
// that run it (TrmModel keeps its activations inside, so one model computes one batch at a time).
#include "trm/trm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "capi/solve.h"
#include "trm/data/dataset.h"
#include "trm/error.h"
#include "trm/eval/evaluate.h"
#include "trm/model/presets.h"
#include "trm/train/checkpoint.h"
#include "trm/train/trainer.h"

#ifndef TRM_VERSION_STRING
#error "TRM_VERSION_STRING must be defined by the build (CMakeLists.txt)"
#endif

struct trm_model {
  std::unique_ptr<trm::Backend> backend;
  std::unique_ptr<trm::TrmModel> model;
  std::mutex lock;
  trm::capi::SolveScratch scratch;
};

namespace {

thread_local std::string t_last_error;

trm_status fail(trm_status s, std::string msg) {
  t_last_error = std::move(msg);
  return s;
}

// Runs f, turning every exception into a status and the thread's last-error message.
template <class F>
trm_status guarded(F&& f) noexcept {
  try {
    return f();
  } catch (const trm::OutOfMemory& e) {
    return fail(TRM_ERROR_OUT_OF_MEMORY, e.what());
  } catch (const trm::NumericalFault& e) {
    return fail(TRM_ERROR_NUMERICAL, e.what());
  } catch (const trm::Error& e) {
    return fail(TRM_ERROR_BAD_INPUT, e.what());
  } catch (const std::bad_alloc&) {
    return fail(TRM_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const trm::InternalError& e) {
    return fail(TRM_ERROR_INTERNAL, std::string("internal error (a bug in trm): ") + e.what());
  } catch (const std::exception& e) {
    return fail(TRM_ERROR_INTERNAL, std::string("internal error (a bug in trm): ") + e.what());
  } catch (...) {
    return fail(TRM_ERROR_INTERNAL, "internal error (a bug in trm): unknown exception");
  }
}

// Copies the caller's struct over the defaults: only the first struct_size bytes are the caller's
// (an older caller's struct is shorter), the rest keep their defaults.
template <class T>
T read_struct(const T* given, T defaults, const char* what) {
  if (!given) return defaults;
  if (given->struct_size < sizeof(std::uint32_t) || given->struct_size > sizeof(T))
    throw trm::Error(std::string(what) + ".struct_size is " + std::to_string(given->struct_size) + "; expected " +
                     std::to_string(sizeof(T)) + " (call " + what + "_init first)");
  std::memcpy(static_cast<void*>(&defaults), given, given->struct_size);
  return defaults;
}

// An output struct must come from its *_init function: its struct_size says so.
template <class T>
void require_initialized(const T& s, const char* what) {
  if (s.struct_size != sizeof(T))
    throw trm::Error(std::string(what) + ".struct_size is " + std::to_string(s.struct_size) + "; expected " +
                     std::to_string(sizeof(T)) + " (call " + what + "_init first)");
}

trm_status null_argument(const char* function, const char* argument) {
  return fail(TRM_ERROR_INVALID_ARGUMENT, std::string(function) + ": " + argument + " is NULL");
}

void copy_name(char* dst, std::size_t size, const std::string& s) {
  std::memset(dst, 0, size);
  std::memcpy(dst, s.data(), std::min(size - 1, s.size()));
}

// An enum field a C caller filled, as the int it holds: C lets any int through, and reading a value
// outside the enumerators through the C++ enum type is undefined behaviour.
template <class E>
int raw_enum(const E& e) {
  static_assert(sizeof(E) == sizeof(int), "C enums are ints on the platforms trm supports");
  int v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

trm::Halting to_halting(int h, const char* function) {
  if (h == TRM_HALTING_ADAPTIVE) return trm::Halting::kAdaptive;
  if (h == TRM_HALTING_REFERENCE) return trm::Halting::kReference;
  throw trm::Error(std::string(function) + ": halting must be TRM_HALTING_ADAPTIVE or TRM_HALTING_REFERENCE (got " +
                   std::to_string(h) + ")");
}

}  // namespace

extern "C" {

const char* trm_version(void) { return TRM_VERSION_STRING; }
int trm_api_version(void) { return TRM_API_VERSION; }
const char* trm_last_error(void) { return t_last_error.c_str(); }

const char* trm_status_name(trm_status s) {
  switch (s) {
    case TRM_OK: return "TRM_OK";
    case TRM_ERROR_INVALID_ARGUMENT: return "TRM_ERROR_INVALID_ARGUMENT";
    case TRM_ERROR_BAD_INPUT: return "TRM_ERROR_BAD_INPUT";
    case TRM_ERROR_OUT_OF_MEMORY: return "TRM_ERROR_OUT_OF_MEMORY";
    case TRM_ERROR_NUMERICAL: return "TRM_ERROR_NUMERICAL";
    case TRM_ERROR_CANCELLED: return "TRM_ERROR_CANCELLED";
    case TRM_ERROR_INTERNAL: return "TRM_ERROR_INTERNAL";
  }
  return "TRM_ERROR_UNKNOWN";
}

void trm_load_options_init(trm_load_options* o) {
  if (!o) return;
  *o = trm_load_options{};
  o->struct_size = sizeof(trm_load_options);
  o->backend = nullptr;
  o->use_ema = 1;
}

trm_status trm_model_load(const char* path, const trm_load_options* options, trm_model** out) {
  if (!out) return null_argument("trm_model_load", "out");
  *out = nullptr;
  if (!path) return null_argument("trm_model_load", "path");
  return guarded([&] {
    trm_load_options defaults;
    trm_load_options_init(&defaults);
    const trm_load_options o = read_struct(options, defaults, "trm_load_options");
    auto m = std::make_unique<trm_model>();
    m->backend = trm::make_backend(o.backend ? o.backend : "cpu");
    m->model = trm::load_model_from_checkpoint(path, *m->backend, o.use_ema != 0);
    *out = m.release();
    return TRM_OK;
  });
}

void trm_model_free(trm_model* model) { delete model; }

void trm_model_info_init(trm_model_info* info) {
  if (!info) return;
  *info = trm_model_info{};
  info->struct_size = sizeof(trm_model_info);
}

trm_status trm_model_get_info(const trm_model* model, trm_model_info* info) {
  if (!model) return null_argument("trm_model_get_info", "model");
  if (!info) return null_argument("trm_model_get_info", "info");
  return guarded([&] {
    require_initialized(*info, "trm_model_info");
    const trm::ModelConfig& c = model->model->config();
    copy_name(info->arch, sizeof info->arch, c.arch == trm::Arch::kHrm ? "hrm" : "trm");
    copy_name(info->backend, sizeof info->backend, model->backend->name());
    info->num_params = model->model->num_params();
    info->vocab_size = c.vocab_size;
    info->seq_len = c.seq_len;
    info->puzzle_emb_len = c.prefix_len();
    info->num_puzzle_identifiers = c.num_puzzle_identifiers;
    info->hidden_size = c.hidden_size;
    info->num_heads = c.num_heads;
    info->H_cycles = c.H_cycles;
    info->L_cycles = c.L_cycles;
    info->L_layers = c.L_layers;
    info->H_layers = c.arch == trm::Arch::kHrm ? c.H_layers : 0;
    info->halt_max_steps = c.halt_max_steps;
    info->mlp_t = c.mlp_t ? 1 : 0;
    return TRM_OK;
  });
}

void trm_solve_options_init(trm_solve_options* o) {
  if (!o) return;
  *o = trm_solve_options{};
  o->struct_size = sizeof(trm_solve_options);
  o->halting = TRM_HALTING_ADAPTIVE;
  o->batch = 256;
  o->puzzle_ids = nullptr;
  o->checker = TRM_CHECKER_NONE;
  o->samples = 1;
  o->noise = 0.3f;
  o->seed = 0;
  o->select = TRM_SELECT_AUTO;
}

void trm_solve_output_init(trm_solve_output* o) {
  if (!o) return;
  *o = trm_solve_output{};
  o->struct_size = sizeof(trm_solve_output);
}

trm_status trm_solve(trm_model* model, const int32_t* inputs, int64_t n, const trm_solve_options* options,
                     trm_solve_output* output) {
  if (!model) return null_argument("trm_solve", "model");
  if (!output) return null_argument("trm_solve", "output");
  if (n < 0) return fail(TRM_ERROR_INVALID_ARGUMENT, "trm_solve: n is " + std::to_string(n) + " (must be >= 0)");
  if (n > 0 && !inputs) return null_argument("trm_solve", "inputs");
  return guarded([&] {
    trm_solve_options defaults;
    trm_solve_options_init(&defaults);
    const trm_solve_options o = read_struct(options, defaults, "trm_solve_options");
    trm_solve_output out_defaults;
    trm_solve_output_init(&out_defaults);
    const trm_solve_output out = read_struct(output, out_defaults, "trm_solve_output");
    if (n > 0 && !out.answers) return null_argument("trm_solve", "output->answers");
    if (o.batch < 1)
      return fail(TRM_ERROR_INVALID_ARGUMENT, "trm_solve: options->batch is " + std::to_string(o.batch) + " (must be >= 1)");
    trm::capi::SolveRequest req;
    req.inputs = inputs;
    req.puzzle_ids = o.puzzle_ids;
    req.n = n;
    req.batch = o.batch;
    req.halting = to_halting(raw_enum(o.halting), "trm_solve");
    req.samples = o.samples;
    req.noise = o.noise;
    req.seed = o.seed;
    const trm::ModelConfig& c = model->model->config();
    const int checker = raw_enum(o.checker), select = raw_enum(o.select);
    if (checker == TRM_CHECKER_SUDOKU || checker == TRM_CHECKER_MAZE) {
      const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(c.seq_len))));
      if (side * side != c.seq_len)
        throw trm::Error("trm_solve: options->checker needs a square grid; this model's seq_len is " + std::to_string(c.seq_len));
      req.checker = trm::infer::Checker(
          checker == TRM_CHECKER_SUDOKU ? trm::infer::PuzzleFamily::kSudoku : trm::infer::PuzzleFamily::kMaze, side);
    } else if (checker != TRM_CHECKER_NONE) {
      throw trm::Error("trm_solve: options->checker is " + std::to_string(checker) +
                       " (TRM_CHECKER_NONE, TRM_CHECKER_SUDOKU or TRM_CHECKER_MAZE)");
    }
    switch (select) {
      case TRM_SELECT_AUTO: req.select = req.checker.active() ? trm::infer::Select::kChecker : trm::infer::Select::kConfidence; break;
      case TRM_SELECT_CONFIDENCE: req.select = trm::infer::Select::kConfidence; break;
      case TRM_SELECT_FIRST_HALT: req.select = trm::infer::Select::kFirstHalt; break;
      case TRM_SELECT_CHECKER: req.select = trm::infer::Select::kChecker; break;
      default:
        throw trm::Error("trm_solve: options->select is " + std::to_string(select) +
                         " (TRM_SELECT_AUTO, TRM_SELECT_CONFIDENCE, TRM_SELECT_FIRST_HALT or TRM_SELECT_CHECKER)");
    }
    trm::capi::SolveResult res{out.answers, out.steps, out.confidence, out.nonfinite, out.check, 0};
    const std::lock_guard<std::mutex> hold(model->lock);
    trm::capi::solve(*model->model, req, res, model->scratch);
    if (res.nonfinite_count > 0)
      return fail(TRM_ERROR_NUMERICAL, "trm_solve: the model's outputs were NaN or infinite for " +
                                           std::to_string(res.nonfinite_count) + " of " + std::to_string(n) + " puzzles");
    return TRM_OK;
  });
}

void trm_eval_options_init(trm_eval_options* o) {
  if (!o) return;
  *o = trm_eval_options{};
  o->struct_size = sizeof(trm_eval_options);
  o->split = nullptr;
  o->halting = TRM_HALTING_REFERENCE;
  o->max_examples = 0;
  o->batch = 256;
}

void trm_eval_result_init(trm_eval_result* r) {
  if (!r) return;
  *r = trm_eval_result{};
  r->struct_size = sizeof(trm_eval_result);
}

trm_status trm_evaluate(trm_model* model, const char* data_dir, const trm_eval_options* options,
                        trm_eval_result* result) {
  if (!model) return null_argument("trm_evaluate", "model");
  if (!data_dir) return null_argument("trm_evaluate", "data_dir");
  if (!result) return null_argument("trm_evaluate", "result");
  return guarded([&] {
    trm_eval_options defaults;
    trm_eval_options_init(&defaults);
    const trm_eval_options o = read_struct(options, defaults, "trm_eval_options");
    require_initialized(*result, "trm_eval_result");
    if (o.batch < 1)
      return fail(TRM_ERROR_INVALID_ARGUMENT, "trm_evaluate: options->batch is " + std::to_string(o.batch) + " (must be >= 1)");
    if (o.max_examples < 0)
      return fail(TRM_ERROR_INVALID_ARGUMENT,
                  "trm_evaluate: options->max_examples is " + std::to_string(o.max_examples) + " (must be >= 0)");
    trm::EvalOptions eo;
    eo.batch = o.batch;
    eo.max_examples = o.max_examples;
    eo.halting = to_halting(raw_enum(o.halting), "trm_evaluate");
    const trm::data::Dataset ds = trm::data::read_split(data_dir, o.split ? o.split : "test");
    const std::lock_guard<std::mutex> hold(model->lock);
    const trm::EvalResult r = trm::evaluate(*model->model, ds, eo);
    result->n = r.n;
    result->exact_accuracy = r.exact_accuracy;
    result->cell_accuracy = r.cell_accuracy;
    result->avg_steps = r.avg_steps;
    result->q_halt_accuracy = r.q_halt_accuracy;
    result->nonfinite = r.nonfinite;
    result->seconds = r.seconds;
    if (r.nonfinite > 0)
      return fail(TRM_ERROR_NUMERICAL, std::string("trm_evaluate: the model's outputs were NaN or infinite on ") +
                                           std::to_string(r.nonfinite) + " of " + std::to_string(r.n) + " examples");
    return TRM_OK;
  });
}

void trm_train_result_init(trm_train_result* r) {
  if (!r) return;
  *r = trm_train_result{};
  r->struct_size = sizeof(trm_train_result);
}

trm_status trm_train(const char* config_json, trm_progress_fn progress, void* user_data, trm_train_result* result) {
  if (!config_json) return null_argument("trm_train", "config_json");
  return guarded([&] {
    if (result) require_initialized(*result, "trm_train_result");
    trm::TrainOptions o = trm::capi::train_options_from_json(config_json, "trm_train config");
    if (progress)
      o.on_progress = [progress, user_data](const trm::TrainProgress& p) {
        const trm_train_progress cp{p.step, p.total_steps, p.lm_loss, p.accuracy, p.exact_accuracy, p.steps_per_second,
                                    p.eta_seconds};
        return progress(&cp, user_data) == 0;
      };
    const auto be = trm::make_backend(trm::capi::backend_of_train_json(config_json));
    const trm::TrainSummary s = trm::train(o, *be);
    if (result) {
      result->steps = s.steps;
      result->seconds = s.seconds;
      result->evaluated = s.evaluated ? 1 : 0;
      result->exact_accuracy = s.evaluated ? s.last_eval.exact_accuracy : 0;
      result->cell_accuracy = s.evaluated ? s.last_eval.cell_accuracy : 0;
      result->stopped_by_time = s.stopped_by_time ? 1 : 0;
    }
    if (s.cancelled)
      return fail(TRM_ERROR_CANCELLED, "trm_train: stopped by the progress callback at step " + std::to_string(s.steps) +
                                           " (checkpoint written; call trm_train again with the same config to resume)");
    return TRM_OK;
  });
}

}  // extern "C"
