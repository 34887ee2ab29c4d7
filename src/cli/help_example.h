// The puzzle `trm --help` shows in its typical session (main.cpp). A held-out 4x4 puzzle of the
// quick start's data (scripts/quickstart.sh, seed 0); tests/test_checkers.cpp checks that it has
// exactly one solution, so the example never asks the model for the impossible.
#pragma once

namespace trm::cli {
inline constexpr char kHelpPuzzle[] = "...14.3.3.......";
}  // namespace trm::cli
