// safetensors: round trip, atomic replacement, and malformed files rejected with the file named.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

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
  expect_read_error(p, "not valid JSON");
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

TEST(SafeTensors, WriteToMissingDirectoryFails) {
  SafeTensorsWriter w;
  float x = 1;
  w.add_f32("x", {1}, &x);
  EXPECT_THROW(w.write("/nonexistent_dir_trm/x.safetensors"), Error);
}

}  // namespace
}  // namespace trm
