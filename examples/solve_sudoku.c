/* Solves Sudoku puzzles with a trained trm model through the C API (include/trm/trm.h).
 *
 *   solve_sudoku CHECKPOINT PUZZLE...
 *
 * Each PUZZLE is n*n characters: digits 1..n, '.' or '0' for a blank (n = 4, 6 or 9, matching the
 * model). Prints the answer and the supervision steps used, one line per puzzle. Build it with
 *   cc solve_sudoku.c $(pkg-config --cflags --libs trm)       or CMake: find_package(trm), trm::trm
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <trm/trm.h>

static int fail(const char* what, trm_status s) {
  fprintf(stderr, "solve_sudoku: %s: %s: %s\n", what, trm_status_name(s), trm_last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s CHECKPOINT PUZZLE...\n", argv[0]);
    return 2;
  }
  if (trm_api_version() != TRM_API_VERSION) {
    fprintf(stderr, "solve_sudoku: built for trm API %d, running with %d\n", TRM_API_VERSION, trm_api_version());
    return 1;
  }
  trm_model* model = NULL;
  trm_status s = trm_model_load(argv[1], NULL, &model);
  if (s != TRM_OK) return fail("load", s);
  trm_model_info info;
  trm_model_info_init(&info);
  s = trm_model_get_info(model, &info);
  if (s != TRM_OK) return fail("info", s);

  const int S = info.seq_len, n = argc - 2;
  int32_t* inputs = calloc((size_t)n * S, sizeof(int32_t));
  int32_t* answers = calloc((size_t)n * S, sizeof(int32_t));
  int32_t* steps = calloc((size_t)n, sizeof(int32_t));
  if (!inputs || !answers || !steps) return 1;
  for (int i = 0; i < n; ++i) {
    const char* p = argv[i + 2];
    if ((int)strlen(p) != S) {
      fprintf(stderr, "solve_sudoku: puzzle %d has %zu cells; this model takes %d\n", i + 1, strlen(p), S);
      return 2;
    }
    /* The dataset builders' tokens: 0 pad, 1 blank, digit d -> d + 1. */
    for (int t = 0; t < S; ++t) inputs[(size_t)i * S + t] = (p[t] == '.' || p[t] == '0') ? 1 : (p[t] - '0') + 1;
  }

  trm_solve_options opts;
  trm_solve_options_init(&opts);
  opts.halting = TRM_HALTING_REFERENCE;
  trm_solve_output out;
  trm_solve_output_init(&out);
  out.answers = answers;
  out.steps = steps;
  s = trm_solve(model, inputs, n, &opts, &out);
  if (s != TRM_OK) return fail("solve", s);
  for (int i = 0; i < n; ++i) {
    for (int t = 0; t < S; ++t) { /* as `trm solve` prints it: '.' blank, '?' a token that is no digit */
      const int32_t a = answers[(size_t)i * S + t];
      putchar(a == 1 ? '.' : (a >= 2 && a <= 10) ? '0' + a - 1 : '?');
    }
    printf(" %d\n", steps[i]);
  }
  free(inputs);
  free(answers);
  free(steps);
  trm_model_free(model);
  return 0;
}
