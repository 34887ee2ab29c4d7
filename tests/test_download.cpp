// Fetching the released CSVs: SHA-256 against known vectors and the real maze file, and the
// download helper's failures, hash checks and atomic landing (a file:// mirror stands in for the
// network).
#include <gtest/gtest.h>

#include <algorithm>
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

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  EXPECT_EQ(sha256_hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  Sha256 h;  // odd-sized pieces agree with one call
  for (std::size_t i = 0; i < million.size();) {
    const std::size_t n = std::min<std::size_t>(1 + i % 131, million.size() - i);
    h.update(million.data() + i, n);
    i += n;
  }
  EXPECT_EQ(h.finish_hex(), sha256_hex(million));

  const std::string maze = data_dir() + "/maze-30x30-hard-1k/train.csv";
  if (fs::exists(maze)) {
    EXPECT_EQ(sha256_file_hex(maze), "25f9e39b5aee16967da41ba63b2d1d75cf608c2360d8a1419d827f9859dbafa0");
  } else {
    TempDir tmp;
    const std::string gen = maze_csv(tmp, "train");
    EXPECT_EQ(sha256_file_hex(gen), sha256_hex(read_file(gen)));
  }
  expect_error([] { sha256_file_hex("/nonexistent/file.csv"); }, {"/nonexistent/file.csv"});
}

TEST(Download, FailuresAreClearAndVerifiedFilesLand) {
  TempDir tmp;
  // Nothing listens on port 1: curl fails at once (connection refused is not retried).
  const std::string url = "http://127.0.0.1:1/datasets/sapientinc/x/resolve/main/train.csv";
  expect_error([&] { download_file(url, tmp / "train.csv"); }, {url, "--train-csv FILE"});
  EXPECT_FALSE(fs::exists(tmp / "train.csv"));
  EXPECT_FALSE(fs::exists(tmp / "train.csv.part"));
  expect_error([] { remote_dataset_files("imagenet"); }, {"imagenet", "maze-30x30-hard-1k"});
  EXPECT_EQ(remote_file_url("https://huggingface.co", "maze-30x30-hard-1k", "test.csv"),
            "https://huggingface.co/datasets/sapientinc/maze-30x30-hard-1k/resolve/main/test.csv");

  // A file:// mirror stands in for the network: hashes are checked before the rename.
  const std::string mirror = tmp / "mirror";
  const std::string repo = mirror + "/datasets/sapientinc/sudoku-extreme-1k/resolve/main";
  fs::create_directories(repo);
  write_file(repo + "/train.csv", std::string("source,question,answer,rating\n,") + kQ1 + "," + kA1 + ",1\n");
  fs::copy_file(repo + "/train.csv", repo + "/test_hard.csv");
  const auto paths = download_dataset(tmp / "dl", "sudoku-extreme-1k", "file://" + mirror);
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(read_sudoku_csv(paths[0]).size(), 1);
  const std::string good_sha = sha256_file_hex(repo + "/train.csv");
  download_file("file://" + repo + "/train.csv", tmp / "ok.csv", good_sha);
  EXPECT_EQ(read_file(tmp / "ok.csv"), read_file(repo + "/train.csv"));
  expect_error([&] { download_file("file://" + repo + "/train.csv", tmp / "bad.csv", std::string(64, '0')); },
               {"sha256", good_sha});
  EXPECT_FALSE(fs::exists(tmp / "bad.csv"));
  EXPECT_FALSE(fs::exists(tmp / "bad.csv.part"));

  const std::string real = data_dir() + "/maze-30x30-hard-1k";
  if (fs::exists(real + "/train.csv") && fs::exists(real + "/test.csv")) {
    const std::string mrepo = mirror + "/datasets/sapientinc/maze-30x30-hard-1k/resolve/main";
    fs::create_directories(mrepo);
    fs::copy_file(real + "/train.csv", mrepo + "/train.csv");
    fs::copy_file(real + "/test.csv", mrepo + "/test.csv");
    EXPECT_EQ(download_dataset(tmp / "dl", "maze-30x30-hard-1k", "file://" + mirror).size(), 2u);
    // A corrupted mirror copy is refused, and the good file already in place is kept.
    write_file(mrepo + "/test.csv", "corrupted");
    fs::remove(tmp / "dl/maze-30x30-hard-1k/train.csv");
    write_file(mrepo + "/train.csv", "corrupted");
    expect_error([&] { download_dataset(tmp / "dl", "maze-30x30-hard-1k", "file://" + mirror); },
                 {"25f9e39b5aee16967da41ba63b2d1d75cf608c2360d8a1419d827f9859dbafa0"});
    EXPECT_TRUE(fs::exists(tmp / "dl/maze-30x30-hard-1k/test.csv"));
  }
}

}  // namespace
}  // namespace trm::data
