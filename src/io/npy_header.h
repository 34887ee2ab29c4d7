// The Python-literal header dictionary of a .npy file (internal to src/io).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace trm::data {

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
};

// Parses "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 4), }"; throws trm::Error
// prefixed with `path` when the text is not such a dictionary with exactly those three keys.
NpyHeader parse_npy_header(std::string_view text, const std::string& path);

// The whole preamble (magic, version, length, padded dictionary, '\n'), sized to a multiple of 64
// bytes so the data that follows is aligned for any dtype.
std::string format_npy_preamble(const std::string& descr, const std::vector<std::int64_t>& shape);

}  // namespace trm::data
