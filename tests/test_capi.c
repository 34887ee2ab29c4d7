/* The C API (include/trm/trm.h) from a C program, as a user's program calls it: argument checks,
 * errors and their messages, training with a progress callback that cancels and a resume,
 * loading, model info, solving (both halting modes, bad tokens), evaluation, and one model used
 * from two threads at once. Run by tests/capi.sh with a generated 4x4 Sudoku dataset:
 *   test_capi DATA_DIR WORK_DIR
 * Each failed check prints its line and the test exits 1. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <trm/trm.h>

static int failures = 0;
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__, \
              __LINE__, #cond, trm_last_error());                              \
      ++failures;                                                              \
    }                                                                          \
  } while (0)
#define CHECK_STATUS(call, expected)                                                             \
  do {                                                                                           \
    trm_status s_ = (call);                                                                      \
    if (s_ != (expected)) {                                                                      \
      fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n", __FILE__, __LINE__, \
              #call, trm_status_name(s_), trm_status_name(expected), trm_last_error());          \
      ++failures;                                                                                \
    }                                                                                            \
  } while (0)

static int contains(const char* haystack, const char* needle) { return strstr(haystack, needle) != NULL; }

/* Progress callback: records the steps it saw and asks to stop at stop_at. */
typedef struct {
  int calls;
  long long last_step;
  long long stop_at;
  int bad_values;
} progress_log;

static int on_progress(const trm_train_progress* p, void* user) {
  progress_log* log = (progress_log*)user;
  ++log->calls;
  if (p->step <= log->last_step || p->total_steps <= 0 || !isfinite(p->lm_loss) || p->accuracy < 0 || p->accuracy > 1)
    ++log->bad_values;
  log->last_step = p->step;
  return log->stop_at > 0 && p->step >= log->stop_at;
}

/* Four 4x4 puzzles in the builders' tokens (1 blank, digit d -> d + 1). */
static const char* kPuzzles[4] = {"1..43..2.1..4..1", ".2..3..2..4..3..", "12....1..1....2.", "...4..1..1...3.."};
enum { kN = 4, kS = 16 };

static void encode(int32_t* tokens) {
  for (int i = 0; i < kN; ++i)
    for (int t = 0; t < kS; ++t) {
      const char c = kPuzzles[i][t];
      tokens[i * kS + t] = c == '.' ? 1 : (c - '0') + 1;
    }
}

typedef struct {
  trm_model* model;
  const int32_t* inputs;
  int32_t answers[kN * kS];
  trm_status status;
} thread_job;

static void* solve_in_thread(void* arg) {
  thread_job* job = (thread_job*)arg;
  trm_solve_options o;
  trm_solve_options_init(&o);
  o.halting = TRM_HALTING_REFERENCE;
  trm_solve_output out;
  trm_solve_output_init(&out);
  out.answers = job->answers;
  for (int r = 0; r < 5 && job->status == TRM_OK; ++r) job->status = trm_solve(job->model, job->inputs, kN, &o, &out);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: test_capi DATA_DIR WORK_DIR\n");
    return 2;
  }
  const char* data = argv[1];
  const char* work = argv[2];
  char path[4096], config[8192];

  /* ---- version and status names ---- */
  CHECK(trm_api_version() == TRM_API_VERSION);
  CHECK(strlen(trm_version()) >= 5 && trm_version()[1] == '.');
  CHECK(strcmp(trm_status_name(TRM_ERROR_CANCELLED), "TRM_ERROR_CANCELLED") == 0);
  CHECK(strcmp(trm_last_error(), "") == 0);

  /* ---- NULL handles and pointers: an error, never a crash ---- */
  trm_model* model = (trm_model*)0x1;
  CHECK_STATUS(trm_model_load(NULL, NULL, &model), TRM_ERROR_INVALID_ARGUMENT);
  CHECK(model == NULL);
  CHECK(contains(trm_last_error(), "path"));
  CHECK_STATUS(trm_model_load("x.safetensors", NULL, NULL), TRM_ERROR_INVALID_ARGUMENT);
  trm_model_info info;
  trm_model_info_init(&info);
  CHECK_STATUS(trm_model_get_info(NULL, &info), TRM_ERROR_INVALID_ARGUMENT);
  trm_solve_output out;
  trm_solve_output_init(&out);
  CHECK_STATUS(trm_solve(NULL, NULL, 1, NULL, &out), TRM_ERROR_INVALID_ARGUMENT);
  trm_eval_result er;
  trm_eval_result_init(&er);
  CHECK_STATUS(trm_evaluate(NULL, data, NULL, &er), TRM_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(trm_train(NULL, NULL, NULL, NULL), TRM_ERROR_INVALID_ARGUMENT);
  trm_model_free(NULL);

  /* ---- bad files and configs: BAD_INPUT naming the culprit ---- */
  snprintf(path, sizeof path, "%s/no-such-model.safetensors", work);
  CHECK_STATUS(trm_model_load(path, NULL, &model), TRM_ERROR_BAD_INPUT);
  CHECK(model == NULL);
  CHECK(contains(trm_last_error(), "no-such-model.safetensors"));
  CHECK_STATUS(trm_train("{not json", NULL, NULL, NULL), TRM_ERROR_BAD_INPUT);
  CHECK(contains(trm_last_error(), "invalid JSON"));
  snprintf(config, sizeof config, "{\"preset\": \"tiny-sudoku-mlp\", \"data\": \"%s\", \"out\": \"%s/run\", \"max_stepz\": 3}",
           data, work);
  CHECK_STATUS(trm_train(config, NULL, NULL, NULL), TRM_ERROR_BAD_INPUT);
  CHECK(contains(trm_last_error(), "max_stepz"));
  snprintf(config, sizeof config, "{\"preset\": \"no-such-preset\", \"data\": \"%s\", \"out\": \"%s/run\"}", data, work);
  CHECK_STATUS(trm_train(config, NULL, NULL, NULL), TRM_ERROR_BAD_INPUT);
  CHECK(contains(trm_last_error(), "no-such-preset"));
  trm_train_result tr;
  memset(&tr, 0, sizeof tr); /* struct_size 0: the caller forgot trm_train_result_init */
  snprintf(config, sizeof config, "{\"preset\": \"tiny-sudoku-mlp\", \"data\": \"%s\", \"out\": \"%s/run\"}", data, work);
  CHECK_STATUS(trm_train(config, NULL, NULL, &tr), TRM_ERROR_BAD_INPUT);
  CHECK(contains(trm_last_error(), "struct_size"));

  /* ---- train 40 steps: the callback stops it at 20, a second call resumes to the end ---- */
  snprintf(config, sizeof config,
           "{\"preset\": \"tiny-sudoku-mlp\", \"data\": \"%s\", \"out\": \"%s/run\", \"batch\": 32, \"max_steps\": 40,"
           " \"log_every\": 5, \"eval_examples\": 20, \"seed\": 3, \"overrides\": {\"hidden_size\": 32}}",
           data, work);
  progress_log log = {0, 0, 20, 0};
  trm_train_result_init(&tr);
  CHECK_STATUS(trm_train(config, on_progress, &log, &tr), TRM_ERROR_CANCELLED);
  CHECK(contains(trm_last_error(), "resume"));
  CHECK(tr.steps == 20);
  CHECK(log.calls == 5 && log.last_step == 20 && log.bad_values == 0); /* steps 1 (the first is shown at once), 5, 10, 15, 20 */
  log.stop_at = 0;
  CHECK_STATUS(trm_train(config, on_progress, &log, &tr), TRM_OK);
  CHECK(tr.steps == 40 && tr.evaluated && tr.exact_accuracy >= 0 && tr.exact_accuracy <= 1);
  CHECK(log.last_step == 40 && log.bad_values == 0);

  /* ---- load, info ---- */
  snprintf(path, sizeof path, "%s/run/final.safetensors", work);
  trm_load_options lo;
  trm_load_options_init(&lo);
  lo.backend = "no-such-backend";
  CHECK_STATUS(trm_model_load(path, &lo, &model), TRM_ERROR_BAD_INPUT);
  CHECK(contains(trm_last_error(), "cpu"));
  lo.backend = "cpu";
  lo.struct_size = 3;
  CHECK_STATUS(trm_model_load(path, &lo, &model), TRM_ERROR_BAD_INPUT);
  trm_load_options_init(&lo);
  CHECK_STATUS(trm_model_load(path, &lo, &model), TRM_OK);
  if (!model) return 1;
  info.struct_size = 0;
  CHECK_STATUS(trm_model_get_info(model, &info), TRM_ERROR_BAD_INPUT);
  trm_model_info_init(&info);
  CHECK_STATUS(trm_model_get_info(model, &info), TRM_OK);
  CHECK(strcmp(info.arch, "trm") == 0 && strcmp(info.backend, "cpu") == 0);
  CHECK(info.seq_len == kS && info.vocab_size == 6 && info.hidden_size == 32 && info.num_params > 0);
  const int T = info.halt_max_steps;
  CHECK(T >= 1);

  /* ---- solve ---- */
  int32_t inputs[kN * kS], answers[kN * kS], answers2[kN * kS], steps[kN];
  float* confidence = malloc(sizeof(float) * kN * T);
  encode(inputs);
  out.answers = answers;
  out.steps = steps;
  out.confidence = confidence;
  trm_solve_options so;
  trm_solve_options_init(&so);
  so.halting = TRM_HALTING_REFERENCE;
  CHECK_STATUS(trm_solve(model, inputs, kN, &so, &out), TRM_OK);
  for (int i = 0; i < kN; ++i) {
    CHECK(steps[i] == T);
    for (int k = 0; k < T; ++k) CHECK(confidence[i * T + k] >= 0 && confidence[i * T + k] <= 1);
  }
  for (int i = 0; i < kN * kS; ++i) CHECK(answers[i] >= 0 && answers[i] < info.vocab_size);
  so.halting = TRM_HALTING_ADAPTIVE;
  CHECK_STATUS(trm_solve(model, inputs, kN, &so, &out), TRM_OK);
  for (int i = 0; i < kN; ++i) {
    CHECK(steps[i] >= 1 && steps[i] <= T);
    for (int k = steps[i]; k < T; ++k) CHECK(confidence[i * T + k] == 0); /* not run */
  }
  so.halting = (trm_halting)7;
  CHECK_STATUS(trm_solve(model, inputs, kN, &so, &out), TRM_ERROR_BAD_INPUT);
  CHECK(contains(trm_last_error(), "halting"));
  /* Test-time sampling with the Sudoku checker: 4 trajectories per puzzle, each answer verified or not. */
  trm_solve_options_init(&so);
  so.checker = TRM_CHECKER_SUDOKU;
  so.samples = 4;
  uint8_t check[kN];
  out.check = check;
  CHECK_STATUS(trm_solve(model, inputs, kN, &so, &out), TRM_OK);
  for (int i = 0; i < kN; ++i) CHECK(check[i] == 1 || check[i] == 2);
  out.check = NULL;
  so.select = (trm_select)9;
  CHECK_STATUS(trm_solve(model, inputs, kN, &so, &out), TRM_ERROR_BAD_INPUT);
  CHECK(contains(trm_last_error(), "select"));
  trm_solve_options_init(&so);
  so.checker = (trm_checker)5;
  CHECK_STATUS(trm_solve(model, inputs, kN, &so, &out), TRM_ERROR_BAD_INPUT);
  CHECK(contains(trm_last_error(), "checker"));
  trm_solve_options_init(&so);
  so.samples = 0;
  CHECK_STATUS(trm_solve(model, inputs, kN, &so, &out), TRM_ERROR_BAD_INPUT);
  trm_solve_options_init(&so);
  so.batch = 0;
  CHECK_STATUS(trm_solve(model, inputs, kN, &so, &out), TRM_ERROR_INVALID_ARGUMENT);
  trm_solve_options_init(&so);
  CHECK_STATUS(trm_solve(model, inputs, -1, &so, &out), TRM_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(trm_solve(model, NULL, kN, &so, &out), TRM_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(trm_solve(model, inputs, 0, &so, &out), TRM_OK);
  inputs[2 * kS + 5] = 99; /* outside the vocabulary */
  CHECK_STATUS(trm_solve(model, inputs, kN, &so, &out), TRM_ERROR_BAD_INPUT);
  CHECK(contains(trm_last_error(), "puzzle 2") && contains(trm_last_error(), "99"));
  encode(inputs);
  const int32_t bad_ids[kN] = {0, 0, 5, 0};
  so.puzzle_ids = bad_ids;
  CHECK_STATUS(trm_solve(model, inputs, kN, &so, &out), TRM_ERROR_BAD_INPUT);
  CHECK(contains(trm_last_error(), "puzzle id"));
  so.puzzle_ids = NULL;
  trm_solve_output none;
  trm_solve_output_init(&none);
  CHECK_STATUS(trm_solve(model, inputs, kN, &so, &none), TRM_ERROR_INVALID_ARGUMENT); /* answers NULL */
  CHECK(contains(trm_last_error(), "answers"));

  /* ---- one model, two threads: each gets what a lone call gets ---- */
  trm_solve_options_init(&so);
  so.halting = TRM_HALTING_REFERENCE;
  trm_solve_output_init(&out);
  out.answers = answers2;
  CHECK_STATUS(trm_solve(model, inputs, kN, &so, &out), TRM_OK);
  thread_job jobs[2] = {{model, inputs, {0}, TRM_OK}, {model, inputs, {0}, TRM_OK}};
  pthread_t threads[2];
  for (int i = 0; i < 2; ++i) pthread_create(&threads[i], NULL, solve_in_thread, &jobs[i]);
  for (int i = 0; i < 2; ++i) pthread_join(threads[i], NULL);
  for (int i = 0; i < 2; ++i) {
    CHECK(jobs[i].status == TRM_OK);
    CHECK(memcmp(jobs[i].answers, answers2, sizeof answers2) == 0);
  }

  /* ---- evaluate ---- */
  trm_eval_options eo;
  trm_eval_options_init(&eo);
  eo.max_examples = 20;
  trm_eval_result_init(&er);
  CHECK_STATUS(trm_evaluate(model, data, &eo, &er), TRM_OK);
  CHECK(er.n == 20 && er.exact_accuracy >= 0 && er.exact_accuracy <= 1 && er.avg_steps == T && er.nonfinite == 0);
  snprintf(path, sizeof path, "%s/no-such-data", work);
  CHECK_STATUS(trm_evaluate(model, path, &eo, &er), TRM_ERROR_BAD_INPUT);
  CHECK(contains(trm_last_error(), "no-such-data"));
  eo.split = "nope";
  CHECK_STATUS(trm_evaluate(model, data, &eo, &er), TRM_ERROR_BAD_INPUT);
  eo.split = NULL;
  eo.max_examples = -1;
  CHECK_STATUS(trm_evaluate(model, data, &eo, &er), TRM_ERROR_INVALID_ARGUMENT);

  free(confidence);
  trm_model_free(model);
  if (failures) fprintf(stderr, "test_capi: %d checks failed\n", failures);
  else printf("test_capi: all checks passed\n");
  return failures ? 1 : 0;
}
