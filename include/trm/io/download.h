// Fetching the released CSV files from Hugging Face with the `curl` command-line tool (no
// network library is linked). Files with a known sha256 are verified before they are renamed
// into place, so a present file is always a complete, checked one.
#pragma once
#include <string>
#include <vector>

namespace trm::data {

struct RemoteFile {
  std::string name;    // file name in the HF dataset repository, e.g. "train.csv"
  std::string sha256;  // lowercase hex; empty when not known
};

// Known names: "sudoku-extreme" (train.csv, test.csv), "sudoku-extreme-1k" (train.csv,
// test_hard.csv; hashes unknown), "maze-30x30-hard-1k" (train.csv, test.csv).
// Throws trm::Error listing the known names for any other.
std::vector<RemoteFile> remote_dataset_files(const std::string& dataset);

// $HF_ENDPOINT when set (a mirror), else https://huggingface.co.
std::string default_hf_endpoint();
// <endpoint>/datasets/sapientinc/<dataset>/resolve/main/<file>
std::string remote_file_url(const std::string& endpoint, const std::string& dataset, const std::string& file);

// Runs `curl -fL --retry 3 -o <dest>.part <url>`, checks sha256 (when non-empty), renames to dest.
// Throws trm::Error with the URL, curl's message and a hint to use local files (--data) on failure.
void download_file(const std::string& url, const std::string& dest, const std::string& sha256 = "");

// Downloads every file of `dataset` into <dest_dir>/<dataset>/ (one folder per dataset) and
// returns their paths. Files already present are kept when their hash matches (or is unknown).
std::vector<std::string> download_dataset(const std::string& dest_dir, const std::string& dataset,
                                          const std::string& endpoint = default_hf_endpoint());

}  // namespace trm::data
