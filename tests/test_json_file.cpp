// The shared readers of untrusted input (src/io/json_file.h, text_file.h, checked_size.h): JSON
// nesting and duplicate keys, whole-file reads that refuse directories and oversized files, and
// size arithmetic that refuses overflow.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <limits>
#include <string>

#include "data_util.h"
#include "expect_error.h"
#include "io/checked_size.h"
#include "io/json_file.h"
#include "io/text_file.h"
#include "temp_dir.h"

namespace trm {
namespace {

using namespace test_util;

std::string nested(int depth) { return std::string(static_cast<std::size_t>(depth), '[') + std::string(static_cast<std::size_t>(depth), ']'); }

TEST(JsonFile, NestingIsBoundedAtParseTime) {
  // kMaxJsonDepth containers inside one another are fine, one more is not; objects count too.
  EXPECT_NO_THROW(data::parse_json_text(nested(data::kMaxJsonDepth), "ctx"));
  expect_error([] { data::parse_json_text(nested(data::kMaxJsonDepth + 1), "ctx"); },
               {"ctx: JSON nested deeper than 64 levels"});
  std::string objects;
  for (int i = 0; i <= data::kMaxJsonDepth; ++i) objects += "{\"a\":";
  objects += "1" + std::string(static_cast<std::size_t>(data::kMaxJsonDepth) + 1, '}');
  expect_error([&] { data::parse_json_text(objects, "ctx"); }, {"nested deeper"});
  // The case that overflowed the stack: 100k levels, refused quickly and without recursion.
  expect_error([] { data::parse_json_text(nested(100000), "deep.json"); }, {"deep.json", "nested deeper"});
  // An unclosed deep prefix is refused the same way (the depth check comes before the end).
  expect_error([] { data::parse_json_text(std::string(100000, '['), "open.json"); }, {"open.json", "nested deeper"});
}

TEST(JsonFile, DuplicateKeysAreRefused) {
  expect_error([] { data::parse_json_text(R"({"a": 1, "b": 2, "a": 3})", "f.json"); },
               {"f.json", "key \"a\" appears twice"});
  expect_error([] { data::parse_json_text(R"({"x": [{"k": 1, "k": 1}]})", "f.json"); }, {"\"k\" appears twice"});
  // The same key in different objects, or in an object after a sibling closed, is fine.
  const auto j = data::parse_json_text(R"({"a": {"a": 1, "b": {"a": 2}}, "b": [{"a": 1}, {"a": 2}], "c": {"a": 3}})", "f");
  EXPECT_EQ(j["c"]["a"], 3);
  EXPECT_EQ(j["b"][1]["a"], 2);
}

TEST(JsonFile, InvalidJsonAndExcerpts) {
  expect_error([] { data::parse_json_text("{\"a\": ", "f.json"); }, {"f.json", "invalid JSON"});
  expect_error([] { data::parse_json_text("", "f.json"); }, {"f.json", "invalid JSON"});
  const nlohmann::json big = std::string(10000, 'x');
  EXPECT_EQ(data::json_excerpt(big, 20), "\"xxxxxxxxxxxxxxxxxxx...");
  EXPECT_EQ(data::json_excerpt(nlohmann::json(7)), "7");
  // A string that is not UTF-8 (only built in memory; parsing refuses it) does not throw.
  EXPECT_NO_THROW(data::json_excerpt(nlohmann::json(std::string("\xff\xfe"))));
}

TEST(TextFile, DirectoriesMissingAndOversizedFilesAreRefused) {
  TempDir tmp;
  expect_error([&] { io::read_text_file(tmp.str(), 100); }, {tmp.str(), "is a directory"});
  expect_error([&] { io::read_text_file(tmp / "missing", 100, "hint here"); }, {tmp / "missing", "cannot open", "hint here"});
  write_file(tmp / "big", std::string(101, 'x'));
  expect_error([&] { io::read_text_file(tmp / "big", 100); }, {tmp / "big", "larger than 100"});
  write_file(tmp / "ok", std::string(100, 'x'));
  EXPECT_EQ(io::read_text_file(tmp / "ok", 100).size(), 100u);
  expect_error([&] { data::read_json_file(tmp.str()); }, {tmp.str(), "is a directory"});
  // A pipe is read to its end, with the same bound.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "hello", 5), 5);
  ::close(fds[1]);
  EXPECT_EQ(io::read_fd_text(fds[0], "pipe", 100), "hello");
  ::close(fds[0]);
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "hello", 5), 5);
  ::close(fds[1]);
  expect_error([&] { io::read_fd_text(fds[0], "stdin", 4); }, {"stdin", "larger than 4"});
  ::close(fds[0]);
}

TEST(CheckedSize, OverflowIsAnErrorNamingTheContext) {
  const std::int64_t big = std::int64_t{1} << 62;
  EXPECT_EQ(io::checked_mul(big, 1, "f"), big);
  expect_error([&] { io::checked_mul(big, 4, "f.bin"); }, {"f.bin", "overflows", "4611686018427387904 x 4"});
  expect_error([&] { io::checked_add(std::numeric_limits<std::int64_t>::max(), 1, "f.bin"); }, {"f.bin", "overflows"});
  expect_error([&] { io::checked_mul(-1, 4, "f.bin"); }, {"f.bin"});
  EXPECT_EQ(io::checked_numel({}, "f"), 1);
  EXPECT_EQ(io::checked_numel({3, 4}, "f"), 12);
  EXPECT_EQ(io::checked_numel({big, big, 0}, "f"), 0);
  expect_error([&] { io::checked_numel({std::int64_t{1} << 32, std::int64_t{1} << 32}, "f.npy"); }, {"f.npy", "overflows"});
  expect_error([&] { io::checked_numel({2, -1}, "f.npy"); }, {"f.npy", "negative dimension -1"});
}

}  // namespace
}  // namespace trm
