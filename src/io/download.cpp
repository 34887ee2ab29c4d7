#include "trm/io/download.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "trm/error.h"
#include "trm/io/sha256.h"

namespace trm::data {
namespace {

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command, returning its exit status and everything it printed.
int run_capture(const std::string& cmd, std::string& output) {
  std::FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// curl repeats its message once per retry; the last line says it.
std::string last_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  const auto nl = s.find_last_of('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

constexpr const char* kOfflineHint =
    "; without internet access, fetch the CSV files on another machine, copy them here and build the dataset from them "
    "with trm data build sudoku|maze --train-csv FILE --test-csv FILE --out DIR";

}  // namespace

std::vector<RemoteFile> remote_dataset_files(const std::string& dataset) {
  if (dataset == "sudoku-extreme")
    return {{"train.csv", "64b46674db0148e0d73a16346dadeb2b1c00824d3fca3f85b2ae7037f6b4b38e"},
            {"test.csv", "a2fd52aea23d331d5b4ee723c856236e838a9fb9a70e66f4e0e0cf26c338c6a8"}};
  if (dataset == "sudoku-extreme-1k") return {{"train.csv", ""}, {"test_hard.csv", ""}};
  if (dataset == "maze-30x30-hard-1k")
    return {{"train.csv", "25f9e39b5aee16967da41ba63b2d1d75cf608c2360d8a1419d827f9859dbafa0"},
            {"test.csv", "5120d52088fb3f8036e62e90103808a79ba58847d8601f9451f40991b0903a62"}};
  throw Error("unknown dataset \"" + dataset + "\" (known: sudoku-extreme, sudoku-extreme-1k, maze-30x30-hard-1k)");
}

std::string default_hf_endpoint() {
  const char* env = std::getenv("HF_ENDPOINT");
  std::string e = env != nullptr && *env != '\0' ? env : "https://huggingface.co";
  while (!e.empty() && e.back() == '/') e.pop_back();
  return e;
}

std::string remote_file_url(const std::string& endpoint, const std::string& dataset, const std::string& file) {
  return endpoint + "/datasets/sapientinc/" + dataset + "/resolve/main/" + file;
}

void download_file(const std::string& url, const std::string& dest, const std::string& sha256) {
  const std::string part = dest + ".part";
  std::remove(part.c_str());
  std::string out;
  const int rc = run_capture("curl -fsSL --retry 3 -o " + shell_quote(part) + " " + shell_quote(url), out);
  if (rc != 0) {
    std::remove(part.c_str());
    const std::string why = rc == 127 ? "the curl command was not found" : rc < 0 ? "curl could not be run"
                                                                         : "curl exit code " + std::to_string(rc);
    throw Error("download of " + url + " failed (" + why + (out.empty() ? "" : ": " + last_line(out)) + ")" +
                kOfflineHint);
  }
  if (!sha256.empty()) {
    const std::string got = sha256_file_hex(part);
    if (got != sha256) {
      std::remove(part.c_str());
      throw Error("download of " + url + " has sha256 " + got + ", expected " + sha256 +
                  " (the file changed upstream or the transfer was corrupted)" + kOfflineHint);
    }
  }
  std::error_code ec;
  std::filesystem::rename(part, dest, ec);
  if (ec) {
    std::remove(part.c_str());
    throw Error(dest + ": cannot move the download into place (" + ec.message() + ")");
  }
}

std::vector<std::string> download_dataset(const std::string& dest_dir, const std::string& dataset,
                                          const std::string& endpoint) {
  const auto files = remote_dataset_files(dataset);
  const std::string dir = dest_dir + "/" + dataset;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create directory (" + ec.message() + ")");
  std::vector<std::string> paths;
  for (const auto& f : files) {
    const std::string dest = dir + "/" + f.name;
    const bool present = std::filesystem::is_regular_file(dest, ec);
    if (!(present && (f.sha256.empty() || sha256_file_hex(dest) == f.sha256)))
      download_file(remote_file_url(endpoint, dataset, f.name), dest, f.sha256);
    paths.push_back(dest);
  }
  return paths;
}

}  // namespace trm::data
