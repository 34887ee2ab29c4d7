// The dataset layer: everything between the released puzzle files and training batches.
//   io/npy.h    NumPy arrays (memory-mapped reads)
//   dataset.h   the on-disk layout (docs/REFERENCE.md §6.1), validation, SplitBuilder
//   io/csv.h    the puzzle CSV format
//   sudoku.h    Sudoku reading, augmentation, builder, solver, generator (§6.2)
//   maze.h      Maze reading, builder, shortest paths, generator (§6.3)
//   dihedral.h  the 8 grid symmetries (§6.4)
//   sampler.h   training and test batches (§6.5), resumable
//   io/download.h  fetching the CSVs with curl; io/sha256.h
//   rng.h       the serializable RNG all of the above draw from
#pragma once
#include "trm/data/dataset.h"
#include "trm/data/dihedral.h"
#include "trm/data/maze.h"
#include "trm/data/rng.h"
#include "trm/data/sampler.h"
#include "trm/data/sudoku.h"
#include "trm/io/csv.h"
#include "trm/io/download.h"
#include "trm/io/npy.h"
#include "trm/io/sha256.h"
