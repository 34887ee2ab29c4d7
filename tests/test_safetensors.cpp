// safetensors: round trip, atomic replacement, and malformed files rejected with the file named.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

#include "expect_error.h"

#include "trm/model/config.h"
#include "trm/io/safetensors.h"

namespace trm {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("trm_st_" + std::to_string(::getpid()) + "_" + name)).string();
}

void write_raw(const std::string& path, const std::string& header, const std::string& data, std::int64_t len_override = -1) {
  std::ofstream f(path, std::ios::binary);
  std::uint64_t n = len_override >= 0 ? static_cast<std::uint64_t>(len_override) : header.size();
  for (int i = 0; i < 8; ++i) f.put(static_cast<char>(n >> (8 * i)));
  f << header << data;
}

void expect_read_error(const std::string& path, const std::string& needle) {
  try {
    SafeTensorsFile::read(path);
    ADD_FAILURE() << "read succeeded, expected an error mentioning " << needle;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
}

TEST(SafeTensors, RoundTrip) {
  const std::string p = temp_path("rt.safetensors");
  std::vector<float> a{1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
  std::vector<std::int32_t> b{1, -100, 7};
  std::vector<double> c{3.141592653589793};
  SafeTensorsWriter w;
  w.add_f32("a", {2, 3}, a.data());
  w.add("b", DType::kI32, {3}, b.data());
  w.add("c", DType::kF64, {1}, c.data());
  w.set_metadata("config", "{\"x\": 1}");
  w.write(p);
  EXPECT_FALSE(fs::exists(p + ".tmp"));
  const auto f = SafeTensorsFile::read(p);
  EXPECT_EQ(f.floats("a", {2, 3}), a);
  EXPECT_EQ(f.ints("b"), b);
  EXPECT_EQ(f.doubles("c")[0], c[0]);
  EXPECT_EQ(f.metadata().at("config"), "{\"x\": 1}");
  EXPECT_THROW(f.floats("a", {3, 2}), Error);  // wrong expected shape
  EXPECT_THROW(f.floats("missing"), Error);
  EXPECT_THROW(f.ints("a"), Error);  // float tensor read as ints
  // Overwriting replaces the file whole.
  SafeTensorsWriter w2;
  w2.add_f32("z", {1}, a.data());
  w2.write(p);
  EXPECT_FALSE(SafeTensorsFile::read(p).has("a"));
  fs::remove(p);
}

TEST(SafeTensors, MalformedFilesAreRejected) {
  const std::string p = temp_path("bad.safetensors");
  expect_read_error(temp_path("does_not_exist"), "cannot open");
  { std::ofstream(p, std::ios::binary) << "abc"; }
  expect_read_error(p, "shorter");
  write_raw(p, "{}", "", 1 << 20);
  expect_read_error(p, "exceeds");
  write_raw(p, "{not json", "");
  expect_read_error(p, "invalid JSON");
  write_raw(p, R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", std::string(8, '\0'));
  expect_read_error(p, "outside");
  write_raw(p, R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'));
  expect_read_error(p, "do not match");
  write_raw(p, R"({"t":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  expect_read_error(p, "unsupported dtype");
  write_raw(p, R"({"t":{"dtype":"F32","shape":[2]}})", std::string(8, '\0'));
  expect_read_error(p, "data_offsets");
  write_raw(p, R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(4, '\0'));
  expect_read_error(p, "outside");
  fs::remove(p);
}

// Sizes from the header are untrusted: products and offsets that overflow int64 used to wrap
// (signed overflow) to a small byte count that matched the data section.
TEST(SafeTensors, OverflowingShapesAndOffsetsAreRefused) {
  const std::string p = temp_path("overflow.safetensors");
  // 2^62 x 4 elements: the element count overflows.
  write_raw(p, R"({"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}})", "");
  expect_read_error(p, "overflows");
  // 2^32 x 2^30 x 4 bytes = 2^64: wraps to 0 bytes in uint64 arithmetic.
  write_raw(p, R"({"t":{"dtype":"F32","shape":[4294967296,1073741824],"data_offsets":[0,0]}})", "");
  expect_read_error(p, "overflows");
  // 2^61 x 8 bytes (F64) = 2^64 bytes.
  write_raw(p, R"({"t":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}})", "");
  expect_read_error(p, "overflows");
  // A zero dimension makes any other dimension harmless: 0 elements, 0 bytes.
  write_raw(p, R"({"t":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904,0],"data_offsets":[0,0]}})", "");
  const auto f = SafeTensorsFile::read(p);
  EXPECT_EQ(f.entry("t").numel(), 0);
  EXPECT_TRUE(f.floats("t").empty());
  // Dimensions and offsets must be non-negative integers within int64.
  write_raw(p, R"({"t":{"dtype":"F32","shape":[1e30],"data_offsets":[0,4]}})", std::string(4, '\0'));
  expect_read_error(p, "is not an integer");
  write_raw(p, R"({"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", std::string(4, '\0'));
  expect_read_error(p, "negative");
  write_raw(p, R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551615,4]}})", std::string(4, '\0'));
  expect_read_error(p, "too large");
  write_raw(p, R"({"t":{"dtype":"F32","shape":"1","data_offsets":[0,4]}})", std::string(4, '\0'));
  expect_read_error(p, "is not a list");
  write_raw(p, R"({"t":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0'));
  expect_read_error(p, "is not a string");
  fs::remove(p);
}

TEST(SafeTensors, OverlappingTensorsAndDuplicateNamesAreRefused) {
  const std::string p = temp_path("overlap.safetensors");
  write_raw(p, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            std::string(12, '\0'));
  expect_read_error(p, "overlap");
  // The same bytes named twice.
  write_raw(p, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})",
            std::string(8, '\0'));
  expect_read_error(p, "overlap");
  // Adjacent tensors and an empty tensor anywhere are fine.
  write_raw(p, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
               R"("e":{"dtype":"F32","shape":[0],"data_offsets":[2,2]}})",
            std::string(8, '\0'));
  EXPECT_EQ(SafeTensorsFile::read(p).names().size(), 3u);
  // One tensor named twice in the header: which one would be meant?
  write_raw(p, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
            std::string(8, '\0'));
  expect_read_error(p, "appears twice");
  fs::remove(p);
}

TEST(SafeTensors, DeeplyNestedHeaderIsRefused) {
  const std::string p = temp_path("deep.safetensors");
  const int depth = 100000;  // overflowed the stack when printed
  write_raw(p, "{\"__metadata__\":" + std::string(depth, '[') + std::string(depth, ']') + "}", "");
  expect_read_error(p, "nested deeper than 64 levels");
  fs::remove(p);
}

TEST(SafeTensors, NonFiniteFloatsAreRefusedUnlessAllowed) {
  const std::string p = temp_path("nan.safetensors");
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> a{1, nan, 2, -inf, 3};
  const std::vector<double> d{1, inf};
  const std::uint16_t bf[2] = {0x3f80, 0x7fc0};  // 1.0, NaN
  const std::vector<float> ok{1, 2};
  SafeTensorsWriter w;
  w.add_f32("model.w", {5}, a.data());
  w.add("d", DType::kF64, {2}, d.data());
  w.add("bf", DType::kBF16, {2}, bf);
  w.add_f32("ok", {2}, ok.data());
  w.write(p);
  const auto f = SafeTensorsFile::read(p);
  test_util::expect_error([&] { f.floats("model.w"); }, {p, "\"model.w\"", "2 non-finite values", "among 5", "index 1"});
  std::vector<float> dst(5);
  test_util::expect_error([&] { f.read_floats_into("model.w", {5}, dst.data()); }, {p, "model.w", "2 non-finite"});
  test_util::expect_error([&] { f.doubles("d"); }, {p, "\"d\"", "1 non-finite value ", "index 1"});
  test_util::expect_error([&] { f.floats("d"); }, {"\"d\"", "non-finite"});
  test_util::expect_error([&] { f.floats("bf"); }, {"\"bf\"", "non-finite"});
  EXPECT_EQ(f.floats("ok"), ok);
  // Opting out returns the values as stored.
  const auto raw = SafeTensorsFile::read(p, NonFinite::kAllow);
  const auto got = raw.floats("model.w");
  EXPECT_EQ(got[0], 1.0f);
  EXPECT_TRUE(std::isnan(got[1]));
  EXPECT_EQ(got[3], -inf);
  EXPECT_TRUE(std::isinf(raw.doubles("d")[1]));
  fs::remove(p);
}

TEST(SafeTensors, IntegersOutsideInt32AreRefused) {
  const std::string p = temp_path("i64.safetensors");
  const std::vector<std::int64_t> v{1, std::int64_t{1} << 40};
  SafeTensorsWriter w;
  w.add("i", DType::kI64, {2}, v.data());
  w.write(p);
  test_util::expect_error([&] { SafeTensorsFile::read(p).ints("i"); }, {p, "\"i\"", "element 1", "does not fit in int32"});
  fs::remove(p);
}

TEST(SafeTensors, DirectoryIsRefused) {
  expect_read_error(fs::temp_directory_path().string(), "not a regular file");
}

TEST(SafeTensors, WriteToMissingDirectoryFails) {
  SafeTensorsWriter w;
  float x = 1;
  w.add_f32("x", {1}, &x);
  EXPECT_THROW(w.write("/nonexistent_dir_trm/x.safetensors"), Error);
}

}  // namespace
}  // namespace trm
