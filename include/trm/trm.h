/* trm — the Tiny Recursive Model: the C API.
 *
 * A stable C ABI over the C++ library (libtrm.so / libtrm.a), for programs in any language that
 * can call C. The rules, which hold for every function below:
 *
 *  - Handles are opaque (trm_model) and owned by the caller: every trm_model_load() is paired
 *    with one trm_model_free(). Passing NULL to a *_free function does nothing.
 *  - Every function that can fail returns a trm_status. TRM_OK is 0; on any other value
 *    trm_last_error() returns a message naming the file, argument or value at fault. No C++
 *    exception ever crosses this boundary; a NULL handle or output pointer is
 *    TRM_ERROR_INVALID_ARGUMENT, never a crash.
 *  - Option structs start with struct_size and are filled with defaults by their *_init function:
 *    call it, then change the fields you need. A library built later with more fields still reads
 *    a struct from an older caller correctly (the fields beyond struct_size keep their defaults).
 *  - Arrays cross the boundary as pointers and counts; every array the library writes is
 *    allocated by the caller, with the size the documentation gives.
 *  - Thread safety is stated per function. In short: a loaded model may be used for inference by
 *    several threads at once (calls on one model are serialized by a lock inside it; use one
 *    model per thread to run them in parallel); trm_train may run on several threads at once as
 *    long as their output directories differ; error messages are per thread.
 *
 * Versioning: TRM_API_VERSION changes when a declaration here changes incompatibly;
 * trm_api_version() returns the version the library was built with, so a program can check
 * that it was compiled against the library it runs with.
 */
#ifndef TRM_TRM_H
#define TRM_TRM_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define TRM_API __attribute__((visibility("default")))
#else
#define TRM_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define TRM_API_VERSION 1

/* ---- status and errors ------------------------------------------------------------------- */

typedef enum trm_status {
  TRM_OK = 0,
  TRM_ERROR_INVALID_ARGUMENT = 1, /* a NULL handle/pointer, an out-of-range count or option */
  TRM_ERROR_BAD_INPUT = 2,        /* a file, dataset, config or puzzle trm refused (see the message) */
  TRM_ERROR_OUT_OF_MEMORY = 3,    /* the batch or model does not fit (the message gives the sizes) */
  TRM_ERROR_NUMERICAL = 4,        /* NaN or Inf in the model's outputs or the training run */
  TRM_ERROR_CANCELLED = 5,        /* a progress callback asked to stop (the run is resumable) */
  TRM_ERROR_INTERNAL = 6          /* a bug in trm: please report it with the message */
} trm_status;

/* The library's version, "MAJOR.MINOR.PATCH". Thread-safe. */
TRM_API const char* trm_version(void);
/* TRM_API_VERSION of the library. Thread-safe. */
TRM_API int trm_api_version(void);
/* The message of the last failed call on this thread ("" when none failed yet). The pointer is
 * valid until the next trm_* call on the same thread. Thread-safe (thread-local). */
TRM_API const char* trm_last_error(void);
/* A short name for a status ("TRM_OK", "TRM_ERROR_BAD_INPUT", ...). Thread-safe. */
TRM_API const char* trm_status_name(trm_status status);

/* ---- loading a model ---------------------------------------------------------------------- */

typedef struct trm_model trm_model;

typedef struct trm_load_options {
  uint32_t struct_size; /* sizeof(trm_load_options) */
  const char* backend;  /* "cpu" (default when NULL), or another backend this build has */
  int32_t use_ema;      /* non-zero (default): the EMA weights when the checkpoint holds them */
} trm_load_options;

TRM_API void trm_load_options_init(trm_load_options* options);

/* Loads a checkpoint written by `trm train` (checkpoint.safetensors or final.safetensors) or
 * `trm import`. options may be NULL for the defaults. On success *out is a new handle; on failure
 * it is set to NULL. Thread-safe (different calls build different models). */
TRM_API trm_status trm_model_load(const char* path, const trm_load_options* options, trm_model** out);
/* Frees the model. NULL does nothing. Not thread-safe with calls still running on that model. */
TRM_API void trm_model_free(trm_model* model);

typedef struct trm_model_info {
  uint32_t struct_size;
  char arch[8];                   /* "trm" or "hrm" */
  char backend[16];               /* the backend it computes on */
  int64_t num_params;             /* trainable parameters (the puzzle table excluded) */
  int32_t vocab_size;             /* token ids are 0 .. vocab_size-1 */
  int32_t seq_len;                /* tokens per puzzle (S) */
  int32_t puzzle_emb_len;         /* prefix positions (P) */
  int32_t num_puzzle_identifiers; /* valid puzzle ids are 0 .. this-1 */
  int32_t hidden_size, num_heads, H_cycles, L_cycles, L_layers, H_layers;
  int32_t halt_max_steps;         /* supervision steps at most; the size of per-step outputs */
  int32_t mlp_t;                  /* non-zero: MLP sequence mixing instead of attention */
} trm_model_info;

TRM_API void trm_model_info_init(trm_model_info* info);
/* Fills *info (call trm_model_info_init first). Thread-safe. */
TRM_API trm_status trm_model_get_info(const trm_model* model, trm_model_info* info);

/* ---- solving puzzles ---------------------------------------------------------------------- */

typedef enum trm_halting {
  TRM_HALTING_ADAPTIVE = 0, /* a puzzle stops at its first step whose halting head says "done" */
  TRM_HALTING_REFERENCE = 1 /* every puzzle runs halt_max_steps steps (the paper's evaluation) */
} trm_halting;

/* Rules an answer can be checked against (docs/INFERENCE.md). With a checker, an answer that
 * breaks the rules does not halt early under adaptive halting: it keeps refining. */
typedef enum trm_checker {
  TRM_CHECKER_NONE = 0,   /* answers are not checked */
  TRM_CHECKER_SUDOKU = 1, /* rows, columns and boxes valid, givens kept (n x n, n = sqrt(seq_len)) */
  TRM_CHECKER_MAZE = 2    /* a path of answer cells from S to G through open cells */
} trm_checker;

/* How one of several sampled trajectories is chosen (samples > 1). */
typedef enum trm_select {
  TRM_SELECT_AUTO = 0,       /* TRM_SELECT_CHECKER with a checker, else TRM_SELECT_CONFIDENCE */
  TRM_SELECT_CONFIDENCE = 1, /* the highest halting confidence */
  TRM_SELECT_FIRST_HALT = 2, /* the first trajectory to halt */
  TRM_SELECT_CHECKER = 3     /* the first answer the checker verifies, else the most confident */
} trm_select;

typedef struct trm_solve_options {
  uint32_t struct_size;      /* sizeof(trm_solve_options) */
  trm_halting halting;       /* default TRM_HALTING_ADAPTIVE */
  int32_t batch;             /* rows per forward pass; default 256 */
  const int32_t* puzzle_ids; /* [n] puzzle identifiers, or NULL (default) for identifier 0 */
  trm_checker checker;       /* default TRM_CHECKER_NONE */
  int32_t samples;           /* test-time sampling: trajectories per puzzle; default 1 */
  float noise;               /* std of the noise on the latent state of trajectories 2..samples; default 0.3 */
  uint64_t seed;             /* of that noise; default 0 (results do not depend on the batch) */
  trm_select select;         /* default TRM_SELECT_AUTO */
} trm_solve_options;

TRM_API void trm_solve_options_init(trm_solve_options* options);

/* Where trm_solve writes its results: caller-allocated arrays, all but answers optional (NULL). */
typedef struct trm_solve_output {
  uint32_t struct_size; /* sizeof(trm_solve_output) */
  int32_t* answers;     /* [n * seq_len] the predicted tokens (required) */
  int32_t* steps;       /* [n] supervision steps used, 1 .. halt_max_steps */
  float* confidence;    /* [n * halt_max_steps] after each step k, the probability the halting head
                           gives that the answer is finished (sigmoid(q_halt); HRM:
                           sigmoid(q_halt - q_continue)), of the chosen trajectory; steps after it
                           stopped are 0 */
  uint8_t* nonfinite;   /* [n] 1 where the outputs were NaN/Inf (the call then fails with
                           TRM_ERROR_NUMERICAL after filling everything) */
  uint8_t* check;       /* [n] 0 unchecked, 1 verified by the checker, 2 failed it (unverified) */
} trm_solve_output;

TRM_API void trm_solve_output_init(trm_solve_output* output);

/* Solves n puzzles: inputs is [n * seq_len] token ids in the model's vocabulary (as the dataset
 * builders write them: Sudoku digits d as d + 1, blank as 1; mazes as in docs/DATA.md).
 * options may be NULL for the defaults. Thread-safe: calls on the same model are serialized. */
TRM_API trm_status trm_solve(trm_model* model, const int32_t* inputs, int64_t n, const trm_solve_options* options,
                             trm_solve_output* output);

/* ---- evaluating on a dataset -------------------------------------------------------------- */

typedef struct trm_eval_options {
  uint32_t struct_size;  /* sizeof(trm_eval_options) */
  const char* split;     /* default "test" */
  trm_halting halting;   /* default TRM_HALTING_REFERENCE (the paper's metric) */
  int64_t max_examples;  /* 0 (default): the whole split; else its first N rows */
  int32_t batch;         /* default 256 */
} trm_eval_options;

typedef struct trm_eval_result {
  uint32_t struct_size;
  int64_t n;               /* examples evaluated */
  double exact_accuracy;   /* fraction with every supervised token right */
  double cell_accuracy;    /* fraction of supervised tokens right */
  double avg_steps;        /* supervision steps per example */
  double q_halt_accuracy;  /* how often the halting head was right about being right */
  int64_t nonfinite;       /* examples whose outputs were NaN/Inf (counted wrong) */
  double seconds;
} trm_eval_result;

TRM_API void trm_eval_options_init(trm_eval_options* options);
TRM_API void trm_eval_result_init(trm_eval_result* result);
/* Evaluates the model on a dataset directory in the reference layout (written by `trm data`).
 * Thread-safe: calls on the same model are serialized. */
TRM_API trm_status trm_evaluate(trm_model* model, const char* data_dir, const trm_eval_options* options,
                                trm_eval_result* result);

/* ---- training ----------------------------------------------------------------------------- */

typedef struct trm_train_progress {
  int64_t step;             /* optimizer steps done */
  int64_t total_steps;
  double lm_loss;           /* mean over the steps since the last call */
  double accuracy;          /* per-token, over the examples that halted since the last call */
  double exact_accuracy;
  double steps_per_second;
  double eta_seconds;       /* to total_steps at the rate so far */
} trm_train_progress;

/* Called every log_every steps and at the end. Return 0 to go on, non-zero to stop: the run
 * writes its checkpoint (resumable by calling trm_train again with the same config) and
 * trm_train returns TRM_ERROR_CANCELLED. Runs on the thread that called trm_train. */
typedef int (*trm_progress_fn)(const trm_train_progress* progress, void* user_data);

typedef struct trm_train_result {
  uint32_t struct_size;
  int64_t steps;           /* optimizer steps done when the run ended */
  double seconds;
  int32_t evaluated;       /* non-zero when the fields below hold a final evaluation */
  double exact_accuracy;   /* of the EMA weights on the test split */
  double cell_accuracy;
  int32_t stopped_by_time; /* the time budget ended the run (resumable) */
} trm_train_result;

TRM_API void trm_train_result_init(trm_train_result* result);

/* Trains (or resumes) a run described by a JSON object, the same settings as `trm train`:
 *   {"preset": "tiny-sudoku-mlp", "data": DIR, "out": DIR,
 *    "overrides": {"hidden_size": 128, "lr": 3e-4},  // model/optimizer keys, as key=value on the CLI
 *    "batch": 128, "micro_batch": 0, "epochs": 50000, "eval_interval": 5000, "max_steps": 0,
 *    "checkpoint_every": 0, "eval_examples": 0, "eval_batch": 256, "eval_halting": "reference",
 *    "seed": 0, "resume": true, "stop_after": 0, "time_budget_seconds": 0, "log_every": 10,
 *    "progress": false}
 * "preset", "data" and "out" are required; an unknown key is TRM_ERROR_BAD_INPUT. progress may
 * be NULL. result may be NULL. Thread-safe for runs in different output directories (a second run
 * in the same directory fails with TRM_ERROR_BAD_INPUT: the directory is locked). */
TRM_API trm_status trm_train(const char* config_json, trm_progress_fn progress, void* user_data,
                             trm_train_result* result);

#ifdef __cplusplus
}
#endif

#endif /* TRM_TRM_H */
