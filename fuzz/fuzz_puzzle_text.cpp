// `trm solve` input: the text parser on its own and against the model shapes it accepts, with the
// round trip through the printed form.
#include "cli/puzzle_text.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace trm;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto check = [](const cli::PuzzleText& p) {
    fuzz::require(static_cast<std::size_t>(p.side) * static_cast<std::size_t>(p.side) == p.tokens.size(), "side^2 cells");
    const std::string printed = cli::format_tokens(p.kind, p.side, p.tokens);
    fuzz::require(cli::parse_puzzle(printed).tokens == p.tokens, "what is printed parses back to the same tokens");
    (void)cli::check_answer(p, p.tokens);
  };
  fuzz::refuse_ok([&] { check(cli::parse_puzzle(text)); });
  // 4x4 / 6x6 / 9x9 Sudoku, a 30x30 maze, an ARC model (refused), a 5x5 maze.
  const int models[][2] = {{6, 16}, {8, 36}, {11, 81}, {6, 900}, {12, 900}, {6, 25}};
  for (const auto& m : models) fuzz::refuse_ok([&] { check(cli::parse_puzzle_for_model(text, "fuzz", m[0], m[1])); });
  return 0;
}
