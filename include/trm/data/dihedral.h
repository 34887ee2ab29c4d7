// The 8 symmetries of a rectangular grid with numpy's semantics and the reference's ids
// (dataset/common.py; docs/REFERENCE.md §6.4), shared by the maze and ARC augmentations.
#pragma once
#include <array>
#include <cstdint>

namespace trm::data {

// 0 identity; 1 rot90 CCW (out[i][j] = in[j][W-1-i]); 2 rot180; 3 rot270 CCW; 4 fliplr;
// 5 flipud; 6 transpose; 7 anti-transpose (out[i][j] = in[H-1-j][W-1-i]).
inline constexpr int kNumDihedral = 8;
// kDihedralInverse[t] undoes t.
inline constexpr std::array<int, kNumDihedral> kDihedralInverse{0, 3, 2, 1, 4, 5, 6, 7};

// Transforms 1, 3, 6 and 7 swap the grid's height and width.
inline bool dihedral_swaps_axes(int t) { return t == 1 || t == 3 || t == 6 || t == 7; }

// Row-major rows x cols grid in, transformed grid out (cols x rows when the axes swap).
// `out` must not alias `in`. Throws trm::Error for t outside [0, 8).
void dihedral_transform(const std::uint8_t* in, int rows, int cols, int t, std::uint8_t* out);

}  // namespace trm::data
