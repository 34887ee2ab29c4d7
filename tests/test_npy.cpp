// NumPy .npy files (the arrays of docs/REFERENCE.md §6.1): every dtype round trip, headers of other
// writers (version 2, long shapes), and malformed files named in the error.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "data_util.h"
#include "expect_error.h"
#include "temp_dir.h"
#include "trm/data.h"

namespace trm::data {
namespace {

namespace fs = std::filesystem;

// data_util.h's helpers, TempDir and expect_error.
using namespace test_util;

std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
  std::string h = dict;
  const std::size_t fixed = major == 1 ? 10 : 12;
  while ((fixed + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  for (std::size_t b = 0; b < (major == 1 ? 2u : 4u); ++b) out += static_cast<char>((h.size() >> (8 * b)) & 0xFF);
  return out + h + data;
}

TEST(Npy, RoundTripAllDtypes) {
  TempDir tmp;
  const std::vector<std::uint8_t> u8{0, 1, 2, 250, 7, 9};
  const std::vector<std::int32_t> i32{-5, 0, 7, 2147483647, -2147483647 - 1};
  const std::vector<std::int64_t> i64{1, -2, 3, 4};
  const std::vector<float> f32{0.5f, -1.25f, 3e10f};
  write_npy(tmp / "u8.npy", NpyDtype::kU8, {2, 3}, u8.data());
  write_npy(tmp / "i32.npy", NpyDtype::kI32, {5}, i32.data());
  write_npy(tmp / "i64.npy", NpyDtype::kI64, {2, 2}, i64.data());
  write_npy(tmp / "f32.npy", NpyDtype::kF32, {3}, f32.data());
  write_npy(tmp / "empty.npy", NpyDtype::kU8, {0, 81}, nullptr);

  const auto a = NpyArray::read(tmp / "u8.npy");
  EXPECT_EQ(a.dtype(), NpyDtype::kU8);
  EXPECT_EQ(a.shape(), (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(std::vector<std::uint8_t>(a.u8().begin(), a.u8().end()), u8);
  EXPECT_EQ(NpyArray::read(tmp / "i32.npy").to_int32(), i32);
  const auto b = NpyArray::read(tmp / "i64.npy");
  EXPECT_EQ(b.shape(), (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(b.to_int32(), (std::vector<std::int32_t>{1, -2, 3, 4}));
  EXPECT_EQ(NpyArray::read(tmp / "f32.npy").to_float32(), f32);
  const auto e = NpyArray::read(tmp / "empty.npy");
  EXPECT_EQ(e.shape(), (std::vector<std::int64_t>{0, 81}));
  EXPECT_EQ(e.numel(), 0);
  EXPECT_FALSE(fs::exists(tmp / "u8.npy.tmp"));

  // Byte-identical to numpy's np.save for this array: version 1.0, 64-byte aligned preamble.
  const std::string bytes = read_file(tmp / "u8.npy");
  const std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }";
  ASSERT_EQ(bytes.size(), 128u + 6u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8), 118);
  EXPECT_EQ(bytes.substr(10, dict.size()), dict);
  EXPECT_EQ(bytes[127], '\n');
  // 1-D shapes carry the tuple comma, as Python writes them.
  EXPECT_NE(read_file(tmp / "i32.npy").find("'shape': (5,)"), std::string::npos);
}

TEST(Npy, ReadsOtherWritersHeaders) {
  TempDir tmp;
  // Version 2.0, keys in another order, Python 2 long suffixes, no trailing comma.
  std::string data(16, '\0');
  data[0] = 7;
  data[8] = static_cast<char>(0xFF);
  for (int i = 9; i < 16; ++i) data[static_cast<std::size_t>(i)] = static_cast<char>(0xFF);  // -1 as int64
  write_file(tmp / "v2.npy", npy_bytes("{'shape': (2L,), 'fortran_order': False, 'descr': '<i8'}", data, 2));
  const auto a = NpyArray::read(tmp / "v2.npy");
  EXPECT_EQ(a.to_int32(), (std::vector<std::int32_t>{7, -1}));
  // A 1-D array is the same in either order, so fortran_order True is harmless there.
  write_file(tmp / "f1.npy", npy_bytes("{'descr': '|u1', 'fortran_order': True, 'shape': (3,), }", "abc"));
  EXPECT_EQ(NpyArray::read(tmp / "f1.npy").numel(), 3);
}

TEST(Npy, MalformedFilesNameTheFile) {
  TempDir tmp;
  const auto check = [&](const std::string& name, const std::string& bytes, const std::string& needle) {
    const std::string p = tmp / name;
    write_file(p, bytes);
    expect_error([&] { NpyArray::read(p); }, {p, needle});
  };
  check("magic.npy", "NOTNUMPY-------------", "bad magic");
  check("short.npy", "\x93NU", "bad magic");
  std::string trunc = npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", "ab");
  check("trunc.npy", trunc.substr(0, 40), "truncated");
  check("dtype.npy", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0')),
        "unsupported dtype '<f8'");
  check("fortran.npy", npy_bytes("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 2), }", "abcd"),
        "fortran_order");
  check("bigend.npy", npy_bytes("{'descr': '>i4', 'fortran_order': False, 'shape': (1,), }", "abcd"), "big-endian");
  check("size_small.npy", npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", "abcd"),
        "does not match shape (3,)");
  check("size_large.npy", npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }", "ab"),
        "does not match shape (1,)");
  check("nokey.npy", npy_bytes("{'descr': '|u1', 'shape': (1,), }", "a"), "missing key 'fortran_order'");
  check("garbage.npy", npy_bytes("{'descr': '|u1', 'fortran_order': Maybe, 'shape': (1,), }", "a"),
        "malformed .npy header");
  check("version.npy", std::string("\x93NUMPY\x09\x00\x10\x00", 10) + std::string(16, ' '), "version 9");
  expect_error([&] { NpyArray::read(tmp / "missing.npy"); }, {tmp / "missing.npy", "cannot open"});

  // Wrong dtype for the use: int32 data asked for as uint8 tokens, and an int64 out of int32 range.
  const std::int32_t ints[2] = {1, 2};
  write_npy(tmp / "ints.npy", NpyDtype::kI32, {2}, ints);
  expect_error([&] { NpyArray::read(tmp / "ints.npy").u8(); }, {tmp / "ints.npy", "expected |u1"});
  const std::int64_t big[1] = {std::int64_t{1} << 40};
  write_npy(tmp / "big.npy", NpyDtype::kI64, {1}, big);
  expect_error([&] { NpyArray::read(tmp / "big.npy").to_int32(); }, {tmp / "big.npy", "does not fit in int32"});
}

// Shapes whose element or byte counts overflow int64 used to wrap; they are refused by name.
TEST(Npy, OverflowingShapesAreRefused) {
  TempDir tmp;
  const auto check = [&](const std::string& name, const std::string& bytes, const std::string& needle) {
    const std::string p = tmp / name;
    write_file(p, bytes);
    expect_error([&] { NpyArray::read(p); }, {p, needle});
  };
  // 2^62 x 4 elements; 2^32 x 2^30 x 8 bytes; 2^61 x 8 bytes.
  check("numel.npy", npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", ""),
        "overflows");
  check("bytes.npy", npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (4294967296, 1073741824), }", ""),
        "overflows");
  check("bytes1.npy", npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2305843009213693952,), }", ""),
        "overflows");
  // A dimension beyond int64 in the text itself.
  check("digits.npy", npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999999999999,), }", ""),
        "dimension too large");
  // A zero dimension: 0 elements whatever the others are.
  const std::string p = tmp / "zero.npy";
  write_file(p, npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (4611686018427387904, 0), }", ""));
  EXPECT_EQ(NpyArray::read(p).numel(), 0);
  // A malformed header is quoted in the error, but cut short.
  const std::string junk = "{'descr': '|u1', 'fortran_order': Maybe" + std::string(100000, ' ') + "}";
  const std::string long_header = npy_bytes(junk, "", 2);
  try {
    NpyArray::from_bytes(std::vector<unsigned char>(long_header.begin(), long_header.end()), "mem");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_LT(std::string(e.what()).size(), 1000u);
  }
}

TEST(Npy, FromBytesMatchesRead) {
  const std::string bytes = npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", std::string("\1\0\0\0\2\0\0\0", 8));
  const auto a = NpyArray::from_bytes(std::vector<unsigned char>(bytes.begin(), bytes.end()), "in memory");
  EXPECT_EQ(a.to_int32(), (std::vector<std::int32_t>{1, 2}));
  expect_error([] { NpyArray::from_bytes({1, 2, 3}, "in memory"); }, {"in memory", "bad magic"});
}

}  // namespace
}  // namespace trm::data
